"""PettingZoo and Gymnasium faces of the simulator. No physics here: only arrays <-> dictionaries.

## Description
Satellites carrying GPUs schedule real GPU training jobs in low Earth orbit. Jobs arrive on the
ground, are uplinked during contacts, run on the satellites' accelerators under eclipse, battery,
heat and radiation limits, may be checkpointed or moved to neighbours over laser links, and earn their
value only when their result reaches the ground.

## Agents
One per satellite, ``sat_0 ... sat_{N-1}``, all with identical spaces (parameter sharing works, and a
policy trained on 12 satellites runs on 81).

## Observation Space
``Dict(observation=Box(-1, 1, (D,), float32), action_mask=Box(0, 1, (A,), int8))``.
D = 21 own fields (+ 2 ground fields) + K x 12 slot fields + M x 12 neighbour fields + G x 8 window
fields; names and meaning in ``orbit_env.observe`` (``env.layout.names()`` lists every element). The
ground fields are there when the scenario uses agent admission, antennas or storage; the window when
``ground.admission = "agent"``.

| slice | fields |
|---|---|
| own | soc, temp, gpu_margin, sunlit, t_light_change, in_saa, t_saa_change, contact, t_contact_next, t_contact_left, safe_mode, gpu_loaded, gpu_recovering, thermal_off, power_level, queue_fill, lat, lon_sin, lon_cos, ground_backlog, episode_progress (then link, storage_free) |
| slot[k] | present, runnable, result, in_flight, active, remaining, at_risk, deadline, value, gpus, checkpoint, downlink |
| neigh[m] | present, link_up, range, soc, temp, free_slots, work, results, contact, t_contact_next, sunlit, safe_mode |
| window[g] | present, model, work, gpus, deadline, value, dataset, storage |

K is ``episode.queue_slots``, or with ``hardware.storage_gb`` the number of the scenario's smallest jobs
the storage holds, at most 16 (``orbit_env.sim.queue_slots``).

## Action Space
``Discrete(2 + K*P + K*M + G)``: 0 idle (the loaded job stays loaded), 1 checkpoint the loaded job (then
keep running it), ``2 + k*P + p`` run the job in slot k at power level p, ``2 + K*P + k*M + m`` send the
job (or finished result) in slot k to the neighbour on terminal m, ``2 + K*P + K*M + g`` admit entry g
of the ground queue's window (agent admission only). The laser terminal and the radio work beside the
accelerators, so the loaded job keeps running at its power level during a send (unless it is the one
sent) or an admit. An illegal action (mask 0) is a no-op counted in ``infos[agent]["invalid_action"]``.
An action outside the space, one that is not an integer (a bool, float or string), a missing or unknown
agent, or anything but a dict raises ValueError before the step changes anything (state and random
stream are left as they were).

## Rewards
Team reward by default: every agent gets the value delivered to the ground this step (reference
GPU-hours, discounted after the deadline) minus ``safe_mode_penalty`` per safe-mode entry and
``thermal_shutdown_penalty`` per thermal shutdown. ``episode.reward = "individual"`` credits each
satellite with its own penalties and the value of the jobs it finished, when their results reach the
ground (through its own radio or relayed by a neighbour: relaying a result costs its finisher nothing).
``episode.dense_shaping`` adds, for the work done this step, the fraction of the job it completes x the
value a delivery would earn now (so late work earns less; taken back if the work is lost).
``infos[agent]["reward_components"]`` has every term.

## Ground segment
A satellite talks to the ground through its best visible station (highest elevation) when it holds one
of that station's antennas. ``ground.antennas_per_station`` = A > 0 limits a station to A satellites
per step, allocated at the start of each step by priority: keep the antenna of an ongoing exchange
(held last step, still the best station, something to transfer), then satellites with something to do
(a result aboard, an uplink in flight, or a free slot while jobs wait), then the rest, ties to the lower
index. ``own.link`` shows whether the satellite holds one (``own.contact`` is the geometry alone);
without an antenna there is no uplink, downlink or admission. A = 0: every contact is usable (v0).

Admission. ``ground.admission = "auto"`` (v0): each step, the waiting jobs in earliest-deadline order go
to the satellites with a link, a free slot and no uplink in progress, in index order. ``"agent"``: the
ground queue is one queue, ordered by deadline (ties by arrival); every station offers its first
``queue_window`` = G jobs, shown in ``window[g]``. ``admit(g)`` is legal with a link, outside safe mode,
with a free slot and free storage for the job's dataset and checkpoint; the job's dataset then uplinks
at ``uplink_gbps`` (shared with other uplinks of that satellite) and it holds the slot from now. Several
satellites admitting one entry in one step: the lowest index gets it, the others' admits do nothing
(counted in ``admit_refused``, like an entry that expired at the step's start).

Storage. With ``hardware.storage_gb`` a job aboard occupies its dataset + checkpoint while it has work
left and its result once finished; a job moving over an ISL occupies both ends. Admission, automatic
uplink and ISL receive need the bytes free (``own.storage_free``); they are never exceeded.

## Starting State
A start time drawn uniformly in the ephemeris window. Cold start (``episode.warmup_h = 0``, v0):
batteries at ``initial_soc``, radiators at ``initial_temp_c``, empty queues. Warm start
(``warmup_h`` = W > 0): the same cold state W hours before step 0, then W hours of a built-in rule
(``orbit_env.sim.builtin_actions``: earliest deadline first, top power in sunlight, lowest in eclipse,
admit the first fitting entry), with the jobs of those hours arriving as in the episode. Step 0 then
holds a ground backlog, queues, partial progress, batteries and temperatures of a running constellation,
all drawn from the seed (the same seed gives the same warm state). Episode totals start at zero at step
0; the job census still counts the jobs of the warm-up (``jobs_done`` includes their deliveries).

## Episode End
Truncation after ``max_cycles`` steps (default one day at dt = 60 s). No termination.

## Measurement protocol
Suite v2 scores ``metrics()["window_value"]``: the value delivered in the steps that begin inside
[``measure_start_h``, ``measure_end_h``) after step 0 (default and 0 for the end: the whole episode,
where it equals ``delivered_value``; a window past the episode is clipped to it). Together with the warm
start it counts steady-state scheduling, not the start from empty or the work in flight at the cut.

## Version history
- ``orbit_compute_v1``: agent admission (``admit(g)`` and the ``window`` block), antennas per station,
  on-board storage (K from storage; ``link`` and ``storage_free`` own fields), warm start, measurement
  window (``window_value``), metric ``admit_refused``. Scenarios that use none of these keep v0's spaces
  and observation layout (v0 policy files still load on them). Dynamics changed for every scenario: a
  laser terminal is one resource (its power once while it carries traffic, its full rate per terminal,
  shared by the transfers on it), and the thermal step is solved to its tolerance (v0 stopped after 4
  Newton iterations, up to a few K too hot in extreme cases). Actions are validated before the step
  changes anything: a bool, float, string, unknown or missing agent is a ValueError.
- ``orbit_compute_v0``: suite v1.

## Arguments
``scenario`` (shipped name, TOML path or Scenario), ``max_cycles`` (an error together with an
``episode.max_cycles`` override: the length is given once), ``render_mode`` (ansi, rgb_array,
human), ``overrides`` (dotted keys), ``tle_file``, ``cache_dir`` (ephemeris cache).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from orbit_env import render as rendering
from orbit_env.ephemeris import load_ephemeris
from orbit_env.observe import Layout, observe
from orbit_env.scenario import Scenario, load_scenario
from orbit_env.sim import SimState, StepInfo, job_census, make_params, reset_state, step

DEFAULT_SCENARIO = "three-body-12"


class OrbitComputeEnv(ParallelEnv):
    """The parallel (simultaneous-move) environment. See the module docstring for the full manual."""

    metadata = {"name": "orbit_compute_v1", "render_modes": ["ansi", "rgb_array", "human"], "is_parallelizable": True, "render_fps": 4}

    def __init__(
        self,
        scenario: str | Scenario = DEFAULT_SCENARIO,
        max_cycles: int | None = None,
        render_mode: str | None = None,
        overrides: dict[str, Any] | None = None,
        tle_file: str | None = None,
        cache_dir: str | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not supported; choose one of {self.metadata['render_modes']}")
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
        self.max_cycles = self.scenario.episode.max_cycles
        self.render_mode = render_mode
        self.possible_agents = [f"sat_{i}" for i in range(self.params.n_sats)]
        self.agents: list[str] = []
        D, A = self.layout.size, self.params.n_actions
        self._obs_spaces = {
            a: spaces.Dict(
                {"observation": spaces.Box(-1.0, 1.0, (D,), np.float32), "action_mask": spaces.Box(0, 1, (A,), np.int8)}
            )
            for a in self.possible_agents
        }
        self._act_spaces = {a: spaces.Discrete(A) for a in self.possible_agents}
        self.state_space = spaces.Box(-1.0, 1.0, (self.params.n_sats * D,), np.float32)
        self._rng = np.random.default_rng()
        self.sim: SimState | None = None
        self.last_step: StepInfo | None = None
        self._obs = np.zeros((self.params.n_sats, D), np.float32)
        self._mask = np.zeros((self.params.n_sats, A), np.int8)

    def observation_space(self, agent: str) -> spaces.Dict:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_spaces[agent]

    # ----------------------------------------------------------------- array core shared by both faces

    def reset_arrays(self, seed: int | None = None) -> None:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.sim = reset_state(self.params, self.ephemeris, self._rng)
        self._obs, self._mask = observe(self.params, self.sim, self.ephemeris)

    def step_arrays(self, actions: np.ndarray) -> tuple[np.ndarray, StepInfo]:
        """Advance with an (N,) int array of actions; return (N,) rewards and the step's details.

        The actions are checked before anything changes: a rejected step leaves the state and the
        random stream as they were.
        """
        if self.sim is None or self.sim.t >= self.max_cycles:
            raise RuntimeError("the episode is over or was never started: call reset() first")
        actions = check_action_array(actions, self.possible_agents, self.params.n_actions)
        info = step(self.params, self.sim, self.ephemeris, actions, self._rng, mask=self._mask)
        self.last_step = info
        self._obs, self._mask = observe(self.params, self.sim, self.ephemeris)
        return self.reward(info), info

    def reward(self, info: StepInfo) -> np.ndarray:
        ep = self.scenario.episode
        per_sat = (
            info.delivered_value
            - ep.safe_mode_penalty * info.safe_entered
            - ep.thermal_shutdown_penalty * info.thermal_shutdown
            + (info.shaping if ep.dense_shaping else 0.0)
        )
        if ep.reward == "team":
            return np.full(self.params.n_sats, per_sat.sum())
        return per_sat

    @property
    def truncated(self) -> bool:
        return self.sim is not None and self.sim.t >= self.max_cycles

    def metrics(self) -> dict[str, float]:
        """Episode totals so far (delivered value, energy, safe-mode entries, ...) and the job census."""
        return {**self.sim.totals, **{f"jobs_{k}": v for k, v in job_census(self.sim).items()}}

    # ----------------------------------------------------------------------------- PettingZoo face

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.reset_arrays(seed)
        self.agents = self.possible_agents[:]
        return self._obs_dicts(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError("step() called on a finished episode: call reset() first")
        act = self._action_array(actions)
        rewards, info = self.step_arrays(act)
        ep = self.scenario.episode
        trunc = self.truncated
        obs = self._obs_dicts()
        if ep.reward == "team":
            comp = {
                "delivered": float(info.delivered_value.sum()),
                "safe_mode": -ep.safe_mode_penalty * float(info.safe_entered.sum()),
                "thermal": -ep.thermal_shutdown_penalty * float(info.thermal_shutdown.sum()),
                "shaping": float(info.shaping.sum()) if ep.dense_shaping else 0.0,
            }
            comps = [comp] * len(self.agents)
        else:
            comps = [
                {"delivered": float(d), "safe_mode": -ep.safe_mode_penalty * float(s), "thermal": -ep.thermal_shutdown_penalty * float(t), "shaping": float(h) if ep.dense_shaping else 0.0}
                for d, s, t, h in zip(info.delivered_value, info.safe_entered, info.thermal_shutdown, info.shaping)
            ]
        invalid = info.invalid.tolist()
        infos = {a: {"reward_components": c, "invalid_action": v} for a, c, v in zip(self.agents, comps, invalid)}
        if trunc:
            episode = self.metrics()
            for a in self.agents:
                infos[a]["episode"] = episode
        rew = dict(zip(self.agents, rewards.tolist()))
        terms = dict.fromkeys(self.agents, False)
        truncs = dict.fromkeys(self.agents, trunc)
        if trunc:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rew, terms, truncs, infos

    def _action_array(self, actions: Mapping[str, Any]) -> np.ndarray:
        """The actions of a PettingZoo step as an (N,) array: one integer per live agent and nothing else."""
        if not isinstance(actions, Mapping):
            raise ValueError(f"step() expects a dict {{agent: action}}, got {type(actions).__name__}: {_short(actions)}")
        if len(actions) != len(self.agents) or not all(a in actions for a in self.agents):
            missing = [a for a in self.agents if a not in actions]
            if missing:
                raise ValueError(f"no action for agent {missing[0]!r} ({len(missing)} missing): step() needs one action per live agent")
            live = set(self.agents)
            extra = sorted(map(str, (a for a in actions if a not in live)))
            raise ValueError(f"actions for unknown agents {', '.join(map(repr, extra[:5]))}: the live agents are sat_0 to sat_{len(self.agents) - 1}")
        values = [actions[a] for a in self.agents]
        return check_action_values(values, self.agents, self.params.n_actions)

    def _obs_dicts(self) -> dict[str, dict[str, np.ndarray]]:
        # iterating the arrays yields the per-agent row views at C speed
        return {a: {"observation": o, "action_mask": m} for a, o, m in zip(self.possible_agents, list(self._obs), list(self._mask))}

    def state(self) -> np.ndarray:
        """Global state for centralised critics: every agent's observation, concatenated."""
        return self._obs.reshape(-1)

    def render(self):
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'rgb_array'")
            return None
        if self.sim is None:
            raise RuntimeError("render() before reset()")
        if self.render_mode == "rgb_array":
            return rendering.render_rgb(self.params, self.sim, self.ephemeris)
        text = rendering.render_ansi(self.params, self.sim, self.ephemeris)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self):
        rendering.close()


