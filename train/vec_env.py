"""The bridge from the PettingZoo env to a stable-baselines3 VecEnv with action masks.

SuperSuit does the vectorising: ``pettingzoo_env_to_vec_env_v1`` turns the parallel env into a vector
env with one slot per satellite (parameter sharing: one policy acts for every satellite), and
``concat_vec_envs_v1`` stacks ``n_envs`` copies. Slot ``i`` is satellite ``i % N`` of episode ``i // N``.

``MaskedVecEnv`` replaces SuperSuit's own SB3 wrapper, which gets three things wrong on the pinned stack:

- it has no ``seed()``, so ``PPO(seed=...)`` fails: here the seed reaches every episode's reset
  (episode ``e`` is reset with ``seed + e``);
- it merges truncation into ``done``, so SB3 treats the time limit as a terminal state and does not
  bootstrap: here ``infos[i]["TimeLimit.truncated"]`` is set and ``terminal_observation`` holds the
  final observation vector, so PPO bootstraps the value at truncation;
- the env's ``infos["episode"]`` (its metrics) clashes with SB3's Monitor convention: here it moves
  to ``infos["metrics"]`` and ``infos["episode"]`` is ``{"r", "l", "t", "delivered_value"}`` on the first
  satellite of each finished episode, so SB3 logs one return per episode, not one per satellite.

The policy sees only the observation vector; the action mask is served through ``action_masks()``,
which is how sb3-contrib's MaskablePPO asks for it. With ``critic_summary`` every satellite's vector is
followed by its constellation's mean and maximum of each field (3 x D in all), the input of a centralised
critic (``train.policy``); the actor reads only the first D, the agent's own observation.
``team_weight`` w blends per-satellite rewards (``episode.reward = "individual"``) into
(1 - w) x own + w x the constellation's mean, to share the credit for cooperation (a job sent to a
neighbour earns the neighbour's reward).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np
import supersuit as ss
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices

from orbit_env.env import OrbitComputeEnv


class MaskedVecEnv(VecEnv):
    """SB3 VecEnv over ``n_envs`` copies of an OrbitComputeEnv, one slot per satellite."""

    def __init__(self, make_env: Callable[[], OrbitComputeEnv], n_envs: int, team_weight: float = 0.0, critic_summary: bool = False):
        par = make_env()
        self.team_weight, self.critic_summary = team_weight, critic_summary
        self.n_agents = len(par.possible_agents)
        self.n_episodes = n_envs
        agent = par.possible_agents[0]
        self.venv = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(par), n_envs, base_class="gymnasium")
        self.render_mode = None
        own = par.observation_space(agent)["observation"]
        self.agent_obs_size = own.shape[0]
        space = spaces.Box(-1.0, 1.0, (3 * own.shape[0],), np.float32) if critic_summary else own
        super().__init__(n_envs * self.n_agents, space, par.action_space(agent))
        self._masks = np.ones((self.num_envs, par.action_space(agent).n), bool)
        self._actions = np.zeros(self.num_envs, np.int64)
        self._returns = np.zeros(self.num_envs)
        self._lengths = np.zeros(n_envs, np.int64)
        self._t0 = time.time()

    def _split(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        self._masks = obs["action_mask"].astype(bool)
        return self._with_summary(obs["observation"])

    def _with_summary(self, obs: np.ndarray) -> np.ndarray:
        """(episodes x agents, D) observations, followed by each episode's mean and max if ``critic_summary``."""
        if not self.critic_summary:
            return obs
        per = obs.reshape(-1, self.n_agents, obs.shape[-1])
        summary = np.concatenate([per.mean(axis=1), per.max(axis=1)], axis=-1)
        return np.concatenate([per, np.broadcast_to(summary[:, None], (*per.shape[:2], summary.shape[-1]))], axis=-1).reshape(
            len(obs), -1
        )

    def reset(self) -> np.ndarray:
        seed = self._seeds[0]
        obs, infos = self.venv.reset(seed=seed)  # episode e gets seed + e (SuperSuit's ConcatVecEnv)
        self.reset_infos = list(infos)
        self._reset_seeds()
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return self._split(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, np.int64)

    def step_wait(self):
        obs, rewards, terms, truncs, infos = self.venv.step(self._actions)
        terms, truncs = np.asarray(terms, bool), np.asarray(truncs, bool)
        dones = terms | truncs
        if self.team_weight:
            per_episode = rewards.reshape(self.n_episodes, self.n_agents)
            rewards = ((1 - self.team_weight) * per_episode + self.team_weight * per_episode.mean(axis=1, keepdims=True)).reshape(-1)
        self._returns += rewards
        self._lengths += 1
        infos = [dict(i) for i in infos]
        for i in np.flatnonzero(dones):
            info = infos[i]
            info["TimeLimit.truncated"] = bool(truncs[i] and not terms[i])
            if "episode" in info:
                info["metrics"] = info.pop("episode")
        for e in np.flatnonzero(dones.reshape(self.n_episodes, self.n_agents).any(axis=1)):
            first = e * self.n_agents
            agents = range(first, first + self.n_agents)  # an episode's agents end together (truncation)
            final = self._with_summary(np.stack([infos[i]["terminal_observation"]["observation"] for i in agents]))
            for i, o in zip(agents, final):
                infos[i]["terminal_observation"] = o
            info = infos[first]
            info["episode"] = {
                "r": float(self._returns[first : first + self.n_agents].mean()),
                "l": int(self._lengths[e]),
                "t": round(time.time() - self._t0, 6),
                "delivered_value": float(info.get("metrics", {}).get("delivered_value", np.nan)),
            }
            self._returns[first : first + self.n_agents] = 0.0
            self._lengths[e] = 0
        return self._split(obs), rewards.astype(np.float32), dones, infos

    def action_masks(self) -> np.ndarray:
        """(num_envs, A) bool mask of the legal actions for the current observations."""
        return self._masks

    def close(self) -> None:
        self.venv.close()

    def _indices(self, indices: VecEnvIndices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Attributes of the bridge itself (the sub-envs are SuperSuit's, not per-slot objects)."""
        value = getattr(self, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(f"MaskedVecEnv does not support setting {attr_name!r} on its sub-environments")

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        if method_name != "action_masks":
            raise AttributeError(f"MaskedVecEnv only serves env_method('action_masks'), not {method_name!r}")
        return list(self._masks[list(self._indices(indices))])

    def env_is_wrapped(self, wrapper_class, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._indices(indices)]


def make_vec_env(
    scenario: str, n_envs: int, overrides: dict[str, Any] | None = None, team_weight: float = 0.0, critic_summary: bool = False
) -> MaskedVecEnv:
    """The training VecEnv for a scenario (with training-only overrides such as dense shaping)."""
    return MaskedVecEnv(lambda: OrbitComputeEnv(scenario, overrides=overrides), n_envs, team_weight, critic_summary)
