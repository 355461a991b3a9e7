"""The action encoding: one Discrete per agent, ``idle | checkpoint | run(k, p) | send(k, m)``.

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


@dataclass(frozen=True)
class ActionLayout:
    """Index arithmetic for K queue slots, P power levels and M neighbour terminals."""

    K: int
    P: int
    M: int

    IDLE = 0
    CHECKPOINT = 1

    @property
    def n(self) -> int:
        return 2 + self.K * self.P + self.K * self.M

    def run(self, k, p):
        """Index of run(slot k, power level p); works on arrays."""
        return 2 + np.asarray(k) * self.P + p

    def send(self, k, m):
        """Index of send(slot k, neighbour terminal m); works on arrays."""
        return 2 + self.K * self.P + np.asarray(k) * self.M + m

    @cached_property
    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(kind, slot, level, neighbour) of every action index, for vectorised decoding."""
        K, P, M = self.K, self.P, self.M
        kind = np.array([Act.IDLE, Act.CHECKPOINT] + [Act.RUN] * (K * P) + [Act.SEND] * (K * M), np.int8)
        slot = np.array([0, 0] + [k for k in range(K) for _ in range(P)] + [k for k in range(K) for _ in range(M)])
        level = np.array([0, 0] + [p for _ in range(K) for p in range(P)] + [0] * (K * M))
        neigh = np.array([0, 0] + [0] * (K * P) + [m for _ in range(K) for m in range(M)])
        return kind, slot, level, neigh

    def describe(self, a: int) -> str:
        kind, slot, level, neigh = (t[a] for t in self.tables)
        return {Act.IDLE: "idle", Act.CHECKPOINT: "checkpoint", Act.RUN: f"run(slot {slot}, level {level})",
                Act.SEND: f"send(slot {slot}, terminal {neigh})"}[int(kind)]  # fmt: skip
