"""The board: every entry's results on a suite split, normalised and aggregated, read from the store.

An entry is *ranked* when every episode of the split is recorded as ok; *partial* when it plays only
some scenarios (a submission may say which, e.g. a network trained for one constellation size) and all
of their episodes are ok: it gets per-scenario scores but no place in the ranking; *failed* when an
episode is recorded as a failure (with the reason); and *incomplete* otherwise (an evaluation was
interrupted or has not run: rerunning it resumes). Scores need the suite's zero and reference baselines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from leaderboard import stats
from leaderboard.entries import Entry
from leaderboard.metrics import KEYS
from leaderboard.store import Key, Store
from leaderboard.suite import Suite, env_hash

Interval = tuple[float, float, float]  # point estimate, 95% CI low, high


@dataclass
class EntryResult:
    name: str
    entry_hash: str
    kind: str
    meta: dict[str, Any]
    status: str  # "ranked", "partial", "incomplete" or "failed"
    reason: str  # why it failed, or what is missing
    done: int  # episodes recorded ok
    values: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # scenario -> metric -> per seed
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # scenario -> normalised score per seed
    iqm: Interval | None = None
    mean_score: float | None = None
    scenario_scores: dict[str, Interval] = field(default_factory=dict)

    def mean(self, metric: str, scenario: str | None = None) -> float:
        """Mean of a metric per episode, over one scenario or all; episodes where it is undefined (NaN,
        e.g. the completion time without deliveries) are left out."""
        v = np.concatenate([self.values[s][metric] for s in ([scenario] if scenario else self.values)])
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")

    def all_scores(self) -> np.ndarray:
        return np.concatenate(list(self.scores.values()))


@dataclass
class Board:
    suite: Suite
    split: str
    env_hash: str
    episodes: int  # episodes per entry in the split
    entries: list[EntryResult]
    note: str = ""  # why scores are missing, if they are

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


def _result(store: Store, key: Key, suite: Suite, name: str, entry_hash: str, unrecorded: tuple[str, dict] | None) -> EntryResult:
    """An entry version's result; ``unrecorded`` is its (kind, metadata) if the store has none yet."""
    kind, meta = store.meta(name, entry_hash)
    if kind == "?" and unrecorded:
        kind, meta = unrecorded
    plays = [sc for sc in suite.scenarios if sc in meta.get("scenarios", suite.scenarios)]
    episodes = suite.episodes(key.split, tuple(plays)) if plays else []
    rows = store.rows(key, name, entry_hash)
    order = {(ep.scenario, ep.seed): i for i, ep in enumerate(episodes)}
    failures = sorted((r for r in rows if r.status == "failed"), key=lambda r: order.get((r.scenario, r.seed), len(order)))
    ok = {(r.scenario, r.seed): r.metrics for r in rows if r.status == "ok" and (r.scenario, r.seed) in order}
    res = EntryResult(name, entry_hash, kind, meta, "ranked", "", len(ok))
    if failures:
        f = failures[0]
        res.status, res.reason = "failed", f"{f.scenario} seed {f.seed}: {f.reason}"
    elif not plays:
        res.status, res.reason = "incomplete", "plays none of this suite's scenarios"
    elif len(ok) < len(episodes):
        res.status, res.reason = "incomplete", f"{len(ok)} of {len(episodes)} episodes recorded"
    else:
        for sc in plays:
            seeds = [ep.seed for ep in episodes if ep.scenario == sc]
            res.values[sc] = {k: np.array([ok[(sc, s)][k] for s in seeds], float) for k in KEYS}
        if len(plays) < len(suite.scenarios):
            res.status, res.reason = "partial", f"plays {', '.join(plays)} only: see the per-scenario tables"
    return res


def _score(res: EntryResult, zero: EntryResult, ref: EntryResult) -> None:
    for sc, vals in res.values.items():
        z, r = zero.values[sc]["delivered_value"].mean(), ref.values[sc]["delivered_value"].mean()
        res.scores[sc] = stats.normalise(vals["delivered_value"], z, r)
        res.scenario_scores[sc] = stats.stratified_bootstrap([res.scores[sc]], stats.mean)
    if res.status == "ranked":
        res.iqm = stats.stratified_bootstrap(list(res.scores.values()), stats.iqm)
        res.mean_score = float(res.all_scores().mean())


def build_board(store: Store, suite: Suite, split: str, current: Sequence[Entry] = ()) -> Board:
    """The board of ``suite``/``split`` for the current env: every entry evaluated under it (its latest
    version), with the ``current`` entries at their present version (shown as not evaluated if new).
    Only reads the store."""
    key = Key(suite.name, suite.hash, env_hash(), split)
    versions = store.versions(key)
    current_meta = {}
    for e in current:
        versions[e.name] = h = e.hash
        current_meta[(e.name, h)] = (e.kind, e.meta)
    results = {name: _result(store, key, suite, name, h, current_meta.get((name, h))) for name, h in versions.items()}
    board = Board(suite, split, key.env_hash, len(suite.episodes(split)), [])
    zero, ref = results.get(suite.zero), results.get(suite.reference)
    if zero is None or ref is None or zero.status != "ranked" or ref.status != "ranked":
        board.note = (
            f"scores need the {suite.zero} and {suite.reference} baselines on every episode of this split: run "
            f"`orbit-env evaluate {suite.zero} {suite.reference} --suite {suite.name} --split {split}` or `orbit-env leaderboard`"
        )
    else:
        try:
            for res in results.values():
                if res.status in ("ranked", "partial"):
                    _score(res, zero, ref)
        except ValueError as e:
            board.note = f"scores are undefined: {e}"
    rank = {"ranked": 0, "partial": 1, "incomplete": 2, "failed": 3}
    board.entries = sorted(
        results.values(), key=lambda r: (rank[r.status], -(r.iqm[0] if r.iqm and board.scored else 0.0), r.name)
    )
    return board
