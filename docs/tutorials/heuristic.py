"""Write a heuristic: a policy that reads observation fields by name, compared with the baselines.

Run it from the repository root: ``python docs/tutorials/heuristic.py``. Four seeded episodes of six
hours (180 steps of 120 s after the scenario's 12 h warm start) on energy-eclipse-24, where the battery
cannot carry full power through an eclipse, played as one batch.
"""

import numpy as np

from agents.heuristics import admit_earliest, make_policy
from agents.policy import ArrayPolicy, play
from orbit_env.batch import BatchEnv


class SunlitEDF(ArrayPolicy):
    """Earliest deadline first, at full power in sunlight and the lowest power level in eclipse; admits
    from the ground queue with the baselines' rule (``admit_earliest``) when admitting costs no compute.

    ``act_arrays`` gets every satellite's observation and mask at once, with any leading axes
    (episodes x satellites here), and returns one integer action per satellite: no Python loop.
    """

    name = "sunlit-edf"

    def act_arrays(self, obs, mask):
        K, P = self.actions.K, self.actions.P
        deadline = self.layout.slot_field(obs, "deadline")         # (..., K), normalised to [-1, 1]
        sunlit = self.layout.own_field(obs, "sunlit") > 0.5         # (...,)
        level = np.where(sunlit, P - 1, 0)                           # power level index: top or lowest
        run = self.actions.run(np.arange(K), level[..., None])       # (..., K) the run action of each slot
        runnable = np.take_along_axis(mask, run, axis=-1) > 0        # legal at that level now
        k = np.argmin(np.where(runnable, deadline, np.inf), axis=-1)  # the nearest deadline among them
        chosen = np.take_along_axis(run, k[..., None], axis=-1)[..., 0]
        base = np.where(runnable.any(axis=-1), chosen, self.actions.IDLE)
        return admit_earliest(self, obs, mask, base)


SEEDS = range(4)
env = BatchEnv("energy-eclipse-24", num_envs=len(SEEDS), max_cycles=180)  # six hours
policies = {name: make_policy(name, env) for name in ("random", "greedy", "edf", "edf-safe")}
policies["sunlit-edf"] = SunlitEDF.for_env(env)
print(f"{'policy':12} {'delivered GPU-h':>16} {'safe-mode entries':>18} {'thermal shutdowns':>18}")
for name, policy in policies.items():
    m = play(policy, env, SEEDS)  # each episode to its end; one (B,) array per metric
    print(f"{name:12} {m['delivered_value'].mean():16.2f} {m['safe_mode_entries'].mean():18.1f} "
          f"{m['thermal_shutdowns'].mean():18.1f}")
