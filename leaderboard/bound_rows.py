"""Each episode's upper bound, solved once and kept in the results store as rows of the pseudo-policy ``bound``.

Suite v2 scores every episode against the upper bound of that (scenario, seed) episode
(``leaderboard.bound.episode_bound``: a relaxation solved with full knowledge of the episode). A solve takes
up to seconds, so each bound is recorded like a policy's result: the bound as the suite's metric, the
size of the program and its solve time (also the row's wall time), and the solver's status in the row's
reason. The entry hash follows the solver's source file, so a changed relaxation is solved again; a changed
env or suite already changes the rows' key.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from concurrent.futures import ProcessPoolExecutor
from itertools import groupby
from pathlib import Path
from typing import Callable, Sequence

from tqdm import tqdm

from leaderboard.store import Key, Row, Store
from leaderboard.suite import BOUND, Suite, env_hash

# (scenario, seeds, max_cycles) -> per seed a Bound (value, seconds, n_vars, n_cons, status) or the exception its solve raised
BoundProvider = Callable[..., list]
BATCH = 8  # seeds per provider call: their env resets run as one batch (leaderboard.bound.episode_bounds)
DESCRIPTION = "upper bound of each episode: a relaxation solved with full knowledge of the episode (leaderboard/bound.py)"


class BoundError(RuntimeError):
    """The bound of an episode could not be had; the bounds recorded before it are kept."""


def default_provider() -> BoundProvider:
    try:
        from leaderboard.bound import episode_bounds
    except ImportError as e:
        raise BoundError(f"this suite scores against the upper bound, but leaderboard.bound cannot be imported ({e})") from None
    return episode_bounds


def provider_hash(provider: BoundProvider) -> str:
    """Identity of the bound: the provider's name and the source file that defines it."""
    source = Path(inspect.getsourcefile(provider)).read_bytes()
    return hashlib.sha256(provider.__qualname__.encode() + b"\0" + source).hexdigest()[:12]


def record_bounds(
    store: Store,
    suite: Suite,
    split: str,
    provider: BoundProvider | None = None,
    scenarios: Sequence[str] | None = None,
    workers: int = 1,
    progress: bool = False,
) -> int:
    """Solve and record the bound of every episode of ``suite``/``split`` that has none yet; returns how many.

    The provider gets up to BATCH seeds of one scenario at a time. With ``workers`` > 1 the bounds are solved
    in that many processes (the provider must then be a module-level function). A bound that raises or is
    not a finite number stops with BoundError; the bounds before it are recorded.
    """
    provider = provider or default_provider()
    key = Key(suite.name, suite.hash, env_hash(), split)
    h = provider_hash(provider)
    store.add_entry(BOUND, h, "bound", {"description": DESCRIPTION})
    done = {(r.scenario, r.seed) for r in store.rows(key, BOUND, h)}
    todo = [ep for ep in suite.episodes(split, tuple(scenarios or ())) if (ep.scenario, ep.seed) not in done]
    if not todo:
        return 0
    chunks = []  # up to BATCH seeds of one (scenario, horizon)
    for _, group in groupby(todo, key=lambda ep: (ep.scenario, ep.max_cycles)):
        part = list(group)
        chunks += [part[i : i + BATCH] for i in range(0, len(part), BATCH)]
    args = ([c[0].scenario for c in chunks], [tuple(ep.seed for ep in c) for c in chunks], [c[0].max_cycles for c in chunks])
    bar = tqdm(total=len(todo), unit="bound", desc=f"suite {suite.name} {split} bounds", disable=not progress)
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        results = (pool.map if pool else map)(provider, *args)
        for chunk in chunks:
            try:
                bounds = next(results)
            except Exception as e:  # noqa: BLE001 - the solver's failure stops the evaluation, naming the episodes
                seeds = ", ".join(str(ep.seed) for ep in chunk)
                raise BoundError(f"solving the bounds of {chunk[0].scenario} seeds {seeds} failed: {type(e).__name__}: {e}") from e
            for ep, b in zip(chunk, bounds, strict=True):
                if isinstance(b, BaseException):
                    raise BoundError(f"solving the bound of {ep.scenario} seed {ep.seed} failed: {type(b).__name__}: {b}") from b
                if not math.isfinite(b.value):
                    raise BoundError(f"the bound of {ep.scenario} seed {ep.seed} is {b.value} (solver status {b.status!r})")
                metrics = {suite.metric: float(b.value), "solve_s": float(b.seconds), "n_vars": float(b.n_vars), "n_cons": float(b.n_cons)}
                store.record(key, Row(BOUND, h, ep.scenario, ep.seed, "ok", str(b.status), metrics, float(b.seconds)))
                bar.update(1)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        bar.close()
    return len(todo)
