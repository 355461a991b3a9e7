"""stable-baselines3 VecEnvs with action masks: one slot per satellite of every episode (parameter sharing).

Slot ``i`` is satellite ``i % N`` of episode ``i // N``; one policy acts for every satellite. Two bridges
give the same slots, observations, rewards and infos (``test_train.py`` checks them step for step):

- ``BatchVecEnv`` (the default, ``[env] vec_env = "batch"``): ``orbit_env.batch.BatchEnv`` with
  ``autoreset_mode="same_step"``: the ``n_envs`` episodes are one array program and the slots are a
  reshape of its (episodes, satellites) arrays, with no dictionary per agent.
- ``MaskedVecEnv`` (``vec_env = "supersuit"``): SuperSuit vectorises the PettingZoo env
  (``pettingzoo_env_to_vec_env_v1``, one slot per satellite) and stacks ``n_envs`` copies
  (``concat_vec_envs_v1``); for users who bring their own PettingZoo env through SuperSuit. Its per-agent
  infos (``reward_components``, ``invalid_action``) pass through; the batch bridge leaves them out.

Both fix what SuperSuit's own SB3 wrapper gets wrong on the pinned stack:

- ``seed()`` reaches every episode's reset (episode ``e`` is reset with ``seed + e``), so ``PPO(seed=...)``
  works;
- the time limit is a truncation, not a terminal state: ``infos[i]["TimeLimit.truncated"]`` is set and
  ``terminal_observation`` holds the final observation vector, so PPO bootstraps the value there;
- the episode's metrics are in ``infos[i]["metrics"]`` and ``infos[i]["episode"]`` is SB3's Monitor record
  ``{"r", "l", "t", "delivered_value"}`` on the first satellite of each finished episode only, so SB3 logs
  one return per episode, not one per satellite.

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
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices

from orbit_env.batch import BatchEnv
from orbit_env.env import OrbitComputeEnv
from train.config import VEC_ENVS


def blend(rewards: np.ndarray, team_weight: float) -> np.ndarray:
    """(..., N) per-satellite rewards with ``team_weight`` of each constellation's mean blended in."""
    if not team_weight:
        return rewards
    return (1 - team_weight) * rewards + team_weight * rewards.mean(axis=-1, keepdims=True)


