"""The simulator core: a struct of arrays (one row per satellite, one per job) and its step function.

Data flows one way: scenario -> ephemeris -> ``step`` -> observe -> env. The cost of a step is a fixed
number of numpy operations whatever the number of satellites and jobs: no Python loop over either.

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
from orbit_env.ephemeris import Ephemeris, warmup_steps
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
    """Mutable struct of arrays. Satellite arrays have N rows, job arrays J rows."""

    t: int  # steps taken this episode
    e0: int  # ephemeris index of step 0
    energy_wh: np.ndarray
    temp_k: np.ndarray
    safe: np.ndarray
    thermal_off: np.ndarray
    recover_s: np.ndarray  # seconds of upset recovery left
    active: np.ndarray  # active job per satellite, -1 none
    level: np.ndarray  # power level last used
    slots: np.ndarray  # (N, K) job index or -1
    antenna: np.ndarray  # (N,) station whose antenna the satellite held last step, -1 none
    jobs: JobBatch
    place: np.ndarray  # (J,) Place
    sat: np.ndarray  # (J,) satellite holding the job (source while SENDING), -1 on the ground
    slot: np.ndarray  # (J,) slot the job holds on ``sat``, -1 on the ground
    dest: np.ndarray  # (J,) destination satellite while SENDING, else -1
    dest_slot: np.ndarray  # (J,) slot reserved at the destination
    term: np.ndarray  # (J,) ISL terminal of the source used while SENDING
    finisher: np.ndarray  # (J,) satellite that completed the job's work, -1 until then (credited at delivery)
    done_work: np.ndarray  # (J,) work completed (model units)
    ckpt_work: np.ndarray  # (J,) work saved at the last checkpoint
    xfer_left: np.ndarray  # (J,) bytes left of the current uplink / ISL transfer / downlink
    delivered_s: np.ndarray  # (J,) delivery time (NaN until DONE)
    n_arrived: int
    totals: dict = field(default_factory=dict)  # episode accumulators for metrics


def _with_sentinel(jobs: JobBatch) -> JobBatch:
    """Append a row that never arrives, so gathers at index -1 (no job) are always in bounds."""
    tail = dict(submit_s=np.inf, model=0, gpus=1, work=1.0, deadline_s=0.0, value=0.0,  # finite: it is observed
                fail_at_fraction=np.nan, outcome=0, batch=-1)  # fmt: skip
    return JobBatch(**{f.name: np.append(getattr(jobs, f.name), tail[f.name]).astype(getattr(jobs, f.name).dtype)
                       for f in dataclasses.fields(JobBatch)})  # fmt: skip


def reset_state(params: Params, eph: Ephemeris, rng: np.random.Generator, jobs: JobBatch | None = None) -> SimState:
    """A new episode: a random start within the ephemeris window and the scenario's jobs (or ``jobs``, with
    times from step 0), then the warm start if the scenario has one (see ``warm_start``)."""
    sc, N, K, W = params.scenario, params.n_sats, params.K, params.warm_steps
    max_start = eph.n_steps - sc.episode.max_cycles - W
    e0 = (int(rng.integers(0, max_start)) if max_start > 0 else 0) + W
    if jobs is None:
        jobs = _warm_jobs(params, rng)
    jobs = _with_sentinel(jobs)
    J = len(jobs)
    hw = sc.hardware
    state = SimState(
        t=-W,
        e0=e0,
        energy_wh=np.full(N, hw.initial_soc * hw.battery_wh),
        temp_k=np.full(N, hw.initial_temp_c + thermal.KELVIN),
        safe=np.zeros(N, bool),
        thermal_off=np.zeros(N, bool),
        recover_s=np.zeros(N),
        active=np.full(N, -1, np.int64),
        level=np.full(N, params.P - 1, np.int64),
        slots=np.full((N, K), -1, np.int64),
        antenna=np.full(N, -1, np.int64),
        jobs=jobs,
        place=np.zeros(J, np.int8),
        sat=np.full(J, -1, np.int64),
        slot=np.full(J, -1, np.int64),
        dest=np.full(J, -1, np.int64),
        dest_slot=np.full(J, -1, np.int64),
        term=np.full(J, -1, np.int64),
        finisher=np.full(J, -1, np.int64),
        done_work=np.zeros(J),
        ckpt_work=np.zeros(J),
        xfer_left=np.zeros(J),
        delivered_s=np.full(J, np.nan),
        n_arrived=0,
        totals={k: 0.0 for k in TOTALS},
    )
    warm_start(params, state, eph, rng)
    return state


def _warm_jobs(params: Params, rng: np.random.Generator) -> JobBatch:
    """The scenario's jobs submitted from the warm start's beginning to the episode's end, with times from step 0.

    The daily load cycle keeps its peak ``diurnal_peak_h`` after step 0; a trace replays from the warm start."""
    sc, warm_s = params.scenario, params.warm_steps * params.dt
    wl = dataclasses.replace(sc.workload, diurnal_peak_h=(sc.workload.diurnal_peak_h + warm_s / 3600.0) % 24.0) if warm_s else sc.workload
    jobs = generate_jobs(wl, sc.episode.max_cycles * params.dt + warm_s, params.sat_speed, rng)
    return dataclasses.replace(jobs, submit_s=jobs.submit_s - warm_s, deadline_s=jobs.deadline_s - warm_s) if warm_s else jobs


def warm_start(params: Params, state: SimState, eph: Ephemeris, rng: np.random.Generator) -> None:
    """Run the ``warm_steps`` before step 0 with ``builtin_actions``, then clear the episode totals.

    State starts at t = -warm_steps with batteries and radiators at their initial values and empty queues;
    the jobs submitted during the warm-up arrive, are admitted, run and delivered as in any step, so step 0
    sees a ground backlog, queues, partial progress, batteries and temperatures of a running constellation.
    Everything draws from the episode's random stream: the warm state is a function of the seed.
    """
    while state.t < 0:
        step(params, state, eph, builtin_actions(params, state, eph), rng)
    state.totals = {k: 0.0 for k in TOTALS}


def builtin_actions(params: Params, state: SimState, eph: Ephemeris) -> np.ndarray:
    """(N,) the warm start's rule (orbit_env's own, no agent): run the earliest-deadline runnable job, at the
    top power level in sunlight and the lowest in eclipse, idle in eclipse below ``resume_soc``; admit the
    first fitting window entry when nothing runs or the loaded job would keep running."""
    hw, acts, P = params.scenario.hardware, params.actions, params.P
    mask = action_mask(params, state, eph).astype(bool)
    sunlit = eph.sunlit[state.e0 + state.t]
    level = np.where(sunlit, P - 1, 0)
    runnable = mask[:, acts.run(np.arange(params.K), 0)]
    deadline = np.where(runnable, state.jobs.deadline_s[state.slots], np.inf)
    k = deadline.argmin(axis=1)
    go = runnable.any(axis=1) & (sunlit | (state.energy_wh >= hw.resume_soc * hw.battery_wh))
    act = np.where(go, acts.run(k, level), acts.IDLE)
    if params.G:
        can = mask[:, acts.admit(np.arange(params.G))]
        keeps = ~go | ((state.slots[np.arange(params.n_sats), k] == state.active) & (state.level == level))
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


def action_mask(params: Params, state: SimState, eph: Ephemeris) -> np.ndarray:
    """(N, A) int8: 1 where an action is legal now. Idle is always legal."""
    N, K, P, M = params.n_sats, params.K, params.P, params.M
    gpu_ok = ~state.safe & ~state.thermal_off & (state.recover_s <= 0)
    place = state.place[state.slots]  # empty slots gather the sentinel job, which is FUTURE
    a = state.active  # -1 gathers the sentinel job, which has nothing at risk
    mask = np.empty((N, params.n_actions), np.int8)
    mask[:, 0] = 1
    mask[:, 1] = gpu_ok & (state.done_work[a] > state.ckpt_work[a])
    mask[:, 2 : 2 + K * P].reshape(N, K, P)[:] = (_RUNNABLE[place] & gpu_ok[:, None])[:, :, None]
    if M:
        can_receive = (state.slots < 0).any(axis=1) & ~state.safe
        link_ok = eph.isl_up[state.e0 + state.t] & can_receive[np.maximum(eph.neighbours, 0)] & ~state.safe[:, None]
        send_ok = _MOVABLE[place][:, :, None] & link_ok[:, None, :]
        if np.isfinite(params.storage_b):  # the receiver needs room for the job's bytes
            send_ok &= job_bytes(params, state, state.slots)[:, :, None] <= free_bytes(params, state)[np.maximum(eph.neighbours, 0)][:, None, :]
        mask[:, 2 + K * P : 2 + K * P + K * M].reshape(N, K, M)[:] = send_ok
    if params.G:
        window = admission_window(params, state)
        room = ground_link(params, state, eph) & ~state.safe & (state.slots < 0).any(axis=1)
        fits = (window >= 0) & (params.model_hold[state.jobs.model[window]] <= free_bytes(params, state)[:, None])
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
    With ``need`` (bytes per request) and ``free`` ((N,) free bytes), a request is also refused when the
    requests up to it (in that order, refused or not) need more than its target's free bytes.
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


def free_bytes(params: Params, state: SimState) -> np.ndarray:
    """(N,) free storage per satellite (inf without a limit). A job in flight counts on both ends."""
    if not np.isfinite(params.storage_b):
        return np.full(params.n_sats, np.inf)
    j = state.slots
    return params.storage_b - np.where(j >= 0, job_bytes(params, state, j), 0.0).sum(axis=1)


def _edf_ground(state: SimState, n: int) -> np.ndarray:
    """The first ``n`` jobs of the ground queue: waiting jobs in earliest-deadline order (ties by arrival)."""
    ground = np.flatnonzero(state.place == Place.GROUND)
    return ground[np.argsort(state.jobs.deadline_s[ground], kind="stable")[:n]]


def admission_window(params: Params, state: SimState) -> np.ndarray:
    """(G,) the jobs every station offers: the ground queue's first G (``_edf_ground``), -1 past its end."""
    top = _edf_ground(state, params.G)
    return np.concatenate([top, np.full(params.G - len(top), -1, np.int64)])


