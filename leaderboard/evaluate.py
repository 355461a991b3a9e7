"""The evaluator: runs entries over a suite split in worker processes and records every episode.

Episodes run in ``python -m leaderboard.worker`` subprocesses (one per core by default) in batches: a
task is up to ``batch_size`` seeds of one (entry, scenario), stepped together as one array program
(``orbit_env.batch.BatchEnv``), and tasks run in parallel, longest first. A row does not depend on the
batch its episode ran in (the worker's docstring says why), so batching changes the wall time, never a
result. Each episode's row is written to the store as soon as its task replies, in its own transaction, so
an interrupted evaluation resumes where it stopped, running only the seeds not yet recorded. An entry
whose task fails (its policy cannot be loaded, raises, returns malformed actions, kills its worker or
exceeds the time limit) gets that failure recorded with the reason for every episode of the task (none of
them finished), and its remaining tasks are skipped; everything else carries on.

The time limit is per episode: a task of k episodes may take k times ``timeout_s`` from the moment its
scenario is built, and each of its rows records the task's wall time divided by k (so a recorded
time-out's wall time is just over the per-episode limit, as ``timed_out_sooner`` expects).

Only a policy's own failures are recorded. Settings that cannot work (no workers, a time limit <= 0) are
refused before anything runs; a scenario a worker cannot build, or builds slower than the time limit,
stops the evaluation without recording anything for it; and a time-out recorded under a shorter limit
than the present one is tried again, so rerunning with the default limit repairs it.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from tqdm import tqdm

from leaderboard.entries import Entry
from leaderboard.metrics import RECORDED
from leaderboard.store import Key, Row, Store
from leaderboard.suite import Episode, Suite, env_hash
from orbit_env.ephemeris import satellite_count
from orbit_env.scenario import load_scenario

DEFAULT_TIMEOUT_S = 600.0
TIMEOUT = "time-out:"  # how a time-out's reason starts
ROOT = Path(__file__).resolve().parents[1]  # where the packages live, for the workers' import path


class EvaluationError(RuntimeError):
    """The evaluation itself cannot go on (not a submission's fault); recorded episodes are kept."""


# Satellites (episodes x constellation size) in one batch. benchmarks/step_throughput.py: satellite-steps/s
# level off from about 1,500 to 10,000 satellites a batch (three-body-12, walker-160, energy-eclipse-24) and
# the peak memory traced is at most ~17 KiB per satellite (energy-eclipse-24, whose warm start fills the job
# table), so a batch stays under ~70 MiB. Every v2 (entry, scenario) fits in one batch (at most 1,200
# satellites); v1's starcloud-shell-1000 runs 4 episodes a batch.
MAX_BATCH_SATELLITES = 4096


@dataclass(frozen=True)
class Task:
    """Episodes of one entry on one scenario and horizon, run as one batch."""

    id: int
    entry: Entry
    entry_hash: str
    episodes: tuple[Episode, ...]

    @property
    def scenario(self) -> str:
        return self.episodes[0].scenario


@dataclass(frozen=True)
class Summary:
    episodes: int  # episodes that were still to run
    ok: int
    failed: int
    skipped: int  # not run because their entry failed on another task
    already: int  # found recorded, so not run again
    wall_s: float


def check_settings(workers: int | None, timeout_s: float) -> None:
    """ValueError for settings under which every episode would fail: such failures would be the evaluator's,
    not the policies', so nothing may run with them."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"--workers {workers!r}: the number of worker processes must be at least 1")
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < float("inf"):
        raise ValueError(f"--timeout {timeout_s!r}: the time an episode may take must be a positive, finite number of seconds")


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_command() -> list[str]:
    return [sys.executable, "-m", "leaderboard.worker"]


class WorkerProcess:
    """One worker subprocess; its stderr goes to a temporary file, quoted when it dies."""

    def __init__(self, cmd: Sequence[str]):
        self.err = tempfile.TemporaryFile()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, env=env)
        self.buf = b""
        self.ready = False  # set when the worker has started and said so
        self.task: Task | None = None
        self.started = 0.0  # when the task was sent, then when its scenario was built
        self.built = False  # whether the worker has built the task's scenario

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def send(self, task: Task) -> bool:
        """Hand over a task; False if the process has already gone."""
        eps = task.episodes
        line = {"id": task.id, "entry": task.entry.task(), "scenario": task.scenario, "seeds": [ep.seed for ep in eps], "max_cycles": eps[0].max_cycles}
        self.task, self.started, self.built = task, time.monotonic(), False
        return self.write((json.dumps(line) + "\n").encode())

    def write(self, data: bytes) -> bool:
        """Write to the worker's stdin; False if the process has already gone."""
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def read(self) -> tuple[bool, list[bytes]]:
        """(alive, complete lines) after the selector reported output."""
        data = os.read(self.fileno(), 1 << 16)
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        return bool(data), lines

    def death(self) -> str:
        """Why the process ended: exit status or signal, and the last line of its stderr."""
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        self.err.seek(0)
        tail = [ln for ln in self.err.read().decode(errors="replace").splitlines() if ln.strip()][-1:]
        return f"the worker process died ({how})" + (f": {tail[0].strip()}" if tail else "")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def close(self) -> None:
        """Stop the process (whatever it was doing is abandoned) and release its pipes and files."""
        self.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.err):
            try:
                stream.close()
            except OSError:
                pass


