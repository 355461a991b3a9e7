"""An upper bound on the value any policy can deliver in one episode: a linear program over time buckets,
solved with full knowledge of the episode (job arrivals, contacts, sunlight, the state at step 0) by HiGHS.

The board scores 100 at this bound, so it must be valid (no policy can deliver more ``window_value``)
and should be tight. Every constraint kept below follows from a rule of ``orbit_env.sim``; everything
else is dropped, which can only raise the optimum.

## What is kept (each is a rule of the simulator)
- Arrival and uplink: a job submitted at s reaches the ground at step floor(s / dt); its dataset needs
  ceil(bytes / uplink bytes per step) contact steps of *one* satellite, from the first at or after
  arrival (an uplink pauses out of contact and resumes on the same satellite). It can run from the step
  after the uplink completes. A job still on the ground past deadline + ``drop_after_h`` is dropped, so a
  job whose first possible uplink step is later is worth nothing.
- Compute: a job runs on one satellite at a time at most at its model's top rate, so it cannot finish
  before (earliest start) + remaining work / top rate. A satellite runs one job at a time at one power
  level: per bucket, the constellation has N x bucket seconds, and a second at level p does
  ``rate_per_level[model, p]`` units and draws ``n_accel x cap_p`` W.
- Delivery: a finished result goes down in contact steps (from the step it finishes), ceil(result
  bytes / downlink bytes per step) of them on one satellite; its value is ``value_at`` the delivery time,
  counted only inside the measurement window (``[episode] measure_start_h / measure_end_h``, the whole
  episode when absent; a delivery step counts if it ends after the start and begins before the end, so
  either reading of the window's edges is covered).
- Energy: solar (sunlit steps x array power), the always-on bus and the radio in contact (when
  stations have unlimited antennas) are paid from the array or the battery; the battery stores
  ``charge_efficiency`` of what it takes (at most ``max_charge_w``), gives ``discharge_efficiency``,
  and holds between 0 and its capacity, starting from the batteries at step 0.

## What is relaxed (each only loosens)
- Satellites are pooled: compute time, energy and batteries are summed over the constellation (a
  satellite's spare energy may serve another), and a job may be uplinked, run and downlinked by
  different satellites at no cost (free, instantaneous relaying); antennas, queue slots, storage and
  one-uplink-at-a-time per satellite are ignored.
- Time is cut into buckets: within a bucket, energy and compute may be used in any order. Jobs are
  grouped by (the bucket in which they can first run, speed class); a group's completed work never
  exceeds the compute given to the group since that bucket (a job's own order of work is not tracked
  beyond its earliest finish). Why buckets keep it a bound: map any schedule of the steps to the program
  by summing over each bucket's steps: satellite-seconds per (class, level), solar used directly, charge
  and discharge become the bucket's variables, the pooled battery at the bucket's last step its level,
  and a job finishing at step t takes the credit of the bucket holding t. Every row of the program is
  then the sum of per-step rows the schedule meets (capacity N x dt per step, demand <= direct +
  discharge, charge <= the array and the charger, the battery's balance telescoping over the bucket), or
  weaker (a group may use its whole release bucket, and work done by a bucket's end may complete in it),
  so the mapped point is feasible; and its objective is at least the schedule's value, because a bucket's
  credit is the value at the earliest delivery from max(bucket start, earliest finish) <= t, and value
  and the k-th contact are monotone in time. So the optimum is at least every schedule's value.
- Speed classes: models whose rates at the levels are one profile times their top rate (all shipped
  models: ``rate_per_level`` scales one curve) share a class. Measured in seconds at top rate, their work
  costs the same satellite-seconds and energy at each level, so one pool of compute per class serves
  them all, each group drawing its allocation from the pool; this is exact, not a relaxation (split a
  class's compute at each level among its groups in proportion to their allocations).
- Jobs are fractional (x_j in [0, 1]); a job completing in bucket b is credited with its value at the
  earliest delivery possible from the earliest completion in b (or at the window start, if that is
  earlier).
- Free: checkpoint and switch overheads, radiation upsets, thermal throttling and shutdown (so heat is
  not modelled), safe mode, the accelerators' idle draw, heaters, laser terminals, and downlink
  bandwidth beyond the per-result timing. Jobs that fail or are cancelled (trace outcomes) earn nothing.
- Brown-outs: a satellite out of safe mode starts every step at least at its safe-mode charge, so it
  can run out of energy only in safe mode, with the accelerators off. When the longest safe-mode
  drain the episode's sunlight allows (its worst draw-down of the bus, radio, heater and terminals)
  cannot empty a battery from the safe-mode threshold, no load goes unmet; otherwise that much unmet
  load is given away free.

## Solving
First a feasibility check: can every job take its best credit? That program has only each job's best
credit, fixed at 1 (a fraction of the full program's size); if it is feasible, the per-job bound (each
job's best value, summed) is the optimum. Otherwise HiGHS's dual simplex solves the full program. Credits
of one job within 1.4% of each other are merged into one at the later bucket with the larger credit
(valid: a later completion is never harder). A time limit that stops HiGHS before optimality returns the
per-job bound, which stays valid. Size: one credit variable per (job, bucket of distinct credit); per
speed class, one compute variable per (bucket, power level); per (group, bucket from its release to its
last credit) one allocation and one stock variable; four energy variables per bucket. One row per job,
per (group, bucket), per (class, bucket) and a few per bucket. ``benchmarks/bound_cost.py`` measures the
cost per v2 scenario against the solver the v2 board was first solved with.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from orbit_env.batch import BatchEnv
from orbit_env.env import OrbitComputeEnv
from orbit_env.physics.links import bytes_per_step
from orbit_env.sim import Place, value_at
from orbit_env.workload.generator import JobBatch

BUCKET_S = 600.0  # bucket length unless the job count makes the program too large
MAX_CREDITS = 300_000  # about 30 s of HiGHS's interior point on one core when the full program must be solved
SAFETY = 1e-6  # relative margin above every result: HiGHS's tolerance is ~1e-7, float sums differ by ~1e-15
METHOD = "highs-ds"  # dual simplex: faster than the interior point on this formulation (benchmarks/bound_cost.py)
# HiGHS's limit is wall time, so a busy machine reaches it sooner and the looser per-job bound would then
# depend on the load: at 60 s, 3 of v2's 234 test bounds stopped early with two workers beside ~5 other
# processes; the slowest takes ~10 CPU-s
TIME_LIMIT_S = 600.0
CREDIT_BINS_PER_HALVING = 50  # credits of one job within a factor 2^(1/50) (1.4%) of each other are merged


@dataclass(frozen=True)
class Bound:
    """An upper bound on ``window_value`` for one episode, and the size and outcome of the program.

    ``status``: "optimal" (HiGHS solved the program), "optimal (every job at its best)" (the per-job bound
    is feasible, so it is the optimum), "optimal (no job can be delivered in the window)", or
    "per-job bound (<HiGHS message>)" when HiGHS stopped early (time limit): still a valid bound, looser.
    """

    value: float
    seconds: float
    n_vars: int
    n_cons: int
    status: str


@dataclass(frozen=True)
class Episode:
    """What the relaxation reads about an episode, as plain arrays (tests build small ones by hand).

    Steps t = 0..T-1; step t delivers at (t + 1) x dt. Jobs not yet aboard have ``arrive`` >= 0 and
    ``up_steps`` >= 1; jobs aboard have ``arrive`` = -1 and can run from step 0 (``work`` 0: a result).
    """

    dt: float
    contact: np.ndarray  # (T, N) bool
    sunlit: np.ndarray  # (T, N) bool
    arrive: np.ndarray  # (J,) step the job reaches the ground, -1 if aboard at step 0
    up_steps: np.ndarray  # (J,) contact steps of one satellite its dataset needs (0 if aboard)
    down_steps: np.ndarray  # (J,) contact steps of one satellite its result needs (>= 1)
    drop_s: np.ndarray  # (J,) a job not uplinked by this time is dropped
    model: np.ndarray  # (J,) index into rate
    work: np.ndarray  # (J,) remaining work (model units)
    deadline_s: np.ndarray  # (J,)
    value: np.ndarray  # (J,) value when delivered by the deadline
    half_life_h: float
    window_s: tuple[float, float]  # delivery times counted: [start, end)
    rate: np.ndarray  # (n_models, P) units/s of one satellite at each power level
    gpu_w: np.ndarray  # (P,) accelerator draw of one satellite at each level
    base_w: np.ndarray  # (T,) load of the whole constellation that any policy pays (bus, radio)
    solar_w: float  # one satellite's array output in sunlight
    battery_wh: float  # one satellite's capacity
    energy0_wh: float  # all batteries at step 0
    max_charge_w: float
    eta_charge: float
    eta_discharge: float
    unmet_wh: float  # load that may go unmet (brown-outs), free

    @property
    def n_steps(self) -> int:
        return self.contact.shape[0]


# ------------------------------------------------------------------------------------ timing


def kth_contact(contact: np.ndarray, k: int) -> np.ndarray:
    """(T + 1,) for each start step a, the earliest step by which some satellite has had k contact steps
    in [a, step]; T where none has (and at a = T)."""
    T, N = contact.shape
    out = np.full(T + 1, T, np.int64)
    if k <= 0:
        out[:T] = np.arange(T)
        return out
    by_sat = contact.T
    cum = np.zeros((N, T + 1), np.int64)
    np.cumsum(by_sat, axis=1, out=cum[:, 1:])
    count = cum[:, -1]
    if not count.any():
        return out
    _, steps = np.nonzero(by_sat)  # contact steps, satellite by satellite, in time order
    offset = np.concatenate([[0], np.cumsum(count)[:-1]])
    pos = cum[:, :T] + (k - 1)  # index of the k-th contact at or after a among the satellite's contacts
    ok = pos < count[:, None]
    at = np.where(ok, steps[np.minimum(offset[:, None] + pos, len(steps) - 1)], T)
    out[:T] = at.min(axis=0)
    return out


def job_windows(ep: Episode) -> tuple[np.ndarray, np.ndarray]:
    """(first step each job can run, step by which it can first be finished); T when never."""
    T = ep.n_steps
    J = len(ep.work)
    start = np.zeros(J, np.int64)
    ground = ep.arrive >= 0
    arrive = np.minimum(ep.arrive, T)
    for k in np.unique(ep.up_steps[ground]):
        sel = ground & (ep.up_steps == k)
        first = kth_contact(ep.contact, 1)[arrive[sel]]  # the uplink cannot start before this
        done = kth_contact(ep.contact, int(k))[arrive[sel]]
        start[sel] = np.where(first * ep.dt <= ep.drop_s[sel], np.minimum(done + 1, T), T)
    steps = np.ceil(ep.work / (ep.rate[ep.model].max(axis=1) * ep.dt) - 1e-9).astype(np.int64)
    finish = np.minimum(start + np.maximum(steps, 1) - 1, T)
    return start, np.where(start >= T, T, finish)


def _merge_credits(ep: Episode, j: np.ndarray, b: np.ndarray, w: np.ndarray):
    """Fewer credit variables: consecutive buckets of a job whose credits are within a factor
    2^(1 / CREDIT_BINS_PER_HALVING) become one credit at the run's last bucket with the run's first (largest)
    credit. Completing later is never harder in the program and the credit only rises, so it stays a bound.
    ``j`` ascending, ``b`` ascending within a job, ``w`` non-increasing within a job."""
    level = np.floor(np.log2(ep.value[j] / w) * CREDIT_BINS_PER_HALVING + 1e-9)
    last = np.r_[(j[1:] != j[:-1]) | (level[1:] != level[:-1]), True]
    first = np.r_[True, last[:-1]]
    return j[last], b[last], w[first]


# ------------------------------------------------------------------------------------ program


class _Columns:
    """Variables added in blocks; each block returns its index range."""

    def __init__(self):
        self.n = 0
        self.cost, self.lo, self.hi = [], [], []

    def add(self, count: int, cost=0.0, lo=0.0, hi=np.inf) -> np.ndarray:
        idx = np.arange(self.n, self.n + count)
        self.n += count
        self.cost.append(np.broadcast_to(np.asarray(cost, float), (count,)))
        self.lo.append(np.broadcast_to(np.asarray(lo, float), (count,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, float), (count,)))
        return idx


class _Rows:
    """Constraint rows as coordinate triplets: ``add`` returns row ids; ``put`` adds coefficients."""

    def __init__(self):
        self.n = 0
        self.r, self.c, self.v, self.rhs = [], [], [], []

    def add(self, rhs) -> np.ndarray:
        rhs = np.atleast_1d(np.asarray(rhs, float))
        idx = np.arange(self.n, self.n + len(rhs))
        self.n += len(rhs)
        self.rhs.append(rhs)
        return idx

    def put(self, rows, cols, vals=1.0) -> None:
        rows, cols = np.broadcast_arrays(np.asarray(rows), np.asarray(cols))
        self.r.append(rows.ravel())
        self.c.append(cols.ravel())
        self.v.append(np.broadcast_to(np.asarray(vals, float), rows.shape).ravel())

    def matrix(self, n_cols: int):
        if not self.n:
            return None, None
        cat = lambda x: np.concatenate(x) if x else np.zeros(0)  # noqa: E731
        m = sparse.coo_matrix((cat(self.v), (cat(self.r), cat(self.c))), shape=(self.n, n_cols)).tocsr()
        return m, cat(self.rhs)


def solve(ep: Episode, bucket_steps: int, time_limit_s: float = TIME_LIMIT_S) -> Bound:
    """The bound of ``ep`` with buckets of ``bucket_steps`` steps."""
    t0 = time.perf_counter()
    T = ep.n_steps
    B = -(-T // bucket_steps)
    lo_s, hi_s = ep.window_s

    # credit: job j completing in bucket b earns its value at the earliest delivery from then
    start, finish = job_windows(ep)
    live = np.flatnonzero(finish < T)
    first_b = finish[live] // bucket_steps
    nb = B - first_b
    j = np.repeat(live, nb)
    b = np.repeat(first_b, nb) + np.arange(nb.sum()) - np.repeat(np.cumsum(nb) - nb, nb)
    t_done = np.maximum(b * bucket_steps, finish[j])
    deliver = np.full(len(j), T, np.int64)
    for k in np.unique(ep.down_steps[live]):
        sel = ep.down_steps[j] == k
        deliver[sel] = kth_contact(ep.contact, int(k))[t_done[sel]]
    t_s = (deliver + 1) * ep.dt
    ok = (deliver < T) & (deliver * ep.dt < hi_s)
    w = np.where(ok, value_at(ep, j, np.maximum(t_s, lo_s), ep.half_life_h), 0.0)  # ep has the fields value_at reads
    keep = w > 0
    if not keep.any():
        return Bound(0.0, time.perf_counter() - t0, 0, 0, "optimal (no job can be delivered in the window)")
    j, b, w = _merge_credits(ep, j[keep], b[keep], w[keep])
    per_job = np.zeros(len(ep.work))
    np.maximum.at(per_job, j, w)
    trivial = float(per_job.sum()) * (1 + SAFETY)  # the margin covers summation order as well
    left = lambda: max(time_limit_s - (time.perf_counter() - t0), 1.0)  # noqa: E731

    # first: can every job take its best credit (its first)? Then the per-job bound is the optimum. The check
    # is a program with only those credits, fixed at 1: a fraction of the full program's size.
    best = np.r_[True, j[1:] != j[:-1]]
    lp = _program(ep, bucket_steps, start, j[best], b[best], w[best], fixed=True)
    res = linprog(lp.cost, lp.A_ub, lp.b_ub, lp.A_eq, lp.b_eq, bounds=lp.bounds, method="highs", options={"time_limit": left()})
    if res.status == 0:
        return Bound(trivial, time.perf_counter() - t0, lp.n_vars, lp.n_cons, "optimal (every job at its best)")
    lp = _program(ep, bucket_steps, start, j, b, w)
    res = linprog(lp.cost, lp.A_ub, lp.b_ub, lp.A_eq, lp.b_eq, bounds=lp.bounds, method=METHOD, options={"time_limit": left()})
    if res.status == 0:
        value, status = min(-res.fun * (1 + SAFETY), trivial), "optimal"
    else:
        value, status = trivial, f"per-job bound ({res.message})"
    return Bound(float(value), time.perf_counter() - t0, lp.n_vars, lp.n_cons, status)


@dataclass(frozen=True)
class _Program:
    """A linear program in ``linprog``'s form (minimise ``cost``)."""

    cost: np.ndarray
    A_ub: sparse.csr_matrix
    b_ub: np.ndarray
    A_eq: sparse.csr_matrix
    b_eq: np.ndarray
    bounds: np.ndarray

    @property
    def n_vars(self) -> int:
        return len(self.cost)

    @property
    def n_cons(self) -> int:
        return self.A_ub.shape[0] + self.A_eq.shape[0]


