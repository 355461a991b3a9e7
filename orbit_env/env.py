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
Truncation after ``max_cycles`` steps (default one day at dt = 60 s). No termination. The last step's
``infos[agent]["episode_metrics"]`` holds ``metrics()`` (the key ``"episode"`` is left to SB3 and SuperSuit).

## Measurement protocol
Suite v2 scores ``metrics()["window_value"]``: the value delivered in the steps that begin inside
[``measure_start_h``, ``measure_end_h``) after step 0 (default and 0 for the end: the whole episode,
where it equals ``delivered_value``; a window past the episode is clipped to it). Together with the warm
start it counts steady-state scheduling, not the start from empty or the work in flight at the cut.

## Rendering
``ansi``: one line per satellite. ``rgb_array``: a map (night side, SAA, stations with their elevation-mask
footprints and antennas in use, laser links coloured by the transfers they carry) over every satellite's
activity so far (``orbit_env.timeline``): frames for Gymnasium's RecordVideo. ``orbit-env run --video
episode.gif`` (or .mp4 with ``pip install -e ".[video]"``) and ``--timeline episode.png`` write them.

## Many episodes at once
``orbit_env.batch.BatchEnv(scenario, num_envs=B)`` steps B episodes of one scenario as one array program
(arrays (B, N, ...), Gymnasium 1.x autoreset); this env is a BatchEnv of one episode, and episode b of a
batch equals this env reset with the same seed, bit for bit. ``gymnasium.make_vec("orbit_env/OrbitCompute-v2",
num_envs=B, vectorization_mode="vector_entry_point", scenario=...)`` gives the Gymnasium vector env
(``orbit_env.vector``); ``train.vec_env`` has the SB3 VecEnv over agents x episodes.

## Version history
- ``orbit_compute_v2``: the simulator is batched (``BatchEnv``). Same spaces, layouts and physics as v1,
  but episodes differ seed for seed: upset draws are a counter-based function of an episode key drawn at
  reset (after the start time and the jobs), not a generator consumed every step; the warm start's steps
  are checked against the mask of each step's start, as agents' steps are; the thermal solver stops each
  satellite's Newton iteration on its own (results no longer depend on the other satellites). The end of
  an episode's metrics moved from ``infos[agent]["episode"]`` to ``infos[agent]["episode_metrics"]``, so
  SuperSuit -> SB3 works unchanged. v1 policy files load unchanged.
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
from orbit_env.batch import DEFAULT_SCENARIO, BatchEnv, _short, check_action_array, check_action_values
from orbit_env.scenario import Scenario
from orbit_env.sim import SimState, StepInfo
from orbit_env.timeline import Timeline


class OrbitComputeEnv(ParallelEnv):
    """The parallel (simultaneous-move) environment: a ``BatchEnv`` of one episode behind PettingZoo's
    dictionaries. See the module docstring for the full manual."""

    metadata = {"name": "orbit_compute_v2", "render_modes": ["ansi", "rgb_array", "human"], "is_parallelizable": True, "render_fps": 4}

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
        self.batch = BatchEnv(scenario, 1, max_cycles=max_cycles, overrides=overrides, tle_file=tle_file, cache_dir=cache_dir, autoreset_mode="disabled")
        self.scenario, self.ephemeris, self.params = self.batch.scenario, self.batch.ephemeris, self.batch.params
        self.layout, self.actions, self.max_cycles = self.batch.layout, self.batch.actions, self.batch.max_cycles
        self.render_mode = render_mode
        self.timeline: Timeline | None = None  # with rgb_array: every satellite's activity so far, drawn under the map
        self.possible_agents = list(self.batch.agents)
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

    def observation_space(self, agent: str) -> spaces.Dict:
        """``Dict(observation=Box(D), action_mask=Box(A, int8))``, the same for every agent."""
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        """``Discrete(A)``: the scenario's action layout (the env card's Actions section)."""
        return self._act_spaces[agent]

    @property
    def sim(self) -> SimState | None:
        return self.batch.sim

    @property
    def last_step(self) -> StepInfo | None:
        return self.batch.last_step

    @property
    def observations(self) -> np.ndarray:
        """(N, D) float32: every satellite's current observation."""
        return self.batch.observations[0]

    @property
    def action_masks(self) -> np.ndarray:
        """(N, A) int8: every satellite's current action mask."""
        return self.batch.action_masks[0]

    @property
    def truncated(self) -> bool:
        return self.sim is not None and bool(self.sim.t[0] >= self.max_cycles)

    def metrics(self) -> dict[str, float]:
        """Episode totals so far (delivered value, energy, safe-mode entries, ...) and the job census."""
        return {k: (float(v[0]) if k in self.sim.totals else int(v[0])) for k, v in self.batch.metrics().items()}

    # ----------------------------------------------------------------------------- PettingZoo face

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Start an episode (warm-started, a function of ``seed``); returns observations and empty infos."""
        self.batch.reset(seed)
        self.timeline = Timeline(self.params) if self.render_mode == "rgb_array" else None
        self.agents = self.possible_agents[:]
        return self._obs_dicts(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        """Advance one step with one integer action per live agent; returns PettingZoo's five dicts. The last
        step's infos carry ``episode_metrics``; a wrong action raises ValueError and changes nothing."""
        if not self.agents:
            raise RuntimeError("step() called on a finished episode: call reset() first")
        act = self._action_array(actions)
        _, _, rewards, _, truncated, info = self.batch.step(act[None])
        trunc = bool(truncated[0])
        if self.timeline is not None:
            self.timeline.record(self.sim, self.last_step)
        comps = [dict(zip(info["reward_components"], map(float, c))) for c in zip(*(v[0] for v in info["reward_components"].values()))]
        infos = {a: {"reward_components": c, "invalid_action": bool(v)} for a, c, v in zip(self.agents, comps, info["invalid_action"][0])}
        if trunc:  # not "episode": SB3's Monitor and SuperSuit own that key ({"r", "l", "t"})
            episode = self.metrics()
            for a in self.agents:
                infos[a]["episode_metrics"] = episode
        obs = self._obs_dicts()
        rew = dict(zip(self.agents, rewards[0].tolist()))
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
        return {a: {"observation": o, "action_mask": m} for a, o, m in zip(self.possible_agents, list(self.observations), list(self.action_masks))}

    def state(self) -> np.ndarray:
        """Global state for centralised critics: every agent's observation, concatenated."""
        return self.observations.reshape(-1)

    def render(self):
        """The current state as text (``ansi``, printed by ``human``) or an RGB frame (``rgb_array``)."""
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'rgb_array'")
            return None
        if self.sim is None:
            raise RuntimeError("render() before reset()")
        if self.render_mode == "rgb_array":
            return rendering.render_rgb(self.params, self.sim, self.ephemeris, self.timeline)
        text = rendering.render_ansi(self.params, self.sim, self.ephemeris)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self):
        """Close the renderer's figure, if one is open."""
        rendering.close()


