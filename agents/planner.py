"""A planning baseline: rolling-horizon mixed-integer programs solved by HiGHS (scipy.optimize.milp).

What it may know is what an operator knows: the observations (read by field name, as the heuristics do),
the scenario's data sheet (``agents.datasheet``) and the forecast of the orbits' geometry
(``orbit_env.forecast``): sunlight, SAA and contacts of the coming steps; never future arrivals or upsets.

At a decision point a satellite solves one program over a horizon of ``horizon_orbits`` orbits: the
current step is one block with integer decisions (run which job at which power level, or admit which
window entry), the rest of the horizon is cut into blocks of ``block_steps`` steps whose decisions are
relaxed (continuous). It then takes the first step, and follows the plan's later blocks until the next
decision point (every ``replan_every`` steps, and at events: a contact, a job finishing or arriving, a
change in the admission window it may take from, safe mode, thermal shutdown, an upset, or a planned action the mask
forbids); a planned level too hot at the observed temperature steps down to the highest cool one instead. Per block b:

- Variables: u[b, p] steps at power level p; w[j, b] full-speed seconds of work on job j (queued slots,
  in-flight uplinks and the admission window's entries); a[j, 0] which job runs now (binary);
  y[g] admit entry g now (binary); c[j, q] the job completes before delivery chance q (a contact; q = last:
  after the horizon); battery energy, charge, discharge and direct solar; the radiator node temperature;
  slacks of the battery floor and the GPU temperature limit (penalised, so a program is always feasible).
- Constraints: the levels' steps fit in the block; the work of a block fits the compute of its levels
  (the data sheet's DVFS speed); a job's work fits what is left of it, and only from the block it is
  aboard (an entry after its uplink's contact steps); one job runs now, and it is switched to at the cost of
  its checkpoints; admitting now keeps only the loaded job at its level (as the simulator does); the
  battery balance with charge and discharge efficiencies, the charge limit and the solar array in the
  forecast's sunlit steps, above the safe-mode floor plus a margin; the radiator node's backward-Euler
  balance linearised around the temperature at which the top power cap reaches the throttle limit
  (T^4 ~ Tref^4 + 4 Tref^3 (T - Tref)), with the GPU (node + K/W x cap, the block's mean cap) below the
  throttle temperature at the block's start and end; now (block 0) the GPU limit is exact.
- Objective: value of completed jobs at their forecast delivery (the first contact after the block they
  complete in, discounted by the workload's half-life after the deadline), plus ``partial_credit`` of the
  value of work done on jobs that do not complete in the horizon, a small bonus for earlier work (so equal
  plans act now), minus the penalties.

Relaxed: later blocks' decisions and completions are fractional; a block's levels and jobs may mix; switch
and checkpoint costs count only now; jobs in later blocks need not be switched; upsets, the SAA and
checkpoints are not in the program; heaters, laser terminals and antenna sharing are free; the window is
only what is offered now (no future arrivals); a delivery needs only the first contact after completion.
Not optimised: checkpoints and sends follow the ``balance`` rules on top of the plan (Young/Daly
checkpoints, relays of results toward sooner contacts, offloads to less loaded neighbours).

Decentralised (``planner``): one program per satellite from its own observation. Centralised
(``planner-central``): one program for the constellation, the same blocks joined by what satellites share:
a window entry admitted by several satellites goes to one only.

Cost: the MILP stops after ``NODE_LIMIT`` branch-and-bound nodes (a limit that does not depend on the
machine's load, so board rows repeat) and each decision has a HiGHS ``time_limit_s`` as a safety net; a
stopped solve uses its incumbent, and no incumbent or any solver failure falls back to ``edf-safe`` for that
satellite. A planned action the mask forbids becomes
edf-safe's. ``stats`` records every solve (variables, seconds, status) for the benchmark.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from agents import decode
from agents.datasheet import Datasheet
from agents.heuristics import BalancePolicy, SafeEDFPolicy
from agents.policy import ArrayPolicy
from orbit_env.physics.thermal import KELVIN, SIGMA

PENALTY_PER_WH = 1.0  # value (reference GPU-h) per Wh below the battery floor: a safe-mode entry costs hours of work
PENALTY_PER_K = 1.0  # value per kelvin-block above the GPU limit: throttling halves the speed
EARLY_BONUS = 1e-3  # fraction of a job's value density paid for doing its work one horizon earlier


@dataclass(frozen=True)
class Program:
    """One satellite's planning problem as plain arrays (``Planner`` builds them from observations; tests by hand).

    Blocks b = 0..nb-1 of ``steps[b]`` steps, block 0 being the current step. Jobs j = 0..J-1; a job with
    ``entry[j]`` >= 0 is the admission window's entry g (admitted only now, available after its uplink).
    """

    dt: float
    steps: np.ndarray  # (nb,) steps per block
    sun_steps: np.ndarray  # (nb,) sunlit steps per block
    contact_steps: np.ndarray  # (nb,) contact steps per block (the radio's load)
    deliver_s: np.ndarray  # (Q,) delivery time of delivery chance q (the last: after the horizon)
    chance_block: np.ndarray  # (Q,) last block whose completions make chance q (nb - 1 for the last)
    rem_s: np.ndarray  # (J,) full-speed seconds of work left
    value: np.ndarray  # (J,) value delivered by the deadline
    deadline_s: np.ndarray  # (J,) from now
    first_block: np.ndarray  # (J,) first block the job can run in (nb: never)
    switch_s: np.ndarray  # (J,) seconds of this step lost to checkpoints if the job is run now
    entry: np.ndarray  # (J,) window entry, -1 for a job aboard
    loaded: int  # job loaded on the accelerators, -1 none
    level_now: int  # power level in use
    can_run_now: np.ndarray  # (J,) bool: the mask allows running the job now
    can_admit: np.ndarray  # (J,) bool: the mask allows admitting the entry now
    energy_wh: float
    temp_k: float

    @property
    def nb(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class Plan:
    """A solved program: the action now and the schedule of later steps."""

    job_now: int  # job run now, -1 none
    level_now: int  # its level
    admit_now: int  # job (an entry) admitted now, -1 none
    levels: np.ndarray  # (H,) power level planned per step, -1 idle
    jobs: np.ndarray  # (H,) job planned per step, -1 none
    value: float  # objective
    n_vars: int
    seconds: float
    status: str


@dataclass(frozen=True)
class Model:
    """The constants of the program that come from the data sheet and the planner's margins."""

    sheet: Datasheet
    floor_wh: float
    limit_c: float  # GPU temperature limit (throttle minus margin)
    partial_credit: float
    half_life_s: float

    @classmethod
    def of(cls, sheet: Datasheet, soc_margin: float, temp_margin_c: float, partial_credit: float) -> Model:
        return cls(sheet, (sheet.safe_soc + soc_margin) * sheet.battery_wh, sheet.throttle_c - temp_margin_c, partial_credit,
                   sheet.value_half_life_h * 3600.0)  # fmt: skip

    def credit(self, value, deadline_s, t_s):
        """Value delivered at ``t_s`` (``orbit_env.sim.value_at``'s rule on the observed numbers)."""
        return value * 0.5 ** (np.maximum(t_s - deadline_s, 0.0) / self.half_life_s)