def ground_link(params: Params, state: SimState, eph: Ephemeris) -> np.ndarray:
    """(N,) bool: the satellite holds an antenna of its best visible station this step (uplink, downlink, admit).

    Without an antenna limit, every contact. With ``antennas_per_station`` = A, each station serves at
    most A of the satellites that see it best, by priority: 2 = held this station's antenna last step and
    has something to do, 1 = has something to do (a result aboard, an uplink in flight, or a free slot while
    jobs wait on the ground), 0 = the rest; ties go to the lower satellite index. A satellite uses only its
    best station (``Ephemeris.station``); a contact without an antenna is no contact.
    """
    e = state.e0 + state.t
    contact = eph.contact[e]
    if not params.antennas or not contact.any():
        return contact
    N = params.n_sats
    busy = (state.place == Place.RESULT) | (state.place == Place.UPLINK)
    wants = np.bincount(state.sat[busy], minlength=N) > 0
    wants |= (state.slots < 0).any(axis=1) & (state.place == Place.GROUND).any()
    station = eph.station[e].astype(np.int64)
    prio = wants * (1 + (state.antenna == station))
    sats = np.flatnonzero(contact)
    link = np.zeros(N, bool)
    link[sats] = _rank_in_group(station[sats], (2 - prio[sats]) * N + sats) < params.antennas
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


