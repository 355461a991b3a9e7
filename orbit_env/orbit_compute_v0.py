"""Former name of the versioned module, kept so old imports still run: it warns and serves ``orbit_compute_v2``.

v1 keeps v0's spaces on v0's scenarios, but its dynamics changed (laser terminals, the thermal step: see the
env card's version history); v0 policy files still load where the layout matches (agents.learned).
"""

from __future__ import annotations

import warnings

from orbit_env.orbit_compute_v2 import env, parallel_env, raw_env

warnings.warn("orbit_env.orbit_compute_v0 is now orbit_env.orbit_compute_v2; import that instead", DeprecationWarning, stacklevel=2)

__all__ = ["env", "parallel_env", "raw_env"]
