"""Former name of the versioned module, kept so old imports still run: it warns and serves ``orbit_compute_v1``.

v1 runs v0's scenarios exactly as v0 did (see the env card's version history); policies exported for v0
must be re-exported, since their files name the env version.
"""

from __future__ import annotations

import warnings

from orbit_env.orbit_compute_v1 import env, parallel_env, raw_env

warnings.warn("orbit_env.orbit_compute_v0 is now orbit_env.orbit_compute_v1; import that instead", DeprecationWarning, stacklevel=2)

__all__ = ["env", "parallel_env", "raw_env"]
