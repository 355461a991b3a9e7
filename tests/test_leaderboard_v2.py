"""Suite v2's board: per-seed scores against random and the bound, paired comparisons with the best baseline,
the seeds a 2% difference needs, and suite v1's board rendered as before. Synthetic result rows, no simulation."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from leaderboard import stats
from leaderboard.board import build_board, power_table
from leaderboard.bound_rows import BoundError, record_bounds
from leaderboard.entries import registered, resolve
from leaderboard.metrics import KEYS
from leaderboard.render import markdown, page, power_md, readme_section
from leaderboard.store import Key, Row, Store
from leaderboard.suite import BOUND, DEFAULT_SUITE, SUITES, V1, Suite, Task, env_hash, get_suite
from orbit_env.cli import main
from test_leaderboard_stats import rliable  # noqa: F401 - the fixture

GOLDEN = Path(__file__).with_name("data") / "v1_board"

# ------------------------------------------------------------------------------------------ suite v1


def v1_store(path: Path) -> Store:
    """Suite v1 test-split rows: four registered baselines at their current versions, a partial and a failed
    entry, and two baselines without results. Values are synthetic but fixed."""
    store = Store(path)
    key = Key(V1.name, V1.hash, env_hash(), "test")
    current = {e.name: e.hash for e in registered()}
    levels = {"random": 10.0, "edf": 14.0, "edf-safe": 20.0, "balance": 22.0, "sub": 21.0, "broken": 5.0}
    for i, (entry, level) in enumerate(levels.items()):
        h = current.get(entry, "h")
        if h == "h":
            store.add_entry(entry, h, "heuristic", {"scenarios": ["three-body-12"]} if entry == "sub" else {})
        rng = np.random.default_rng(i)
        for ep in V1.episodes("test"):
            if entry == "sub" and ep.scenario != "three-body-12":
                continue
            if entry == "broken" and ep.scenario == "walker-160":
                store.record(key, Row(entry, h, ep.scenario, ep.seed, "failed", "crashed at step 3: boom", None, 1.0))
                break
            metrics = {k: float(rng.uniform(0.0, 1.0)) for k in KEYS}
            metrics["delivered_value"] = level * (1 + ep.max_cycles / 1440) + float(rng.normal(0.0, 2.0))
            if ep.seed % 7 == 0:
                metrics["mean_completion_h"] = math.nan
            store.record(key, Row(entry, h, ep.scenario, ep.seed, "ok", "", metrics, 1.0))
    return store


def normalised(text: str) -> str:
    """Without what differs between runs: the env hash and the plots' bytes."""
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,PNG", text).replace(env_hash(), "ENV")


# What suite v1's files say differently now that `orbit-env leaderboard` means v2: the commands name
# `--suite v1` and the v1 board lives in leaderboard/v1/. Nothing else changes: rows, numbers, columns, text.
V1_NOW_SAYS = [
    ("`orbit-env leaderboard`", "`orbit-env leaderboard --suite v1`"),
    ("<code>orbit-env leaderboard</code>", "<code>orbit-env leaderboard --suite v1</code>"),
    ("[leaderboard/LEADERBOARD.md](leaderboard/LEADERBOARD.md)", "[leaderboard/v1/LEADERBOARD.md](leaderboard/v1/LEADERBOARD.md)"),
    ("`leaderboard/leaderboard.html`", "`leaderboard/v1/leaderboard.html`"),
    (
        "orbit-env leaderboard                      # evaluate every baseline and submission on suite v1, print the board\n"
        "orbit-env evaluate edf-safe --split dev    # one policy (a baseline name or a submission folder)\n"
        "orbit-env board                            # the stored board, without evaluating\n",
        "orbit-env leaderboard --suite v1                      # evaluate every baseline and submission on suite v1, print the board\n"
        "orbit-env evaluate edf-safe --suite v1 --split dev    # one policy (a baseline name or a submission folder)\n"
        "orbit-env board --suite v1                            # the stored board, without evaluating\n",
    ),
]


def golden(name: str) -> str:
    """The file that `orbit-env board --write` wrote for v1_store's rows before suite v2 (commit a87f264)."""
    text = (GOLDEN / name).read_text()
    for old, new in V1_NOW_SAYS:
        text = text.replace(old, new)
    return text


