"""Observations: a public layout with named fields, built for all satellites in one array program.

Each agent sees a float32 vector in [-1, 1]: its own state, K queue slots, M neighbour slots
(one per laser terminal) and, with agent admission, G entries of the ground queue's window. Scenarios
that use a suite-v2 ground or storage feature add two own fields (GROUND_FIELDS); v1 scenarios keep
the v1 layout element for element. Heuristics read fields by name through ``Layout``, so they see exactly
what a learned policy sees. The global ``state()`` for centralised critics is all agents' vectors.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from orbit_env.ephemeris import Ephemeris
from orbit_env.sim import Params, Place, SimState, Sky, action_mask, admission_window, free_bytes, ground_link, live_in
from orbit_env.physics import thermal

OWN_FIELDS = (
    "soc",  # battery state of charge, 0..1
    "temp",  # radiator node temperature, (C - 40) / 60
    "gpu_margin",  # (throttle C - GPU temperature at the top power cap now) / 50: <0 means running flat out throttles
    "sunlit",  # 1 in sunlight
    "t_light_change",  # time until sunlit flips, / 6000 s (about one orbit)
    "in_saa",  # 1 inside the South Atlantic Anomaly
    "t_saa_change",  # time until in_saa flips, / 6000 s
    "contact",  # 1 while a ground station sees the satellite
    "t_contact_next",  # time until the next contact, log1p(minutes) / log1p(1440)
    "t_contact_left",  # contact time left, / 900 s
    "safe_mode",  # 1 in safe mode (accelerators off)
    "gpu_loaded",  # 1 if a job is loaded on the accelerators
    "gpu_recovering",  # upset recovery left, fraction of the recovery time
    "thermal_off",  # 1 while in thermal shutdown
    "power_level",  # last power level, 0..1
    "queue_fill",  # occupied slots / K
    "lat",  # sub-satellite latitude / 90
    "lon_sin",  # sin(longitude)
    "lon_cos",  # cos(longitude)
    "ground_backlog",  # jobs waiting on the ground, log1p(n) / log1p(100)
    "episode_progress",  # t / max_cycles
)
SLOT_FIELDS = (
    "present",  # 1 if the slot holds a job
    "runnable",  # 1 if it is on board with work left (can be run)
    "result",  # 1 if finished and waiting for a ground contact
    "in_flight",  # 1 while being uplinked or moved over an ISL
    "active",  # 1 if loaded on the accelerators
    "remaining",  # hours of work left at full speed here, log1p(h) / log1p(100)
    "at_risk",  # hours of work since the last checkpoint, log1p(h) / log1p(10)
    "deadline",  # hours to the deadline / 24 (negative when late)
    "value",  # value in reference GPU-hours, log1p / log1p(100)
    "gpus",  # GPUs the job asked for, log2 / 8
    "checkpoint",  # checkpoint size, log1p(GB) / log1p(100)
    "downlink",  # minutes to downlink its result at the ground rate, log1p / log1p(60)
)
GROUND_FIELDS = (  # own fields, present when the scenario has agent admission, antennas or storage
    "link",  # 1 if the satellite holds a ground antenna this step: uplink, downlink and admission work
    "storage_free",  # free on-board storage / storage (1 without a limit)
)
WINDOW_FIELDS = (  # entry g of the ground queue's window (earliest deadline first), the job admit(g) takes
    "present",  # 1 if the entry holds a job
    "model",  # (index in the scenario's model list + 1) / number of models
    "work",  # hours of work at full speed here, log1p(h) / log1p(100)
    "gpus",  # GPUs the job asked for, log2 / 8
    "deadline",  # hours to the deadline / 24 (negative when late)
    "value",  # value in reference GPU-hours, log1p / log1p(100)
    "dataset",  # minutes to uplink its dataset at the ground rate, log1p / log1p(60)
    "storage",  # bytes it needs aboard (dataset + checkpoint) / storage (0 without a limit)
)
NEIGH_FIELDS = (
    "present",  # 1 if the terminal has a partner
    "link_up",  # 1 if the link carries data now (acquired, in range, line of sight)
    "range",  # distance / ISL range
    "soc",  # partner's state of charge
    "temp",  # partner's node temperature, (C - 40) / 60
    "free_slots",  # partner's free slots / K
    "work",  # partner's runnable work on board (queued and loaded), hours at full speed, log1p(h) / log1p(100)
    "results",  # partner's finished results waiting for a ground contact / K
    "contact",  # 1 if the partner has a ground contact now
    "t_contact_next",  # partner's time to next contact, as own
    "sunlit",  # 1 if the partner is in sunlight
    "safe_mode",  # 1 if the partner is in safe mode
)


@dataclass(frozen=True)
class Layout:
    """Where each named field sits in an observation vector. ``own.soc``, ``slot[2].deadline``, ``neigh[0].soc``,
    ``window[0].deadline``. ``ground``: whether the own block ends with GROUND_FIELDS."""

    K: int
    M: int
    G: int = 0
    ground: bool = False

    @classmethod
    def for_params(cls, params: Params) -> Layout:
        return cls(params.K, params.M, params.G, params.ground_fields)

    @functools.cached_property
    def own_names(self) -> tuple[str, ...]:
        return OWN_FIELDS + (GROUND_FIELDS if self.ground else ())

    @functools.cached_property
    def size(self) -> int:
        return self.window.stop

    @functools.cached_property
    def own(self) -> slice:
        return slice(0, len(self.own_names))

    @functools.cached_property
    def slots(self) -> slice:
        start = self.own.stop
        return slice(start, start + self.K * len(SLOT_FIELDS))

    @functools.cached_property
    def neighbours(self) -> slice:
        return slice(self.slots.stop, self.slots.stop + self.M * len(NEIGH_FIELDS))

    @functools.cached_property
    def window(self) -> slice:
        return slice(self.neighbours.stop, self.neighbours.stop + self.G * len(WINDOW_FIELDS))

    def own_field(self, obs: np.ndarray, name: str) -> np.ndarray:
        """(...,) value of an own-state field."""
        return obs[..., self.own_names.index(name)]

    def slot_field(self, obs: np.ndarray, name: str) -> np.ndarray:
        """(..., K) value of a slot field for every slot."""
        return obs[..., self.slots].reshape(*obs.shape[:-1], self.K, len(SLOT_FIELDS))[..., SLOT_FIELDS.index(name)]

    def neigh_field(self, obs: np.ndarray, name: str) -> np.ndarray:
        """(..., M) value of a neighbour field for every terminal."""
        return obs[..., self.neighbours].reshape(*obs.shape[:-1], self.M, len(NEIGH_FIELDS))[..., NEIGH_FIELDS.index(name)]

    def window_field(self, obs: np.ndarray, name: str) -> np.ndarray:
        """(..., G) value of a window field for every entry of the ground queue's window."""
        return obs[..., self.window].reshape(*obs.shape[:-1], self.G, len(WINDOW_FIELDS))[..., WINDOW_FIELDS.index(name)]

    def names(self) -> list[str]:
        """Every element's name, in order: for documentation and exported policy specs."""
        return (
            [f"own.{f}" for f in self.own_names]
            + [f"slot[{k}].{f}" for k in range(self.K) for f in SLOT_FIELDS]
            + [f"neigh[{m}].{f}" for m in range(self.M) for f in NEIGH_FIELDS]
            + [f"window[{g}].{f}" for g in range(self.G) for f in WINDOW_FIELDS]
        )


