"""The leaderboard end to end: deterministic evaluation, crash-safe resume, failures recorded with reasons,
the board against a hand-computed case, the CLI, and the HTML page in a real headless browser."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from agents.heuristics import make_policy
from leaderboard import worker
from leaderboard.board import build_board
from leaderboard.entries import SubmissionError, read_submission, resolve
from leaderboard.evaluate import batch_size, evaluate, plan
from leaderboard.metrics import KEYS, episode_metrics
from leaderboard.render import markdown, page
from leaderboard.store import Key, Row, Store
from leaderboard.suite import SMOKE, Suite, Task, env_hash, tree_hash
from orbit_env import ENV_VERSION
from orbit_env.env import OrbitComputeEnv

ROOT = Path(__file__).resolve().parents[1]
BAD_WORKER = [sys.executable, str(Path(__file__).with_name("bad_policies_worker.py"))]
TINY = Suite("tiny", "one scenario for an hour", (Task("three-body-12", 60, (0, 1), (1000, 1001)),))
META = {
    "authors": ["tests"], "description": "a test submission", "orbit_env_version": "0.1.0", "env_modified": False,
    "deterministic": True, "tuned_on": "suite v1 dev seeds", "tuning": "none", "hardware": "2 CPU cores",
}  # fmt: skip


def _toml(tables: dict[str, dict]) -> str:
    """A small TOML writer for flat tables with inline sub-tables (json quoting is valid TOML here)."""
    val = lambda v: ("true" if v else "false") if isinstance(v, bool) else (  # noqa: E731
        "{" + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + "}" if isinstance(v, dict) else json.dumps(v)
    )
    return "\n".join(f"[{name}]\n" + "\n".join(f"{k} = {val(v)}" for k, v in t.items()) for name, t in tables.items()) + "\n"


def submission(root: Path, name: str, policy: dict, kind: str = "heuristic", **meta) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "submission.toml").write_text(_toml({"submission": {"name": name, "kind": kind, **META, **meta}, "policy": policy}))
    return folder


def network(folder: Path, scenario: str = "three-body-12", n_out: int | None = None, corrupt: bool = False, deterministic: bool = True) -> None:
    """A random MLP in the format train.export writes (read back by agents.learned)."""
    from safetensors.numpy import save

    env = OrbitComputeEnv(scenario, max_cycles=2)
    L, A = env.layout, env.actions
    rng = np.random.default_rng(0)
    tensors = {
        "pi.0.weight": rng.normal(0, 0.1, (16, L.size)).astype(np.float32), "pi.0.bias": np.zeros(16, np.float32),
        "logits.weight": rng.normal(0, 0.1, (n_out or A.n, 16)).astype(np.float32), "logits.bias": np.zeros(n_out or A.n, np.float32),
    }  # fmt: skip
    blob = save(tensors)
    spec = {
        "format": "orbit-env-policy", "format_version": 1, "name": folder.name, "env": {"id": ENV_VERSION},
        "observation": {"size": L.size, "K": L.K, "M": L.M, "names": L.names()},
        "action": {"n": n_out or A.n, "K": A.K, "P": A.P, "M": A.M, "G": A.G},
        "network": {"layers": ["pi.0"], "output": "logits", "activation": "tanh"},
        "normalize": {"obs": False}, "act": {"deterministic": deterministic},
        "weights": {"file": "policy.safetensors", "sha256": hashlib.sha256(blob).hexdigest()},
    }  # fmt: skip
    (folder / "policy.safetensors").write_bytes(blob[:-8] + b"corrupt!" if corrupt else blob)
    (folder / "policy.json").write_text(json.dumps(spec))


def rows_of(db: Path, suite: Suite, split: str = "test") -> list[tuple]:
    store = Store(db)
    try:
        rows = store.rows(Key(suite.name, suite.hash, env_hash(), split))
    finally:
        store.close()
    return [(r.entry, r.scenario, r.seed, r.status, json.dumps(r.metrics, sort_keys=True)) for r in rows]


# ------------------------------------------------------------------------------------------ evaluation


def test_evaluation_is_deterministic(tmp_path):
    entries = [resolve("edf-safe"), resolve("random")]
    for db in ("a.sqlite", "b.sqlite"):
        store = Store(tmp_path / db)
        summary = evaluate(entries, TINY, "test", store, workers=2, progress=False)
        store.close()
        assert (summary.ok, summary.failed) == (4, 0)
    assert rows_of(tmp_path / "a.sqlite", TINY) == rows_of(tmp_path / "b.sqlite", TINY)


def one_at_a_time(entry, scenario: str, seed: int, max_cycles: int) -> str:
    """An episode's metrics through the single env's PettingZoo dictionaries, the policy reset with its seed."""
    env = OrbitComputeEnv(scenario, max_cycles=max_cycles)
    policy = worker.build_policy(entry.task(), env)
    obs, _ = env.reset(seed=seed)
    policy.reset(seed)
    while env.agents:
        obs, *_ = env.step(policy.act(obs))
    return json.dumps(episode_metrics(env.batch)[0], sort_keys=True)


def test_batched_rows_equal_episodes_run_one_at_a_time(tmp_path):
    """The evaluator runs the seeds of an (entry, scenario) as one batch; every row equals, bit for bit, the
    episode run alone in the single env, for heuristics, random draws and a sampling network."""
    folder = submission(tmp_path / "subs", "net-sampling", {"spec": "policy.json"}, kind="safetensors")
    network(folder, scenario="contacts-relay-24", deterministic=False)
    entries = [resolve("random"), resolve("edf-safe"), resolve("balance"), resolve(str(folder))]
    suite = Suite("batch", "three seeds in one batch", (Task("contacts-relay-24", 60, (), (1000, 1001, 1002)),))
    store = Store(tmp_path / "b.sqlite")
    tasks, _ = plan(entries, suite, Key(suite.name, suite.hash, env_hash(), "test"), store, workers=1)
    assert [len(t.episodes) for t in tasks] == [3] * len(entries)  # each entry's seeds are one batch
    summary = evaluate(entries, suite, "test", store, workers=1, progress=False)
    store.close()
    assert (summary.ok, summary.failed) == (3 * len(entries), 0)
    recorded = {(e, s): m for e, _, s, _, m in rows_of(tmp_path / "b.sqlite", suite)}
    assert len(set(recorded.values())) == len(recorded)  # policies and seeds differ: so do their episodes
    for entry in entries:
        for seed in (1000, 1001, 1002):
            assert recorded[(entry.name, seed)] == one_at_a_time(entry, "contacts-relay-24", seed, 60), (entry.name, seed)


def test_batches_are_bounded_even_and_keep_every_worker_busy(tmp_path):
    assert batch_size(1000, 5, 500, 2) == 3  # at most 4 of starcloud-shell-1000 (4,096 satellites): 3 + 2
    assert batch_size(160, 10, 500, 2) == 10  # walker-160: 25 fit
    assert batch_size(12, 4, 4, 2) == 2  # a small evaluation: two batches for two workers
    assert batch_size(12, 3, 3, 4) == 1
    store = Store(tmp_path / "p.sqlite")
    suite = Suite("five", "five seeds", (Task("starcloud-shell-1000", 10, (), (1, 2, 3, 4, 5)),))
    tasks, already = plan([resolve("edf")], suite, Key(suite.name, suite.hash, env_hash(), "test"), store, workers=2)
    assert already == 0 and [[ep.seed for ep in t.episodes] for t in tasks] == [[1, 2, 3], [4, 5]]
    key, edf = Key(suite.name, suite.hash, env_hash(), "test"), resolve("edf")
    store.record(key, Row("edf", edf.hash, "starcloud-shell-1000", 3, "ok", "", {k: 0.0 for k in KEYS}, 1.0))
    tasks, already = plan([edf], suite, key, store, workers=2)  # a recorded seed is not run again
    assert already == 1 and [[ep.seed for ep in t.episodes] for t in tasks] == [[1, 2], [4, 5]]
    store.close()


def test_a_rerun_evaluates_nothing_and_adds_no_rows(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    evaluate([resolve("greedy")], TINY, "test", store, workers=1, progress=False)
    again = evaluate([resolve("greedy")], TINY, "test", store, workers=1, progress=False)
    store.close()
    assert (again.episodes, again.already) == (0, 2)
    assert len(rows_of(tmp_path / "r.sqlite", TINY)) == 2


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False


def test_the_main_job_killed_part_way_resumes_to_the_same_board(tmp_path):
    """``orbit-env leaderboard`` (here on the smoke suite) killed mid-run by SIGKILL, then rerun, leaves the
    same rows and writes the same board as an uninterrupted run; its workers do not outlive it."""
    cmd = [sys.executable, "-m", "orbit_env.cli", "leaderboard", "--suite", "smoke", "--quiet"]
    clean, killed = tmp_path / "clean.sqlite", tmp_path / "killed.sqlite"
    out = subprocess.run([*cmd, "--db", str(clean), "--out", str(tmp_path / "clean")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "| 1 |" in out.stdout and (tmp_path / "clean" / "leaderboard.html").exists()
    n_rows = len(rows_of(clean, SMOKE))

    proc = subprocess.Popen([*cmd, "--db", str(killed), "--out", str(tmp_path / "killed")], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not killed.exists() or len(rows_of(killed, SMOKE)) < 3):
        time.sleep(0.2)
    children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    proc.send_signal(signal.SIGKILL)  # the evaluator dies mid-run, without any chance to clean up
    proc.wait()
    n_partial = len(rows_of(killed, SMOKE))
    assert 3 <= n_partial < n_rows
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert children and not any(_alive(p) for p in children), "workers outlived the killed evaluator"

    out = subprocess.run([*cmd, "--db", str(killed), "--out", str(tmp_path / "killed")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{n_partial} were already recorded" in out.stderr
    assert rows_of(killed, SMOKE) == rows_of(clean, SMOKE)
    assert len(set(rows_of(killed, SMOKE))) == n_rows >= 7 * 4  # no duplicates; 6 baselines + submissions, 4 episodes each
    for name in ("LEADERBOARD.md", "README_SECTION.md", "leaderboard.html"):
        assert (tmp_path / "killed" / name).read_text() == (tmp_path / "clean" / name).read_text(), name


# -------------------------------------------------------------------------------------------- failures


def test_bad_submissions_are_recorded_as_failures_with_reasons(tmp_path):
    subs = tmp_path / "subs"
    heuristic = lambda name, h, **params: submission(subs, name, {"heuristic": h, "params": params})  # noqa: E731
    folders = [
        heuristic("raises", "raises"),
        heuristic("wrong-shape", "wrong-shape"),
        heuristic("out-of-range", "out-of-range"),
        heuristic("dies", "dies"),
        heuristic("hangs", "hangs"),
        heuristic("chatty", "chatty"),
        heuristic("unknown-heuristic", "best-policy-ever"),
        heuristic("unknown-param", "edf-safe", soc_margn=0.1),
        heuristic("cautious", "edf-safe", soc_margin=0.15),
    ]
    for name, kwargs in [("net", {}), ("net-corrupt", {"corrupt": True}), ("net-wrong-actions", {"n_out": 5})]:
        folder = submission(subs, name, {"spec": "policy.json"}, kind="safetensors")
        network(folder, **kwargs)
        folders.append(folder)
    folders.append(submission(subs, "net-missing", {"spec": "nowhere.json"}, kind="safetensors"))
    (subs / "not-toml").mkdir()
    (subs / "not-toml" / "submission.toml").write_text("[submission\nname = ")
    folders.append(subs / "not-toml")
    incomplete = subs / "incomplete"
    incomplete.mkdir()
    (incomplete / "submission.toml").write_text(_toml({"submission": {"name": "incomplete", "kind": "heuristic"}, "policy": {"heuristic": "edf"}}))
    folders.append(incomplete)

    entries = [resolve("edf")] + [resolve(str(f)) for f in folders]
    store = Store(tmp_path / "f.sqlite")
    summary = evaluate(entries, TINY, "test", store, workers=2, timeout_s=5.0, progress=False, worker_cmd=BAD_WORKER)
    board = build_board(store, TINY, "test")
    store.close()
    status = {e.name: (e.status, e.reason) for e in board.entries}

    expected_failures = {
        "raises": "crashed at step 2: RuntimeError: the policy blew up",
        "wrong-shape": "wrong actions at step 2: expected 2 x 12 integers (episodes x satellites, shape (2, 12)), got int64 with shape (1, 12)",
        "out-of-range": "is outside Discrete(",
        "dies": "the worker process died (exit code 3): about to exit",
        "hangs": "time-out: the episodes took longer than 5 s each (a batch of 2, over 10 s in all)",
        "unknown-heuristic": "could not load the policy: ValueError: unknown policy 'best-policy-ever'",
        "unknown-param/": "edf-safe has no parameter soc_margn",  # refused when read: named after its folder
        "net-corrupt": "do not match the sha256",
        "net-wrong-actions": "action space mismatch: the policy was trained on Discrete(5)",
        "net-missing": "not found",
        "not-toml/": "is not valid TOML",
        "incomplete/": "missing field 'authors'",
    }
    for name, reason in expected_failures.items():
        assert status[name][0] == "failed", (name, status[name])
        assert reason in status[name][1], (name, status[name][1])
    for name in ("edf", "chatty", "cautious", "net"):  # good entries finish despite the bad ones around them
        assert status[name] == ("ranked", ""), (name, status[name])
    # 4 good entries x 2 episodes; the 9 readable bad ones fail on both: the two seeds of an entry are one batch
    assert summary.ok == 8 and summary.failed == 18 and summary.skipped == 0


def test_submission_paths_must_stay_inside_the_folder(tmp_path):
    folder = submission(tmp_path, "escape", {"spec": "../../etc/passwd"}, kind="safetensors")
    with pytest.raises(SubmissionError, match="must be a relative path inside the submission folder"):
        read_submission(folder)
    with pytest.raises(SubmissionError, match="taken by a baseline"):
        read_submission(submission(tmp_path, "greedy", {"heuristic": "greedy"}))


# --------------------------------------------------------------------------------------- statistics


HAND = Suite("hand", "two scenarios, four seeds", (Task("three-body-12", 60, (), (1, 2, 3, 4)), Task("suncatcher-81", 60, (), (1, 2, 3, 4))))


def hand_store(path: Path) -> Store:
    """Results written by hand: delivered values chosen so that every score is easy to compute."""
    delivered = {
        "random": {"three-body-12": [1, 2, 3, 2], "suncatcher-81": [10, 10, 10, 10]},  # means 2 and 10
        "edf-safe": {"three-body-12": [6, 6, 6, 6], "suncatcher-81": [20, 20, 20, 20]},  # means 6 and 20
        "x": {"three-body-12": [2, 4, 6, 10], "suncatcher-81": [10, 15, 20, 30]},  # scores 0, 50, 100, 200 on both
        "y": {"three-body-12": [4, 4, 4, 4]},  # a submission that plays one scenario: score 50 there
    }
    store = Store(path)
    key = Key(HAND.name, HAND.hash, env_hash(), "test")
    for entry, per in delivered.items():
        store.add_entry(entry, "h", "baseline", {"scenarios": list(per)} if entry == "y" else {})
        for sc, values in per.items():
            for seed, v in zip((1, 2, 3, 4), values):
                metrics = {k: 0.0 for k in KEYS} | {"delivered_value": float(v), "mean_completion_h": math.nan, "safe_mode_entries": seed}
                store.record(key, Row(entry, "h", sc, seed, "ok", "", metrics, 1.0))
    return store


def test_board_matches_a_hand_computed_case(tmp_path):
    store = hand_store(tmp_path / "h.sqlite")
    board = build_board(store, HAND, "test")
    store.close()
    by = {e.name: e for e in board.entries}
    assert [e.name for e in board.entries] == ["edf-safe", "x", "random", "y"]
    assert [e.name for e in board.ranked] == ["edf-safe", "x", "random"]
    assert by["y"].status == "partial" and by["y"].scenario_scores["three-body-12"] == pytest.approx((50.0, 50.0, 50.0))
    # x: scores [0, 50, 100, 200] twice; IQM drops two at each end of the sorted eight: mean(50, 50, 100, 100)
    assert by["x"].iqm[0] == pytest.approx(75.0) and by["x"].mean_score == pytest.approx(87.5)
    assert by["x"].scores["three-body-12"].tolist() == [0.0, 50.0, 100.0, 200.0]
    assert by["edf-safe"].iqm == pytest.approx((100.0, 100.0, 100.0))
    # random: [-25, 0, 25, 0] and four zeros; the middle four are zeros
    assert by["random"].iqm[0] == pytest.approx(0.0)
    assert by["x"].iqm[1] < 75.0 < by["x"].iqm[2]
    assert by["x"].mean("safe_mode_entries") == pytest.approx(2.5)
    assert math.isnan(by["x"].mean("mean_completion_h"))
    text = markdown(board)
    assert "| 2 | x | baseline | 75.0 [" in text
    assert "| y | 50.0 [50.0, 50.0] | – |" in text and "| y | partial | plays three-body-12 only" in text


def test_hashes_follow_the_files_and_the_suite_definition(tmp_path):
    (tmp_path / "a.toml").write_text("x = 1")
    before = tree_hash(tmp_path, ("*.toml",))
    (tmp_path / "a.toml").write_text("x = 2")
    assert tree_hash(tmp_path, ("*.toml",)) != before
    longer = Suite(SMOKE.name, SMOKE.description, (Task("three-body-12", 361, (0, 1), (1000, 1001)), SMOKE.tasks[1]))
    assert longer.hash != SMOKE.hash
    assert env_hash().startswith(ENV_VERSION)


# ---------------------------------------------------------------------------------------------- CLI


def orbit_env(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "orbit_env.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_cli_help_and_errors_say_what_to_do(tmp_path):
    for cmd in ("evaluate", "leaderboard", "board"):
        out = orbit_env(cmd, "--help")
        assert out.returncode == 0 and "--db" in out.stdout
    out = orbit_env("evaluate", "best-policy-ever", "--db", str(tmp_path / "x.sqlite"))
    assert out.returncode == 2 and "neither a baseline" in out.stderr and "SUBMISSIONS.md" in out.stderr
    (tmp_path / "junk.sqlite").write_bytes(b"not a database" * 100)
    out = orbit_env("board", "--db", str(tmp_path / "junk.sqlite"))
    assert out.returncode == 2 and "not a usable results database" in out.stderr
    out = orbit_env("board", "--suite", "smoke", "--db", str(tmp_path / "empty.sqlite"))
    assert out.returncode == 0 and "run `orbit-env evaluate random edf-safe --suite smoke --split test`" in out.stdout


def test_run_works_with_every_heuristic():
    for name in ("random", "greedy", "edf", "edf-safe", "edf-ckpt", "balance"):
        out = orbit_env("run", "three-body-12", "--policy", name, "--steps", "30", "--quiet")
        assert out.returncode == 0 and f"policy {name}" in out.stdout, out.stderr


# ------------------------------------------------------------------------------------- HTML in Chromium


def test_html_page_renders_in_a_headless_browser(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    store = hand_store(tmp_path / "p.sqlite")
    board = build_board(store, HAND, "test")
    store.close()
    html_path = tmp_path / "leaderboard.html"
    html_path.write_text(page(board))
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    dom = subprocess.run([browser, *flags, "--dump-dom", html_path.as_uri()], capture_output=True, text=True, timeout=120)
    assert 'data-plots="loaded"' in dom.stdout, dom.stderr[-2000:]
    assert dom.stdout.count("<img") == 2 and "<td class=\"text\">edf-safe</td>" in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1200,2400", html_path.as_uri()], capture_output=True, timeout=120)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] > 1000 and len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50  # text and plots drawn
