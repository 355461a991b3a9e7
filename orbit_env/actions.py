"""The action encoding: one Discrete per agent, ``idle | checkpoint | run(k, p) | send(k, m) | admit(g)``.

A single Discrete (not MultiDiscrete) because action masks for MultiDiscrete clash between
PettingZoo's sampler and MaskablePPO (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


class Act:
    """Kinds of action (plain ints: numpy compares an IntEnum several times slower)."""

    IDLE = 0
    CHECKPOINT = 1
    RUN = 2
    SEND = 3
    ADMIT = 4


@dataclass(frozen=True)
class ActionLayout:
    """Index arithmetic for K queue slots, P power levels, M neighbour terminals and G admission-window entries."""

    K: int
    P: int
    M: int
    G: int = 0

    IDLE = 0
    CHECKPOINT = 1

    @property
    def n(self) -> int:
        return 2 + self.K * self.P + self.K * self.M + self.G

    def run(self, k, p):
        """Index of run(slot k, power level p); works on arrays."""
        return 2 + np.asarray(k) * self.P + p

    def send(self, k, m):
        """Index of send(slot k, neighbour terminal m); works on arrays."""
        return 2 + self.K * self.P + np.asarray(k) * self.M + m

    def admit(self, g):
        """Index of admit(window entry g); works on arrays."""
        return 2 + self.K * self.P + self.K * self.M + np.asarray(g)

    @cached_property
    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(kind, slot, level, neighbour) of every action index, for vectorised decoding."""
        K, P, M, G = self.K, self.P, self.M, self.G
        kind = np.array([Act.IDLE, Act.CHECKPOINT] + [Act.RUN] * (K * P) + [Act.SEND] * (K * M) + [Act.ADMIT] * G, np.int8)
        slot = np.array([0, 0] + [k for k in range(K) for _ in range(P)] + [k for k in range(K) for _ in range(M)] + [0] * G)
        level = np.array([0, 0] + [p for _ in range(K) for p in range(P)] + [0] * (K * M + G))
        neigh = np.array([0, 0] + [0] * (K * P) + [m for _ in range(K) for m in range(M)] + [0] * G)
        return kind, slot, level, neigh

    @cached_property
    def entry(self) -> np.ndarray:
        """Admission-window entry of every action index (0 for actions that are not admit)."""
        return np.concatenate([np.zeros(self.n - self.G, np.int64), np.arange(self.G)])

    def describe(self, a: int) -> str:
        kind, slot, level, neigh = (t[a] for t in self.tables)
        return {Act.IDLE: "idle", Act.CHECKPOINT: "checkpoint", Act.RUN: f"run(slot {slot}, level {level})",
                Act.SEND: f"send(slot {slot}, terminal {neigh})", Act.ADMIT: f"admit(entry {self.entry[a]})"}[int(kind)]  # fmt: skip
