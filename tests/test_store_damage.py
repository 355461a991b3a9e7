"""The results store against damage and careless settings (issue 11): an empty, foreign or damaged file is
refused with a message that names it and says what to do, never a sqlite3 traceback, and is left as it
was; ``board`` only reads; evaluator settings that cannot work are refused before anything runs, and a
failure they cause is never kept as the policy's result."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from test_leaderboard import BAD_WORKER, HAND, TINY, hand_store, orbit_env, rows_of, submission

from leaderboard.board import build_board
from leaderboard.entries import resolve
from leaderboard.evaluate import EvaluationError, evaluate
from leaderboard.metrics import KEYS
from leaderboard.store import Key, Row, Store, StoreError
from leaderboard.suite import env_hash


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def real_store(path: Path, rows: int = 400) -> Path:
    """A store of ``rows`` episodes, checkpointed into the main file (several dozen pages)."""
    store = hand_store(path)
    key = Key(HAND.name, HAND.hash, env_hash(), "test")
    for seed in range(rows):
        store.record(key, Row(f"entry-{seed % 7}", "h", "three-body-12", 100 + seed, "ok", "", {k: float(seed) for k in KEYS}, 1.0))
    store.close()
    return path


def garbage_page(path: Path) -> int:
    """Overwrite one page in the middle of the file with random bytes; returns its number."""
    page_size = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    pages = path.stat().st_size // page_size
    n = pages // 2
    with open(path, "r+b") as f:
        f.seek(n * page_size)
        f.write(np.random.default_rng(11).bytes(page_size))
    return n


def damaged(tmp_path: Path, how: str) -> Path:
    path = tmp_path / f"{how}.sqlite"
    if how == "empty":
        path.touch()
    elif how == "not-sqlite":
        path.write_text("entry,score\nrandom,0\n" * 100)
    else:
        garbage_page(real_store(path))
    return path


DAMAGE = {  # how -> what the message may say (SQLite finds a garbage page in its check or when reading it)
    "empty": ("is an empty file (0 bytes), not a database",),
    "not-sqlite": ("is not a usable results database (file is not a database)",),
    "garbage-page": ("is damaged (", "is not a usable results database (database disk image is malformed)"),
}


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_store_is_refused_by_name_and_left_as_it_was(tmp_path, how):
    path = damaged(tmp_path, how)
    before = digest(path)
    for readonly in (False, True):
        with pytest.raises(StoreError) as e:
            Store(path, readonly=readonly)
        message = str(e.value)
        assert str(path) in message and any(m in message for m in DAMAGE[how]), message
        assert "restore it from a backup, or move it away" in message
    evaluate_one = ["evaluate", "random", "--suite", "smoke", "--scenario", "three-body-12"]
    for cmd in (["board"], evaluate_one, ["leaderboard", "--suite", "smoke", "--no-write"]):
        out = orbit_env(*cmd, "--db", str(path))
        assert out.returncode == 2 and "Traceback" not in out.stderr, (cmd, out.stderr)
        assert "orbit-env: error: " in out.stderr and str(path) in out.stderr and "restore it from a backup" in out.stderr, cmd
    assert digest(path) == before  # nothing was written to it


def test_the_garbage_page_is_in_use(tmp_path):
    """The damage above is real: the intact store opens and reads, and with the garbage page a plain
    sqlite3 read of it fails (the raw traceback the store's check replaces)."""
    path = real_store(tmp_path / "p.sqlite")
    assert len(Store(path, readonly=True).rows(Key(HAND.name, HAND.hash, env_hash(), "test"))) == 400 + 28
    garbage_page(path)
    with pytest.raises(sqlite3.DatabaseError):
        conn = sqlite3.connect(path)
        conn.execute("SELECT * FROM episodes").fetchall()
        conn.execute("SELECT * FROM episodes ORDER BY suite, suite_hash, env_hash, split, entry, entry_hash, scenario, seed").fetchall()


def test_board_only_reads(tmp_path):
    out = orbit_env("board", "--suite", "smoke", "--db", str(tmp_path / "typo" / "dir" / "x.sqlite"))
    assert out.returncode == 0 and "does not exist: nothing is recorded there yet" in out.stderr
    assert not (tmp_path / "typo").exists()
    path = real_store(tmp_path / "r.sqlite")
    before = digest(path)
    out = orbit_env("board", "--db", str(path))  # with the registered submissions: they used to be written in
    assert out.returncode == 0, out.stderr
    assert digest(path) == before
    assert {p.name for p in tmp_path.iterdir()} <= {"r.sqlite", "r.sqlite-wal", "r.sqlite-shm"}


def test_unusable_paths_are_clear_errors(tmp_path):
    cases = {
        "/proc/orbit-env-test/x.sqlite": "cannot create the results database /proc/orbit-env-test/x.sqlite",
        "/proc/x.sqlite": "cannot create the results database /proc/x.sqlite",
        str(tmp_path): "is a directory, not a file",
        "/proc/self/status": "is an empty file (0 bytes), not a database",  # /proc reports no size
    }
    for db, message in cases.items():
        with pytest.raises(StoreError, match=re.escape(message)):
            Store(db)
    out = orbit_env("evaluate", "random", "--db", "/proc/orbit-env-test/x.sqlite")
    assert out.returncode == 2 and "cannot create the results database" in out.stderr and "Traceback" not in out.stderr
    out = orbit_env("board", "--db", "/proc")
    assert out.returncode == 2 and "/proc is a directory, not a file" in out.stderr
    for cmd in (["leaderboard", "--suite", "smoke", "--out"], ["board", "--write"]):  # checked before any work
        out = orbit_env(*cmd, "/proc/orbit-env-board", "--db", str(tmp_path / "b.sqlite"))
        assert out.returncode == 2 and "cannot write the board to /proc/orbit-env-board" in out.stderr, out.stderr
    assert not (tmp_path / "b.sqlite").exists()
    os.mkfifo(tmp_path / "fifo.sqlite")  # SQLite would block opening it
    with pytest.raises(StoreError, match="is a FIFO"):
        Store(tmp_path / "fifo.sqlite", readonly=True)
    sqlite3.connect(tmp_path / "other.sqlite").execute("CREATE TABLE photos (id)").connection.close()
    with pytest.raises(StoreError, match="an SQLite database but not a results store .its tables: photos."):
        Store(tmp_path / "other.sqlite")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_a_read_only_directory_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="cannot create the results database"):
            Store(ro / "x.sqlite")
    finally:
        ro.chmod(0o755)


