"""Radiation: job-crashing upsets (uncorrectable errors / SEFIs) of active accelerators.

Rate per active accelerator = base x (multiplier inside the South Atlantic Anomaly). physics.md s7:
no public H100 rates; defaults 1 per 30-300 GPU-days, 10-50x in the SAA, 60-120 s reset [est].
"""

from __future__ import annotations

import numpy as np


def upset_rate_per_s(active_gpus, in_saa, per_gpu_day: float, saa_multiplier: float):
    """Expected upsets per second for each satellite."""
    return active_gpus * (per_gpu_day / 86400.0) * np.where(in_saa, saa_multiplier, 1.0)


def upset_probability(rate_per_s, dt_s: float):
    """Probability of at least one upset in a step (Poisson)."""
    return -np.expm1(-rate_per_s * dt_s)
