"""Quickstart: one episode through each face of the env (PettingZoo, Gymnasium, the array API).

Run it from the repository root: ``python docs/tutorials/quickstart.py``. Episodes are cut to two hours
(120 steps of 60 s) so that it runs in seconds.
"""

import gymnasium
import numpy as np

import orbit_env  # noqa: F401  (registers orbit_env/OrbitCompute-v2 with Gymnasium)
from orbit_env import orbit_compute_v2
from orbit_env.batch import BatchEnv

STEPS = 120  # two hours of 60 s steps

# --- PettingZoo: one dictionary entry per satellite ------------------------------------------------------
env = orbit_compute_v2.parallel_env(scenario="three-body-12", max_cycles=STEPS)
obs, infos = env.reset(seed=42)
print(f"{len(env.agents)} agents; observation {env.observation_space('sat_0')['observation'].shape}, "
      f"{env.action_space('sat_0').n} actions")
print("the first observation fields:", env.layout.names()[:4])
while env.agents:
    # the mask says which actions are legal now; sampling with it never picks an illegal one
    actions = {a: env.action_space(a).sample(obs[a]["action_mask"]) for a in env.agents}
    obs, rewards, terminations, truncations, infos = env.step(actions)
metrics = env.metrics()
print(f"PettingZoo, random actions: delivered {metrics['delivered_value']:.2f} GPU-h, "
      f"{metrics['safe_mode_entries']:.0f} safe-mode entries")

# --- Gymnasium: centralised control, one MultiDiscrete action for the constellation ---------------------
central = gymnasium.make("orbit_env/OrbitCompute-v2", scenario="three-body-12", max_cycles=STEPS)
obs, info = central.reset(seed=42)
total, done = 0.0, False
while not done:
    legal = [np.flatnonzero(m) for m in obs["action_mask"]]
    action = np.array([m[0] for m in legal])  # the first legal action of every satellite: idle
    obs, reward, terminated, truncated, info = central.step(action)
    total, done = total + reward, terminated or truncated
print(f"Gymnasium, everyone idle: return {total:.2f}")

# --- The array API: many episodes as one array program --------------------------------------------------
batch = BatchEnv("three-body-12", num_envs=8, max_cycles=STEPS)
obs, mask, info = batch.reset(seed=0)  # episode b is seeded 0 + b
print(f"BatchEnv: observations {obs.shape}, masks {mask.shape}")
rng = np.random.default_rng(0)
for _ in range(STEPS):
    # a uniform legal action per satellite: argmax of random scores where the mask is 1
    actions = np.argmax(np.where(mask > 0, rng.random(mask.shape), -1.0), axis=-1)
    obs, mask, rewards, terminations, truncations, info = batch.step(actions)
print("BatchEnv, random actions: delivered per episode", np.round(batch.metrics()["delivered_value"], 2))