def _program(ep: Episode, bucket_steps: int, start: np.ndarray, j, b, w, fixed: bool = False) -> _Program:
    """The program over credits (job ``j`` completing in bucket ``b`` earns ``w``; ``j`` ascending, ``b``
    ascending within a job), for jobs that can first run at ``start``. ``fixed``: every credit is taken."""
    T, N = ep.contact.shape
    P = len(ep.gpu_w)
    B = -(-T // bucket_steps)

    cols, eq, ub = _Columns(), _Rows(), _Rows()
    z = cols.add(len(j), cost=-w, lo=float(fixed), hi=1.0)
    used, jj = np.unique(j, return_inverse=True)
    ub.put(ub.add(np.ones(len(used)))[jj], z)  # each job at most once

    # compute: run[c, b, p] satellite-seconds of speed class c at level p in bucket b, which do sum_p speed[c, p]
    # run[c, b, p] full-speed seconds of work; groups g = (release bucket, class) draw it as alloc[g, b], from their
    # release to their last credit, and keep stock[g, b] of work given but not yet completed
    top = ep.rate.max(axis=1)
    speed, cls = np.unique(ep.rate / top[:, None], axis=0, return_inverse=True)  # full-speed seconds per second
    cls = cls.ravel()
    C = len(speed)
    run = cols.add(C * B * P)
    run_c, run_b = np.repeat(np.arange(C), B * P), np.tile(np.repeat(np.arange(B), P), C)
    run_p = np.tile(np.arange(P), C * B)
    rel = start // bucket_steps
    gkey = rel[used] * C + cls[ep.model[used]]
    groups, g_of = np.unique(gkey, return_inverse=True)
    g_rel, g_cls = groups // C, groups % C
    zg = g_of[jj]
    g_last = g_rel.copy()
    np.maximum.at(g_last, zg, b)  # work given to a group after its last credit completes nothing
    span = g_last - g_rel + 1
    G_first = np.concatenate([[0], np.cumsum(span)[:-1]])  # offset of (g, release bucket) in the flat (g, b)
    gb_g = np.repeat(np.arange(len(groups)), span)
    gb_b = np.repeat(g_rel, span) + np.arange(span.sum()) - np.repeat(G_first, span)
    n_gb = len(gb_g)
    stock, alloc = cols.add(n_gb), cols.add(n_gb)
    rows = eq.add(np.zeros(n_gb))  # stock[g, b] - stock[g, b - 1] - alloc[g, b] + completed work = 0
    eq.put(rows, stock, 1.0)
    prev = np.flatnonzero(gb_b > g_rel[gb_g])
    eq.put(rows[prev], stock[prev - 1], -1.0)
    eq.put(rows, alloc, -1.0)
    eq.put(rows[G_first[zg] + b - g_rel[zg]], z, ep.work[j] / top[ep.model[j]])
    supply = ub.add(np.zeros(C * B))  # sum_g alloc[g, b] <= the class's work in bucket b
    ub.put(supply[g_cls[gb_g] * B + gb_b], alloc, 1.0)
    ub.put(supply[run_c * B + run_b], run, -speed[run_c, run_p])

    # per bucket: satellite-seconds and energy (Wh) with the pooled battery
    steps_in = np.minimum(np.arange(1, B + 1) * bucket_steps, T) - np.arange(B) * bucket_steps
    ub.put(ub.add(N * steps_in * ep.dt)[run_b], run)
    hours = ep.dt / 3600.0
    edges = np.arange(B) * bucket_steps
    solar_wh = np.add.reduceat(ep.sunlit.sum(axis=1).astype(float), edges) * ep.solar_w * hours
    base_wh = np.add.reduceat(ep.base_w.astype(float), edges) * hours
    direct, charge, discharge, energy = cols.add(B), cols.add(B), cols.add(B), cols.add(B, hi=N * ep.battery_wh)
    unmet = cols.add(B) if ep.unmet_wh > 0 else None
    demand = ub.add(-base_wh)  # base + accelerators <= direct solar + discharge (+ unmet)
    ub.put(demand[run_b], run, ep.gpu_w[run_p] / 3600.0)
    ub.put(demand, direct, -1.0)
    ub.put(demand, discharge, -1.0)
    if unmet is not None:
        ub.put(demand, unmet, -1.0)
        ub.put(ub.add([ep.unmet_wh]), unmet, 1.0)
    sun = ub.add(solar_wh)
    ub.put(sun, direct, 1.0)
    ub.put(sun, charge, 1.0)
    ub.put(ub.add(N * ep.max_charge_w * steps_in * hours), charge, 1.0)
    bal = eq.add(np.r_[ep.energy0_wh, np.zeros(B - 1)])  # E_b - E_{b-1} - eta_c C_b + D_b / eta_d = 0
    eq.put(bal, energy, 1.0)
    eq.put(bal[1:], energy[:-1], -1.0)
    eq.put(bal, charge, -ep.eta_charge)
    eq.put(bal, discharge, 1.0 / ep.eta_discharge)

    A_ub, b_ub = ub.matrix(cols.n)
    A_eq, b_eq = eq.matrix(cols.n)
    bounds = np.stack([np.concatenate(cols.lo), np.concatenate(cols.hi)], axis=1)
    return _Program(np.concatenate(cols.cost), A_ub, b_ub, A_eq, b_eq, bounds)


# ------------------------------------------------------------------------------------ from an env


def _drawdown_wh(net_wh: np.ndarray) -> np.ndarray:
    """(N,) the largest fall of each column's running sum (T, N) over any interval."""
    level = np.cumsum(net_wh, axis=0)
    peak = np.maximum.accumulate(np.maximum(level, 0.0), axis=0)
    return (peak - level).max(axis=0)


def episode_of(env, b: int = 0) -> Episode:
    """The relaxation's view of episode ``b`` of the episodes ``env`` (a BatchEnv or the single env) has
    just been reset to."""
    sim, eph, prm, sc = env.sim, env.ephemeris, env.params, env.scenario
    hw, wl, ep_cfg = sc.hardware, sc.workload, sc.episode
    T, N, dt, J = env.max_cycles, prm.n_sats, prm.dt, sim.J
    e0 = int(sim.e0[b])
    e = slice(e0, e0 + T)
    contact, sunlit = eph.contact[e], eph.sunlit[e]
    rows = slice(b * J, (b + 1) * J)  # the episode's job rows, then rows that never arrive
    jobs = JobBatch(**{f.name: getattr(sim.jobs, f.name)[rows] for f in dataclasses.fields(JobBatch)})
    real = np.isfinite(jobs.submit_s)  # without the rows that never arrive
    place, xfer_left, done_work = sim.place[rows], sim.xfer_left[rows], sim.done_work[rows]
    energy_wh = sim.energy_wh[b * N : (b + 1) * N]
    pending = real & np.isin(place, (Place.FUTURE, Place.GROUND)) & np.isnan(jobs.fail_at_fraction)
    aboard = real & np.isin(place, (Place.UPLINK, Place.ONBOARD, Place.SENDING, Place.RESULT)) & np.isnan(jobs.fail_at_fraction)
    idx = np.flatnonzero(pending | aboard)
    m = jobs.model[idx]
    up_bytes = bytes_per_step(sc.ground.uplink_gbps, dt)
    down_bytes = bytes_per_step(sc.ground.downlink_gbps, dt)
    uplinking = place[idx] == Place.UPLINK
    data_left = np.where(uplinking, xfer_left[idx], prm.model_data[m])
    is_result = place[idx] == Place.RESULT
    result_left = np.where(is_result, xfer_left[idx], prm.model_result[m])
    on_ground = pending[idx] | uplinking
    arrive = np.where(on_ground, np.maximum(np.floor(jobs.submit_s[idx] / dt), 0), -1).astype(np.int64)
    arrive[uplinking] = 0
    up_steps = np.where(on_ground, np.maximum(np.ceil(data_left / up_bytes - 1e-9), 1), 0).astype(np.int64)
    down_steps = np.maximum(np.ceil(result_left / down_bytes - 1e-9), 1).astype(np.int64)

    antennas = getattr(sc.ground, "antennas_per_station", 0)
    radio_w = hw.radio_w if not antennas else 0.0  # with shared antennas a visible station may not listen
    base_w = N * hw.bus_w + radio_w * contact.sum(axis=1)
    solar_w = hw.solar_area_m2 * hw.solar_w_per_m2
    return Episode(
        dt=dt,
        contact=contact,
        sunlit=sunlit,
        arrive=arrive,
        up_steps=up_steps,
        down_steps=down_steps,
        drop_s=np.where(uplinking, np.inf, jobs.deadline_s[idx] + wl.drop_after_h * 3600.0),  # only the ground drops
        model=m.astype(np.int64),
        work=np.maximum(jobs.work[idx] - done_work[idx], 0.0),
        deadline_s=jobs.deadline_s[idx],
        value=jobs.value[idx],
        half_life_h=wl.value_half_life_h,
        window_s=(getattr(ep_cfg, "measure_start_h", 0.0) * 3600.0, _window_end_h(ep_cfg, T * dt) * 3600.0),
        rate=prm.rate_per_level,
        gpu_w=prm.caps_w * prm.n_accel,
        base_w=base_w,
        solar_w=solar_w,
        battery_wh=hw.battery_wh,
        energy0_wh=float(energy_wh.sum()),
        max_charge_w=hw.max_charge_w,
        eta_charge=hw.charge_efficiency,
        eta_discharge=hw.discharge_efficiency,
        unmet_wh=_unmet_wh(env, energy_wh, sunlit, contact, solar_w),
    )


def _window_end_h(ep_cfg, end_s: float) -> float:
    end_h = getattr(ep_cfg, "measure_end_h", None)
    return end_s / 3600.0 if end_h is None or not math.isfinite(end_h) or end_h <= 0 else end_h


def _unmet_wh(env, energy_wh, sunlit, contact, solar_w) -> float:
    """Load that may go unmet: 0 when no battery can run empty (see the module docstring), else all the
    safe-mode load in excess of the array, summed over satellites and steps."""
    hw, prm = env.scenario.hardware, env.params
    hours = prm.dt / 3600.0
    safe_w = hw.bus_w + hw.heater_w + hw.isl_terminal_w * prm.M + hw.radio_w * contact
    surplus = np.where(sunlit, solar_w, 0.0) - safe_w
    net = np.where(surplus > 0, hw.charge_efficiency * np.minimum(surplus, hw.max_charge_w), surplus / hw.discharge_efficiency) * hours
    peak_w = hw.bus_w + prm.n_accel * prm.caps_w.max() + hw.isl_terminal_w * prm.M + hw.radio_w + hw.heater_w
    entry = np.minimum(energy_wh, hw.safe_mode_soc * hw.battery_wh - peak_w * hours / hw.discharge_efficiency)
    if np.all(entry - _drawdown_wh(net) > 0):
        return 0.0
    return float(np.maximum(-surplus, 0.0).sum() * hours)


def default_bucket_steps(ep: Episode) -> int:
    """Buckets of BUCKET_S, longer when (jobs x buckets) / 2, about the credit variables, would exceed MAX_CREDITS."""
    T = ep.n_steps
    return max(1, math.ceil(BUCKET_S / ep.dt), math.ceil(len(ep.work) * T / (2 * MAX_CREDITS)))


def episode_bound(
    scenario: str, seed: int, max_cycles: int | None = None, overrides: dict | None = None,
    time_limit_s: float = TIME_LIMIT_S, bucket_steps: int | None = None,
) -> Bound:  # fmt: skip
    """Upper bound on ``window_value`` for the episode ``parallel_env(scenario, overrides).reset(seed)`` starts."""
    env = OrbitComputeEnv(scenario, max_cycles=max_cycles, overrides=overrides)
    env.reset(seed=seed)
    ep = episode_of(env)
    return solve(ep, bucket_steps or default_bucket_steps(ep), time_limit_s)


def episode_bounds(scenario: str, seeds: Sequence[int], max_cycles: int | None = None, time_limit_s: float = TIME_LIMIT_S) -> list[Bound | Exception]:
    """``episode_bound`` of each seed, from one batched reset of all of them (a reset with its warm start
    costs about as much as a bound, and a batch of 8 resets about twice one). Each entry is the seed's
    Bound, or the exception its solve raised, so one failure does not lose the others."""
    env = BatchEnv(scenario, len(seeds), max_cycles=max_cycles, autoreset_mode="disabled")
    env.reset(seed=[int(s) for s in seeds])
    out: list[Bound | Exception] = []
    for b in range(len(seeds)):
        try:
            ep = episode_of(env, b)
            out.append(solve(ep, default_bucket_steps(ep), time_limit_s))
        except Exception as e:  # noqa: BLE001 - returned to the caller, who names the episode
            out.append(e)
    return out