class _Vars:
    """Variable blocks with bounds, costs and integrality."""

    def __init__(self):
        self.n, self.lo, self.hi, self.cost, self.integer = 0, [], [], [], []

    def add(self, shape, lo=0.0, hi=np.inf, cost=0.0, integer=False) -> np.ndarray:
        count = int(np.prod(shape))
        idx = np.arange(self.n, self.n + count).reshape(shape)
        self.n += count
        for store, v in ((self.lo, lo), (self.hi, hi), (self.cost, cost), (self.integer, integer)):
            store.append(np.broadcast_to(np.asarray(v, float), shape).ravel())
        return idx

    def arrays(self):
        cat = np.concatenate
        return cat(self.cost), cat(self.lo), cat(self.hi), cat(self.integer)


class _Rows:
    """Constraint rows lo <= A x <= hi as coordinate triplets."""

    def __init__(self):
        self.n, self.r, self.c, self.v, self.lo, self.hi = 0, [], [], [], [], []

    def add(self, lo, hi) -> np.ndarray:
        lo, hi = np.broadcast_arrays(np.atleast_1d(np.asarray(lo, float)), np.atleast_1d(np.asarray(hi, float)))
        idx = np.arange(self.n, self.n + len(lo))
        self.n += len(lo)
        self.lo.append(lo)
        self.hi.append(hi)
        return idx

    def put(self, rows, cols, vals=1.0) -> None:
        rows, cols, vals = np.broadcast_arrays(np.asarray(rows), np.asarray(cols), np.asarray(vals, float))
        self.r.append(rows.ravel())
        self.c.append(cols.ravel())
        self.v.append(vals.ravel())

    def constraint(self, n_cols: int) -> LinearConstraint:
        cat = np.concatenate
        m = sparse.coo_matrix((cat(self.v), (cat(self.r), cat(self.c))), shape=(self.n, n_cols)).tocsr()
        return LinearConstraint(m, cat(self.lo), cat(self.hi))


