"""The simulator core: a struct of arrays (one row per satellite, one per job, for B episodes) and its step.

Data flows one way: scenario -> ephemeris -> ``step`` -> observe -> env. The cost of a step is a fixed
number of numpy operations whatever the number of episodes, satellites and jobs: no Python loop over
any of them. B episodes of one scenario are one array program (``SimState``): a single env is B = 1 of
the same code, and what a step touches of the job table is its live jobs (``SimState.live``), not every
job an episode will see. The step is a sequence of named phases (``step``), each a function of the state.

A job lives in exactly one place (``Place``). On a satellite it occupies one of K queue slots; while it
moves between satellites over an ISL it holds a slot on both ends, and is counted as in flight.
The accelerators of a satellite hold at most one job (the *active* job). Switching jobs checkpoints the
outgoing one, so only the active job has work at risk (progress since its last checkpoint); an upset,
a thermal shutdown or safe mode crashes it back to that checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from orbit_env.actions import Act, ActionLayout
from orbit_env.ephemeris import SKY_FIELDS, Ephemeris, warmup_steps
from orbit_env.physics import links, power, radiation, thermal
from orbit_env.scenario import Scenario
from orbit_env.workload.catalog import MODELS, job_rate
from orbit_env.workload.generator import JobBatch, generate_jobs


class Place:
    """Where a job is (plain ints, not an IntEnum: numpy compares an IntEnum ~7x slower).

    FUTURE jobs are not yet submitted and are not counted anywhere."""

    FUTURE = 0
    GROUND = 1  # submitted, waiting on the ground
    UPLINK = 2  # dataset being uplinked to a satellite (in flight)
    ONBOARD = 3  # on a satellite, work left (queued, or running if it is the active job)
    SENDING = 4  # moving to a neighbour over an ISL (in flight)
    RESULT = 5  # finished on board, result waiting for a ground contact
    DONE = 6  # result delivered to the ground
    DROPPED = 7  # expired on the ground
    NAMES = ("FUTURE", "GROUND", "UPLINK", "ONBOARD", "SENDING", "RESULT", "DONE", "DROPPED")


@dataclass(frozen=True)
class Params:
    """Everything constant over a scenario, as arrays and floats the step function uses."""

    scenario: Scenario
    n_sats: int
    K: int  # queue slots per satellite
    M: int  # ISL terminals (neighbour slots)
    P: int  # power levels
    dt: float
    caps_w: np.ndarray  # (P,) power cap per accelerator
    n_accel: int
    rate_per_level: np.ndarray  # (n_models, P) units/s on this satellite (all accelerators) at each power cap
    model_thr: np.ndarray  # (n_models,) units/s on this satellite at full power
    model_ckpt: np.ndarray  # (n_models,) checkpoint bytes
    model_data: np.ndarray  # (n_models,) dataset bytes
    model_result: np.ndarray  # (n_models,) result bytes
    actions: ActionLayout
    G: int = 0  # admission-window entries (0: automatic uplink)
    antennas: int = 0  # satellites a station serves at once (0 = unlimited)
    storage_b: float = np.inf  # on-board bytes per satellite
    warm_steps: int = 0  # steps of built-in operation before step 0
    measure: tuple[int, int] = (0, 0)  # steps [start, end) whose deliveries count in window_value

    @property
    def model_hold(self) -> np.ndarray:
        """(n_models,) bytes a job with work left occupies on board: its dataset and its checkpoint."""
        return self.model_data + self.model_ckpt

    @property
    def ground_fields(self) -> bool:
        """Whether the observation carries the v2 ground fields (link, free storage): any v2 ground/storage feature on."""
        return self.G > 0 or self.antennas > 0 or np.isfinite(self.storage_b)

    @property
    def n_actions(self) -> int:
        return self.actions.n

    @property
    def sat_speed(self) -> float:
        """A satellite's compute in reference H100s."""
        return self.n_accel * self.scenario.hardware.accel.relative_speed


K_MAX = 16  # queue slots when storage sets K: the observation stays at most 16 x 12 slot fields