def _logn(x, ref: float):
    return np.log1p(np.maximum(x, 0.0)) / np.log1p(ref)


def _t_contact(t_s):
    return _logn(t_s / 60.0, 1440.0)


def _fill(block: np.ndarray, columns: list) -> None:
    """Write feature arrays into consecutive rows of ``block`` (a view of the transposed observation buffer)."""
    for i, col in enumerate(columns):
        block[i] = col


def observe(params: Params, state: SimState, eph: Ephemeris) -> tuple[np.ndarray, np.ndarray]:
    """(B * N, D) float32 observations in [-1, 1] and the (B * N, A) int8 action mask, for every satellite
    of every episode at once (rows as in ``SimState``).

    Fields are written as rows of a (D, B * N) buffer, so that every write is contiguous, and the buffer is
    returned transposed (a view: observations are D-major in memory, not C-contiguous; a policy that needs
    C order copies them). Slot and neighbour fields are computed as (K, B * N) and (M, B * N) arrays."""
    sc, hw, acc = params.scenario, params.scenario.hardware, params.scenario.hardware.accel
    K, M = params.K, params.M
    layout = Layout.for_params(params)
    sky = Sky(eph, state)
    jobs, ep = state.jobs, state.episode
    BN = len(ep)
    now = (state.t * params.dt)[ep]
    buf = np.empty((layout.size, BN), np.float32)
    soc = state.energy_wh / hw.battery_wh
    temp = (state.temp_k - thermal.KELVIN - 40.0) / 60.0
    j = np.ascontiguousarray(state.slots.T)  # (K, B * N); -1 gathers a job that never arrives
    occupied = j >= 0
    fill = occupied.sum(axis=0) / K
    lon = np.radians(sky["lon_deg"])
    contact, sunlit, t_next = sky["contact"], sky["sunlit"], sky["t_contact_next"]
    storage = np.isfinite(params.storage_b)
    ground = [ground_link(params, state, eph, sky), free_bytes(params, state) / params.storage_b if storage else 1.0] if layout.ground else []
    backlog = np.bincount(live_in(state, Place.GROUND) // state.J, minlength=state.B)
    _fill(
        buf[layout.own],
        [
            soc,
            temp,
            (acc.throttle_c - thermal.gpu_temp_c(state.temp_k, params.caps_w[-1], hw.gpu_k_per_w)) / 50.0,
            sunlit,
            sky["t_light_change"] / 6000.0,
            sky["in_saa"],
            sky["t_saa_change"] / 6000.0,
            contact,
            _t_contact(t_next),
            sky["t_contact_left"] / 900.0,
            state.safe,
            state.active >= 0,
            state.recover_s / max(sc.radiation.recovery_s, 1.0),
            state.thermal_off,
            state.level / max(params.P - 1, 1),
            fill,
            sky["lat_deg"] / 90.0,
            np.sin(lon),
            np.cos(lon),
            _logn(backlog, 100.0)[ep],
            (state.t / sc.episode.max_cycles)[ep],
            *ground,
        ],
    )

    place = state.place[j]
    model = jobs.model[j]
    ckpt_feature = _logn(params.model_ckpt / 1e9, 100.0)  # per model: gathered, not recomputed per slot
    downlink_feature = _logn(params.model_result * 8 / (sc.ground.downlink_gbps * 1e9) / 60.0, 60.0)
    thr_h = params.model_thr[model] * 3600.0
    remaining_h = (jobs.work[j] - state.done_work[j]) / thr_h
    is_result = place == Place.RESULT
    slot = buf[layout.slots].reshape(K, len(SLOT_FIELDS), BN)
    _fill(
        slot.transpose(1, 0, 2),
        [
            occupied,
            place == Place.ONBOARD,
            is_result,
            (place == Place.UPLINK) | (place == Place.SENDING),
            j == state.active,
            _logn(remaining_h, 100.0),
            _logn((state.done_work[j] - state.ckpt_work[j]) / thr_h, 10.0),
            (jobs.deadline_s[j] - now) / (24 * 3600.0),
            _logn(jobs.value[j], 100.0),
            np.log2(jobs.gpus[j]) / 8.0,
            ckpt_feature[model],
            downlink_feature[model],
        ],
    )
    slot *= occupied[:, None, :]

    if M:
        work_h = np.where(place == Place.ONBOARD, remaining_h, 0.0).sum(axis=0)  # jobs in flight count on neither end
        results = is_result.sum(axis=0) / K
        nb = np.maximum(state.neighbours.T, 0)  # (M, B * N)
        has = state.neighbours.T >= 0
        neigh = buf[layout.neighbours].reshape(M, len(NEIGH_FIELDS), BN)
        _fill(
            neigh.transpose(1, 0, 2),
            [
                has,
                sky.isl_up.T,
                sky.isl_range_km.T / sc.links.isl_range_km,
                soc[nb],
                temp[nb],
                1.0 - fill[nb],
                _logn(work_h[nb], 100.0),
                results[nb],
                contact[nb],
                _t_contact(t_next[nb]),
                sunlit[nb],
                state.safe[nb],
            ],
        )
        neigh *= has[:, None, :]
    if params.G:
        w = admission_window(params, state).T  # (G, B): the same window for every satellite of an episode
        wm = jobs.model[w]
        present = w >= 0
        entry = np.stack([
            present,
            (wm + 1) / len(params.model_thr),
            _logn(jobs.work[w] / (params.model_thr[wm] * 3600.0), 100.0),
            np.log2(jobs.gpus[w]) / 8.0,
            (jobs.deadline_s[w] - state.t * params.dt) / (24 * 3600.0),
            _logn(jobs.value[w], 100.0),
            _logn(params.model_data[wm] * 8 / (sc.ground.uplink_gbps * 1e9) / 60.0, 60.0),
            params.model_hold[wm] / params.storage_b,
        ], axis=1) * present[:, None, :]  # fmt: skip
        buf[layout.window] = entry.reshape(-1, state.B)[:, ep]
    np.clip(buf, -1.0, 1.0, out=buf)
    return buf.T, action_mask(params, state, eph, sky)