def build(progs: list[Program], model: Model, exact: bool = False, share_entries: bool = False):
    """The program of ``progs`` (one block-diagonal program; ``share_entries``: each window entry goes to
    one satellite at most). ``exact``: every block's decisions integer (tests: blocks of one step).
    Returns (variables, rows, per-program index maps)."""
    s = model.sheet
    V, R = _Vars(), _Rows()
    P = len(s.caps_w)
    maps = []
    for pr in progs:
        nb, J, dt = pr.nb, len(pr.rem_s), pr.dt
        Q = len(pr.deliver_s)
        secs = pr.steps * dt
        dens = model.credit(pr.value, pr.deadline_s, pr.deliver_s[-1]) / np.maximum(pr.rem_s, 1.0)
        b_of = np.arange(nb)
        later = np.maximum(np.cumsum(pr.steps) - pr.steps, 0) / max(pr.steps.sum(), 1)  # block start, fraction of the horizon
        # power levels: block 0 exact now (GPU limit at the known temperature)
        gpu_now = pr.temp_k - KELVIN + s.k_per_w * s.caps_w
        u_hi = np.broadcast_to(pr.steps[:, None], (nb, P)).astype(float).copy()
        u_hi[0] = np.where(gpu_now <= model.limit_c, 1.0, 0.0)
        u = V.add((nb, P), hi=u_hi, integer=np.r_[[True] * P, [exact] * (P * (nb - 1))].reshape(nb, P))
        avail = b_of[None, :] >= pr.first_block[:, None]  # (J, nb)
        w_hi = np.where(avail, secs[None, :], 0.0)
        w_hi[:, 0] = np.where(pr.can_run_now, dt, 0.0)
        w = V.add((J, nb), hi=w_hi, cost=-dens[:, None] * (model.partial_credit + EARLY_BONUS * (1.0 - later))[None, :])
        a_blocks = nb if exact else 1
        a = V.add((J, a_blocks), hi=np.where(avail[:, :a_blocks] & (pr.can_run_now[:, None] | (b_of[:a_blocks] > 0)), 1.0, 0.0), integer=True)
        is_entry = pr.entry >= 0
        y = V.add(J, hi=np.where(is_entry & pr.can_admit, 1.0, 0.0), integer=True)
        credit = model.credit(pr.value[:, None], pr.deadline_s[:, None], pr.deliver_s[None, :])  # (J, Q)
        c = V.add((J, Q), hi=1.0, cost=-(credit - model.partial_credit * dens[:, None] * pr.rem_s[:, None]), integer=exact)
        direct, charge, discharge = V.add(nb), V.add(nb), V.add(nb)
        energy = V.add(nb, hi=s.battery_wh)  # after each block
        e_slack = V.add(nb, cost=PENALTY_PER_WH)
        temp = V.add(nb, lo=0.0)  # node K after each block
        t_slack = V.add((nb, 2), cost=PENALTY_PER_K)

        # levels fit the block; work fits the levels' compute
        R.put(R.add(-np.inf, pr.steps)[:, None], u)
        rows = R.add(-np.inf, np.zeros(nb))
        R.put(rows[None, :], w, 1.0)
        R.put(rows[:, None], u, -dt * s.speeds[None, :])
        # which job runs (block 0; every block when exact): one at most, levels only with a job, work only on it
        rows = R.add(-np.inf, np.ones(a_blocks))
        R.put(rows[None, :], a)
        rows = R.add(-np.inf, np.zeros(a_blocks))
        R.put(rows[:, None], u[:a_blocks])
        R.put(rows[None, :], a, -1.0)
        rows = R.add(-np.inf, np.zeros(J * a_blocks)).reshape(J, a_blocks)
        R.put(rows, w[:, :a_blocks])
        R.put(rows, a, -secs[None, :a_blocks])
        # switching now costs checkpoints: w[j, 0] <= sum_p speed_p (dt - switch_j) u[0, p]
        sw = np.flatnonzero(pr.switch_s > 0)
        if len(sw):
            rows = R.add(-np.inf, np.zeros(len(sw)))
            R.put(rows, w[sw, 0])
            R.put(rows[:, None], u[0][None, :], -np.maximum(dt - pr.switch_s[sw], 0.0)[:, None] * s.speeds[None, :])
        # admitting now: one entry, and the loaded job (if any) keeps running at its level
        if is_entry.any():
            others = [j for j in range(J) if j != pr.loaded]
            rows = R.add(-np.inf, 1.0)
            R.put(rows, y[is_entry])
            R.put(rows, a[others, 0])
            if pr.loaded >= 0:  # the simulator keeps computing the loaded job at its level: admit only with that
                rows = R.add(-np.inf, 0.0)
                R.put(rows, y[is_entry])
                R.put(rows, u[0, pr.level_now], -1.0)
        # a job's work fits what is left (an entry only if admitted); completions need the work done by their chance
        rows = R.add(-np.inf, np.where(is_entry, 0.0, pr.rem_s))
        R.put(rows[:, None], w)
        R.put(rows[is_entry], y[is_entry], -pr.rem_s[is_entry])
        rows = R.add(-np.inf, np.ones(J))
        R.put(rows[:, None], c)
        rows = R.add(-np.inf, np.zeros(J * Q)).reshape(J, Q)
        upto = b_of[None, :] <= pr.chance_block[:, None]  # (Q, nb)
        qq, bb = np.nonzero(upto)
        R.put(rows[:, qq], w[:, bb], -1.0)
        cq, cq2 = np.nonzero(np.tri(Q, dtype=bool))  # chance q' <= q
        R.put(rows[:, cq], c[:, cq2], pr.rem_s[:, None])

        # energy (Wh): load <= direct + discharge; direct + charge <= solar; balance; floor
        hours = secs / 3600.0
        base_wh = (s.bus_w + s.n_accel * s.idle_w) * hours + s.radio_w * pr.contact_steps * dt / 3600.0
        gpu_wh = s.n_accel * (s.caps_w - s.idle_w) * dt / 3600.0  # per step at level p, above idle
        rows = R.add(-np.inf, -base_wh)
        R.put(rows[:, None], u, gpu_wh[None, :])
        R.put(rows, direct, -1.0)
        R.put(rows, discharge, -1.0)
        rows = R.add(-np.inf, s.solar_w * pr.sun_steps * dt / 3600.0)
        R.put(rows, direct)
        R.put(rows, charge)
        R.put(R.add(-np.inf, s.max_charge_w * hours), charge)
        rows = R.add(np.r_[pr.energy_wh, np.zeros(nb - 1)], np.r_[pr.energy_wh, np.zeros(nb - 1)])
        R.put(rows, energy)
        R.put(rows[1:], energy[:-1], -1.0)
        R.put(rows, charge, -s.eta_charge)
        R.put(rows, discharge, 1.0 / s.eta_discharge)
        rows = R.add(np.full(nb, model.floor_wh), np.inf)
        R.put(rows, energy)
        R.put(rows, e_slack)

        # heat: (C/D + kl) T[b+1] - (C/D) T[b] - load_b / D x 3600 = kl Tref - R0_b  (Wh -> J over D seconds)
        t_ref = model.limit_c - s.k_per_w * s.caps_w[-1] + KELVIN
        k_rad = s.emissivity * SIGMA * s.radiator_area_m2
        kl = 4.0 * k_rad * t_ref**3
        sink4 = (pr.sun_steps * s.sink_k[1] ** 4 + (pr.steps - pr.sun_steps) * s.sink_k[0] ** 4) / pr.steps
        r0 = k_rad * (t_ref**4 - sink4)
        cd = s.heat_capacity_j_per_k / secs
        rhs = kl * t_ref - r0 + base_wh * 3600.0 / secs + np.r_[cd[0] * pr.temp_k, np.zeros(nb - 1)]
        rows = R.add(rhs, rhs)
        R.put(rows, temp, cd + kl)
        R.put(rows[1:], temp[:-1], -cd[1:])
        R.put(rows[:, None], u, -(gpu_wh * 3600.0)[None, :] / secs[:, None])
        # GPU limit in later blocks: node (at the block's start and end) + K/W x mean cap <= limit
        for side, node in ((0, temp[:-1]), (1, temp[1:])):
            rows = R.add(-np.inf, np.full(nb - 1, model.limit_c + KELVIN))
            R.put(rows, node)
            R.put(rows[:, None], u[1:], s.k_per_w * s.caps_w[None, :] / pr.steps[1:, None])
            R.put(rows, t_slack[1:, side], -1.0)
        maps.append(dict(u=u, w=w, a=a, y=y, c=c))
    if share_entries:
        keys: dict[int, list[int]] = {}
        for pr, mp in zip(progs, maps):
            for j in np.flatnonzero(pr.entry >= 0):
                keys.setdefault(int(pr.entry[j]), []).append(int(mp["y"][j]))
        for cols in keys.values():
            if len(cols) > 1:
                R.put(R.add(-np.inf, 1.0), np.array(cols))
    return V, R, maps


