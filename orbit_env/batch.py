"""The array API: B episodes of one scenario stepped as one array program.

``BatchEnv`` is the simulator's public face for code that works on arrays (training loops, the leaderboard,
benchmarks, planners): no dictionaries, no per-agent Python objects. Every other face is built on it: the
PettingZoo env is a BatchEnv of one episode, the Gymnasium vector env and the SB3 VecEnv are BatchEnvs of
many.

    from orbit_env.batch import BatchEnv
    env = BatchEnv("three-body-12", num_envs=64)
    obs, mask, info = env.reset(seed=0)            # (64, 12, D) float32, (64, 12, A) int8
    while True:
        actions = policy(obs, mask)                # (64, 12) integers, legal where mask is 1
        obs, mask, rewards, terminations, truncations, info = env.step(actions)

Episode b of ``reset(seed=s)`` is seeded ``s + b`` (Gymnasium's vector convention), or ``seed[b]`` when
``seed`` is a sequence; it equals, bit for bit, the single env reset with that seed (the test
``test_batch.py`` checks every scenario), and its later episodes draw from the same generator, as a single
env's ``reset()`` without a seed does.

Autoreset follows Gymnasium 1.x (``autoreset_mode``):
- ``"next_step"`` (Gymnasium's default): the step after an episode ends resets it: that step ignores the
  episode's actions and returns its first observation with zero rewards and no termination or truncation.
- ``"same_step"``: an episode that ends is reset in the same step; the step returns the new episode's first
  observation and puts the last one in ``info["final_obs"]`` / ``info["final_mask"]`` (SB3's convention).
- ``"disabled"``: an ended episode must be reset with ``reset()``; stepping it is an error.

``info`` holds arrays: ``invalid_action`` (B, N) (an illegal action is a no-op), ``reward_components``
(name -> (B, N)), and when episodes end ``episode_metrics`` (name -> (B,), ``metrics()`` at the end) with
the mask ``_episode_metrics`` of the episodes it is for (Gymnasium's vector info convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from orbit_env.ephemeris import load_ephemeris
from orbit_env.forecast import Forecast, forecast
from orbit_env.observe import Layout, observe
from orbit_env.scenario import Scenario, load_scenario
from orbit_env.sim import SimState, StepInfo, job_census, make_params, reset_state, step

DEFAULT_SCENARIO = "three-body-12"
AUTORESET_MODES = ("next_step", "same_step", "disabled")
REWARD_COMPONENTS = ("delivered", "safe_mode", "thermal", "shaping")


class BatchEnv:
    """B independent episodes of one scenario; arrays with a leading batch axis, then the satellite axis."""

    def __init__(
        self,
        scenario: str | Scenario = DEFAULT_SCENARIO,
        num_envs: int = 1,
        *,
        max_cycles: int | None = None,
        overrides: dict[str, Any] | None = None,
        tle_file: str | None = None,
        cache_dir: str | None = None,
        autoreset_mode: str = "next_step",
    ):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs {num_envs!r}: the number of episodes must be an integer of at least 1")
        if autoreset_mode not in AUTORESET_MODES:
            raise ValueError(f"autoreset_mode {autoreset_mode!r}: choose one of {', '.join(AUTORESET_MODES)}")
        overrides = dict(overrides or {})
        if max_cycles is not None:
            if "episode.max_cycles" in overrides:
                raise ValueError(
                    f"episode length given twice: max_cycles={max_cycles!r} and overrides['episode.max_cycles'] = "
                    f"{overrides['episode.max_cycles']!r}; give one"
                )
            overrides["episode.max_cycles"] = max_cycles
        self.scenario = load_scenario(scenario, overrides, tle_file)
        self.ephemeris = load_ephemeris(self.scenario, cache_dir=cache_dir)
        self.params = make_params(self.scenario, self.ephemeris.n_sats)
        self.layout = Layout.for_params(self.params)
        self.actions = self.params.actions
        self.num_envs, self.n_agents = int(num_envs), self.params.n_sats
        self.obs_size, self.n_actions = self.layout.size, self.params.n_actions
        self.max_cycles = self.scenario.episode.max_cycles
        self.autoreset_mode = autoreset_mode
        self.agents = [f"sat_{i}" for i in range(self.n_agents)]
        self.rngs: list[np.random.Generator] = []
        self.sim: SimState | None = None
        self.last_step: StepInfo | None = None
        self._obs = np.zeros((self.num_envs, self.n_agents, self.obs_size), np.float32)
        self._mask = np.zeros((self.num_envs, self.n_agents, self.n_actions), np.int8)
        self._ended = np.zeros(self.num_envs, bool)

    # ----------------------------------------------------------------------------------- state

    @property
    def observations(self) -> np.ndarray:
        """(B, N, D) float32: the current observations (read-only; a step replaces them)."""
        return self._obs

    @property
    def action_masks(self) -> np.ndarray:
        """(B, N, A) int8: 1 where an action is legal now."""
        return self._mask

    @property
    def t(self) -> np.ndarray:
        """(B,) steps taken in each episode."""
        return self.sim.t

    def forecast(self, horizon: int) -> Forecast:
        """The predictable geometry of each episode's next ``horizon`` steps (``orbit_env.forecast``)."""
        return forecast(self.ephemeris, self.sim.e0 + self.sim.t, horizon)

    def metrics(self) -> dict[str, np.ndarray]:
        """(B,) episode totals so far (delivered value, energy, safe-mode entries, ...) and the job census."""
        return {**{k: v.copy() for k, v in self.sim.totals.items()}, **{f"jobs_{k}": v for k, v in job_census(self.sim).items()}}

    # ------------------------------------------------------------------------------ reset, step

    def reset(self, seed: int | Sequence[int] | None = None, options: dict | None = None):
        """Start every episode; returns (observations, masks, info). See the module docstring for seeds."""
        B = self.num_envs
        if seed is None:
            if not self.rngs:
                self.rngs = [np.random.default_rng() for _ in range(B)]
        else:
            seeds = [int(seed) + b for b in range(B)] if np.ndim(seed) == 0 else [int(s) for s in seed]
            if len(seeds) != B:
                raise ValueError(f"{len(seeds)} seeds for {B} episodes: give one seed, or one per episode")
            self.rngs = [np.random.default_rng(s) for s in seeds]
        self._restart()
        return self._obs, self._mask, {}

    def step(self, actions: np.ndarray):
        """Advance every episode with (B, N) integer actions; returns (observations, masks, rewards (B, N),
        terminations (B,), truncations (B,), info). The actions are checked before anything changes: a
        rejected step leaves the state as it was. Episodes have one length and never terminate early, so
        they run in lockstep and end (and autoreset) together."""
        if self.sim is None:
            raise RuntimeError("step() before reset(): call reset() first")
        B, N = self.num_envs, self.n_agents
        if self._ended.any():
            if self.autoreset_mode == "disabled":
                raise RuntimeError("the episodes are over: call reset() first (autoreset_mode='disabled')")
            check_batch_actions(actions, B, N, self.n_actions)
            self._restart()  # next_step: this step only starts the next episodes
            zeros = np.zeros((B, N))
            parts = {k: zeros.copy() for k in REWARD_COMPONENTS}
            return self._obs, self._mask, zeros, np.zeros(B, bool), np.zeros(B, bool), {"invalid_action": np.zeros((B, N), bool), "reward_components": parts}
        act = check_batch_actions(actions, B, N, self.n_actions)
        info = step(self.params, self.sim, self.ephemeris, act.reshape(-1), mask=self._mask.reshape(B * N, -1))
        self.last_step = info
        rewards, components = self.reward(info)
        truncated = self.sim.t >= self.max_cycles
        infos: dict[str, Any] = {"invalid_action": info.invalid.reshape(B, N), "reward_components": components}
        self._observe()
        if truncated.any():
            infos["episode_metrics"], infos["_episode_metrics"] = self.metrics(), truncated.copy()
            if self.autoreset_mode == "same_step":
                infos["final_obs"], infos["final_mask"], infos["_final_obs"] = self._obs, self._mask, truncated.copy()
                self._restart()
            else:
                self._ended = truncated
        return self._obs, self._mask, rewards, np.zeros(B, bool), truncated, infos

    def reward(self, info: StepInfo) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(B, N) rewards of a step and their components (see the env card's Rewards section)."""
        ep, B, N = self.scenario.episode, self.num_envs, self.n_agents
        parts = {  # the keys of REWARD_COMPONENTS
            "delivered": info.delivered_value,
            "safe_mode": -ep.safe_mode_penalty * info.safe_entered,
            "thermal": -ep.thermal_shutdown_penalty * info.thermal_shutdown,
            "shaping": info.shaping if ep.dense_shaping else np.zeros(B * N),
        }
        parts = {k: v.reshape(B, N).astype(np.float64) for k, v in parts.items()}
        if ep.reward == "team":
            parts = {k: np.repeat(v.sum(axis=1, keepdims=True), N, axis=1) for k, v in parts.items()}
        total = parts["delivered"] + parts["safe_mode"] + parts["thermal"] + parts["shaping"]
        return total, parts

    def _restart(self) -> None:
        """Start the next episodes from each episode's own generator (autoreset)."""
        self.sim = reset_state(self.params, self.ephemeris, self.rngs)
        self._ended[:] = False
        self._observe()

    def _observe(self) -> None:
        obs, mask = observe(self.params, self.sim, self.ephemeris)
        self._obs = obs.reshape(self.num_envs, self.n_agents, -1)
        self._mask = mask.reshape(self.num_envs, self.n_agents, -1)


def check_batch_actions(actions, n_envs: int, n_agents: int, n_actions: int) -> np.ndarray:
    """(B, N) integer actions in [0, n_actions) as int64, or a ValueError naming what is wrong."""
    act = np.asarray(actions)
    if act.shape != (n_envs, n_agents):
        raise ValueError(f"expected actions of shape ({n_envs}, {n_agents}) (episodes, satellites), got {act.shape}")
    if act.dtype.kind not in "iu":
        raise ValueError(f"actions must be integers in [0, {n_actions}), got an array of {act.dtype}: {_short(act)}")
    out = (act < 0) | (act >= n_actions)
    if out.any():
        b, i = np.argwhere(out)[0]
        raise ValueError(f"action {int(act[b, i])} for sat_{i} of episode {b} is outside Discrete({n_actions}): expected 0 to {n_actions - 1}")
    return act.astype(np.int64, copy=False)


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_integer(v: Any) -> bool:
    """A Python or numpy integer, or a 0-d integer array; not a bool (a bool is not an action)."""
    if isinstance(v, np.ndarray):
        return v.ndim == 0 and v.dtype.kind in "iu"
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_action_values(values: list, agents: list[str], n_actions: int) -> np.ndarray:
    """Actions given one per agent (Python or numpy integers) as an (N,) int64 array, or a ValueError
    naming the first agent whose action is not an integer in [0, n_actions)."""
    types, i = set(map(type, values)), None
    if np.ndarray in types or not all(issubclass(t, (int, np.integer)) and not issubclass(t, bool) for t in types):
        i = next((i for i, v in enumerate(values) if not _is_integer(v)), None)  # None: only 0-d integer arrays
    if i is not None:
        raise ValueError(f"action for {agents[i]!r} is {_short(values[i])} ({type(values[i]).__name__}): "
                         f"expected an integer in [0, {n_actions})")  # fmt: skip
    act = np.array(values)
    if act.dtype.kind not in "iu":  # integers beyond int64 (object dtype) or int64 mixed with uint64 (float64)
        out = [i for i, v in enumerate(values) if not 0 <= int(v) < n_actions]
        if out:
            raise _outside(values[out[0]], agents[out[0]], n_actions)
        act = np.array([int(v) for v in values], np.int64)
    return check_action_array(act, agents, n_actions)


def check_action_array(actions: np.ndarray, agents: list[str], n_actions: int) -> np.ndarray:
    """An (N,) integer array with every entry in [0, n_actions), as int64; else a ValueError saying what is wrong."""
    act = np.asarray(actions)
    if act.shape != (len(agents),):
        raise ValueError(f"expected {len(agents)} actions, one per satellite, got an array of shape {act.shape}")
    if act.dtype.kind not in "iu":
        raise ValueError(f"actions must be integers in [0, {n_actions}), got an array of {act.dtype}: {_short(act)}")
    out = (act < 0) | (act >= n_actions)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise _outside(act[i], agents[i], n_actions)
    return act.astype(np.int64, copy=False)


def _outside(value, agent: str, n_actions: int) -> ValueError:
    return ValueError(f"action {int(value)} for {agent!r} is outside Discrete({n_actions}): expected 0 to {n_actions - 1}")
