"""The Gymnasium vector face: B episodes of the centralised Gym env, stepped as one ``BatchEnv``.

    import gymnasium, orbit_env
    envs = gymnasium.make_vec("orbit_env/OrbitCompute-v2", num_envs=64, vectorization_mode="vector_entry_point",
                              scenario="three-body-12")
    obs, info = envs.reset(seed=0)   # obs["observation"] (64, N, D), obs["action_mask"] (64, N, A)
    obs, rewards, terminations, truncations, info = envs.step(actions)   # actions (64, N)

One sub-env is ``OrbitComputeGymEnv`` (``orbit_env.env``): centralised control of the constellation, the
same spaces (with one satellite, that satellite's own: ``(D,)``, ``(A,)``, ``Discrete(A)``) and its reward
(the team reward, or with ``episode.reward = "individual"`` the sum over satellites). Nothing is simulated
here: this module only reshapes the arrays of ``orbit_env.batch.BatchEnv``, with no loop over episodes.

- Seeds: ``reset(seed=s)`` gives sub-env b what ``gymnasium.make(...).reset(seed=s + b)`` gives the single
  env, so this env equals ``make_vec(..., vectorization_mode="sync")`` step for step, only faster.
- Autoreset: ``AutoresetMode.NEXT_STEP`` (Gymnasium's default): the step after a truncation ignores that
  sub-env's actions and returns its next episode's first observation with reward 0.
- The action mask is where Gymnasium users look for it: ``obs["action_mask"]`` and ``info["action_mask"]``
  (with ``info["_action_mask"]``). Infos are dicts of arrays with a ``_key`` mask: ``invalid_actions`` (B,)
  (illegal actions are no-ops), and when episodes end ``episode_metrics`` {name: (B,)} with
  ``_episode_metrics``.
- Rendering draws one episode's constellation and lives on the single env (``gymnasium.make``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from orbit_env.batch import BatchEnv
from orbit_env.env import centralised_spaces
from orbit_env.scenario import Scenario

SEED_RANGE = 2**63  # the single Gym env seeds its episode with np_random(seed).integers(2**63)


class OrbitComputeVectorEnv(VectorEnv):
    """``num_envs`` centralised Gym envs of one scenario as one array program (see the module docstring)."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        scenario: str | Scenario = "starcloud-1",
        *,
        max_cycles: int | None = None,
        overrides: dict[str, Any] | None = None,
        tle_file: str | None = None,
        cache_dir: str | None = None,
        render_mode: str | None = None,
    ):
        if render_mode is not None:
            raise ValueError(f"render_mode {render_mode!r}: the vector env does not render; render the single env (gymnasium.make)")
        self.batch = BatchEnv(scenario, num_envs, max_cycles=max_cycles, overrides=overrides, tle_file=tle_file, cache_dir=cache_dir)
        self.num_envs = self.batch.num_envs
        self.single = self.batch.n_agents == 1
        self.team = self.batch.scenario.episode.reward == "team"
        self.single_observation_space, self.single_action_space = centralised_spaces(self.batch.n_agents, self.batch.obs_size, self.batch.n_actions)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._restarting = np.zeros(self.num_envs, bool)

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        """Start every sub-env; an int seed s seeds sub-env b as the single env seeded s + b, a list one each."""
        if seed is not None:
            seeds = [int(seed) + b for b in range(self.num_envs)] if np.ndim(seed) == 0 else list(seed)
            super().reset(seed=seeds[0])
            seed = [int(seeding.np_random(int(s))[0].integers(SEED_RANGE)) for s in seeds]
        obs, mask, _ = self.batch.reset(seed)
        self._restarting[:] = False
        out = self._obs(obs, mask)
        return out, {"action_mask": out["action_mask"], "_action_mask": np.ones(self.num_envs, bool)}

    def step(self, actions):
        """Advance every sub-env with (num_envs,) or (num_envs, N) actions; Gymnasium's ``NEXT_STEP`` autoreset."""
        act = np.asarray(actions)
        if self.single and act.shape == (self.num_envs,):
            act = act[:, None]
        obs, mask, rewards, terminations, truncations, info = self.batch.step(act)
        reward = rewards[:, 0] if self.team else rewards.sum(axis=1)
        stepped = ~self._restarting
        self._restarting = terminations | truncations
        out = self._obs(obs, mask)
        infos = {
            "action_mask": out["action_mask"],
            "_action_mask": np.ones(self.num_envs, bool),
            "invalid_actions": np.where(stepped, info["invalid_action"].sum(axis=1), 0),
            "_invalid_actions": stepped,
        }
        if "episode_metrics" in info:
            infos["episode_metrics"], infos["_episode_metrics"] = info["episode_metrics"], info["_episode_metrics"]
        return out, reward, terminations, truncations, infos

    def _obs(self, obs: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        return {"observation": obs[:, 0], "action_mask": mask[:, 0]} if self.single else {"observation": obs, "action_mask": mask}

    def action_masks(self) -> np.ndarray:
        """(num_envs, N x A) bool: each sub-env's flattened mask, as the single env's ``action_masks()``."""
        return self.batch.action_masks.reshape(self.num_envs, -1).astype(bool)