NODE_LIMIT = 200  # branch-and-bound nodes per MILP: deterministic, unlike the time limit


def solve(progs: list[Program], model: Model, time_limit_s: float, exact: bool = False, share_entries: bool = False,
          solver=milp) -> list[Plan | None]:  # fmt: skip
    """Plans for ``progs`` from one HiGHS call; None for each where no solution was found (time-out without
    an incumbent, infeasible, or any solver failure)."""
    t0 = time.perf_counter()
    V, R, maps = build(progs, model, exact, share_entries)
    cost, lo, hi, integer = V.arrays()
    cons, bounds, x, status = R.constraint(V.n), Bounds(lo, hi), None, ""
    try:  # the relaxation first: when its integer variables come out integral it is the MILP's optimum
        for kind in (np.zeros_like(integer), integer):
            left = time_limit_s - (time.perf_counter() - t0)
            res = solver(cost, constraints=cons, integrality=kind, bounds=bounds, options={"time_limit": max(left, 1e-9), "node_limit": NODE_LIMIT, "mip_rel_gap": 1e-6})
            x, status = getattr(res, "x", None), str(getattr(res, "message", ""))
            if x is None or np.all(np.abs(x[integer > 0] - np.round(x[integer > 0])) < 1e-6):
                break
    except Exception as e:  # noqa: BLE001 - any solver failure falls back to the safe heuristic
        x, status = None, f"{type(e).__name__}: {e}"
    seconds = time.perf_counter() - t0
    if x is None or not np.all(np.isfinite(x)):
        return [None] * len(progs)
    return [_plan(pr, mp, x, float(cost @ x), V.n, seconds, status) for pr, mp in zip(progs, maps)]