def _crash(state: SimState, params: Params, crashed: np.ndarray) -> float:
    """Roll the active jobs of ``crashed`` satellites back to their checkpoints; return lost reference seconds."""
    if not crashed.any():
        return 0.0
    j = state.active[crashed & (state.active >= 0)]
    lost = state.done_work[j] - state.ckpt_work[j]
    state.done_work[j] = state.ckpt_work[j]
    state.active[crashed] = -1
    thr = params.model_thr[state.jobs.model[j]] / params.sat_speed  # reference units/s
    return float((lost / thr).sum())


def _settle_on_board(params: Params, state: SimState, j: np.ndarray) -> None:
    """Jobs ``j`` come to rest on their satellite: RESULT (with its downlink bytes) if finished, else ONBOARD."""
    if not len(j):
        return
    done = state.done_work[j] >= state.jobs.work[j]
    state.place[j] = np.where(done, Place.RESULT, Place.ONBOARD)
    state.xfer_left[j] = np.where(done, params.model_result[state.jobs.model[j]], 0.0)
    state.dest[j] = -1


def value_at(jobs: JobBatch, idx, t_s: float, half_life_h: float):
    """Value earned by delivering jobs ``idx`` at time t: full by the deadline, halving every half-life after."""
    late = np.maximum(t_s - jobs.deadline_s[idx], 0.0)
    return jobs.value[idx] * 0.5 ** (late / (half_life_h * 3600.0))