def queue_slots(scenario: Scenario) -> int:
    """K. Without a storage limit, ``episode.queue_slots``. With ``hardware.storage_gb``, the most jobs the
    storage can hold (all of the scenario's smallest footprint, dataset + checkpoint), at most K_MAX: slots
    then only bound what a satellite observes, and bytes are what fills up."""
    if not scenario.hardware.storage_gb:
        return scenario.episode.queue_slots
    hold = min(MODELS[m].dataset_bytes + MODELS[m].checkpoint_bytes for m in scenario.workload.models)
    return int(np.clip(scenario.hardware.storage_gb * 1e9 // hold, 1, K_MAX))


def measure_steps(ep) -> tuple[int, int]:
    """Steps [start, end) that begin inside [measure_start_h, measure_end_h), clipped to the episode."""
    end = ep.max_cycles if not ep.measure_end_h else min(math.ceil(ep.measure_end_h * 3600.0 / ep.dt_s), ep.max_cycles)
    return min(math.ceil(ep.measure_start_h * 3600.0 / ep.dt_s), end), end


def make_params(scenario: Scenario, n_sats: int) -> Params:
    hw, acc, g = scenario.hardware, scenario.hardware.accel, scenario.ground
    K, M, P = queue_slots(scenario), scenario.links.isl_terminals, len(hw.power_caps_w)
    G = g.queue_window if g.admission == "agent" else 0
    models = [MODELS[m] for m in scenario.workload.models]
    caps = np.asarray(hw.power_caps_w, dtype=float)
    return Params(
        scenario=scenario,
        n_sats=n_sats,
        K=K,
        M=M,
        P=P,
        dt=scenario.episode.dt_s,
        caps_w=caps,
        n_accel=hw.accelerators_per_sat,
        rate_per_level=np.array([job_rate(m, acc, caps, hw.accelerators_per_sat) for m in models]),
        model_thr=np.array([job_rate(m, acc, None, hw.accelerators_per_sat) for m in models]),
        model_ckpt=np.array([m.checkpoint_bytes for m in models]),
        model_data=np.array([m.dataset_bytes for m in models]),
        model_result=np.array([m.result_bytes for m in models]),
        actions=ActionLayout(K, P, M, G),
        G=G,
        antennas=g.antennas_per_station,
        storage_b=hw.storage_gb * 1e9 if hw.storage_gb else np.inf,
        warm_steps=warmup_steps(scenario),
        measure=measure_steps(scenario.episode),
    )


@dataclass
class SimState:
    """Mutable struct of arrays for B episodes of one scenario (B = 1 for a single env).

    Satellite rows are episode-major: row ``b * N + i`` is satellite i of episode b, so B episodes are one
    constellation of B x N satellites whose laser links never cross episodes. Job rows are padded
    per episode: job ``b * J + j`` is job j of episode b, and every episode's table ends in rows that never
    arrive, so the row at index -1 (the last) is a job that never arrives: gathers at -1 (no job) stay in
    bounds. Job and satellite references (``slots``, ``active``, ``sat``, ...) are global row indices.
    """

    # per episode (B,)
    t: np.ndarray  # steps taken this episode (negative during the warm start)
    e0: np.ndarray  # ephemeris index of step 0
    key: np.ndarray  # uint64 key of the episode's upset draws (``uniform``)
    n_arrived: np.ndarray  # jobs submitted so far
    arrived_by: np.ndarray  # (B, warm + max_cycles + 1) jobs submitted by the end of each step, from -warm
    # per satellite (B * N,)
    episode: np.ndarray  # the episode of each row
    local: np.ndarray  # the satellite's index in its constellation
    neighbours: np.ndarray  # (B * N, M) global row of each ISL partner, -1 if unused
    energy_wh: np.ndarray
    temp_k: np.ndarray
    safe: np.ndarray
    thermal_off: np.ndarray
    recover_s: np.ndarray  # seconds of upset recovery left
    active: np.ndarray  # active job per satellite, -1 none
    level: np.ndarray  # power level last used
    slots: np.ndarray  # (B * N, K) job index or -1
    antenna: np.ndarray  # station whose antenna the satellite held last step, -1 none
    # per job (B * J,)
    J: int  # job rows per episode
    jobs: JobBatch
    place: np.ndarray  # Place
    sat: np.ndarray  # satellite holding the job (source while SENDING), -1 on the ground
    slot: np.ndarray  # slot the job holds on ``sat``, -1 on the ground
    dest: np.ndarray  # destination satellite while SENDING, else -1
    dest_slot: np.ndarray  # slot reserved at the destination
    term: np.ndarray  # ISL terminal of the source used while SENDING
    finisher: np.ndarray  # satellite that completed the job's work, -1 until then (credited at delivery)
    done_work: np.ndarray  # work completed (model units)
    ckpt_work: np.ndarray  # work saved at the last checkpoint
    xfer_left: np.ndarray  # bytes left of the current uplink / ISL transfer / downlink
    delivered_s: np.ndarray  # delivery time (NaN until DONE)
    live: np.ndarray  # (L,) ascending: the jobs submitted and not yet DONE or DROPPED (what a step touches)
    totals: dict = field(default_factory=dict)  # (B,) episode accumulators for metrics, by name

    @property
    def B(self) -> int:
        return len(self.t)

    @property
    def N(self) -> int:
        return len(self.episode) // len(self.t)


_LIVE = np.array([p in (Place.GROUND, Place.UPLINK, Place.ONBOARD, Place.SENDING, Place.RESULT) for p in range(len(Place.NAMES))])
_NEVER = dict(submit_s=np.inf, model=0, gpus=1, work=1.0, deadline_s=0.0, value=0.0,  # finite: it is observed
              fail_at_fraction=np.nan, outcome=0, batch=-1)  # fmt: skip


def _pad_jobs(jobs: JobBatch, J: int) -> JobBatch:
    """``jobs`` followed by rows that never arrive, J rows in all."""
    n = J - len(jobs)
    return JobBatch(**{f.name: np.concatenate([getattr(jobs, f.name), np.full(n, _NEVER[f.name], getattr(jobs, f.name).dtype)])
                       for f in dataclasses.fields(JobBatch)})  # fmt: skip


def reset_state(params: Params, eph: Ephemeris, rngs: list[np.random.Generator], jobs: list[JobBatch] | None = None) -> SimState:
    """New episodes, one per random generator: a random start within the ephemeris window, the scenario's
    jobs (or ``jobs[b]``, with times from step 0) and an upset key, drawn from the episode's own generator
    in that order; then the warm start if the scenario has one (``warm_start``). Episode b depends on
    ``rngs[b]`` alone, so a batch equals its episodes run one by one."""
    sc, N, K, W, T = params.scenario, params.n_sats, params.K, params.warm_steps, params.scenario.episode.max_cycles
    B = len(rngs)
    max_start = eph.n_steps - T - W
    e0, tables, keys = [], [], []
    for b, rng in enumerate(rngs):
        e0.append((int(rng.integers(0, max_start)) if max_start > 0 else 0) + W)
        tables.append(_warm_jobs(params, rng) if jobs is None else jobs[b])
        keys.append(rng.integers(0, 2**63, dtype=np.uint64))
    J = max(map(len, tables)) + 1  # at least one row per episode that never arrives
    padded = [_pad_jobs(jb, J) for jb in tables]
    table = JobBatch(**{f.name: np.concatenate([getattr(p, f.name) for p in padded]) for f in dataclasses.fields(JobBatch)})
    ends = (np.arange(-W, T + 1) + 1) * params.dt
    hw, BN, BJ = sc.hardware, B * N, B * J
    episode = np.repeat(np.arange(B), N)
    nb = np.tile(eph.neighbours, (B, 1))
    state = SimState(
        t=np.full(B, -W, np.int64),
        e0=np.array(e0, np.int64),
        key=np.array(keys, np.uint64),
        n_arrived=np.zeros(B, np.int64),
        arrived_by=np.stack([np.searchsorted(jb.submit_s, ends, side="left") for jb in tables]).astype(np.int64),
        episode=episode,
        local=np.tile(np.arange(N), B),
        neighbours=np.where(nb >= 0, nb + (episode * N)[:, None], -1),
        energy_wh=np.full(BN, hw.initial_soc * hw.battery_wh),
        temp_k=np.full(BN, hw.initial_temp_c + thermal.KELVIN),
        safe=np.zeros(BN, bool),
        thermal_off=np.zeros(BN, bool),
        recover_s=np.zeros(BN),
        active=np.full(BN, -1, np.int64),
        level=np.full(BN, params.P - 1, np.int64),
        slots=np.full((BN, K), -1, np.int64),
        antenna=np.full(BN, -1, np.int64),
        J=J,
        jobs=table,
        place=np.zeros(BJ, np.int8),
        sat=np.full(BJ, -1, np.int64),
        slot=np.full(BJ, -1, np.int64),
        dest=np.full(BJ, -1, np.int64),
        dest_slot=np.full(BJ, -1, np.int64),
        term=np.full(BJ, -1, np.int64),
        finisher=np.full(BJ, -1, np.int64),
        done_work=np.zeros(BJ),
        ckpt_work=np.zeros(BJ),
        xfer_left=np.zeros(BJ),
        delivered_s=np.full(BJ, np.nan),
        live=np.zeros(0, np.int64),
        totals=new_totals(B),
    )
    warm_start(params, state, eph)
    return state


def new_totals(B: int) -> dict[str, np.ndarray]:
    return {k: np.zeros(B) for k in TOTALS}


def _warm_jobs(params: Params, rng: np.random.Generator) -> JobBatch:
    """The scenario's jobs submitted from the warm start's beginning to the episode's end, with times from step 0.

    The daily load cycle keeps its peak ``diurnal_peak_h`` after step 0; a trace replays from the warm start."""
    sc, warm_s = params.scenario, params.warm_steps * params.dt
    wl = dataclasses.replace(sc.workload, diurnal_peak_h=(sc.workload.diurnal_peak_h + warm_s / 3600.0) % 24.0) if warm_s else sc.workload
    jobs = generate_jobs(wl, sc.episode.max_cycles * params.dt + warm_s, params.sat_speed, rng)
    return dataclasses.replace(jobs, submit_s=jobs.submit_s - warm_s, deadline_s=jobs.deadline_s - warm_s) if warm_s else jobs


def warm_start(params: Params, state: SimState, eph: Ephemeris) -> None:
    """Run the ``warm_steps`` before step 0 with ``builtin_actions``, then clear the episode totals.

    State starts at t = -warm_steps with batteries and radiators at their initial values and empty queues;
    the jobs submitted during the warm-up arrive, are admitted, run and delivered as in any step, so step 0
    sees a ground backlog, queues, partial progress, batteries and temperatures of a running constellation.
    Everything follows from the episode's generator: the warm state is a function of the seed.
    """
    while (state.t < 0).any():
        mask = action_mask(params, state, eph)
        step(params, state, eph, builtin_actions(params, state, eph, mask), mask=mask)
    state.totals = new_totals(state.B)


def uniform(key: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) numbers, a pure function of (key, counter) (SplitMix64's finaliser): the upset draw of
    one satellite in one step, whatever else the batch holds."""
    z = key + counter.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


_SKY_COLUMN = {name: i for i, name in enumerate(SKY_FIELDS)}


class Sky:
    """This step's geometry for every satellite row of a batch: one gather from ``Ephemeris.sky_table``."""

    def __init__(self, eph: Ephemeris, state: SimState):
        N = eph.n_sats
        if state.B == 1:  # one episode: its rows are contiguous, a view
            e = int(state.e0[0] + state.t[0])
            self.table = eph.sky_table[e * N : (e + 1) * N]
        else:
            self.table = eph.sky_table[(state.e0 + state.t)[state.episode] * N + state.local]
        self.M = eph.neighbours.shape[1]

    def __getitem__(self, name: str) -> np.ndarray:
        """(B * N,) float32 value of one of ``SKY_FIELDS``."""
        return self.table[:, _SKY_COLUMN[name]]

    def flag(self, name: str) -> np.ndarray:
        """(B * N,) bool value of a boolean field (sunlit, in_saa, contact)."""
        return self[name] > 0.5

    @property
    def station(self) -> np.ndarray:
        return self["station"].astype(np.int64)

    @property
    def isl_up(self) -> np.ndarray:
        """(B * N, M) bool."""
        return self.table[:, len(SKY_FIELDS) : len(SKY_FIELDS) + self.M] > 0.5

    @property
    def isl_range_km(self) -> np.ndarray:
        """(B * N, M) float32."""
        return self.table[:, len(SKY_FIELDS) + self.M :]


def builtin_actions(params: Params, state: SimState, eph: Ephemeris, mask: np.ndarray) -> np.ndarray:
    """(B * N,) the warm start's rule (orbit_env's own, no agent): run the earliest-deadline runnable job, at
    the top power level in sunlight and the lowest in eclipse, idle in eclipse below ``resume_soc``; admit the
    first fitting window entry when nothing runs or the loaded job would keep running. ``mask``: the state's
    action mask, which the step reuses."""
    hw, acts, P = params.scenario.hardware, params.actions, params.P
    sky = Sky(eph, state)
    mask = mask.astype(bool)
    sunlit = sky.flag("sunlit")
    level = np.where(sunlit, P - 1, 0)
    runnable = mask[:, acts.run(np.arange(params.K), 0)]
    deadline = np.where(runnable, state.jobs.deadline_s[state.slots], np.inf)
    k = deadline.argmin(axis=1)
    go = runnable.any(axis=1) & (sunlit | (state.energy_wh >= hw.resume_soc * hw.battery_wh))
    act = np.where(go, acts.run(k, level), acts.IDLE)
    if params.G:
        can = mask[:, acts.admit(np.arange(params.G))]
        keeps = ~go | ((state.slots[np.arange(len(k)), k] == state.active) & (state.level == level))
        act = np.where(can.any(axis=1) & keeps, acts.admit(can.argmax(axis=1)), act)
    return act


TOTALS = (
    "delivered_value", "jobs_delivered", "deadline_hits", "useful_gpu_s", "busy_gpu_s", "work_lost_s",
    "energy_solar_wh", "energy_load_wh", "energy_gpu_wh", "energy_shunt_wh", "battery_cycles", "safe_mode_entries",
    "thermal_shutdowns", "upsets", "invalid_actions", "completion_s", "checkpoints", "isl_transfers",
    "isl_aborts", "jobs_dropped", "jobs_failed", "throttled_steps", "window_value", "admit_refused",
)  # fmt: skip


# ------------------------------------------------------------------------------------------ helpers


_RUNNABLE = np.array([p == Place.ONBOARD for p in range(len(Place.NAMES))])
_MOVABLE = np.array([p in (Place.ONBOARD, Place.RESULT) for p in range(len(Place.NAMES))])


def per_episode(state: SimState, x: np.ndarray) -> np.ndarray:
    """(B,) sum over each episode's satellites of a per-satellite quantity."""
    return np.add.reduce(x.reshape(len(state.t), -1), axis=1, dtype=np.float64)


def per_episode_jobs(state: SimState, j: np.ndarray, weights=None) -> np.ndarray:
    """(B,) count (or sum of ``weights``) of jobs ``j`` per episode, summed in ``j``'s order."""
    return np.bincount(j // state.J, weights, minlength=state.B).astype(np.float64)


def live_in(state: SimState, place: int) -> np.ndarray:
    """The live jobs in ``place``, ascending."""
    return state.live[state.place[state.live] == place]


def action_mask(params: Params, state: SimState, eph: Ephemeris, sky: Sky | None = None) -> np.ndarray:
    """(B * N, A) int8: 1 where an action is legal now. Idle is always legal. ``sky``: this step's, if the caller has it."""
    sky = sky or Sky(eph, state)
    K, P, M = params.K, params.P, params.M
    BN = len(state.active)
    gpu_ok = ~state.safe & ~state.thermal_off & (state.recover_s <= 0)
    place = state.place[state.slots]  # empty slots gather a job that never arrives: FUTURE
    a = state.active  # -1 gathers a job that never arrives, with nothing at risk
    mask = np.empty((BN, params.n_actions), np.int8)
    mask[:, 0] = 1
    mask[:, 1] = gpu_ok & (state.done_work[a] > state.ckpt_work[a])
    mask[:, 2 : 2 + K * P].reshape(BN, K, P)[:] = (_RUNNABLE[place] & gpu_ok[:, None])[:, :, None]
    storage = np.isfinite(params.storage_b)
    slot_bytes = job_bytes(params, state, state.slots) if storage and (M or params.G) else None
    free = free_bytes(params, state, slot_bytes)
    if M:
        nb = np.maximum(state.neighbours, 0)
        can_receive = (state.slots < 0).any(axis=1) & ~state.safe
        link_ok = sky.isl_up & can_receive[nb] & ~state.safe[:, None]
        send_ok = _MOVABLE[place][:, :, None] & link_ok[:, None, :]
        if storage:  # the receiver needs room for the job's bytes
            send_ok &= slot_bytes[:, :, None] <= free[nb][:, None, :]
        mask[:, 2 + K * P : 2 + K * P + K * M].reshape(BN, K, M)[:] = send_ok
    if params.G:
        window = admission_window(params, state)[state.episode]
        room = ground_link(params, state, eph, sky) & ~state.safe & (state.slots < 0).any(axis=1)
        fits = (window >= 0) & (params.model_hold[state.jobs.model[window]] <= free[:, None])
        mask[:, params.n_actions - params.G :] = room[:, None] & fits
    return mask


def _rank_in_group(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Each element's rank within its group (0 = first), in ascending ``key`` order."""
    order = np.lexsort((key, group))
    g_sorted = group[order]
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order)) - np.searchsorted(g_sorted, g_sorted, side="left")
    return rank


def _assign_slots(state: SimState, targets: np.ndarray, order_key: np.ndarray, need=None, free=None):
    """Give each request a free slot on its target satellite, in ``order_key`` order per target.

    Returns (accepted mask, slot index). Several requests may target one satellite in one step; the
    r-th request (by order_key) gets the r-th free slot, and requests beyond the free count are refused.
    With ``need`` (bytes per request) and ``free`` (free bytes per satellite), a request is also refused
    when the requests up to it (in that order, refused or not) need more than its target's free bytes.
    """
    if len(targets) == 0:
        return np.zeros(0, bool), np.zeros(0, np.int64)
    rank = _rank_in_group(targets, order_key)
    occupied = state.slots[targets] >= 0
    accepted = rank < occupied.shape[1] - occupied.sum(axis=1)
    if need is not None:
        order = np.lexsort((order_key, targets))
        cum = np.empty(len(targets))
        cum[order] = np.cumsum(need[order])
        cum -= (cum - need)[order][np.searchsorted(targets[order], targets, side="left")]  # within the target
        accepted &= cum <= free[targets]
    free_first = np.argsort(occupied, axis=1, kind="stable")  # each target's free slot indices first
    slot = free_first[np.arange(len(targets)), np.minimum(rank, occupied.shape[1] - 1)]
    return accepted, slot


def job_bytes(params: Params, state: SimState, j) -> np.ndarray:
    """Bytes jobs ``j`` occupy on board: the result once finished, else dataset + checkpoint."""
    m = state.jobs.model[j]
    return np.where(state.done_work[j] >= state.jobs.work[j], params.model_result[m], params.model_hold[m])


def free_bytes(params: Params, state: SimState, slot_bytes: np.ndarray | None = None) -> np.ndarray:
    """(B * N,) free storage per satellite (inf without a limit). A job in flight counts on both ends.
    ``slot_bytes``: ``job_bytes`` of ``state.slots``, if the caller has it."""
    if not np.isfinite(params.storage_b):
        return np.full(len(state.active), np.inf)
    held = job_bytes(params, state, state.slots) if slot_bytes is None else slot_bytes
    return params.storage_b - np.where(state.slots >= 0, held, 0.0).sum(axis=1)


def _edf_ground(state: SimState) -> tuple[np.ndarray, np.ndarray]:
    """The ground queue of every episode: its waiting jobs in earliest-deadline order (ties by arrival),
    episode after episode, and each job's rank in its episode's queue."""
    ground = live_in(state, Place.GROUND)
    ep = ground // state.J
    order = np.lexsort((state.jobs.deadline_s[ground], ep))  # stable: equal deadlines keep arrival order
    ground, ep = ground[order], ep[order]
    return ground, np.arange(len(ground)) - np.searchsorted(ep, ep, side="left")


def admission_window(params: Params, state: SimState) -> np.ndarray:
    """(B, G) the jobs every station of an episode offers: its ground queue's first G (``_edf_ground``), -1 past its end."""
    ground, rank = _edf_ground(state)
    window = np.full((state.B, params.G), -1, np.int64)
    top = rank < params.G
    window[ground[top] // state.J, rank[top]] = ground[top]
    return window


def ground_link(params: Params, state: SimState, eph: Ephemeris, sky: Sky | None = None) -> np.ndarray:
    """(B * N,) bool: the satellite holds an antenna of its best visible station this step (uplink, downlink, admit).

    Without an antenna limit, every contact. With ``antennas_per_station`` = A, each station serves at
    most A of the satellites that see it best, by priority: 2 = held this station's antenna last step and
    has something to do, 1 = has something to do (a result aboard, an uplink in flight, or a free slot while
    jobs wait on the ground), 0 = the rest; ties go to the lower satellite index. A satellite uses only its
    best station (``Ephemeris.station``); a contact without an antenna is no contact.
    """
    sky = sky or Sky(eph, state)
    contact = sky.flag("contact")
    if not params.antennas or not contact.any():
        return contact
    BN = len(contact)
    live = state.live
    busy = live[(state.place[live] == Place.RESULT) | (state.place[live] == Place.UPLINK)]
    wants = np.bincount(state.sat[busy], minlength=BN) > 0
    waiting = np.bincount(live_in(state, Place.GROUND) // state.J, minlength=state.B) > 0
    wants |= (state.slots < 0).any(axis=1) & waiting[state.episode]
    station = sky.station
    prio = wants * (1 + (state.antenna == station))
    sats = np.flatnonzero(contact)
    link = np.zeros(BN, bool)
    group = state.episode[sats] * len(eph.station_names) + station[sats]
    link[sats] = _rank_in_group(group, (2 - prio[sats]) * BN + sats) < params.antennas
    return link


def _bytes_check(params: Params, state: SimState, j: np.ndarray) -> tuple:
    """``_assign_slots``'s (need, free) for moving jobs ``j`` aboard, or () without a storage limit."""
    if not np.isfinite(params.storage_b):
        return ()
    return job_bytes(params, state, j), free_bytes(params, state)


def _start_uplink(params: Params, state: SimState, j: np.ndarray, sat: np.ndarray, slot: np.ndarray) -> None:
    """Jobs ``j`` start their uplink to ``sat`` into ``slot``: the slot (and its bytes) is held from now."""
    state.slots[sat, slot] = j
    state.sat[j], state.slot[j] = sat, slot
    state.place[j] = Place.UPLINK
    state.xfer_left[j] = params.model_data[state.jobs.model[j]]


def _crash(state: SimState, params: Params, crashed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roll the active jobs of ``crashed`` satellites back to their checkpoints.

    Returns (B,) reference seconds lost per episode, and per satellite the job it lost (-1 none) and the work lost."""
    j = np.where(crashed, state.active, -1)
    lost = np.where(j >= 0, state.done_work[j] - state.ckpt_work[j], 0.0)
    hit = j[j >= 0]
    state.done_work[hit] = state.ckpt_work[hit]
    state.active[crashed] = -1
    thr = params.model_thr[state.jobs.model[j]] / params.sat_speed  # reference units/s
    return per_episode(state, lost / thr), j, lost


def _settle_on_board(params: Params, state: SimState, j: np.ndarray) -> None:
    """Jobs ``j`` come to rest on their satellite: RESULT (with its downlink bytes) if finished, else ONBOARD."""
    if not len(j):
        return
    done = state.done_work[j] >= state.jobs.work[j]
    state.place[j] = np.where(done, Place.RESULT, Place.ONBOARD)
    state.xfer_left[j] = np.where(done, params.model_result[state.jobs.model[j]], 0.0)
    state.dest[j] = -1


def value_at(jobs: JobBatch, idx, t_s, half_life_h: float):
    """Value earned by delivering jobs ``idx`` at time t: full by the deadline, halving every half-life after."""
    late = np.maximum(t_s - jobs.deadline_s[idx], 0.0)
    return jobs.value[idx] * 0.5 ** (late / (half_life_h * 3600.0))


# --------------------------------------------------------------------------------------------- step


@dataclass
class StepInfo:
    """What happened in one step, per satellite row, for rewards and infos."""

    delivered_value: np.ndarray  # value delivered this step, credited to the satellite that finished each job
    # (a relayed result goes down through a neighbour, but the work, and so the credit, is the finisher's)
    shaping: np.ndarray  # value now (discounted when late) x fraction of work done (minus lost) by each satellite
    safe_entered: np.ndarray  # bool
    thermal_shutdown: np.ndarray  # bool
    upset: np.ndarray  # bool
    invalid: np.ndarray  # bool
    solar_w: np.ndarray
    load_w: np.ndarray
    battery: power.BatteryStep
    gpu_temp_c: np.ndarray
    checkpointed: np.ndarray  # bool: a checkpoint was written (asked for, or on a switch or a send)
    uplinking: np.ndarray  # bool: a dataset came up from the ground
    sending: np.ndarray  # bool: a laser terminal carried a transfer out
    downlinking: np.ndarray  # bool: a result went down to the ground


@dataclass
class Decision:
    """The actions of one step, decoded after validation (an illegal action is idle)."""

    invalid: np.ndarray  # (B * N,) the action was illegal
    run: np.ndarray
    checkpoint: np.ndarray
    send: np.ndarray
    admit: np.ndarray
    chosen: np.ndarray  # job in the action's slot, -1 none
    level: np.ndarray  # power level of a run action
    terminal: np.ndarray  # ISL terminal of a send action
    entry: np.ndarray  # window entry of an admit action


@dataclass
class Compute:
    """What the accelerators did this step."""

    computing: np.ndarray  # the loaded job ran (maybe throttled, maybe shut down)
    shutdown: np.ndarray  # thermal shutdown this step
    ended: np.ndarray  # the job ran to its end (finished or failed)
    busy_s: np.ndarray  # seconds of useful compute
    cap_w: np.ndarray  # power cap per accelerator
    gpu_temp_c: np.ndarray
    shaping: np.ndarray
    checkpointed: np.ndarray


def step(params: Params, state: SimState, eph: Ephemeris, actions: np.ndarray, mask: np.ndarray | None = None) -> StepInfo:
    """Advance every episode by one step of ``dt`` seconds, in place; ``actions`` is (B * N,) ints in [0, A).

    A step is a sequence of phases over the state arrays: the ground link and window are fixed at the
    step's start (as the observation showed them), then arrivals, actions, compute, upsets, links,
    ground, power, thermal. ``mask``: the action mask of the current state if the caller has it.
    """
    sky = Sky(eph, state)
    if mask is None:
        mask = action_mask(params, state, eph, sky)
    contact = ground_link(params, state, eph, sky)
    window = admission_window(params, state) if params.G else None
    arrivals(params, state)
    dec = decode(params, state, actions, mask)
    comp = compute(params, state, dec)
    upset = upsets(params, state, sky, comp)
    terminals_busy = isl(params, state, sky, dec)
    delivered, uplinking, downlinking = ground(params, state, dec, contact, window)
    solar_w, load_w, bat, entered = power_balance(params, state, sky, comp, contact, terminals_busy)
    thermal_balance(params, state, sky, comp, load_w - bat.unmet_w)
    state.live = state.live[_LIVE[state.place[state.live]]]
    state.antenna = np.where(contact, sky.station, -1)
    state.t = state.t + 1  # a new array: a caller holding the old one keeps its value
    return StepInfo(delivered, comp.shaping, entered, comp.shutdown, upset, dec.invalid, solar_w, load_w, bat, comp.gpu_temp_c,
                     comp.checkpointed, uplinking, terminals_busy > 0, downlinking)  # fmt: skip


def _now(params: Params, state: SimState) -> np.ndarray:
    """(B,) seconds from step 0 at the start of each episode's current step."""
    return state.t * params.dt


def arrivals(params: Params, state: SimState) -> None:
    """Jobs submitted during this step join the ground queue; jobs waiting past deadline + drop_after_h are dropped."""
    B, J = state.B, state.J
    n_new = state.arrived_by[np.arange(B), state.t + params.warm_steps]
    count = n_new - state.n_arrived
    if count.any():
        first = np.arange(B) * J + state.n_arrived
        new = np.repeat(first - np.cumsum(count) + count, count) + np.arange(count.sum())
        state.place[new] = Place.GROUND
        state.live = np.insert(state.live, np.searchsorted(state.live, new), new)
    state.n_arrived = n_new
    waiting = live_in(state, Place.GROUND)
    late = _now(params, state)[waiting // J] > state.jobs.deadline_s[waiting] + params.scenario.workload.drop_after_h * 3600.0
    expired = waiting[late]
    state.place[expired] = Place.DROPPED
    state.totals["jobs_dropped"] += per_episode_jobs(state, expired)


def decode(params: Params, state: SimState, actions: np.ndarray, mask: np.ndarray) -> Decision:
    """Check the actions against the mask (an illegal one becomes idle, and is counted) and split them by kind."""
    rows = np.arange(len(actions))
    legal = mask[rows, actions].astype(bool)
    state.totals["invalid_actions"] += per_episode(state, ~legal)
    act_kind, act_slot, act_level, act_neigh = params.actions.tables
    kind = np.where(legal, act_kind[actions], Act.IDLE)
    entry = params.actions.entry[actions] if params.G else None
    return Decision(~legal, kind == Act.RUN, kind == Act.CHECKPOINT, kind == Act.SEND, kind == Act.ADMIT,
                    state.slots[rows, act_slot[actions]], act_level[actions], act_neigh[actions], entry)  # fmt: skip


def compute(params: Params, state: SimState, dec: Decision) -> Compute:
    """Checkpoints and job switches (which cost accelerator time), then the loaded jobs run: DVFS at the
    power cap, the hardware throttle above the slowdown temperature, shutdown above the limit."""
    sc, hw, acc, dt, jobs, tot = params.scenario, params.scenario.hardware, params.scenario.hardware.accel, params.dt, state.jobs, state.totals
    write_bps = hw.checkpoint_write_gbps * 1e9 / 8.0
    ckpt_s = lambda j: hw.checkpoint_overhead_s + params.model_ckpt[jobs.model[j]] / write_bps  # noqa: E731
    old = state.active
    switching = dec.run & (dec.chosen != old)
    send_active = dec.send & (dec.chosen == old)
    save_old = (switching | dec.checkpoint | send_active) & (old >= 0) & (state.done_work[old] > state.ckpt_work[old])
    overhead = np.where(save_old, ckpt_s(old), 0.0) + np.where(switching, ckpt_s(dec.chosen), 0.0)
    state.ckpt_work[old[save_old]] = state.done_work[old[save_old]]
    tot["checkpoints"] += per_episode(state, save_old)
    state.active = np.where(dec.run, dec.chosen, np.where(send_active, -1, old))  # idle keeps the job loaded
    state.level = np.where(dec.run, dec.level, state.level)
    # the laser terminal works beside the accelerators: sending another job keeps the loaded one running
    computing = (dec.run | dec.checkpoint | dec.admit | (dec.send & ~send_active)) & (state.active >= 0)

    j = state.active
    cap_w = params.caps_w[state.level]
    t_gpu = thermal.gpu_temp_c(state.temp_k, np.where(computing, cap_w, acc.idle_w), hw.gpu_k_per_w)
    shutdown = computing & (t_gpu >= acc.shutdown_c)
    throttled = computing & (t_gpu >= acc.throttle_c) & ~shutdown
    tot["throttled_steps"] += per_episode(state, throttled)
    rate = params.rate_per_level[jobs.model[j], state.level] * np.where(throttled, 0.5, 1.0)  # hardware slowdown
    running = computing & ~shutdown
    compute_s = np.where(running, np.maximum(dt - overhead, 0.0), 0.0)
    end_work = np.where(np.isnan(jobs.fail_at_fraction[j]), jobs.work[j], jobs.fail_at_fraction[j] * jobs.work[j])
    busy_s = np.minimum(compute_s, (end_work - state.done_work[j]) / np.maximum(rate, 1e-12))
    progress = np.where(running, rate * busy_s, 0.0)
    state.done_work[j[computing]] += progress[computing]
    ended = running & (state.done_work[j] >= end_work * (1 - 1e-12))
    finished = ended & np.isnan(jobs.fail_at_fraction[j])
    fj = j[finished]
    state.done_work[fj] = jobs.work[fj]
    state.ckpt_work[fj] = jobs.work[fj]
    state.finisher[fj] = state.sat[fj]
    _settle_on_board(params, state, fj)
    if ended.any():
        failed = j[ended & ~finished]  # the job itself failed or was cancelled (trace outcome): it leaves
        state.slots[state.sat[failed], state.slot[failed]] = -1
        state.place[failed] = Place.DROPPED
        tot["jobs_failed"] += per_episode_jobs(state, failed)
        state.active[ended] = -1
    now = _now(params, state)[state.episode]
    shaping = np.where(computing, value_at(jobs, j, now, sc.workload.value_half_life_h) * progress / jobs.work[j], 0.0)
    tot["busy_gpu_s"] += per_episode(state, busy_s + np.where(save_old | switching, overhead, 0.0)) * params.n_accel
    return Compute(computing, shutdown, ended, busy_s, cap_w, t_gpu, shaping, save_old)


def _lose(params: Params, state: SimState, comp: Compute, crashed: np.ndarray) -> None:
    """Crash the active jobs of ``crashed`` satellites (``_crash``), count the loss and take back its shaping."""
    lost_s, j, lost = _crash(state, params, crashed)
    state.totals["work_lost_s"] += lost_s
    if params.scenario.episode.dense_shaping:
        now = _now(params, state)[state.episode]
        worth = value_at(state.jobs, j, now, params.scenario.workload.value_half_life_h)
        comp.shaping -= worth * lost / state.jobs.work[j]


def upsets(params: Params, state: SimState, sky: Sky, comp: Compute) -> np.ndarray:
    """Radiation upsets (more likely in the SAA) and thermal shutdowns crash the active job; an upset
    starts a recovery during which the accelerators are unavailable. Returns the upsets."""
    sc, dt = params.scenario, params.dt
    running_now = comp.computing & ~comp.shutdown & ~comp.ended
    rate = radiation.upset_rate_per_s(params.n_accel * running_now, sky.flag("in_saa"), sc.radiation.upsets_per_gpu_day, sc.radiation.saa_multiplier)
    draw = uniform(state.key[state.episode], (state.t + params.warm_steps)[state.episode] * params.n_sats + state.local)
    upset = running_now & (draw < radiation.upset_probability(rate, dt))
    _lose(params, state, comp, upset | comp.shutdown)
    state.recover_s = np.where(upset, sc.radiation.recovery_s, np.maximum(state.recover_s - dt, 0.0))
    state.totals["upsets"] += per_episode(state, upset)
    state.totals["thermal_shutdowns"] += per_episode(state, comp.shutdown)
    return upset


def isl(params: Params, state: SimState, sky: Sky, dec: Decision) -> np.ndarray:
    """ISL: start the sends, advance transfers (a terminal's rate shared by its transfers), abort those whose
    link broke, land arrivals. Returns the laser terminals in use per satellite."""
    sc, jobs, tot = params.scenario, state.jobs, state.totals
    BN, M = len(state.active), params.M
    if dec.send.any():
        src = np.flatnonzero(dec.send)
        term = dec.terminal[src]
        j = dec.chosen[src]
        ok, tslot = _assign_slots(state, state.neighbours[src, term], src, *_bytes_check(params, state, j))
        sj, src, term, tslot = j[ok], src[ok], term[ok], tslot[ok]
        state.dest[sj], state.dest_slot[sj], state.term[sj] = state.neighbours[src, term], tslot, term
        state.slots[state.dest[sj], tslot] = sj
        state.xfer_left[sj] = np.where(state.done_work[sj] >= jobs.work[sj], params.model_result[jobs.model[sj]], params.model_ckpt[jobs.model[sj]])
        state.place[sj] = Place.SENDING
        tot["isl_transfers"] += per_episode_jobs(state, sj)
    sending = live_in(state, Place.SENDING)
    if not len(sending):
        return np.zeros(BN, np.int64)
    up = sky.isl_up[state.sat[sending], state.term[sending]]
    aborted = sending[~up]
    state.slots[state.dest[aborted], state.dest_slot[aborted]] = -1
    _settle_on_board(params, state, aborted)
    tot["isl_aborts"] += per_episode_jobs(state, aborted)
    moving = sending[up]
    src_sat, src_term = state.sat[moving], state.term[moving]
    state.xfer_left[moving] -= links.shared_progress(links.terminal_index(src_sat, src_term, M), BN * M,
                                                           links.bytes_per_step(sc.links.isl_rate_gbps, params.dt))  # fmt: skip
    landed = moving[state.xfer_left[moving] <= 0]
    state.slots[state.sat[landed], state.slot[landed]] = -1
    state.sat[landed], state.slot[landed] = state.dest[landed], state.dest_slot[landed]
    _settle_on_board(params, state, landed)
    return links.terminals_in_use(src_sat, src_term, BN, M)


def ground(params: Params, state: SimState, dec: Decision, contact: np.ndarray, window: np.ndarray | None):
    """Uplink waiting jobs (automatically, earliest deadline first, or as admitted) and downlink results.
    Returns the value delivered (per satellite that finished the job), and which satellites uplinked and downlinked."""
    sc, jobs, tot, J = params.scenario, state.jobs, state.totals, state.J
    BN = len(contact)
    if not params.G and contact.any():
        _auto_uplink(params, state, contact)
    if params.G and dec.admit.any():
        # an entry admitted by several satellites goes to the lowest index; the others' admit does nothing
        who = np.flatnonzero(dec.admit)
        gj = window[state.episode[who], dec.entry[who]]
        claim = (_rank_in_group(gj, who) == 0) & (state.place[gj] == Place.GROUND)  # not expired at this step's start
        ok, uslot = _assign_slots(state, who[claim], who[claim], *_bytes_check(params, state, gj[claim]))
        _start_uplink(params, state, gj[claim][ok], who[claim][ok], uslot[ok])
        refused = np.ones(len(who), bool)
        refused[np.flatnonzero(claim)[ok]] = False
        tot["admit_refused"] += per_episode(state, np.bincount(who[refused], minlength=BN))
    uplink = live_in(state, Place.UPLINK)
    uplinking = np.zeros(BN, bool)
    if len(uplink):
        live = uplink[contact[state.sat[uplink]]]  # an uplink cut by the end of a contact resumes at the next
        uplinking[state.sat[live]] = True
        state.xfer_left[live] -= links.shared_progress(state.sat[live], BN, links.bytes_per_step(sc.ground.uplink_gbps, params.dt))
        state.place[live[state.xfer_left[live] <= 0]] = Place.ONBOARD

    results = live_in(state, Place.RESULT)
    results = results[contact[state.sat[results]]]
    downlinking = np.zeros(BN, bool)
    downlinking[state.sat[results]] = True
    if not len(results):
        return np.zeros(BN), uplinking, downlinking
    state.xfer_left[results] -= links.shared_progress(state.sat[results], BN, links.bytes_per_step(sc.ground.downlink_gbps, params.dt))
    delivered = results[state.xfer_left[results] <= 0]
    end = (_now(params, state) + params.dt)[delivered // J]
    value = value_at(jobs, delivered, end, sc.workload.value_half_life_h)
    state.slots[state.sat[delivered], state.slot[delivered]] = -1
    state.place[delivered] = Place.DONE
    state.delivered_s[delivered] = end
    per_ep = per_episode_jobs(state, delivered, value)
    tot["delivered_value"] += per_ep
    lo, hi = params.measure
    tot["window_value"] += np.where((lo <= state.t) & (state.t < hi), per_ep, 0.0)
    tot["jobs_delivered"] += per_episode_jobs(state, delivered)
    tot["deadline_hits"] += per_episode_jobs(state, delivered[end <= jobs.deadline_s[delivered]])
    tot["useful_gpu_s"] += per_episode_jobs(state, delivered, jobs.value[delivered]) * 3600.0
    tot["completion_s"] += per_episode_jobs(state, delivered, end - jobs.submit_s[delivered])
    return np.bincount(state.finisher[delivered], weights=value, minlength=BN), uplinking, downlinking


def _auto_uplink(params: Params, state: SimState, contact: np.ndarray) -> None:
    """Automatic admission: each episode's waiting jobs, earliest deadline first, go to its satellites with a
    link, a free slot and no uplink in progress, in index order (a job that does not fit stays)."""
    waiting, rank = _edf_ground(state)
    if not len(waiting):
        return
    uplinking = np.bincount(state.sat[live_in(state, Place.UPLINK)], minlength=len(contact))
    takers = np.flatnonzero(contact & ~state.safe & (uplinking == 0) & (state.slots < 0).any(axis=1))
    n_takers = np.bincount(state.episode[takers], minlength=state.B)
    ep = waiting // state.J
    take = rank < n_takers[ep]
    gj = waiting[take]
    sat = takers[(np.cumsum(n_takers) - n_takers)[ep[take]] + rank[take]]
    ok, uslot = _assign_slots(state, sat, sat, *_bytes_check(params, state, gj))
    _start_uplink(params, state, gj[ok], sat[ok], uslot[ok])


def power_balance(params: Params, state: SimState, sky: Sky, comp: Compute, contact: np.ndarray, terminals_busy: np.ndarray):
    """Loads (accelerators, bus, laser terminals, radio, heater), solar input and the battery; safe mode,
    entered on low charge or a brown-out, crashes the active job and turns the accelerators off.
    Returns (solar_w, load_w, battery step, safe-mode entries)."""
    hw, acc, dt, tot = params.scenario.hardware, params.scenario.hardware.accel, params.dt, state.totals
    busy_s = comp.busy_s
    gpu_w = np.where(state.safe, 0.0, np.where(comp.computing & ~comp.shutdown, (busy_s * comp.cap_w + (dt - busy_s) * acc.idle_w) / dt, acc.idle_w)) * params.n_accel
    heater = state.temp_k < hw.min_temp_c + thermal.KELVIN
    load_w = hw.bus_w + gpu_w + hw.isl_terminal_w * terminals_busy + hw.radio_w * contact + hw.heater_w * heater
    solar_w = power.solar_power_w(sky.flag("sunlit"), hw.solar_area_m2, hw.solar_w_per_m2)
    bat = power.battery_step(state.energy_wh, solar_w, load_w, dt, hw.battery_wh, hw.max_charge_w, hw.charge_efficiency, hw.discharge_efficiency)
    state.energy_wh = bat.energy_wh
    state.safe, entered = power.safe_mode_update(state.safe, bat.energy_wh / hw.battery_wh, hw.safe_mode_soc, hw.resume_soc, bat.unmet_w > 0)
    _lose(params, state, comp, entered)
    tot["safe_mode_entries"] += per_episode(state, entered)
    dt_h = dt / 3600.0
    tot["energy_solar_wh"] += per_episode(state, solar_w) * dt_h
    tot["energy_load_wh"] += per_episode(state, load_w) * dt_h
    tot["energy_gpu_wh"] += per_episode(state, gpu_w) * dt_h
    tot["energy_shunt_wh"] += per_episode(state, bat.shunt_w) * dt_h
    tot["battery_cycles"] += per_episode(state, bat.discharge_w) * dt_h / (hw.battery_wh * params.n_sats)  # equivalent full cycles per satellite (wear)
    return solar_w, load_w, bat, entered


def thermal_balance(params: Params, state: SimState, sky: Sky, comp: Compute, heat_w: np.ndarray) -> None:
    """All electrical power ends as heat in the node (implicit radiative step); a thermal shutdown clears
    once the idle GPU is below its maximum operating temperature."""
    hw, acc = params.scenario.hardware, params.scenario.hardware.accel
    sink = np.where(sky.flag("sunlit"), hw.sink_temp_k, hw.sink_temp_eclipse_k)
    state.temp_k = thermal.node_step(state.temp_k, heat_w, params.dt, hw.heat_capacity_j_per_k, hw.emissivity, hw.radiator_area_m2, sink)
    cool = thermal.gpu_temp_c(state.temp_k, acc.idle_w, hw.gpu_k_per_w) < acc.max_operating_c
    state.thermal_off = (state.thermal_off & ~cool) | comp.shutdown  # a new shutdown lasts at least one step


def job_census(state: SimState) -> dict[str, np.ndarray]:
    """(B,) jobs by place per episode. ``submitted`` counts arrivals independently of places, so
    ground + queued + running + in_flight + done + dropped == submitted checks that no job is lost."""
    B, J = state.B, state.J
    counts = np.bincount(np.arange(B * J) // J * len(Place.NAMES) + state.place, minlength=B * len(Place.NAMES)).reshape(B, -1)
    running = (state.active >= 0).reshape(B, -1).sum(axis=1)
    return {
        "submitted": state.n_arrived.copy(),
        "ground": counts[:, Place.GROUND],
        "queued": counts[:, Place.ONBOARD] + counts[:, Place.RESULT] - running,
        "running": running,
        "in_flight": counts[:, Place.UPLINK] + counts[:, Place.SENDING],
        "done": counts[:, Place.DONE],
        "dropped": counts[:, Place.DROPPED],
    }


def consistency_errors(state: SimState, params: Params | None = None) -> list[str]:
    """Check that slots, places, active jobs and the live list agree; return a description of each violation.

    Every UPLINK/ONBOARD/RESULT job holds exactly one slot on its satellite, a SENDING job one on its
    source and one on its destination, other jobs none; an active job is ONBOARD on its satellite; the live
    list holds exactly the submitted jobs that are not DONE or DROPPED. With ``params``, no satellite holds
    more bytes than its storage. Indices are global rows (``SimState``).
    """
    errors = []
    if params is not None:
        free = free_bytes(params, state)
        for i in np.flatnonzero(free < -1e-6 * params.storage_b):
            errors.append(f"satellite {i} holds {params.storage_b - free[i]:.6g} bytes, storage is {params.storage_b:.6g}")
    place = state.place
    held = np.bincount(state.slots[state.slots >= 0], minlength=len(place))
    want = np.select([np.isin(place, (Place.UPLINK, Place.ONBOARD, Place.RESULT)), place == Place.SENDING], [1, 2], 0)
    for j in np.flatnonzero(held != want):
        errors.append(f"job {j} in {Place.NAMES[place[j]]} holds {held[j]} slots, expected {want[j]}")
    rows, _ = np.nonzero(state.slots >= 0)
    jobs_in_slots = state.slots[state.slots >= 0]
    at = (state.sat[jobs_in_slots] == rows) | (state.dest[jobs_in_slots] == rows)
    for j in jobs_in_slots[~at]:
        errors.append(f"job {j} sits in a slot of a satellite that is neither its location nor its destination")
    act = state.active[state.active >= 0]
    for i in np.flatnonzero(state.active >= 0):
        j = state.active[i]
        if state.place[j] != Place.ONBOARD or state.sat[j] != i:
            errors.append(f"satellite {i} has active job {j} which is {Place.NAMES[state.place[j]]} on {state.sat[j]}")
    if len(act) != len(np.unique(act)):
        errors.append("a job is active on two satellites")
    for j in np.flatnonzero(np.isin(place, (Place.RESULT, Place.DONE)) & (state.finisher < 0)):
        errors.append(f"job {j} is {Place.NAMES[place[j]]} but no satellite is recorded as having finished it")
    left_future = np.bincount(np.flatnonzero(place != Place.FUTURE) // state.J, minlength=state.B)
    for b in np.flatnonzero(state.n_arrived != left_future):
        errors.append(f"episode {b}: {state.n_arrived[b]} jobs arrived but {left_future[b]} have left FUTURE")
    if not np.array_equal(state.live, np.flatnonzero(_LIVE[place])):
        errors.append("the live list is not the set of submitted jobs that are not DONE or DROPPED, in order")
    return errors
