"""The board: every entry's results on a suite split, normalised and aggregated, read from the store.

An entry is *ranked* when every episode of the split is recorded as ok; *partial* when it plays only
some scenarios (a submission may say which, e.g. a network trained for one constellation size) and all
of their episodes are ok: it gets per-scenario scores but no place in the ranking; *failed* when an
episode is recorded as a failure (with the reason); and *incomplete* otherwise (an evaluation was
interrupted or has not run: rerunning it resumes). Scores need the suite's zero and reference baselines
(suite v2: the zero baseline and the bound of every episode, see leaderboard.bound_rows).

Suite v2 also compares every entry, paired by seed, with the best baseline of each scenario (the baseline
on every seed with the highest mean of the suite's metric), and the board reports the seeds that a 2%
difference needs (``power_table``). The bound is not an entry: its rows are read into ``Board.bound``.

An entry may run on a subset of the seeds (``Entry.seeds``: the first k of each scenario, recorded in its
metadata): its scores, IQM and means cover those episodes only (the board says so), it is never the best
baseline, and its paired comparisons use the seeds it shares with the best baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from leaderboard import stats
from leaderboard.entries import Entry
from leaderboard.metrics import KEYS
from leaderboard.store import Key, Store
from leaderboard.suite import BOUND, Suite, env_hash

Interval = tuple[float, float, float]  # point estimate, 95% CI low, high
BOUND_KEYS = ("solve_s", "n_vars", "n_cons")  # recorded with each bound besides the suite's metric
BOUND_TOLERANCE = 1e-6  # relative: a value above its bound by more than the solver's round-off is reported


@dataclass(frozen=True)
class Comparison:
    """An entry against the best baseline, paired by seed (entry minus baseline)."""

    against: str  # the best baseline (of each scenario, for the comparison over all scenarios)
    diff: Interval | None  # mean per-seed difference of the suite's metric [95% CI]; None over all scenarios
    diff_score: Interval | None  # in score points (None when the scenario has no scores)
    p: float  # sign-flip permutation p-value of the mean difference (of the metric, or of the score over all)
    p_improvement: float | None  # rliable's probability of improvement on the scores


@dataclass(frozen=True)
class PowerRow:
    """Paired seeds that detect a difference of MIN_EFFECT x the best baseline's mean, per compared entry."""

    scenario: str
    entry: str
    against: str
    level: float  # the best baseline's mean of the suite's metric
    sd: float  # sd of the per-seed differences
    seeds_now: int
    seeds_needed: int


@dataclass
class EntryResult:
    name: str
    entry_hash: str
    kind: str
    meta: dict[str, Any]
    status: str  # "ranked", "partial", "incomplete" or "failed"
    reason: str  # why it failed, or what is missing
    done: int  # episodes recorded ok
    episodes: int = 0  # episodes it plays: of its scenarios, and of its seed subset if it has one
    of: int = 0  # episodes of its scenarios in the split (more than ``episodes``: it runs on a subset)
    values: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # scenario -> metric -> per seed
    seeds: dict[str, np.ndarray] = field(default_factory=dict)  # scenario -> the seeds of ``values``
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # scenario -> normalised score per seed
    score_seeds: dict[str, np.ndarray] = field(default_factory=dict)  # scenario -> the seeds of ``scores``
    iqm: Interval | None = None
    mean_score: float | None = None
    scenario_scores: dict[str, Interval] = field(default_factory=dict)
    versus: dict[str, Comparison] = field(default_factory=dict)  # scenario -> against its best baseline
    versus_all: Comparison | None = None  # over all scenarios (ranked entries)

    def mean(self, metric: str, scenario: str | None = None) -> float:
        """Mean of a metric per episode, over one scenario or all; episodes where it is undefined (NaN,
        e.g. the completion time without deliveries) are left out."""
        v = np.concatenate([self.values[s][metric] for s in ([scenario] if scenario else self.values)])
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")

    def all_scores(self) -> np.ndarray:
        return np.concatenate(list(self.scores.values()))

    @property
    def subset(self) -> bool:
        """Whether it runs on a subset of the seeds of its scenarios."""
        return self.episodes < self.of


@dataclass
class Board:
    suite: Suite
    split: str
    env_hash: str
    episodes: int  # episodes per entry in the split
    entries: list[EntryResult]
    note: str = ""  # why scores are missing, if they are
    bound: EntryResult | None = None  # paired suites: the bound's rows
    best: dict[str, str] = field(default_factory=dict)  # scenario -> the baseline with the highest mean
    warnings: list[str] = field(default_factory=list)  # seeds left out of the scores, bounds exceeded

    @property
    def ranked(self) -> list[EntryResult]:
        return [e for e in self.entries if e.status == "ranked"]

    @property
    def played(self) -> list[EntryResult]:
        """Entries with results on every episode of the scenarios they play: the ranked and the partial."""
        return [e for e in self.entries if e.status in ("ranked", "partial")]

    @property
    def scored(self) -> bool:
        return not self.note