def _plan(pr: Program, mp: dict, x: np.ndarray, value: float, n_vars: int, seconds: float, status: str) -> Plan:
    u, w = x[mp["u"]], x[mp["w"]]
    a0, y = x[mp["a"][:, 0]], x[mp["y"]]
    job_now = int(a0.argmax()) if a0.max(initial=0) > 0.5 and u[0].max() > 0.5 else -1
    level_now = int(u[0].argmax()) if job_now >= 0 else -1
    admit_now = int(y.argmax()) if y.max(initial=0) > 0.5 else -1
    # later steps: each block's levels in descending order, its steps rounded by the largest remainders
    levels, jobs = [np.array([level_now])], [np.array([job_now])]
    for b in range(1, pr.nb):
        n = int(pr.steps[b])
        counts = np.floor(u[b] + 1e-6)
        extra = int(min(np.floor(u[b].sum() + 1e-6), n) - counts.sum())
        if extra > 0:
            counts[np.argsort(-(u[b] - counts), kind="stable")[:extra]] += 1
        lv = np.concatenate([np.full(int(counts[p]), p) for p in range(len(counts) - 1, -1, -1)] + [np.full(n, -1)])[:n]
        jb = int(w[:, b].argmax()) if w[:, b].max(initial=0) > 1e-6 else -1
        levels.append(lv)
        jobs.append(np.where(lv >= 0, jb, -1))
    return Plan(job_now, level_now, admit_now, np.concatenate(levels), np.concatenate(jobs), -value, n_vars, seconds, status)


# ------------------------------------------------------------------------------------ the policy