class SatelliteSlotsVecEnv(VecEnv):
    """What both bridges share: the slots, the summary, the reward blend, SB3's episode records and the masks."""

    def __init__(self, n_episodes: int, n_agents: int, obs_size: int, n_actions: int, team_weight: float, critic_summary: bool):
        self.team_weight, self.critic_summary = team_weight, critic_summary
        self.n_agents, self.n_episodes, self.agent_obs_size = n_agents, n_episodes, obs_size
        self.render_mode = None
        width = 3 * obs_size if critic_summary else obs_size
        super().__init__(n_episodes * n_agents, spaces.Box(-1.0, 1.0, (width,), np.float32), spaces.Discrete(n_actions))
        self._masks = np.ones((self.num_envs, n_actions), bool)
        self._actions = np.zeros(self.num_envs, np.int64)
        self._returns = np.zeros(self.num_envs)
        self._lengths = np.zeros(n_episodes, np.int64)
        self._t0 = time.time()

    def _with_summary(self, obs: np.ndarray) -> np.ndarray:
        """(episodes x agents, D) observations, followed by each episode's mean and max if ``critic_summary``."""
        if not self.critic_summary:
            return obs
        per = obs.reshape(-1, self.n_agents, obs.shape[-1])
        summary = np.concatenate([per.mean(axis=1), per.max(axis=1)], axis=-1)
        return np.concatenate([per, np.broadcast_to(summary[:, None], (*per.shape[:2], summary.shape[-1]))], axis=-1).reshape(
            len(obs), -1
        )

    def _blend(self, rewards: np.ndarray) -> np.ndarray:
        """The slots' rewards with ``team_weight`` of each constellation's mean blended in."""
        return blend(rewards.reshape(self.n_episodes, self.n_agents), self.team_weight).reshape(-1)

    def _restart_records(self) -> None:
        self._returns[:] = 0.0
        self._lengths[:] = 0

    def _record(self, rewards: np.ndarray, ended: np.ndarray, infos: list[dict]) -> None:
        """Add a step's rewards; put SB3's episode record on the first slot of each episode in ``ended`` (E,)."""
        self._returns += rewards
        self._lengths += 1
        N = self.n_agents
        for e in np.flatnonzero(ended):
            first = e * N
            infos[first]["episode"] = {
                "r": float(self._returns[first : first + N].mean()),
                "l": int(self._lengths[e]),
                "t": round(time.time() - self._t0, 6),
                "delivered_value": float(infos[first].get("metrics", {}).get("delivered_value", np.nan)),
            }
            self._returns[first : first + N] = 0.0
            self._lengths[e] = 0

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, np.int64)

    def action_masks(self) -> np.ndarray:
        """(num_envs, A) bool mask of the legal actions for the current observations."""
        return self._masks

    def _indices(self, indices: VecEnvIndices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Attributes of the bridge itself (the slots are not per-slot objects)."""
        value = getattr(self, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(f"{type(self).__name__} does not support setting {attr_name!r} on its sub-environments")

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        if method_name != "action_masks":
            raise AttributeError(f"{type(self).__name__} only serves env_method('action_masks'), not {method_name!r}")
        return list(self._masks if indices is None else self._masks[list(self._indices(indices))])

    def env_is_wrapped(self, wrapper_class, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._indices(indices)]


class BatchVecEnv(SatelliteSlotsVecEnv):
    """SB3 VecEnv over a ``BatchEnv`` of ``n_envs`` episodes (same-step autoreset), one slot per satellite."""

    def __init__(self, scenario: str, n_envs: int, overrides: dict[str, Any] | None = None, team_weight: float = 0.0, critic_summary: bool = False):
        self.batch = BatchEnv(scenario, n_envs, overrides=overrides, autoreset_mode="same_step")
        super().__init__(n_envs, self.batch.n_agents, self.batch.obs_size, self.batch.n_actions, team_weight, critic_summary)

    def _slots(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self._masks = mask.reshape(self.num_envs, -1).astype(bool)
        return self._with_summary(np.ascontiguousarray(obs.reshape(self.num_envs, -1)))  # row-major, as SuperSuit's: same sums

    def reset(self) -> np.ndarray:
        obs, mask, _ = self.batch.reset(self._seeds[0])  # episode e gets seed + e, as SuperSuit's ConcatVecEnv
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._reset_seeds()
        self._restart_records()
        return self._slots(obs, mask)

    def step_wait(self):
        E, N = self.n_episodes, self.n_agents
        obs, mask, rewards, terms, truncs, info = self.batch.step(self._actions.reshape(E, N))
        rewards = self._blend(rewards.reshape(-1).astype(np.float32))  # float32 before the blend, as SuperSuit's
        ended = terms | truncs
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if ended.any():
            episodes = np.flatnonzero(ended)
            final = self._with_summary(info["final_obs"][episodes].reshape(len(episodes) * N, -1))
            metrics = info["episode_metrics"]
            for k, e in enumerate(episodes):
                common = {"TimeLimit.truncated": bool(truncs[e] and not terms[e]), "metrics": {m: v[e].item() for m, v in metrics.items()}}
                for i in range(N):
                    infos[e * N + i] = {**common, "terminal_observation": final[k * N + i]}
        self._record(rewards, ended, infos)
        return self._slots(obs, mask), rewards, np.repeat(ended, N), infos

    def close(self) -> None:
        pass


class MaskedVecEnv(SatelliteSlotsVecEnv):
    """SB3 VecEnv over ``n_envs`` SuperSuit copies of an OrbitComputeEnv (or any env with its spaces)."""

    def __init__(self, make_env: Callable[[], OrbitComputeEnv], n_envs: int, team_weight: float = 0.0, critic_summary: bool = False):
        import supersuit as ss

        par = make_env()
        agent = par.possible_agents[0]
        self.venv = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(par), n_envs, base_class="gymnasium")
        own, act = par.observation_space(agent)["observation"], par.action_space(agent)
        super().__init__(n_envs, len(par.possible_agents), own.shape[0], act.n, team_weight, critic_summary)

    def _split(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        self._masks = obs["action_mask"].astype(bool)
        return self._with_summary(obs["observation"])

    def reset(self) -> np.ndarray:
        obs, infos = self.venv.reset(seed=self._seeds[0])  # episode e gets seed + e (SuperSuit's ConcatVecEnv)
        self.reset_infos = list(infos)
        self._reset_seeds()
        self._restart_records()
        return self._split(obs)

    def step_wait(self):
        obs, rewards, terms, truncs, infos = self.venv.step(self._actions)
        terms, truncs = np.asarray(terms, bool), np.asarray(truncs, bool)
        dones = terms | truncs
        rewards = self._blend(rewards)
        infos = [dict(i) for i in infos]
        for i in np.flatnonzero(dones):
            info = infos[i]
            info["TimeLimit.truncated"] = bool(truncs[i] and not terms[i])
            if "episode_metrics" in info:
                info["metrics"] = info.pop("episode_metrics")
        ended = dones.reshape(self.n_episodes, self.n_agents).any(axis=1)  # an episode's agents end together (truncation)
        for e in np.flatnonzero(ended):
            agents = range(e * self.n_agents, (e + 1) * self.n_agents)
            final = self._with_summary(np.stack([infos[i]["terminal_observation"]["observation"] for i in agents]))
            for i, o in zip(agents, final):
                infos[i]["terminal_observation"] = o
        self._record(rewards, ended, infos)
        return self._split(obs), rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()


def make_vec_env(
    scenario: str,
    n_envs: int,
    overrides: dict[str, Any] | None = None,
    team_weight: float = 0.0,
    critic_summary: bool = False,
    vec_env: str = "batch",
) -> SatelliteSlotsVecEnv:
    """The training VecEnv for a scenario (with training-only overrides such as dense shaping): the batch
    bridge, or ``vec_env="supersuit"`` the SuperSuit one."""
    if vec_env == "batch":
        return BatchVecEnv(scenario, n_envs, overrides, team_weight, critic_summary)
    if vec_env == "supersuit":
        return MaskedVecEnv(lambda: OrbitComputeEnv(scenario, overrides=overrides), n_envs, team_weight, critic_summary)
    raise ValueError(f"vec_env {vec_env!r}: choose one of {', '.join(VEC_ENVS)}")