class OrbitComputeGymEnv(gymnasium.Env):
    """Single-agent Gymnasium face.

    With one satellite (starcloud-1) the spaces are those of the one agent. With a constellation it is
    centralised control: the observation stacks all satellites, (N, D) and (N, A), and the action is
    ``MultiDiscrete([A] * N)``. The reward is the team reward. ``action_masks()`` serves MaskablePPO, and
    ``info["action_mask"]`` carries the mask as Gymnasium's own masked envs do.
    """

    metadata = {"render_modes": ["ansi", "rgb_array", "human"], "render_fps": 4}

    def __init__(self, scenario: str | Scenario = "starcloud-1", **kwargs):
        self.par = OrbitComputeEnv(scenario, **kwargs)
        self.render_mode = self.par.render_mode
        self.single = self.par.params.n_sats == 1
        self.observation_space, self.action_space = centralised_spaces(self.par.params.n_sats, self.par.layout.size, self.par.params.n_actions)

    def _obs(self) -> dict[str, np.ndarray]:
        o, m = self.par.observations, self.par.action_masks
        return {"observation": o[0], "action_mask": m[0]} if self.single else {"observation": o, "action_mask": m}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode; returns the observation and ``{"action_mask": ...}``."""
        super().reset(seed=seed)
        self.par.batch.reset(int(self.np_random.integers(2**63)) if seed is not None or self.par.sim is None else None)
        obs = self._obs()
        return obs, {"action_mask": obs["action_mask"]}

    def step(self, action):
        """Advance one step with one action (a sequence of N with a constellation); returns Gymnasium's five
        values, the reward being the team's. A wrong action raises ValueError naming it."""
        A, agents = self.par.params.n_actions, self.par.possible_agents
        if self.single:
            act = check_action_values([action], agents, A)
        elif isinstance(action, np.ndarray):
            act = check_action_array(action, agents, A)
        else:
            try:
                act = check_action_values(list(action), agents, A)
            except TypeError:
                raise ValueError(f"action {_short(action)} is not a sequence of {len(agents)} integers: expected {self.action_space}") from None
        _, _, rewards, _, truncated, info = self.par.batch.step(act[None])
        reward = float(rewards[0, 0]) if self.par.scenario.episode.reward == "team" else float(rewards[0].sum())
        trunc = bool(truncated[0])
        obs = self._obs()
        infos = {"invalid_actions": int(info["invalid_action"].sum()), "action_mask": obs["action_mask"]}
        if trunc:
            infos["episode_metrics"] = self.par.metrics()
        return obs, reward, False, trunc, infos

    def action_masks(self) -> np.ndarray:
        """(N x A,) bool: the flattened mask, as sb3-contrib's MaskablePPO asks for it."""
        return self.par.action_masks.reshape(-1).astype(bool)

    def render(self):
        """As the PettingZoo face's ``render``."""
        return self.par.render()

    def close(self):
        """As the PettingZoo face's ``close``."""
        self.par.close()


def centralised_spaces(n_sats: int, obs_size: int, n_actions: int) -> tuple[spaces.Dict, spaces.Space]:
    """The Gymnasium face's observation and action spaces (also one sub-env of the vector env): the one
    satellite's own with a single satellite, else the constellation's stacked, ``MultiDiscrete([A] * N)``."""
    N, D, A = n_sats, obs_size, n_actions
    shape_o, shape_m = ((D,), (A,)) if N == 1 else ((N, D), (N, A))
    observation = spaces.Dict({"observation": spaces.Box(-1.0, 1.0, shape_o, np.float32), "action_mask": spaces.Box(0, 1, shape_m, np.int8)})
    return observation, spaces.Discrete(A) if N == 1 else spaces.MultiDiscrete([A] * N)