def test_suite_v1_keeps_its_hash_so_its_stored_rows_stay_valid():
    assert V1.hash == "ee434b7d74be" and V1.metric == "delivered_value" and not V1.paired


def test_suite_v1_board_renders_as_before(tmp_path, capsys):
    v1_store(tmp_path / "r.sqlite").close()
    assert main(["board", "--suite", "v1", "--db", str(tmp_path / "r.sqlite"), "--write", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert normalised(printed) == golden("LEADERBOARD.md") + "\n"
    for name in ("LEADERBOARD.md", "README_SECTION.md", "leaderboard.html"):
        assert normalised((tmp_path / "out" / name).read_text()) == golden(name), name
    # the golden board has every kind of row: ranked, partial, failed and not evaluated
    assert "| 1 | balance | baseline | 123.1 [119.4, 126.0] | 123.3 |" in printed
    assert "| sub | partial |" in printed and "| broken | failed |" in printed and "| greedy | incomplete | 0 of 45" in printed


def test_suite_v2_runs_every_v2_scenario_on_disjoint_dev_and_test_seeds():
    from orbit_env.scenario import load_scenario, shipped_scenarios

    v2 = get_suite("v2")
    assert sorted(v2.scenarios) == shipped_scenarios("v2")
    for task in v2.tasks:
        assert task.dev_seeds and task.test_seeds and not set(task.dev_seeds) & set(task.test_seeds)
        assert task.max_cycles == load_scenario(task.scenario).episode.max_cycles  # the scenario's own horizon


# ------------------------------------------------------------------------------- a paired suite (tests only)

# NOT suite v2: two existing v1 scenarios, only so that the tests have a paired suite to score. Suite v2's
# tasks are V2_TASKS in leaderboard/suite.py.
PAIRED = Suite(
    "paired-test",
    "two v1 scenarios scored like suite v2, for the tests",
    (Task("three-body-12", 60, (0, 1, 2, 3, 4, 5), (1000, 1001, 1002, 1003, 1004, 1005)),
     Task("suncatcher-81", 60, (0, 1, 2, 3, 4, 5), (1000, 1001, 1002, 1003, 1004, 1005))),
    reference=BOUND,
    metric="window_value",
)  # fmt: skip
SEEDS = PAIRED.tasks[0].test_seeds
RANDOM = {"three-body-12": np.array([10.0, 12, 8, 10, 11, 9]), "suncatcher-81": np.array([40.0, 42, 38, 41, 39, 40])}
SPAN = {"three-body-12": 20.0, "suncatcher-81": 50.0}  # bound - random on every seed: 5 and 2 points per GPU-h
EDF_SAFE = {sc: RANDOM[sc] + SPAN[sc] * np.array([0.5, 0.6, 0.4, 0.55, 0.45, 0.5]) for sc in RANDOM}
D = np.array([1.0, 2, 3, 1, 2, 3])  # the submission's known per-seed gain over edf-safe, the best baseline
VALUES = {
    "random": RANDOM,
    "edf-safe": EDF_SAFE,
    "balance": {sc: EDF_SAFE[sc] - np.array([0.5, 0.0, 1.0, 0.5, 0.0, 1.0]) for sc in RANDOM},  # a baseline below edf-safe
    "x": {sc: EDF_SAFE[sc] + D for sc in RANDOM},
}


@dataclass(frozen=True)
class FakeBound:
    value: float
    seconds: float
    n_vars: int
    n_cons: int
    status: str


SOLVED: list[tuple[str, int, int]] = []  # what the fake provider was asked
BOUNDS: dict[tuple[str, int], float] = {}


def fake_bound(scenario: str, seeds, max_cycles: int | None = None) -> list:
    """episode_bounds' signature; the value comes from BOUNDS, the solve time is 0.25 s per seed index."""
    SOLVED.extend((scenario, seed, max_cycles) for seed in seeds)
    return [
        RuntimeError("infeasible") if BOUNDS[(scenario, seed)] is None else FakeBound(BOUNDS[(scenario, seed)], 0.25 * (seed - 999), 100, 50, "optimal")
        for seed in seeds
    ]


def paired_store(path: Path, values=VALUES, spans=SPAN, split="test") -> Store:
    """PAIRED's rows on ``split`` (baselines at their current versions, as the CLI reads them) and the bounds."""
    store = Store(path)
    key = Key(PAIRED.name, PAIRED.hash, env_hash(), split)
    current = {e.name: e.hash for e in registered()}
    for entry, per in values.items():
        h = current.get(entry, "h")
        store.add_entry(entry, h, "baseline" if entry in current else "heuristic", {})
        for sc, vals in per.items():
            for seed, v in zip(PAIRED.tasks[0].seeds(split), vals):
                metrics = {k: 0.0 for k in KEYS} | {"window_value": float(v), "delivered_value": float(v) + 1.0}
                store.record(key, Row(entry, h, sc, seed, "ok", "", metrics, 1.0))
    SOLVED.clear()
    BOUNDS.clear()
    BOUNDS.update({(sc, seed): float(RANDOM[sc][i] + spans[sc][i] if np.ndim(spans[sc]) else RANDOM[sc][i] + spans[sc])
                   for sc in RANDOM for i, seed in enumerate(PAIRED.tasks[0].seeds(split))})  # fmt: skip
    record_bounds(store, PAIRED, split, provider=fake_bound)
    return store


@pytest.fixture
def board(tmp_path):
    store = paired_store(tmp_path / "p.sqlite")
    try:
        yield build_board(store, PAIRED, "test")
    finally:
        store.close()


def test_bounds_are_solved_once_and_keep_their_solve_time(tmp_path):
    store = paired_store(tmp_path / "p.sqlite")
    assert sorted(SOLVED) == sorted((sc, s, 60) for sc in RANDOM for s in SEEDS)
    assert record_bounds(store, PAIRED, "test", provider=fake_bound) == 0 and len(SOLVED) == 12  # nothing solved again
    rows = store.rows(Key(PAIRED.name, PAIRED.hash, env_hash(), "test"), BOUND)
    assert len(rows) == 12 and {r.reason for r in rows} == {"optimal"}
    r = next(r for r in rows if (r.scenario, r.seed) == ("three-body-12", 1002))
    assert r.wall_s == 0.75 and r.metrics == {"window_value": 28.0, "solve_s": 0.75, "n_vars": 100.0, "n_cons": 50.0}
    board = build_board(store, PAIRED, "test")
    assert BOUND not in {e.name for e in board.entries}
    assert board.bound.mean("solve_s", "suncatcher-81") == pytest.approx(0.25 * 3.5)
    assert "three-body-12 (6 seeds, 60 steps; bound 30.0, solved in 0.9 s per seed)" in markdown(board)
    store.close()


def test_a_failing_bound_names_the_episode_and_keeps_the_solved_ones(tmp_path):
    store = paired_store(tmp_path / "p.sqlite")
    other = Suite("paired-other", "", PAIRED.tasks, reference=BOUND, metric="window_value")
    BOUNDS[("suncatcher-81", 1003)] = None
    with pytest.raises(BoundError, match="suncatcher-81 seed 1003 failed: RuntimeError: infeasible"):
        record_bounds(store, other, "test", provider=fake_bound)
    assert len(store.rows(Key(other.name, other.hash, env_hash(), "test"), BOUND)) == 9
    store.close()


def test_scores_are_paired_per_seed_between_random_and_the_bound(board):
    by = {e.name: e for e in board.entries}
    assert not board.note and not board.warnings
    for sc in RANDOM:
        for name, vals in VALUES.items():
            want = [100 * (v - z) / SPAN[sc] for v, z in zip(vals[sc], RANDOM[sc])]
            assert by[name].scores[sc] == pytest.approx(want)
    assert by["random"].scores["three-body-12"].tolist() == [0.0] * 6
    assert [e.name for e in board.ranked] == ["x", "edf-safe", "balance", "random"]
    assert board.best == {"three-body-12": "edf-safe", "suncatcher-81": "edf-safe"}


def test_known_paired_differences_give_their_mean_and_interval(board):
    x = next(e for e in board.entries if e.name == "x")
    c = x.versus["three-body-12"]
    assert c.against == "edf-safe" and c.diff[0] == pytest.approx(2.0) and c.diff_score[0] == pytest.approx(10.0)
    assert 1.0 <= c.diff[1] < 2.0 < c.diff[2] <= 3.0  # resampled means of 1s, 2s and 3s
    assert c.diff_score[1:] == pytest.approx((5 * c.diff[1], 5 * c.diff[2]))  # 5 points per GPU-h on every seed
    assert x.versus["suncatcher-81"].diff_score[0] == pytest.approx(4.0)  # 2 points per GPU-h there
    # exact sign-flip p: of the 64 sign patterns only all + and all - reach |mean| >= 2
    assert c.p == pytest.approx(2 / 64)
    assert x.versus_all.diff_score[0] == pytest.approx(7.0) and x.versus_all.diff is None
    edf_safe = next(e for e in board.entries if e.name == "edf-safe")
    assert edf_safe.versus["three-body-12"].diff == (0.0, 0.0, 0.0) and edf_safe.versus["three-body-12"].p == 1.0


def test_the_paired_interval_resamples_the_same_seeds_for_both_policies():
    rng = np.random.default_rng(3)
    y = [rng.normal(50, 10, 8), rng.normal(20, 5, 5)]
    x = [y[0] + rng.normal(1, 0.5, 8), y[1] + rng.normal(-1, 0.5, 5)]
    gen = np.random.default_rng(stats.SEED)  # the bootstrap's own draws, applied to x and y separately
    idx = [gen.integers(0, len(s), (stats.REPS, len(s))) for s in y]
    dist = np.concatenate([xs[i] for xs, i in zip(x, idx)], 1).mean(1) - np.concatenate([ys[i] for ys, i in zip(y, idx)], 1).mean(1)
    point, lo, hi = stats.paired_bootstrap(x, y)
    assert (lo, hi) == pytest.approx(tuple(np.percentile(dist, [2.5, 97.5])))
    assert point == pytest.approx(np.concatenate(x).mean() - np.concatenate(y).mean())
    # a constant difference is certain when paired, however much each policy varies from seed to seed
    assert stats.paired_bootstrap([y[0] + 2.0], [y[0]]) == pytest.approx((2.0, 2.0, 2.0))
    with pytest.raises(ValueError, match="same seeds: 8 against 5"):
        stats.paired_bootstrap([x[0]], [y[1]])


def test_paired_interval_and_probability_of_improvement_agree_with_rliable(rliable, board):  # noqa: F811
    library, metrics = rliable
    rng = np.random.default_rng(7)
    y = rng.integers(0, 6, (10, 4)).astype(float)  # 10 seeds x 4 scenarios, with ties
    x = y + rng.integers(-2, 4, (10, 4))
    assert stats.probability_of_improvement(x.T, y.T) == pytest.approx(metrics.probability_of_improvement(x, y))
    assert stats.probability_of_improvement(y.T, y.T) == pytest.approx(0.5)
    np.random.seed(0)
    point, ci = library.get_interval_estimates({"d": x - y}, lambda d: np.array([d.mean()]), reps=10_000)
    ours = stats.paired_bootstrap(list(x.T), list(y.T))
    width = ci["d"][1, 0] - ci["d"][0, 0]
    assert ours[0] == pytest.approx(point["d"][0])
    assert ours[1:] == pytest.approx((ci["d"][0, 0], ci["d"][1, 0]), abs=0.05 * width)
    # the board's P(improvement) is rliable's on the score matrices (seeds x scenarios)
    by = {e.name: e for e in board.entries}
    scores = {n: np.stack([by[n].scores[sc] for sc in PAIRED.scenarios], 1) for n in ("x", "edf-safe", "balance")}
    for name in ("x", "balance"):
        assert by[name].versus_all.p_improvement == pytest.approx(metrics.probability_of_improvement(scores[name], scores["edf-safe"]))


def test_sign_flip_p_is_the_exact_permutation_p():
    d = np.array([0.3, -1.2, 2.5, 0.7, 1.1, -0.4, 0.9, 1.6, -0.2, 0.8])
    flips = np.array(list(itertools.product((1, -1), repeat=d.size)))
    null = (flips * d).mean(1)
    assert stats.sign_flip_p(d) == pytest.approx(np.mean(np.abs(null) >= abs(d.mean()) - 1e-12))
    assert stats.sign_flip_p(np.zeros(5)) == 1.0
    # with many seeds it is a Monte Carlo estimate, close to the Wilcoxon signed-rank test's p
    many = np.random.default_rng(0).normal(0.4, 1.0, 40)
    assert stats.sign_flip_p(many) == pytest.approx(sps.wilcoxon(many).pvalue, abs=0.02)


def test_seeds_for_power_match_the_closed_form_and_the_t_test():
    # by hand: z_0.975 = 1.959964, z_0.8 = 0.841621; sd 1, 2% of 10 = 0.2: (2.801585 x 5)^2 = 196.2 -> 197
    assert stats.seeds_for_power(1.0, 10.0, t_test=False) == 197
    # issue 10's example: a paired sd of 2.8 GPU-h at a mean of 50 (2% = 1 GPU-h): (2.801585 x 2.8)^2 = 61.5 -> 62
    assert stats.seeds_for_power(2.8, 50.0, t_test=False) == 62
    for sd, level in ((1.0, 10.0), (2.8, 50.0), (0.5, 100.0), (3.0, 10.0)):
        z = math.ceil(((1.959964 + 0.841621) * sd / (0.02 * level)) ** 2)
        n = stats.seeds_for_power(sd, level)
        assert max(z, 2) <= n <= z + 3
        assert stats.paired_t_power(n, sd, 0.02 * level) >= 0.8 > (stats.paired_t_power(n - 1, sd, 0.02 * level) if n > 2 else 0.0)
    assert stats.seeds_for_power(0.0, 10.0) == 2
    with pytest.raises(ValueError, match="mean level must be positive"):
        stats.seeds_for_power(1.0, 0.0)


def test_the_power_of_the_chosen_seed_count_holds_in_simulation():
    sd, level = 1.0, 25.0  # 2% = 0.5 = sd / 2
    n = stats.seeds_for_power(sd, level)
    diffs = np.random.default_rng(0).normal(0.02 * level, sd, (4000, n))
    rejected = sps.ttest_1samp(diffs, 0.0, axis=1).pvalue < 0.05
    assert n == 34 and rejected.mean() == pytest.approx(0.8, abs=0.025)


def test_power_table_from_the_stored_results(board):
    rows = {(r.scenario, r.entry): r for r in power_table(board)}
    assert set(rows) == {(sc, n) for sc in RANDOM for n in ("x", "balance")}  # not random, not the best itself
    r = rows[("three-body-12", "x")]
    sd = float(np.std(D, ddof=1))
    assert r.against == "edf-safe" and r.level == pytest.approx(EDF_SAFE["three-body-12"].mean()) and r.sd == pytest.approx(sd)
    assert r.seeds_needed == stats.seeds_for_power(sd, r.level) and r.seeds_now == 6
    text = power_md(board, power_table(board))
    need = max(rows[("three-body-12", n)].seeds_needed for n in ("x", "balance"))
    assert f"| three-body-12 | {need} |" in text


def test_power_on_the_command_line_reads_the_dev_results(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(SUITES, PAIRED.name, PAIRED)
    db = str(tmp_path / "d.sqlite")
    assert main(["board", "--suite", PAIRED.name, "--power", "--db", db]) == 2
    assert "no baseline has results on every dev episode of suite paired-test" in capsys.readouterr().err
    paired_store(tmp_path / "d.sqlite", split="dev").close()
    assert main(["board", "--suite", PAIRED.name, "--power", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "# Seeds for 80% power — suite paired-test, from the dev split" in out
    assert f"| three-body-12 | x | edf-safe | 20.00 | {np.std(D, ddof=1):.3f} | 6 | {stats.seeds_for_power(np.std(D, ddof=1), 20.0)} |" in out


def test_a_zero_denominator_is_reported_not_divided(tmp_path):
    spans = {"three-body-12": np.array([20.0, 20, 0.0, 20, 20, 20]), "suncatcher-81": np.full(6, 50.0)}
    spans["suncatcher-81"][4] = 0.1 * 0.5  # 0.05 GPU-h over random's 39: far under 10% of the bound
    store = paired_store(tmp_path / "z.sqlite", spans=spans)
    board = build_board(store, PAIRED, "test")
    store.close()
    assert len(board.warnings) >= 2 and "three-body-12 seed 1002: the bound 8 is not clearly above random's 8" in board.warnings[0]
    assert "suncatcher-81 seed 1004" in " ".join(board.warnings)
    x = next(e for e in board.entries if e.name == "x")
    assert len(x.scores["three-body-12"]) == 5 and np.isfinite(x.all_scores()).all()
    assert x.scores["three-body-12"] == pytest.approx([100 * d / 20 + 50 + 10 * k for d, k in zip(D[[0, 1, 3, 4, 5]], (0, 1, 0.5, -0.5, 0))])
    assert "> warning: three-body-12 seed 1002" in markdown(board)
    with pytest.raises(ValueError, match="not clearly above"):
        stats.paired_normalise([1.0], [8.0], [8.0])


def test_a_value_above_the_bound_is_reported(tmp_path):
    over = np.array([1.0, 1e-9, 1.0, 1e-9, 1.0, 1e-9])  # 1 GPU-h over, or within the solver's round-off
    values = {**VALUES, "x": {sc: RANDOM[sc] + SPAN[sc] + over for sc in RANDOM}}
    store = paired_store(tmp_path / "a.sqlite", values=values)
    board = build_board(store, PAIRED, "test")
    store.close()
    above = [w for w in board.warnings if "x delivers" in w and "above its bound" in w]
    assert len(above) == 6 and "x delivers 31 on three-body-12 seed 1000, above its bound 30" in above[0]


def test_paired_board_renders_the_scores_and_the_comparisons(board):
    text = markdown(board)
    assert "scores per episode: random on the same seed = 0, the episode's upper bound = 100" in text
    assert "100 − score is the optimality gap" in text
    header = "| # | policy | kind | IQM score [95% CI] | mean score | Δ score vs best baseline [95% CI] | P(improvement) | p |"
    assert header in text and "| 4 | random | baseline |" in text
    x = next(e for e in board.entries if e.name == "x")
    assert f"| 1 | x | heuristic | {x.iqm[0]:.1f} [" in text and "| 7.0 [" in text
    assert "### three-body-12: against edf-safe (mean window value 20.00)" in text
    assert "| x | 2.0 [" in text and "| 0.031 |" in text and "| edf-safe | 0.0 [0.0, 0.0] | best baseline | – | – |" in text
    assert "| policy | window value | delivered value |" in text  # the scored metric first
    html = page(board)
    assert "Paired with the best baseline of each scenario" in html and "optimality gap" in html and "P(improvement)" in html
    assert "orbit-env leaderboard --suite paired-test " in readme_section(board)
    # rendered as the default suite, the commands need no --suite and the files are leaderboard/'s own
    readme = readme_section(replace(board, suite=replace(board.suite, name=DEFAULT_SUITE)))
    assert "optimality gap" in readme and "orbit-env leaderboard     " in readme and "--suite" not in readme
    assert "[leaderboard/LEADERBOARD.md](leaderboard/LEADERBOARD.md)" in readme


def test_paired_board_without_the_bound_says_how_to_get_it(tmp_path):
    store = Store(tmp_path / "n.sqlite")
    board = build_board(store, PAIRED, "test")
    store.close()
    assert "scores need the random baseline and the upper bound" in board.note and "it also solves the bounds" in board.note


# ------------------------------------------------------------------- an entry on a subset of the seeds


def test_an_entry_on_a_seed_subset_is_given_exactly_the_first_seeds_of_each_scenario(tmp_path):
    from leaderboard.entries import Entry, planners
    from leaderboard.evaluate import plan

    store = Store(tmp_path / "s.sqlite")
    key = Key(PAIRED.name, PAIRED.hash, env_hash(), "test")
    full, sub = Entry("edf-safe", "baseline", heuristic="edf-safe"), Entry("p", "baseline", heuristic="planner", seeds=2)
    tasks, _ = plan([full, sub], PAIRED, key, store, workers=1)
    ran = {name: sorted((ep.scenario, ep.seed) for t in tasks if t.entry.name == name for ep in t.episodes) for name in ("edf-safe", "p")}
    assert ran["p"] == [(sc, s) for sc in sorted(RANDOM) for s in (1000, 1001)]
    assert len(ran["edf-safe"]) == 12
    # the subset is part of the entry's identity; an entry on every seed keeps the hash it had
    assert sub.hash != replace(sub, seeds=0).hash and replace(sub, seeds=3).hash != sub.hash
    assert [(e.name, e.seeds) for e in planners()] == [("planner", 2)] and all(e.meta["seeds"] == 2 for e in planners())
    assert "planner" in {e.name for e in registered(suite="v2")} and resolve("planner-central").seeds == 2
    assert not {"planner", "planner-central"} & {e.name for e in registered(suite="v1")}
    store.close()


P = np.array([5.0, 1.0])  # the subset entry's gain over edf-safe on seeds 1000 and 1001


@pytest.fixture
def subset_board(tmp_path):
    """PAIRED's board with "p" on the first two seeds of each scenario, far above every baseline there."""
    store = paired_store(tmp_path / "s.sqlite")
    key = Key(PAIRED.name, PAIRED.hash, env_hash(), "test")
    store.add_entry("p", "hp", "baseline", {"seeds": 2})
    for sc in RANDOM:
        for i, seed in enumerate(SEEDS[:2]):
            metrics = {k: 0.0 for k in KEYS} | {"window_value": float(EDF_SAFE[sc][i] + P[i])}
            store.record(key, Row("p", "hp", sc, seed, "ok", "", metrics, 1.0))
    board = build_board(store, PAIRED, "test")
    store.close()
    return board


def test_a_subset_entry_is_paired_with_the_best_baseline_on_the_seeds_both_have(subset_board):
    by = {e.name: e for e in subset_board.entries}
    p = by["p"]
    assert p.status == "ranked" and p.subset and (p.episodes, p.of) == (4, 12) and not by["x"].subset
    assert subset_board.best == {"three-body-12": "edf-safe", "suncatcher-81": "edf-safe"}  # never the best itself
    for sc in RANDOM:
        assert p.scores[sc] == pytest.approx(100 * (EDF_SAFE[sc][:2] + P - RANDOM[sc][:2]) / SPAN[sc])
        c = p.versus[sc]
        # two shared seeds: the paired mean 3 and the resampled means of {5, 1}: 1, 3 and 5
        assert c.against == "edf-safe" and c.diff == pytest.approx((3.0, 1.0, 5.0))
        assert c.diff_score == pytest.approx(tuple(100 * v / SPAN[sc] for v in (3.0, 1.0, 5.0)))
    assert p.versus_all.diff_score[0] == pytest.approx(np.mean([100 * 3.0 / SPAN[sc] for sc in RANDOM]))
    # the entries on every seed are scored and compared as before
    assert by["x"].versus["three-body-12"].diff[0] == pytest.approx(2.0)
    assert {(r.entry, r.seeds_now) for r in power_table(subset_board) if r.scenario == "three-body-12"} == {("x", 6), ("balance", 6), ("p", 2)}


def test_the_board_states_the_subset_and_does_not_rank_it_with_the_full_entries(subset_board):
    assert [e.name for e in subset_board.ranked] == ["x", "edf-safe", "balance", "random", "p"]  # p scores highest
    text = markdown(subset_board)
    assert "| – | p ‡ | baseline |" in text and "| 1 | x | heuristic |" in text
    assert "‡ On a subset of the test seeds, too costly for all of them: p: 4 of 12 episodes (the first 2 seeds of each scenario it plays)." in text
    assert "| p ‡ | 3.0 [1.0, 5.0] |" in text  # its paired row per scenario
    assert "p: 4 of 12 episodes" in readme_section(subset_board) and "p: 4 of 12 episodes" in page(subset_board)
