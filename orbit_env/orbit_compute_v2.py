"""Versioned environment module, PettingZoo style: ``env()``, ``parallel_env()`` and ``raw_env``.

The version suffix changes whenever a change to the environment would change results.
"""

from __future__ import annotations

from pettingzoo.utils import wrappers
from pettingzoo.utils.conversions import parallel_to_aec_wrapper

from orbit_env.env import OrbitComputeEnv


def parallel_env(**kwargs) -> OrbitComputeEnv:
    """The native parallel environment (all satellites act at once)."""
    return OrbitComputeEnv(**kwargs)


class raw_env(parallel_to_aec_wrapper):
    """The AEC (turn-based) view of the parallel environment, without wrappers."""

    def __init__(self, **kwargs):
        super().__init__(OrbitComputeEnv(**kwargs))


def env(**kwargs):
    """The AEC environment with PettingZoo's standard safety wrappers."""
    return wrappers.OrderEnforcingWrapper(wrappers.AssertOutOfBoundsWrapper(raw_env(**kwargs)))