def _result(
    store: Store, key: Key, suite: Suite, name: str, entry_hash: str, unrecorded: tuple[str, dict] | None = None,
    keys: tuple[str, ...] = KEYS,
) -> EntryResult:
    """An entry version's result; ``unrecorded`` is its (kind, metadata) if the store has none yet."""
    kind, meta = store.meta(name, entry_hash)
    if kind == "?" and unrecorded:
        kind, meta = unrecorded
    plays = [sc for sc in suite.scenarios if sc in meta.get("scenarios", suite.scenarios)]
    episodes = suite.episodes(key.split, tuple(plays), int(meta.get("seeds", 0))) if plays else []
    rows = store.rows(key, name, entry_hash)
    order = {(ep.scenario, ep.seed): i for i, ep in enumerate(episodes)}
    failures = sorted((r for r in rows if r.status == "failed"), key=lambda r: order.get((r.scenario, r.seed), len(order)))
    ok = {(r.scenario, r.seed): r.metrics for r in rows if r.status == "ok" and (r.scenario, r.seed) in order}
    res = EntryResult(name, entry_hash, kind, meta, "ranked", "", len(ok), len(episodes), len(suite.episodes(key.split, tuple(plays))) if plays else 0)
    if failures:
        f = failures[0]
        res.status, res.reason = "failed", f"{f.scenario} seed {f.seed}: {f.reason}"
    elif len(ok) < len(episodes):
        res.status, res.reason = "incomplete", f"{len(ok)} of {len(episodes)} episodes recorded"
    else:
        for sc in plays:
            seeds = [ep.seed for ep in episodes if ep.scenario == sc]
            res.seeds[sc] = np.array(seeds, int)
            res.values[sc] = {k: np.array([ok[(sc, s)][k] for s in seeds], float) for k in dict.fromkeys((suite.metric, *keys))}
        if len(plays) < len(suite.scenarios):
            res.status, res.reason = "partial", f"plays {', '.join(plays)} only: see the per-scenario tables"
    return res


def _score(res: EntryResult, zero: EntryResult, ref: EntryResult) -> None:
    for sc, vals in res.values.items():
        z, r = zero.values[sc]["delivered_value"].mean(), ref.values[sc]["delivered_value"].mean()
        res.scores[sc], res.score_seeds[sc] = stats.normalise(vals["delivered_value"], z, r), res.seeds[sc]


def _score_paired(board: Board, played: list[EntryResult], zero: EntryResult, bound: EntryResult) -> None:
    """Per-seed scores between the zero policy and the bound on the same seed. A seed whose span is not
    clearly positive is left out of every entry's scores and reported; so is a value above the bound."""
    m = board.suite.metric
    for task in board.suite.tasks:
        sc, seeds = task.scenario, task.seeds(board.split)
        z, b = zero.values[sc][m], bound.values[sc][m]
        clear = stats.clear_span(z, b)
        board.warnings += [
            f"{sc} seed {seed}: the bound {bi:.4g} is not clearly above {zero.name}'s {zi:.4g} (less than "
            f"{stats.MIN_SPAN:.0%} of the bound), so this seed is left out of every score"
            for seed, zi, bi, c in zip(seeds, z, b, clear) if not c
        ]  # fmt: skip
        for res in played:
            if sc not in res.values:
                continue
            v, at = res.values[sc][m], np.array([seeds.index(seed) for seed in res.seeds[sc]], int)  # its seeds among the split's
            above = v > b[at] + BOUND_TOLERANCE * np.maximum(1.0, np.abs(b[at]))
            board.warnings += [f"{res.name} delivers {vi:.4g} on {sc} seed {seed}, above its bound {bi:.4g}"
                               for seed, vi, bi, a in zip(res.seeds[sc], v, b[at], above) if a]  # fmt: skip
            keep = clear[at]
            if keep.any():
                res.scores[sc], res.score_seeds[sc] = stats.paired_normalise(v[keep], z[at][keep], b[at][keep]), res.seeds[sc][keep]


def _aggregate(res: EntryResult) -> None:
    for sc, s in res.scores.items():
        res.scenario_scores[sc] = stats.stratified_bootstrap([s], stats.mean)
    if res.status == "ranked" and res.scores:
        res.iqm = stats.stratified_bootstrap(list(res.scores.values()), stats.iqm)
        res.mean_score = float(res.all_scores().mean())


def _best_baselines(board: Board) -> dict[str, EntryResult]:
    """Scenario -> the ranked baseline on every seed with the highest mean of the suite's metric (ties: first by name)."""
    baselines = sorted((e for e in board.ranked if e.kind == "baseline" and not e.subset), key=lambda e: e.name)
    m = board.suite.metric
    return {sc: max(baselines, key=lambda e: e.values[sc][m].mean()) for sc in board.suite.scenarios} if baselines else {}