# --------------------------------------------------------------------------------------------- step


@dataclass
class StepInfo:
    """What happened in one step, per satellite, for rewards and infos."""

    delivered_value: np.ndarray  # (N,) value delivered this step, credited to the satellite that finished each job
    # (a relayed result goes down through a neighbour, but the work, and so the credit, is the finisher's)
    shaping: np.ndarray  # (N,) value now (discounted when late) x fraction of work done (minus lost) by each satellite
    safe_entered: np.ndarray  # (N,) bool
    thermal_shutdown: np.ndarray  # (N,) bool
    upset: np.ndarray  # (N,) bool
    invalid: np.ndarray  # (N,) bool
    solar_w: np.ndarray
    load_w: np.ndarray
    battery: power.BatteryStep
    gpu_temp_c: np.ndarray


def step(
    params: Params, state: SimState, eph: Ephemeris, actions: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None = None
) -> StepInfo:
    """Advance one step of ``dt`` seconds. Mutates ``state`` in place; ``actions`` is (N,) ints in [0, A).

    ``mask``: the action mask of the current state if the caller already has it (observe() made it).
    """
    sc, hw, acc = params.scenario, params.scenario.hardware, params.scenario.hardware.accel
    N, dt, jobs = params.n_sats, params.dt, state.jobs
    e = state.e0 + state.t
    now = state.t * dt
    tot = state.totals
    sats = np.arange(N)
    u_upset = rng.random(N)  # drawn every step so the random stream does not depend on the state
    contact = ground_link(params, state, eph)  # decided before this step's arrivals, as the mask was
    window = admission_window(params, state) if params.G else None

    # -- arrivals and expiry on the ground
    n_new = int(np.searchsorted(jobs.submit_s, now + dt, side="left"))
    state.place[state.n_arrived : n_new] = Place.GROUND
    state.n_arrived = n_new
    expired = (state.place == Place.GROUND) & (now > jobs.deadline_s + sc.workload.drop_after_h * 3600.0)
    state.place[expired] = Place.DROPPED
    tot["jobs_dropped"] += np.count_nonzero(expired)

    # -- decode and validate actions against the mask of the current state
    if mask is None:
        mask = action_mask(params, state, eph)
    legal = mask[sats, actions].astype(bool)
    invalid = ~legal
    tot["invalid_actions"] += np.count_nonzero(invalid)
    act_kind, act_slot, act_level, act_neigh = params.actions.tables
    kind = np.where(legal, act_kind[actions], Act.IDLE)
    k_slot = act_slot[actions]
    chosen = state.slots[sats, k_slot]
    run = kind == Act.RUN
    ckpt = kind == Act.CHECKPOINT
    send = kind == Act.SEND
    admit = kind == Act.ADMIT

    # -- checkpoints and job switches cost time on the accelerators
    write_bps = hw.checkpoint_write_gbps * 1e9 / 8.0
    ckpt_s = lambda j: hw.checkpoint_overhead_s + params.model_ckpt[jobs.model[j]] / write_bps  # noqa: E731
    old = state.active
    has_old = old >= 0
    old_j = old
    switching = run & (chosen != old)
    send_active = send & (chosen == old)
    save_old = (switching | ckpt | send_active) & has_old & (state.done_work[old_j] > state.ckpt_work[old_j])
    overhead = np.where(save_old, ckpt_s(old_j), 0.0) + np.where(switching, ckpt_s(chosen), 0.0)
    state.ckpt_work[old_j[save_old]] = state.done_work[old_j[save_old]]
    tot["checkpoints"] += np.count_nonzero(save_old)
    state.active = np.where(run, chosen, np.where(send_active, -1, old))  # idle keeps the job loaded
    state.level = np.where(run, act_level[actions], state.level)
    # the laser terminal works beside the accelerators: sending another job keeps the loaded one running
    computing = (run | ckpt | admit | (send & ~send_active)) & (state.active >= 0)

    # -- compute: DVFS at the power cap, hardware throttle above the slowdown temperature
    j = state.active
    cap_w = params.caps_w[state.level]
    t_gpu = thermal.gpu_temp_c(state.temp_k, np.where(computing, cap_w, acc.idle_w), hw.gpu_k_per_w)
    shutdown = computing & (t_gpu >= acc.shutdown_c)
    throttled = computing & (t_gpu >= acc.throttle_c) & ~shutdown
    tot["throttled_steps"] += np.count_nonzero(throttled)
    rate = params.rate_per_level[jobs.model[j], state.level] * np.where(throttled, 0.5, 1.0)  # hardware slowdown
    compute_s = np.where(computing & ~shutdown, np.maximum(dt - overhead, 0.0), 0.0)
    end_work = np.where(np.isnan(jobs.fail_at_fraction[j]), jobs.work[j], jobs.fail_at_fraction[j] * jobs.work[j])
    busy_s = np.minimum(compute_s, (end_work - state.done_work[j]) / np.maximum(rate, 1e-12))
    progress = np.where(computing & ~shutdown, rate * busy_s, 0.0)
    state.done_work[j[computing]] += progress[computing]
    ended = computing & ~shutdown & (state.done_work[j] >= end_work * (1 - 1e-12))
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
        tot["jobs_failed"] += len(failed)
        state.active[ended] = -1
    shaping = np.zeros(N)  # the value the work would earn if delivered now (discounted when late)
    shaping[computing] = (value_at(jobs, j, now, sc.workload.value_half_life_h) * progress / jobs.work[j])[computing]
    gpu_busy = busy_s + np.where(save_old | switching, overhead, 0.0)
    tot["busy_gpu_s"] += float(gpu_busy.sum()) * params.n_accel

    # -- radiation upsets and thermal shutdowns crash the active job
    running_now = computing & ~shutdown & ~ended
    p_up = radiation.upset_probability(
        radiation.upset_rate_per_s(params.n_accel * running_now, eph.in_saa[e], sc.radiation.upsets_per_gpu_day, sc.radiation.saa_multiplier),
        dt,
    )
    upset = running_now & (u_upset < p_up)
    crash = upset | shutdown
    lost_before = state.done_work.copy() if sc.episode.dense_shaping else None
    tot["work_lost_s"] += _crash(state, params, crash)
    state.recover_s = np.where(upset, sc.radiation.recovery_s, np.maximum(state.recover_s - dt, 0.0))
    tot["upsets"] += np.count_nonzero(upset)
    tot["thermal_shutdowns"] += np.count_nonzero(shutdown)

    # -- ISL: start sends, advance transfers, abort on broken links, land arrivals
    if send.any():
        src = sats[send]
        term = act_neigh[actions[send]]
        ok, tslot = _assign_slots(state, eph.neighbours[src, term], src, *_bytes_check(params, state, chosen[send]))
        sj, src, term, tslot = chosen[send][ok], src[ok], term[ok], tslot[ok]
        state.dest[sj], state.dest_slot[sj], state.term[sj] = eph.neighbours[src, term], tslot, term
        state.slots[state.dest[sj], tslot] = sj
        state.xfer_left[sj] = np.where(state.done_work[sj] >= jobs.work[sj], params.model_result[jobs.model[sj]], params.model_ckpt[jobs.model[sj]])
        state.place[sj] = Place.SENDING
        tot["isl_transfers"] += len(sj)
    sending = np.flatnonzero(state.place == Place.SENDING)
    terminals_busy = np.zeros(N, np.int64)  # each terminal is one link: its power is drawn once, its rate shared
    if len(sending):
        up = eph.isl_up[e, state.sat[sending], state.term[sending]]
        ab = sending[~up]
        state.slots[state.dest[ab], state.dest_slot[ab]] = -1
        _settle_on_board(params, state, ab)
        tot["isl_aborts"] += len(ab)
        moving = sending[up]
        M, src_sat, src_term = params.M, state.sat[moving], state.term[moving]
        terminals_busy = links.terminals_in_use(src_sat, src_term, N, M)
        state.xfer_left[moving] -= links.shared_progress(links.terminal_index(src_sat, src_term, M), N * M,
                                                         links.bytes_per_step(sc.links.isl_rate_gbps, dt))
        landed = moving[state.xfer_left[moving] <= 0]
        state.slots[state.sat[landed], state.slot[landed]] = -1
        state.sat[landed], state.slot[landed] = state.dest[landed], state.dest_slot[landed]
        _settle_on_board(params, state, landed)

    # -- ground segment: uplink waiting jobs (automatically, earliest deadline first, or as admitted) and downlink results
    if not params.G and contact.any() and (state.place == Place.GROUND).any():
        uplinking = np.bincount(state.sat[state.place == Place.UPLINK], minlength=N)
        takers = np.flatnonzero(contact & ~state.safe & (uplinking == 0) & (state.slots < 0).any(axis=1))
        gj = _edf_ground(state, len(takers))
        takers = takers[: len(gj)]
        ok, uslot = _assign_slots(state, takers, takers, *_bytes_check(params, state, gj))  # a job that does not fit stays
        _start_uplink(params, state, gj[ok], takers[ok], uslot[ok])
    if params.G and admit.any():
        # an entry admitted by several satellites goes to the lowest index; the others' admit does nothing
        who = sats[admit]
        gj = window[params.actions.entry[actions[admit]]]
        claim = (_rank_in_group(gj, who) == 0) & (state.place[gj] == Place.GROUND)  # not expired at this step's start
        ok, uslot = _assign_slots(state, who[claim], who[claim], *_bytes_check(params, state, gj[claim]))
        _start_uplink(params, state, gj[claim][ok], who[claim][ok], uslot[ok])
        tot["admit_refused"] += len(who) - np.count_nonzero(ok)
    uplink = np.flatnonzero(state.place == Place.UPLINK)
    if len(uplink):
        live = uplink[contact[state.sat[uplink]]]  # an uplink cut by the end of a contact resumes at the next
        state.xfer_left[live] -= links.shared_progress(state.sat[live], N, links.bytes_per_step(sc.ground.uplink_gbps, dt))
        state.place[live[state.xfer_left[live] <= 0]] = Place.ONBOARD

    delivered_value = np.zeros(N)
    results = np.flatnonzero(state.place == Place.RESULT)
    results = results[contact[state.sat[results]]]
    if len(results):
        state.xfer_left[results] -= links.shared_progress(state.sat[results], N, links.bytes_per_step(sc.ground.downlink_gbps, dt))
        delivered = results[state.xfer_left[results] <= 0]
        value = value_at(jobs, delivered, now + dt, sc.workload.value_half_life_h)
        delivered_value = np.bincount(state.finisher[delivered], weights=value, minlength=N)
        state.slots[state.sat[delivered], state.slot[delivered]] = -1
        state.place[delivered] = Place.DONE
        state.delivered_s[delivered] = now + dt
        tot["delivered_value"] += float(value.sum())
        if params.measure[0] <= state.t < params.measure[1]:
            tot["window_value"] += float(value.sum())
        tot["jobs_delivered"] += len(delivered)
        tot["deadline_hits"] += np.count_nonzero(now + dt <= jobs.deadline_s[delivered])
        tot["useful_gpu_s"] += float(jobs.value[delivered].sum()) * 3600.0
        tot["completion_s"] += float((now + dt - jobs.submit_s[delivered]).sum())

    # -- power: loads, battery, safe mode (which crashes the active job and turns accelerators off)
    gpu_w = np.where(
        state.safe, 0.0, np.where(computing & ~shutdown, (busy_s * cap_w + (dt - busy_s) * acc.idle_w) / dt, acc.idle_w)
    ) * params.n_accel
    heater = state.temp_k < hw.min_temp_c + thermal.KELVIN
    load_w = hw.bus_w + gpu_w + hw.isl_terminal_w * terminals_busy + hw.radio_w * contact + hw.heater_w * heater
    solar_w = power.solar_power_w(eph.sunlit[e], hw.solar_area_m2, hw.solar_w_per_m2)
    bat = power.battery_step(
        state.energy_wh, solar_w, load_w, dt, hw.battery_wh, hw.max_charge_w, hw.charge_efficiency, hw.discharge_efficiency
    )
    state.energy_wh = bat.energy_wh
    state.safe, entered = power.safe_mode_update(
        state.safe, bat.energy_wh / hw.battery_wh, hw.safe_mode_soc, hw.resume_soc, bat.unmet_w > 0
    )
    tot["work_lost_s"] += _crash(state, params, entered)
    tot["safe_mode_entries"] += np.count_nonzero(entered)
    if lost_before is not None:
        lost = lost_before - state.done_work
        lost_sats = np.maximum(state.sat, 0)
        worth = value_at(jobs, slice(None), now, sc.workload.value_half_life_h)
        shaping -= np.bincount(lost_sats, weights=worth * lost / jobs.work, minlength=N)

    # -- thermal: all electrical power ends as heat in the node; shutdown clears below max operating
    state.temp_k = thermal.node_step(
        state.temp_k, load_w - bat.unmet_w, dt, hw.heat_capacity_j_per_k, hw.emissivity, hw.radiator_area_m2,
        np.where(eph.sunlit[e], hw.sink_temp_k, hw.sink_temp_eclipse_k),
    )
    cool = thermal.gpu_temp_c(state.temp_k, acc.idle_w, hw.gpu_k_per_w) < acc.max_operating_c
    state.thermal_off = (state.thermal_off & ~cool) | shutdown  # a new shutdown lasts at least one step

    dt_h = dt / 3600.0
    tot["energy_solar_wh"] += float(solar_w.sum()) * dt_h
    tot["energy_load_wh"] += float(load_w.sum()) * dt_h
    tot["energy_gpu_wh"] += float(gpu_w.sum()) * dt_h
    tot["energy_shunt_wh"] += float(bat.shunt_w.sum()) * dt_h
    tot["battery_cycles"] += float(bat.discharge_w.sum()) * dt_h / (hw.battery_wh * N)  # equivalent full cycles per satellite (wear)
    state.antenna = np.where(contact, eph.station[e], -1)
    state.t += 1
    return StepInfo(delivered_value, shaping, entered, shutdown, upset, invalid, solar_w, load_w, bat, t_gpu)