def blocks(horizon: int, block_steps: int) -> np.ndarray:
    """(nb,) steps per block: the current step, then blocks of ``block_steps`` to the horizon."""
    rest = horizon - 1
    return np.r_[1, np.full(rest // block_steps, block_steps), [rest % block_steps] * bool(rest % block_steps)].astype(np.int64)


def chances(contact: np.ndarray, steps: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(deliver_s, chance_block) of one satellite's forecast ``contact`` (H,): a job completed in block b goes
    down in the first contact step at or after the block's end (delivered at that step's end); the last
    chance is after the horizon, half the longest gap between contacts in the horizon later (an estimate)."""
    H = len(contact)
    ends = np.cumsum(steps)
    nxt = np.full(H + 1, H)
    idx = np.flatnonzero(contact)
    pos = np.searchsorted(idx, np.arange(H + 1))
    nxt[pos < len(idx)] = idx[pos[pos < len(idx)]]
    first = nxt[ends]  # (nb,) first contact at or after each block's end, H if none
    inside = first < H
    f, last_b = np.unique(first[inside], return_index=False), []
    last_b = np.array([np.flatnonzero(first == v).max() for v in f], np.int64)
    gaps = np.diff(np.r_[-1, idx, H]) - 1
    tail_s = (H + 0.5 * gaps.max(initial=H)) * dt
    return np.r_[(f + 1) * dt, tail_s], np.r_[last_b, len(steps) - 1]


class PlannerPolicy(ArrayPolicy):
    """Rolling-horizon MILP per satellite (HiGHS): admission, job and power level over the next orbits under the
    forecast battery and radiator budgets; checkpoints and sends by the balance rules (docs/planner.md)."""

    name = "planner"
    central = False

    def __init__(self, layout, actions, sheet: Datasheet, horizon_orbits: float = 1.0, block_steps: int = 3,
                 replan_every: int = 5, time_limit_s: float = 10.0, soc_margin: float = 0.05, temp_margin_c: float = 1.0,
                 partial_credit: float = 0.5):  # fmt: skip
        super().__init__(layout, actions)
        self.sheet = sheet
        self.forecast_steps = max(2, int(round(horizon_orbits * sheet.orbit_s / sheet.dt_s)))
        self.block_steps, self.replan_every, self.time_limit_s = int(block_steps), int(replan_every), float(time_limit_s)
        self.model = Model.of(sheet, soc_margin, temp_margin_c, partial_credit)
        self.steps = blocks(self.forecast_steps, self.block_steps)
        self.safe = SafeEDFPolicy(layout, actions, sheet, soc_margin=soc_margin, temp_margin_c=temp_margin_c)
        self.rules = BalancePolicy(layout, actions, sheet, soc_margin=soc_margin, temp_margin_c=temp_margin_c)
        self.solver = milp
        self.stats: list[tuple[int, int, float, str]] = []  # per solve: satellites, variables, seconds, status
        self.fallbacks = 0  # satellite-decisions that fell back to edf-safe
        self._state = None

    @classmethod
    def for_env(cls, env, **params):
        return cls(env.layout, env.actions, Datasheet.from_scenario(env.scenario), **params)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._state = None

    # -- programs from observations

    def program(self, o: np.ndarray, m: np.ndarray, sunlit: np.ndarray, contact: np.ndarray) -> tuple[Program, np.ndarray]:
        """One satellite's program from its observation ``o`` (D,), mask ``m`` (A,) and forecast rows (H,);
        and the slot of each job (-1 for window entries)."""
        L, A, s, dt = self.layout, self.actions, self.sheet, self.sheet.dt_s
        runnable, flight = L.slot_field(o, "runnable") > 0.5, (L.slot_field(o, "in_flight") > 0.5) & (L.slot_field(o, "result") < 0.5)
        slots = np.flatnonzero(runnable | flight)
        active = L.slot_field(o, "active") > 0.5
        ckpt_s = s.checkpoint_s(decode.checkpoint_bytes(L.slot_field(o, "checkpoint")))
        at_risk = decode.at_risk_hours(L.slot_field(o, "at_risk")) > 0
        k_act = int(active.argmax()) if active.any() else -1
        save_old = ckpt_s[k_act] if k_act >= 0 and at_risk[k_act] else 0.0
        slot_part = dict(
            rem_s=decode.unlog(L.slot_field(o, "remaining")[slots], 100.0) * 3600.0,
            value=decode.unlog(L.slot_field(o, "value")[slots], 100.0),
            deadline_s=L.slot_field(o, "deadline")[slots].astype(float) * 86400.0,
            first_block=np.where(runnable[slots], 0, 1),
            switch_s=np.where(active[slots], 0.0, ckpt_s[slots] + save_old),
            entry=np.full(len(slots), -1),
            can_run_now=m[A.run(slots, 0)] > 0,
            can_admit=np.zeros(len(slots), bool),
        )
        ends = np.cumsum(self.steps)
        if A.G:
            g = np.flatnonzero(L.window_field(o, "present") > 0.5)
            up_steps = np.maximum(np.ceil(decode.unlog(L.window_field(o, "dataset")[g], 60.0) * 60.0 / dt - 1e-9), 1).astype(int)
            cum = np.cumsum(contact)
            done_at = np.searchsorted(cum, up_steps)  # step whose contact completes the uplink (H: beyond)
            first_block = np.minimum(np.searchsorted(ends, done_at + 1, side="right"), len(self.steps))
            win = dict(
                rem_s=decode.unlog(L.window_field(o, "work")[g], 100.0) * 3600.0,
                value=decode.unlog(L.window_field(o, "value")[g], 100.0),
                deadline_s=L.window_field(o, "deadline")[g].astype(float) * 86400.0,
                first_block=first_block, switch_s=np.zeros(len(g)), entry=g,
                can_run_now=np.zeros(len(g), bool), can_admit=m[A.admit(g)] > 0,
            )  # fmt: skip
            jobs = {k: np.concatenate([v, win[k]]) for k, v in slot_part.items()}
        else:
            jobs = slot_part
        deliver_s, chance_block = chances(contact, self.steps, dt)
        loaded = int(np.flatnonzero(slots == k_act)[0]) if k_act in slots else -1
        prog = Program(
            dt=dt, steps=self.steps, sun_steps=np.add.reduceat(sunlit.astype(float), ends - self.steps),
            contact_steps=np.add.reduceat(contact.astype(float), ends - self.steps), deliver_s=deliver_s,
            chance_block=chance_block, loaded=loaded,
            level_now=int(np.rint(L.own_field(o, "power_level") * (A.P - 1))),
            energy_wh=float(L.own_field(o, "soc")) * s.battery_wh,
            temp_k=float(decode.node_temp_c(L.own_field(o, "temp"))) + KELVIN, **jobs,
        )  # fmt: skip
        return prog, np.r_[slots, np.full(len(jobs["rem_s"]) - len(slots), -1)]

    # -- acting

    def _signature(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(..., F) what makes a satellite re-plan when it changes: contact, safe mode, thermal shutdown, upset
        recovery, the loaded job, which slots hold runnable jobs (a job arriving or finishing; results, which the
        program does not plan, do not count), and which window entries it may
        admit and what they are (their work and value): a plan that chose not to admit keeps its choice
        while the offer stays the same (at most ``replan_every`` steps)."""
        L, A = self.layout, self.actions
        own = [L.own_field(obs, f) > 0.5 for f in ("contact", "safe_mode", "thermal_off")] + [L.own_field(obs, "gpu_recovering") > 0]
        slot = [L.slot_field(obs, f) > 0.5 for f in ("runnable", "active")]
        parts = [np.stack(own, axis=-1)] + slot
        if A.G:
            may = mask[..., A.n - A.G :] > 0
            parts += [may, np.where(may, L.window_field(obs, "work"), 0.0), np.where(may, L.window_field(obs, "value"), 0.0)]
        return np.concatenate(parts, axis=-1)

    def act_arrays(self, obs, mask, forecast=None):
        if forecast is None:
            raise ValueError(f"{self.name} needs forecast= (orbit_env.forecast) for its {self.forecast_steps} steps; see ArrayPolicy")
        single = obs.ndim == 2
        if single:
            obs, mask = obs[None], mask[None]
        B, N = obs.shape[:2]
        A = self.actions
        if forecast.sunlit.shape[:1] + forecast.sunlit.shape[2:] != (B, N) or forecast.horizon < self.forecast_steps:
            raise ValueError(f"forecast covers {forecast.sunlit.shape} (B, H, N); need B={B}, H>={self.forecast_steps}, N={N}")
        sig = self._signature(obs, mask)
        if self._state is None or self._state["sig"].shape != sig.shape:
            self._state = dict(sig=np.zeros_like(sig), age=np.full((B, N), 10**9), levels=np.full((B, N, self.forecast_steps), -1),
                               slots=np.full((B, N, self.forecast_steps), -1))  # fmt: skip
        st = self._state
        safe = self.safe.act_arrays(obs, mask)
        # the plan's action for this step, where a plan is being followed (step ``age`` of it: its step 0 was taken)
        age = st["age"] + 1
        off = np.minimum(age, self.forecast_steps - 1)
        lv = np.take_along_axis(st["levels"], off[..., None], -1)[..., 0]
        sl = np.take_along_axis(st["slots"], off[..., None], -1)[..., 0]
        # the plan assumed a temperature: a planned level too hot at the observed node steps down to the highest
        # cap under it that is cool (no new solve); only when none is does the satellite re-plan
        caps = self.sheet.caps_w
        node_c = decode.node_temp_c(self.layout.own_field(obs, "temp"))
        cool_caps = np.where((node_c[..., None] + self.sheet.k_per_w * caps <= self.model.limit_c) & (caps <= caps[np.maximum(lv, 0)][..., None]), caps, -np.inf)
        cool = np.isfinite(cool_caps.max(-1))
        lv = np.where((lv >= 0) & cool, cool_caps.argmax(-1), lv)
        planned = np.where(lv >= 0, A.run(np.maximum(sl, 0), np.maximum(lv, 0)), A.IDLE)
        legal = (np.take_along_axis(mask, planned[..., None], -1)[..., 0] > 0) & ((lv < 0) | ((sl >= 0) & cool))
        due = (age >= self.replan_every) | (sig != st["sig"]).any(axis=-1) | ~legal
        base = planned.copy()
        for b in range(B):
            sats = np.flatnonzero(due[b])
            if len(sats):
                base[b, sats] = self._decide(b, sats, obs[b], mask[b], forecast, safe[b])
        st["sig"], st["age"] = sig, np.where(due, 0, age)
        # checkpoints and sends keep the loaded job computing at its level: only where the plan does that too
        L = self.layout
        active = L.slot_field(obs, "active") > 0.5
        level_now = np.rint(L.own_field(obs, "power_level") * (A.P - 1)).astype(int)
        keeps = ~active.any(axis=-1) | (base == A.run(active.argmax(axis=-1), level_now))
        out = np.where(keeps, self.rules.with_sends(obs, mask, self.rules.with_checkpoints(obs, mask, base)), base)
        ok = np.take_along_axis(mask, out[..., None], -1)[..., 0] > 0
        out = np.where(ok, out, safe)  # never a forbidden action
        return out[0] if single else out

    def _decide(self, b: int, sats: np.ndarray, obs, mask, fc, safe) -> np.ndarray:
        """Actions of satellites ``sats`` of episode ``b`` from new plans (stored for the following steps)."""
        A, st, H = self.actions, self._state, self.forecast_steps
        built = [self.program(obs[i], mask[i], fc.sunlit[b, :H, i], fc.contact[b, :H, i]) for i in sats]
        progs = [p for p, _ in built]
        # central: satellites that can admit share the window's entries (one program); the others' blocks are
        # independent of everything else, so solving them apart is the same program, decomposed
        shared = [k for k, p in enumerate(progs) if self.central and p.can_admit.any()]
        groups = ([shared] if shared else []) + [[k] for k in range(len(sats)) if k not in shared]
        plans: list[Plan | None] = [None] * len(sats)
        for grp in groups:
            got = solve([progs[k] for k in grp], self.model, self.time_limit_s, share_entries=self.central, solver=self.solver)
            for k, plan in zip(grp, got):
                plans[k] = plan
            first = got[0]
            self.stats.append((len(grp), first.n_vars if first else -1, first.seconds if first else float("nan"),
                               first.status if first else "failed"))  # fmt: skip
        act = np.empty(len(sats), np.int64)
        for n, (i, plan, (prog, slot_of)) in enumerate(zip(sats, plans, built)):
            if plan is None:
                self.fallbacks += 1
                act[n] = safe[i]
                st["levels"][b, i], st["slots"][b, i] = -1, -1
                continue
            st["levels"][b, i] = plan.levels
            planned = plan.jobs >= 0  # -1: no job in that step (the program may have none at all)
            st["slots"][b, i] = -1
            st["slots"][b, i, planned] = slot_of[plan.jobs[planned]]
            if plan.admit_now >= 0:
                act[n] = A.admit(prog.entry[plan.admit_now])
            elif plan.job_now >= 0:
                act[n] = A.run(slot_of[plan.job_now], plan.level_now)
            else:
                act[n] = A.IDLE
        return act


class CentralPlannerPolicy(PlannerPolicy):
    """Centralised: the due satellites of the constellation in one program, each window entry to one of them."""

    name = "planner-central"
    central = True


PLANNERS: dict[str, type[ArrayPolicy]] = {p.name: p for p in (PlannerPolicy, CentralPlannerPolicy)}