class OrbitComputeGymEnv(gymnasium.Env):
    """Single-agent Gymnasium face.

    With one satellite (starcloud-1) the spaces are those of the one agent. With a constellation it is
    centralised control: the observation stacks all satellites, (N, D) and (N, A), and the action is
    ``MultiDiscrete([A] * N)``. The reward is the team reward. ``action_masks()`` serves MaskablePPO.
    """

    metadata = {"render_modes": ["ansi", "rgb_array", "human"], "render_fps": 4}

    def __init__(self, scenario: str | Scenario = "starcloud-1", **kwargs):
        self.par = OrbitComputeEnv(scenario, **kwargs)
        self.render_mode = self.par.render_mode
        N, D, A = self.par.params.n_sats, self.par.layout.size, self.par.params.n_actions
        self.single = N == 1
        shape_o, shape_m = ((D,), (A,)) if self.single else ((N, D), (N, A))
        self.observation_space = spaces.Dict(
            {"observation": spaces.Box(-1.0, 1.0, shape_o, np.float32), "action_mask": spaces.Box(0, 1, shape_m, np.int8)}
        )
        self.action_space = spaces.Discrete(A) if self.single else spaces.MultiDiscrete([A] * N)

    def _obs(self) -> dict[str, np.ndarray]:
        o, m = self.par._obs, self.par._mask
        return {"observation": o[0], "action_mask": m[0]} if self.single else {"observation": o, "action_mask": m}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.par.reset_arrays(int(self.np_random.integers(2**63)) if seed is not None or self.par.sim is None else None)
        return self._obs(), {}

    def step(self, action):
        A, agents = self.par.params.n_actions, self.par.possible_agents
        if self.single:
            act = check_action_values([action], agents, A)
        elif isinstance(action, np.ndarray):
            act = action  # step_arrays checks dtype, shape and range
        else:
            try:
                act = check_action_values(list(action), agents, A)
            except TypeError:
                raise ValueError(f"action {_short(action)} is not a sequence of {len(agents)} integers: expected {self.action_space}") from None
        rewards, info = self.par.step_arrays(np.asarray(act))
        reward = float(rewards[0]) if self.par.scenario.episode.reward == "team" else float(rewards.sum())
        trunc = self.par.truncated
        infos = {"invalid_actions": int(info.invalid.sum())}
        if trunc:
            infos["episode_metrics"] = self.par.metrics()
        return self._obs(), reward, False, trunc, infos

    def action_masks(self) -> np.ndarray:
        return self.par._mask.reshape(-1).astype(bool)

    def render(self):
        return self.par.render()

    def close(self):
        self.par.close()


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