def parse_reply(raw: bytes, task: Task) -> tuple[str, str, list[dict[str, float]] | None]:
    """(status, reason, metrics of each episode) from a worker's reply line, distrusting its shape."""
    try:
        reply = json.loads(raw)
        if reply.get("id") != task.id:
            raise ValueError(f"reply for task {reply.get('id')!r}, expected {task.id}")
        if reply.get("status") == "error":
            raise EvaluationError(f"a worker {str(reply.get('reason', ''))[:2000]}; nothing was recorded for these episodes")
        if reply.get("status") == "failed":
            return "failed", str(reply.get("reason", ""))[:2000], None
        metrics = reply["metrics"]
        if not isinstance(metrics, list) or len(metrics) != len(task.episodes):
            raise ValueError(f"metrics of {len(metrics) if isinstance(metrics, list) else type(metrics).__name__} episodes, expected {len(task.episodes)}")
        values = [{k: float(m[k]) for k in RECORDED} for m in metrics]
        if reply.get("status") != "ok":
            raise ValueError(f"status {reply.get('status')!r}")
        return "ok", "", values
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return "failed", f"the worker sent a malformed reply ({e})", None


def check_ready(raw: bytes, expected_env: str) -> None:
    """A worker's first line names the env it imported: it must be the one the results are keyed by."""
    env = json.loads(raw).get("env")
    if env != expected_env:
        raise EvaluationError(
            f"the environment changed while evaluating (a worker imported {env}, the evaluation started with "
            f"{expected_env}); rerun: episodes recorded so far are kept under the old version"
        )


def timed_out_sooner(row: Row, timeout_s: float) -> bool:
    """Whether ``row`` is a time-out recorded under a shorter limit than ``timeout_s`` (its wall time is
    just over that limit): with more time the episode may well finish."""
    return row.status == "failed" and row.reason.startswith(TIMEOUT) and row.wall_s is not None and row.wall_s < timeout_s