def shared(x: EntryResult, y: EntryResult, sc: str, metric: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``x``'s and ``y``'s values of ``metric`` on scenario ``sc`` (their scores if ``metric`` is None), on the seeds
    both have, in ascending order of seed: what a paired comparison uses when one of them runs on a subset."""
    xs, xv = (x.seeds[sc], x.values[sc][metric]) if metric else (x.score_seeds[sc], x.scores[sc])
    ys, yv = (y.seeds[sc], y.values[sc][metric]) if metric else (y.score_seeds[sc], y.scores[sc])
    _, i, j = np.intersect1d(xs, ys, assume_unique=True, return_indices=True)
    return xv[i], yv[j]


def _compare(res: EntryResult, best: dict[str, EntryResult], metric: str) -> None:
    """``res`` against the best baseline of each scenario it plays, paired by seed (the seeds both have)."""
    for sc in res.values:
        b = best[sc]
        x, y = shared(res, b, sc, metric)
        scored = sc in res.scores and sc in b.scores
        xs, ys = shared(res, b, sc) if scored else (None, None)
        res.versus[sc] = Comparison(
            b.name,
            stats.paired_bootstrap([x], [y]),
            stats.paired_bootstrap([xs], [ys]) if scored else None,
            stats.sign_flip_p(x - y),
            stats.probability_of_improvement([xs], [ys]) if scored else None,
        )
    scenarios = [sc for sc in res.scores if sc in best[sc].scores]
    if res.status == "ranked" and scenarios:
        xs, ys = zip(*(shared(res, best[sc], sc) for sc in scenarios))
        names = sorted({best[sc].name for sc in scenarios})
        res.versus_all = Comparison(
            names[0] if len(names) == 1 else "best per scenario",
            None,
            stats.paired_bootstrap(xs, ys),
            stats.sign_flip_p(np.concatenate(xs) - np.concatenate(ys)),
            stats.probability_of_improvement(xs, ys),
        )


def power_table(board: Board, effect: float = stats.MIN_EFFECT) -> list[PowerRow]:
    """Per scenario and entry (except the zero policy and the best baseline itself): the paired seeds that
    detect a difference of ``effect`` x the best baseline's mean, from the spread of the per-seed
    differences on this board's seeds (use the dev split)."""
    m, rows = board.suite.metric, []
    for task in board.suite.tasks:
        sc = task.scenario
        if sc not in board.best:
            continue
        b = next(e for e in board.played if e.name == board.best[sc])
        for e in board.played:
            if e.name in (b.name, board.suite.zero) or sc not in e.values:
                continue
            x, y = shared(e, b, sc, m)
            sd = float(np.std(x - y, ddof=1))
            level = float(b.values[sc][m].mean())
            rows.append(PowerRow(sc, e.name, b.name, level, sd, len(x), stats.seeds_for_power(sd, level, effect)))
    return rows


def build_board(store: Store, suite: Suite, split: str, current: Sequence[Entry] = ()) -> Board:
    """The board of ``suite``/``split`` for the current env: every entry evaluated under it (its latest
    version), with the ``current`` entries at their present version (shown as not evaluated if new).
    Only reads the store."""
    key = Key(suite.name, suite.hash, env_hash(), split)
    versions = store.versions(key)
    bound_hash = versions.pop(BOUND, None)
    current_meta = {}
    for e in current:
        versions[e.name] = h = e.hash
        current_meta[(e.name, h)] = (e.kind, e.meta)
    results = {name: _result(store, key, suite, name, h, current_meta.get((name, h))) for name, h in versions.items()}
    results = {name: r for name, r in results.items() if r.of}  # a submission for another suite's scenarios is not on this board
    board = Board(suite, split, key.env_hash, len(suite.episodes(split)), [])
    if suite.paired and bound_hash:
        board.bound = _result(store, key, suite, BOUND, bound_hash, keys=BOUND_KEYS)
    zero, ref = results.get(suite.zero), board.bound if suite.paired else results.get(suite.reference)
    played = [r for r in results.values() if r.status in ("ranked", "partial")]
    if zero is None or ref is None or zero.status != "ranked" or ref.status != "ranked":
        board.note = (
            f"scores need the {suite.zero} baseline and the upper bound on every episode of this split: run "
            f"`orbit-env evaluate {suite.zero} --suite {suite.name} --split {split}` (it also solves the bounds) or `orbit-env leaderboard`"
            if suite.paired else
            f"scores need the {suite.zero} and {suite.reference} baselines on every episode of this split: run "
            f"`orbit-env evaluate {suite.zero} {suite.reference} --suite {suite.name} --split {split}` or `orbit-env leaderboard`"
        )  # fmt: skip
    else:
        try:
            if suite.paired:
                _score_paired(board, played, zero, ref)
            else:
                for res in played:
                    _score(res, zero, ref)
            for res in played:
                _aggregate(res)
        except ValueError as e:
            board.note = f"scores are undefined: {e}"
    rank = {"ranked": 0, "partial": 1, "incomplete": 2, "failed": 3}
    board.entries = sorted(  # entries on a subset of the seeds after those on every seed: their IQMs cover other episodes
        results.values(), key=lambda r: (rank[r.status], r.subset, -(r.iqm[0] if r.iqm and board.scored else 0.0), r.name)
    )
    best = _best_baselines(board)
    board.best = {sc: e.name for sc, e in best.items()}
    if suite.paired and board.scored and best:
        for res in board.played:
            _compare(res, best, suite.metric)
    return board
