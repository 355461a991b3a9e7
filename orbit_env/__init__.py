"""orbit-env: satellites with GPUs scheduling real training jobs in low Earth orbit.

Registers ``orbit_env/orbit_compute_v0`` with PettingZoo's registries (AEC and parallel) and
``orbit_env/OrbitCompute-v0`` with Gymnasium's (the single-agent / centralised face).
"""

from __future__ import annotations

import gymnasium
import pettingzoo

from orbit_env.scenario import ScenarioError, load_scenario, shipped_scenarios

__version__ = "0.1.0"
ENV_VERSION = "orbit_compute_v0"

__all__ = ["ENV_VERSION", "ScenarioError", "load_scenario", "shipped_scenarios", "__version__"]

if "orbit_env/orbit_compute_v0" not in pettingzoo.parallel_registry:
    pettingzoo.register("parallel", "orbit_env/orbit_compute_v0", entry_point="orbit_env.orbit_compute_v0:parallel_env")
    pettingzoo.register("aec", "orbit_env/orbit_compute_v0", entry_point="orbit_env.orbit_compute_v0:env")
if "orbit_env/OrbitCompute-v0" not in gymnasium.registry:
    gymnasium.register("orbit_env/OrbitCompute-v0", entry_point="orbit_env.env:OrbitComputeGymEnv")
