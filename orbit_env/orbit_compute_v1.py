"""Former name of the versioned module, kept so old imports still run: it warns and serves ``orbit_compute_v2``.

v2 keeps v1's spaces, but its episodes differ seed for seed (upset draws are a counter-based function of the
episode's key, the step's action mask is that of its start: see the env card's version history); v1 policy
files still load (agents.learned).
"""

from __future__ import annotations

import warnings

from orbit_env.orbit_compute_v2 import env, parallel_env, raw_env

warnings.warn("orbit_env.orbit_compute_v1 is now orbit_env.orbit_compute_v2; import that instead", DeprecationWarning, stacklevel=2)

__all__ = ["env", "parallel_env", "raw_env"]