def batch_size(n_sats: int, n_group: int, n_episodes: int, workers: int) -> int:
    """Episodes per task for a group of ``n_group`` episodes of one (entry, scenario): at most
    ``MAX_BATCH_SATELLITES`` satellites, and at most an equal share per worker of all ``n_episodes`` to
    run (so a small evaluation keeps every worker busy), split as evenly as that allows (5 by at most 4:
    3 + 2)."""
    most = max(1, min(MAX_BATCH_SATELLITES // n_sats, -(-n_episodes // workers)))
    return -(-n_group // -(-n_group // most))


def plan(
    entries: Sequence[Entry], suite: Suite, key: Key, store: Store, scenarios=None, retry_failed=False, timeout_s=DEFAULT_TIMEOUT_S,
    workers: int = 1,
) -> tuple[list[Task], int]:  # fmt: skip
    """The episodes still to run as batched tasks, longest first, and how many episodes are already recorded.

    An entry with a recorded failure is done (the board reports it) unless ``retry_failed``, or unless
    its failures are all time-outs under a shorter limit than ``timeout_s``; an entry whose submission
    could not be read gets that failure recorded here without starting anything.
    """
    episodes = suite.episodes(key.split, scenarios)
    todo: list[tuple[int, str, Episode]] = []
    already = 0
    for e, entry in enumerate(entries):
        h = entry.hash
        store.add_entry(entry.name, h, entry.kind, entry.meta)
        rows = store.rows(key, entry.name, h)
        failures = [r for r in rows if r.status == "failed"]
        if failures and (retry_failed or all(timed_out_sooner(r, timeout_s) for r in failures)):
            store.forget_failures(key, entry.name, h)
            rows = [r for r in rows if r.status == "ok"]
        elif failures:
            already += len(rows)
            continue
        if entry.error:
            store.record(key, Row(entry.name, h, episodes[0].scenario, episodes[0].seed, "failed", entry.error, None, 0.0))
            continue
        done = {(r.scenario, r.seed) for r in rows}
        already += len(done)
        mine = [ep for ep in suite.episodes(key.split, scenarios, entry.seeds) if not entry.scenarios or ep.scenario in entry.scenarios]
        todo += [(e, h, ep) for ep in mine if (ep.scenario, ep.seed) not in done]
    size = {sc: satellite_count(load_scenario(sc)) for sc in {ep.scenario for _, _, ep in todo}}
    groups: dict[tuple, list[Episode]] = {}
    for e, h, ep in todo:
        groups.setdefault((e, h, ep.scenario, ep.max_cycles), []).append(ep)
    tasks: list[Task] = []
    for (e, h, scenario, _), eps in groups.items():
        n = batch_size(size[scenario], len(eps), len(todo), workers)
        tasks += [Task(len(tasks), entries[e], h, tuple(eps[i : i + n])) for i in range(0, len(eps), n)]
    tasks.sort(key=lambda t: size[t.scenario] * t.episodes[0].max_cycles * len(t.episodes), reverse=True)
    return tasks, already


def evaluate(
    entries: Sequence[Entry],
    suite: Suite,
    split: str,
    store: Store,
    workers: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    scenarios: Sequence[str] | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    worker_cmd: Sequence[str] | None = None,
    spawn_worker: Callable[[Sequence[str]], WorkerProcess] = WorkerProcess,
) -> Summary:
    """Run every unrecorded episode of ``entries`` on ``suite``/``split`` and record each result.

    ``worker_cmd`` replaces ``python -m leaderboard.worker`` (for a sandbox wrapper, or tests).
    ``spawn_worker`` starts a worker running ``worker_cmd``: a local subprocess, or one on a Ray cluster
    (leaderboard.ray_pool) behind the same interface.
    """
    check_settings(workers, timeout_s)
    t0 = time.monotonic()
    key = Key(suite.name, suite.hash, env_hash(), split)
    n_workers = workers or default_workers()
    tasks, already = plan(entries, suite, key, store, tuple(scenarios or ()), retry_failed, timeout_s, n_workers)
    n_episodes = sum(len(t.episodes) for t in tasks)
    pending = deque(tasks)
    failed_entries: set[str] = set()
    ok = failed = skipped = 0
    cmd = list(worker_cmd or worker_command())
    pool: list[WorkerProcess] = []
    sel = selectors.DefaultSelector()
    bar = tqdm(total=n_episodes, unit="episode", desc=f"suite {suite.name} {split}", disable=not progress or not tasks)

    def spawn() -> WorkerProcess:
        w = spawn_worker(cmd)
        sel.register(w, selectors.EVENT_READ)
        pool.append(w)
        return w

    def retire(w: WorkerProcess) -> None:
        sel.unregister(w)
        pool.remove(w)
        w.close()

    def deadline(w: WorkerProcess) -> float:
        """When ``w``'s task times out: building its scenario gets ``timeout_s``, then each episode as much."""
        return w.started + timeout_s * (len(w.task.episodes) if w.built else 1)

    def finish(task: Task, status: str, reason: str, metrics, wall: float) -> None:
        """Record a row for every episode of ``task``; ``wall`` is the task's, each row gets its share."""
        nonlocal ok, failed
        k = len(task.episodes)
        for i, ep in enumerate(task.episodes):
            store.record(key, Row(task.entry.name, task.entry_hash, ep.scenario, ep.seed, status, reason, metrics[i] if metrics else None, wall / k))
        if status == "ok":
            ok += k
        else:
            failed += k
            failed_entries.add(task.entry.name)
            seeds = ", ".join(str(ep.seed) for ep in task.episodes)
            tqdm.write(f"{task.entry.name}: failed on {task.scenario} seed{'s' if k > 1 else ''} {seeds}: {reason}", file=sys.stderr)
        bar.update(k)
        bar.set_postfix(failed=failed)

    def replace(w: WorkerProcess) -> None:
        """Retire a worker that died or hung; one that died before it was ready means the command is broken."""
        retire(w)
        if not w.ready:
            raise EvaluationError(f"the worker command {' '.join(cmd)} failed to start: {w.death()}")
        if pending:
            spawn()

    try:
        for _ in range(min(n_workers, len(tasks))):
            spawn()
        while pending or any(w.task for w in pool):
            for w in [w for w in pool if w.ready and w.task is None]:
                while pending and pending[0].entry.name in failed_entries:
                    k = len(pending.popleft().episodes)
                    skipped += k
                    bar.update(k)
                if pending and not w.send(pending.popleft()):
                    finish(w.task, "failed", w.death(), None, 0.0)
                    replace(w)
            now = time.monotonic()
            wait = min((deadline(w) for w in pool if w.task), default=now + 1.0) - now
            for sk, _ in sel.select(timeout=max(wait, 0.0)):
                w = sk.fileobj
                alive, lines = w.read()
                for raw in lines:
                    if raw.startswith(b'{"ready"'):
                        check_ready(raw, key.env_hash)
                        w.ready = True
                    elif raw.startswith(b'{"built"'):
                        w.started, w.built = time.monotonic(), True
                    elif w.task is not None:
                        finish(w.task, *parse_reply(raw, w.task), time.monotonic() - w.started)
                        w.task = None
                if not alive:
                    if w.task is not None:
                        finish(w.task, "failed", w.death(), None, time.monotonic() - w.started)
                    replace(w)
            now = time.monotonic()
            for w in [w for w in pool if w.task and now > deadline(w)]:
                if not w.built:
                    raise EvaluationError(
                        f"a worker took longer than the time limit ({timeout_s:g} s) to build scenario {w.task.scenario}, "
                        "before any policy ran; nothing was recorded for it: rerun (the ephemeris cache is then warm) or raise --timeout"
                    )
                k = len(w.task.episodes)
                batch = f" (a batch of {k}, over {k * timeout_s:g} s in all)" if k > 1 else ""
                finish(w.task, "failed", f"{TIMEOUT} the episodes took longer than {timeout_s:g} s each{batch}", None, now - w.started)
                replace(w)
    finally:
        for w in list(pool):
            retire(w)
        bar.close()
    return Summary(n_episodes, ok, failed, skipped, already, time.monotonic() - t0)
