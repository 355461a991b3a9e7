"""The forecast: the geometry of the coming steps that the orbits make predictable, for any policy.

An operator knows its constellation's future geometry (sunlight, SAA passes, ground contacts, laser
link windows) from the orbits, days ahead; it does not know future job arrivals, upsets, the ground
queue or any other hidden state. ``forecast`` gives exactly that geometry from the scenario's ephemeris,
so a planner (``agents.planner``) and a learned policy that asks for it see the same thing.

Policies opt in with an attribute ``forecast_steps = H > 0`` (``agents.policy.ArrayPolicy``); a caller then
passes ``forecast(eph, eph_index, H)`` for the episodes it steps, with ``eph_index`` the ephemeris row of
each episode's current step (``BatchEnv.forecast(H)``; ``agents.policy.act_on`` does it for any policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbit_env.ephemeris import Ephemeris


@dataclass(frozen=True)
class Forecast:
    """Geometry of steps t, t + 1, ..., t + H - 1 of B episodes with N satellites and M laser terminals.

    Row h = 0 is the current step (what the observation shows now). Past the ephemeris' end the last row
    repeats: an episode never runs there (the ephemeris covers every episode), only a horizon may.
    """

    dt_s: float
    sunlit: np.ndarray  # (B, H, N) bool: outside the Earth's shadow
    in_saa: np.ndarray  # (B, H, N) bool: inside the South Atlantic Anomaly
    contact: np.ndarray  # (B, H, N) bool: a ground station sees the satellite above its mask (antennas may be busy)
    station: np.ndarray  # (B, H, N) int: highest-elevation visible station, -1 if none
    isl_up: np.ndarray  # (B, H, N, M) bool: the link of terminal m can carry data (in range, line of sight, acquired)

    @property
    def horizon(self) -> int:
        return self.sunlit.shape[1]


def forecast(eph: Ephemeris, eph_index: np.ndarray, horizon: int) -> Forecast:
    """The geometry of the ``horizon`` steps from ephemeris row ``eph_index`` (B,) of each episode."""
    idx = np.asarray(eph_index)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ValueError(f"eph_index must be a (B,) integer array of ephemeris rows, got {idx.dtype} with shape {idx.shape}")
    if horizon < 1:
        raise ValueError(f"horizon = {horizon} must be at least 1 step")
    if len(idx) and (idx.min() < 0 or idx.max() >= eph.n_steps):
        raise ValueError(f"eph_index must lie in [0, {eph.n_steps}) (the ephemeris rows), got {idx.min()}..{idx.max()}")
    rows = np.minimum(idx[:, None] + np.arange(horizon), eph.n_steps - 1)  # (B, H)
    return Forecast(eph.dt_s, eph.sunlit[rows], eph.in_saa[rows], eph.contact[rows], eph.station[rows], eph.isl_up[rows])
