"""Physical units back from observation fields, by inverting the scalings documented in ``orbit_env.observe``.

The observation layout and its scalings are the env's public, stable contract (field comments in
``orbit_env/observe.py``); these are their inverses, so heuristics can reason in seconds, hours and degrees.
Values are exact up to float32 rounding, except where the observation was clipped to [-1, 1].
"""

from __future__ import annotations

import numpy as np


def unlog(x, ref: float) -> np.ndarray:
    """Inverse of log1p(v) / log1p(ref)."""
    return np.expm1(np.asarray(x, float) * np.log1p(ref))


def node_temp_c(temp) -> np.ndarray:
    """own.temp / neigh.temp: (C - 40) / 60."""
    return np.asarray(temp, float) * 60.0 + 40.0


def orbit_seconds(x) -> np.ndarray:
    """own.t_light_change / own.t_saa_change: seconds / 6000 (clipped at 6000 s)."""
    return np.asarray(x, float) * 6000.0


def contact_minutes(x) -> np.ndarray:
    """own.t_contact_next / neigh.t_contact_next: log1p(minutes) / log1p(1440)."""
    return unlog(x, 1440.0)


def at_risk_hours(x) -> np.ndarray:
    """slot.at_risk: log1p(hours) / log1p(10), hours of work since the last checkpoint at full speed."""
    return unlog(x, 10.0)


def checkpoint_bytes(x) -> np.ndarray:
    """slot.checkpoint: log1p(GB) / log1p(100)."""
    return unlog(x, 100.0) * 1e9