def test_a_new_store_appears_whole(tmp_path):
    """Created beside its path and linked into place: never an empty file under the final name."""
    store = Store(tmp_path / "new.sqlite")
    store.close()
    assert [p.name for p in tmp_path.iterdir()] == ["new.sqlite"]
    assert Store(tmp_path / "new.sqlite", readonly=True).rows(Key("v1", "x", "y", "test")) == []


# -------------------------------------------------------------------------------- evaluator settings


SETTINGS = [("--timeout", "0"), ("--timeout", "-5"), ("--timeout", "nan"), ("--timeout", "inf"), ("--workers", "0"), ("--workers", "-2")]


@pytest.mark.parametrize("setting", SETTINGS)
def test_settings_that_cannot_work_are_refused_before_anything_runs(tmp_path, setting):
    db = tmp_path / "x.sqlite"
    out = orbit_env("evaluate", "random", "--suite", "smoke", "--db", str(db), *setting)
    assert out.returncode == 2 and f"error: argument {setting[0]}: {setting[1]} is not above 0" in out.stderr
    assert "Traceback" not in out.stderr
    assert not db.exists()
    path = real_store(tmp_path / "r.sqlite")
    before = digest(path)
    store = Store(path)
    with pytest.raises(ValueError, match=setting[0]):
        kwargs = {"timeout_s": float(setting[1])} if setting[0] == "--timeout" else {"workers": int(setting[1])}
        evaluate([resolve("random")], TINY, "test", store, **kwargs)
    store.close()
    assert digest(path) == before


def test_a_time_out_under_a_shorter_limit_is_tried_again(tmp_path):
    """A hanging policy stays failed under the limit it failed under; a longer limit (the default, which the
    board's suggested command uses) evaluates it again, so a too-short --timeout never poisons a baseline."""
    store = Store(tmp_path / "t.sqlite")
    hangs = resolve(str(submission(tmp_path, "hanger", {"heuristic": "hangs"})))
    first = evaluate([hangs], TINY, "test", store, workers=1, timeout_s=2.0, progress=False, worker_cmd=BAD_WORKER)
    assert first.failed == 2  # both seeds ran as one batch, which was given 2 x 2 s
    again = evaluate([hangs], TINY, "test", store, workers=1, timeout_s=2.0, progress=False, worker_cmd=BAD_WORKER)
    assert (again.episodes, again.already) == (0, 2)  # same limit: the recorded time-out stands
    longer = evaluate([hangs], TINY, "test", store, workers=1, timeout_s=3.0, progress=False, worker_cmd=BAD_WORKER)
    assert longer.failed == 2 and longer.episodes == 2
    rows = [r for r in store.rows(Key(TINY.name, TINY.hash, env_hash(), "test")) if r.status == "failed"]
    assert len(rows) == 2 and all("longer than 3 s each" in r.reason and r.wall_s > 3.0 for r in rows)  # its share of over 2 x 3 s
    # a baseline timed out under a 1 s limit, then the board's suggested command (default limit) repairs it
    key = Key(TINY.name, TINY.hash, env_hash(), "test")
    random = resolve("random")
    store.add_entry(random.name, random.hash, random.kind, random.meta)
    store.record(key, Row("random", random.hash, "three-body-12", 1000, "failed", "time-out: the episode took longer than 1 s", None, 1.02))
    assert build_board(store, TINY, "test").entries[-1].status == "failed"
    repaired = evaluate([random], TINY, "test", store, progress=False)
    assert repaired.ok == 2
    assert {e.name: e.status for e in build_board(store, TINY, "test").entries}["random"] == "ranked"
    store.close()


WORKER = "import time, leaderboard.worker as w; {patch}; w.main()"


@pytest.mark.parametrize(
    "patch, message",
    [
        ("w.BatchEnv = None", "a worker could not build scenario three-body-12: TypeError"),
        ("E = w.BatchEnv; w.BatchEnv = lambda *a, **k: (time.sleep(60), E(*a, **k))[1]",
         "a worker took longer than the time limit (2 s) to build scenario three-body-12"),
    ],
)  # fmt: skip
def test_a_scenario_the_worker_cannot_build_is_not_the_policys_failure(tmp_path, patch, message):
    store = Store(tmp_path / "w.sqlite")
    with pytest.raises(EvaluationError, match=re.escape(message)):
        evaluate([resolve("random")], TINY, "test", store, workers=1, timeout_s=2.0, progress=False,
                 worker_cmd=[sys.executable, "-c", WORKER.format(patch=patch)])  # fmt: skip
    store.close()
    assert rows_of(tmp_path / "w.sqlite", TINY) == []
