"""orbit-env: satellites with GPUs scheduling real training jobs in low Earth orbit.

Registers ``orbit_env/orbit_compute_v2`` with PettingZoo's registries (AEC and parallel) and
``orbit_env/OrbitCompute-v2`` with Gymnasium's (the single-agent / centralised face, with
``orbit_env.vector.OrbitComputeVectorEnv`` as its vector entry point for ``gymnasium.make_vec``; ``-v0``
and ``-v1`` stay registered to the same classes, as every version runs the earlier scenarios).
"""

from __future__ import annotations

import gymnasium
import pettingzoo

from orbit_env.scenario import ScenarioError, load_scenario, shipped_scenarios

__version__ = "0.1.0"
ENV_VERSION = "orbit_compute_v2"

__all__ = ["ENV_VERSION", "ScenarioError", "load_scenario", "shipped_scenarios", "__version__"]

if f"orbit_env/{ENV_VERSION}" not in pettingzoo.parallel_registry:
    pettingzoo.register("parallel", f"orbit_env/{ENV_VERSION}", entry_point=f"orbit_env.{ENV_VERSION}:parallel_env")
    pettingzoo.register("aec", f"orbit_env/{ENV_VERSION}", entry_point=f"orbit_env.{ENV_VERSION}:env")
for _gym_id in ("orbit_env/OrbitCompute-v2", "orbit_env/OrbitCompute-v1", "orbit_env/OrbitCompute-v0"):
    if _gym_id not in gymnasium.registry:
        gymnasium.register(_gym_id, entry_point="orbit_env.env:OrbitComputeGymEnv", vector_entry_point="orbit_env.vector:OrbitComputeVectorEnv")