def job_census(state: SimState) -> dict[str, int]:
    """Jobs by place. ``submitted`` counts arrivals independently of places, so
    ground + queued + running + in_flight + done + dropped == submitted checks that no job is lost."""
    counts = np.bincount(state.place, minlength=len(Place.NAMES))
    running = int((state.active >= 0).sum())
    return {
        "submitted": state.n_arrived,
        "ground": int(counts[Place.GROUND]),
        "queued": int(counts[Place.ONBOARD] + counts[Place.RESULT]) - running,
        "running": running,
        "in_flight": int(counts[Place.UPLINK] + counts[Place.SENDING]),
        "done": int(counts[Place.DONE]),
        "dropped": int(counts[Place.DROPPED]),
    }


def consistency_errors(state: SimState, params: Params | None = None) -> list[str]:
    """Check that slots, places and active jobs agree; return a description of each violation.

    Every UPLINK/ONBOARD/RESULT job holds exactly one slot on its satellite, a SENDING job one on its
    source and one on its destination, other jobs none; an active job is ONBOARD on its satellite.
    With ``params``, no satellite holds more bytes than its storage.
    """
    errors = []
    if params is not None:
        for i in np.flatnonzero(free_bytes(params, state) < -1e-6 * params.storage_b):
            errors.append(f"satellite {i} holds {params.storage_b - free_bytes(params, state)[i]:.6g} bytes, storage is {params.storage_b:.6g}")
    J = len(state.place) - 1  # without the sentinel
    held = np.bincount(state.slots[state.slots >= 0], minlength=J + 1)[:J]
    place = state.place[:J]
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
    for j in np.flatnonzero(np.isin(place, (Place.RESULT, Place.DONE)) & (state.finisher[:J] < 0)):
        errors.append(f"job {j} is {Place.NAMES[place[j]]} but no satellite is recorded as having finished it")
    if state.n_arrived != int((state.place[:J] != Place.FUTURE).sum()):
        errors.append(f"{state.n_arrived} jobs arrived but {(place != Place.FUTURE).sum()} have left FUTURE")
    return errors
