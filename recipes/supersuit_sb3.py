"""SuperSuit -> Stable-Baselines3 recipe: the textbook path from a PettingZoo parallel env to SB3's PPO.

``pettingzoo_env_to_vec_env_v1`` makes every satellite one slot of a vector env (one shared policy),
``concat_vec_envs_v1`` stacks copies of it for SB3, ``VecMonitor`` records each slot's episode return and
length, and SB3's ``PPO`` trains on the Dict observation with ``MultiInputPolicy``.

    pip install -e ".[train]"
    python recipes/supersuit_sb3.py

It runs unchanged because the env leaves ``infos[agent]["episode"]`` to SB3's Monitor convention (its own
end-of-episode metrics are ``infos[agent]["episode_metrics"]``). Plain PPO does not read the action mask:
illegal actions are no-ops the env counts (``infos[agent]["invalid_action"]``). ``orbit-env train`` is the
masked path (MaskablePPO over ``train.vec_env``, docs/training.md).
"""

from __future__ import annotations

import numpy as np
import supersuit as ss
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecMonitor

from orbit_env import orbit_compute_v2
from train.config import PPOConfig, RunConfig

SCENARIO = "three-body-12"
OVERRIDES = {"episode.reward": "individual", "episode.dense_shaping": True}  # as train/configs/three-body-12.toml


def main(timesteps: int = 600_000, n_steps: int = 256, max_cycles: int = 1_440, copies: int = 2, seed: int = 0, quiet: bool = False) -> dict:
    """Train PPO for ``timesteps`` agent-steps; return the model and the episodes VecMonitor recorded
    (one per satellite per episode, each with SB3's ``r``, ``l`` and ``t``)."""
    cfg = PPOConfig()
    torch.set_num_threads(RunConfig().torch_threads)  # one thread, as orbit-env train: small MLPs gain nothing from more
    env = orbit_compute_v2.parallel_env(scenario=SCENARIO, max_cycles=max_cycles, overrides=OVERRIDES)
    env.reset(seed=seed)  # SuperSuit's vec env has no seed(): seed the episodes' generators here; later resets continue them
    set_random_seed(seed)  # torch, numpy and random, which PPO(seed=...) would seed before failing on venv.seed
    venv = VecMonitor(ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(env), copies, base_class="stable_baselines3"))
    model = PPO(
        "MultiInputPolicy", venv, n_steps=n_steps, batch_size=min(cfg.batch_size, n_steps * venv.num_envs), n_epochs=cfg.n_epochs,
        learning_rate=cfg.learning_rate, gamma=cfg.gamma, gae_lambda=cfg.gae_lambda, clip_range=cfg.clip_range,
        ent_coef=cfg.ent_coef, vf_coef=cfg.vf_coef, max_grad_norm=cfg.max_grad_norm, verbose=0 if quiet else 1,
    )  # fmt: skip
    model.learn(total_timesteps=timesteps)
    episodes = list(model.ep_info_buffer)
    if not quiet and episodes:
        print(f"{len(episodes)} satellite-episodes, mean return {np.mean([e['r'] for e in episodes]):.3f}")
    venv.close()
    return {"model": model, "episodes": episodes, "timesteps": model.num_timesteps}


if __name__ == "__main__":
    main()
