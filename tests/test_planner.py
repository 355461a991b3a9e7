"""The planning baseline (agents.planner) and the forecast interface (orbit_env.forecast)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from agents.datasheet import Datasheet
from agents.heuristics import make_policy
from agents.planner import EARLY_BONUS, Model, Program, solve
from orbit_env.env import OrbitComputeEnv
from agents.policy import act_on
from orbit_env.forecast import forecast
from orbit_env.physics.thermal import KELVIN, SIGMA
from orbit_env.scenario import load_scenario


@pytest.fixture(scope="module")
def heat_env():
    return OrbitComputeEnv("heat-radiator-16", max_cycles=24)


# ------------------------------------------------------------------------------------ forecast


def test_forecast_equals_the_ephemeris_rows_and_repeats_the_last_past_its_end(heat_env):
    eph = heat_env.ephemeris
    T = eph.n_steps
    fc = forecast(eph, np.array([5, T - 2]), 4)
    assert fc.sunlit.shape == (2, 4, eph.n_sats) and fc.isl_up.shape == (2, 4, eph.n_sats, eph.isl_up.shape[2])
    for name in ("sunlit", "in_saa", "contact", "station", "isl_up"):
        got, rows = getattr(fc, name), getattr(eph, name)
        np.testing.assert_array_equal(got[0], rows[5:9])
        np.testing.assert_array_equal(got[1], rows[[T - 2, T - 1, T - 1, T - 1]])
    assert fc.dt_s == eph.dt_s and fc.horizon == 4


def test_forecast_refuses_rows_outside_the_ephemeris(heat_env):
    with pytest.raises(ValueError, match="eph_index"):
        forecast(heat_env.ephemeris, np.array([heat_env.ephemeris.n_steps]), 3)
    with pytest.raises(ValueError, match="horizon"):
        forecast(heat_env.ephemeris, np.array([0]), 0)


# ------------------------------------------------------------------------------------ optimality


def _brute_force(pr: Program, model: Model) -> float:
    """The program's optimum by enumerating every step's choice (blocks of one step): idle, run(j, p), or admit
    the entry now; the work, the battery (charged as much as it can take) and the linearised node temperature
    follow from the choices, penalties from the slacks."""
    s, dt, nb, J, P = model.sheet, pr.dt, pr.nb, len(pr.rem_s), len(model.sheet.caps_w)
    hours = dt / 3600.0
    t_ref = model.limit_c - s.k_per_w * s.caps_w[-1] + KELVIN
    k_rad = s.emissivity * SIGMA * s.radiator_area_m2
    later = np.arange(nb) / nb
    dens = model.credit(pr.value, pr.deadline_s, pr.deliver_s[-1]) / pr.rem_s
    choices = [None] + [(j, p) for j in range(J) for p in range(P)]
    best = -np.inf
    for admit in [False] + [True] * bool(pr.can_admit.any()):
        for plan in itertools.product(choices, repeat=nb):
            if admit and plan[0] is not None:
                continue  # nothing is loaded in these cases: admitting computes nothing now
            entry_ok = admit
            left, done_by = pr.rem_s.copy(), np.full(J, -1)
            energy, temp, obj, ok = pr.energy_wh, pr.temp_k, 0.0, True
            for b, ch in enumerate(plan):
                cap_w = s.idle_w
                if ch is not None:
                    j, p = ch
                    if b < pr.first_block[j] or (pr.entry[j] >= 0 and not entry_ok) or (b == 0 and not pr.can_run_now[j]):
                        ok = False
                        break
                    if b == 0 and temp - KELVIN + s.k_per_w * s.caps_w[p] > model.limit_c:
                        ok = False
                        break
                    cap_w = s.caps_w[p]
                    work = min(s.speeds[p] * (dt - (pr.switch_s[j] if b == 0 else 0.0)), left[j])
                    left[j] -= work
                    obj += dens[j] * (model.partial_credit + EARLY_BONUS * (1 - later[b])) * work
                    if left[j] <= 1e-9 and done_by[j] < 0:
                        done_by[j] = b
                load = s.bus_w + s.radio_w * pr.contact_steps[b] + s.n_accel * cap_w
                surplus = s.solar_w * pr.sun_steps[b] - load
                energy = min(energy + s.eta_charge * min(surplus, s.max_charge_w) * hours, s.battery_wh) if surplus > 0 else energy + surplus * hours / s.eta_discharge
                if energy < 0:
                    ok = False
                    break
                obj -= max(model.floor_wh - energy, 0.0)  # PENALTY_PER_WH = 1
                sink4 = s.sink_k[1] ** 4 if pr.sun_steps[b] else s.sink_k[0] ** 4
                c_d = s.heat_capacity_j_per_k / dt
                kl = 4 * k_rad * t_ref**3
                new = (c_d * temp + load + kl * t_ref - k_rad * (t_ref**4 - sink4)) / (c_d + kl)
                if b > 0:
                    gpu = s.k_per_w * (cap_w if ch is not None else 0.0) - KELVIN - model.limit_c
                    obj -= max(temp + gpu, 0.0) + max(new + gpu, 0.0)  # PENALTY_PER_K = 1
                temp = new
            if not ok:
                continue
            for j in range(J):
                if done_by[j] >= 0:
                    q = int(np.flatnonzero(pr.chance_block >= done_by[j])[0])
                    obj += model.credit(pr.value[j], pr.deadline_s[j], pr.deliver_s[q]) - model.partial_credit * dens[j] * pr.rem_s[j]
            best = max(best, obj)
    return best


def _tiny_program(sheet: Datasheet, **kw) -> Program:
    dt = sheet.dt_s
    base = dict(
        dt=dt, steps=np.ones(4, np.int64), sun_steps=np.array([1.0, 1.0, 0.0, 0.0]), contact_steps=np.zeros(4),
        deliver_s=np.array([3 * dt, 9 * dt]), chance_block=np.array([1, 3]),
        rem_s=np.array([0.9 * dt, 1.6 * dt, 0.8 * dt]), value=np.array([1.0, 3.0, 2.0]),
        deadline_s=np.array([2 * dt, 2 * dt, 20 * dt]), first_block=np.array([0, 0, 2]),
        switch_s=np.array([0.0, 10.0, 0.0]), entry=np.array([-1, -1, 0]), loaded=-1, level_now=0,
        can_run_now=np.array([True, True, False]), can_admit=np.array([False, False, True]),
        energy_wh=0.5 * sheet.battery_wh, temp_k=50.0 + KELVIN,
    )  # fmt: skip
    return Program(**{**base, **kw})


@pytest.mark.parametrize(
    "case",
    [
        {},  # energy to spare, cool
        {"energy_wh": None, "sun_steps": np.zeros(4)},  # eclipse just above the battery floor: it binds
        {"temp_k": 84.0 + KELVIN},  # hot: the top level is out now, heat penalties later
        {"can_admit": np.array([False, False, False])},  # no admission
    ],
)
def test_plan_is_optimal_against_brute_force(case):
    sheet = Datasheet.from_scenario(load_scenario("heat-radiator-16"))
    sheet = replace(sheet, caps_w=sheet.caps_w[[0, 2]], speeds=sheet.speeds[[0, 2]])  # two levels keep the enumeration small
    model = Model.of(sheet, 0.05, 1.0, 0.5)
    if "energy_wh" in case:
        case = {**case, "energy_wh": model.floor_wh + 30.0}
    pr = _tiny_program(sheet, **case)
    plan = solve([pr], model, 10.0, exact=True)[0]
    assert plan is not None
    assert plan.value == pytest.approx(_brute_force(pr, model), rel=1e-6, abs=1e-6)


# ------------------------------------------------------------------------------------ acting


def _episode(env, policy, seed=3):
    """Actions and masks of one episode of ``policy`` on ``env`` (the forecast through act_on)."""
    env.batch.reset(seed)
    policy.reset(seed)
    actions, masks = [], []
    while not env.truncated:
        masks.append(env.action_masks.copy())
        a = act_on(policy, env.batch)
        actions.append(a[0])
        env.batch.step(a)
    return np.array(actions), np.array(masks)


@pytest.mark.parametrize("name", ["planner", "planner-central"])
def test_planner_never_takes_a_masked_action_and_is_deterministic(heat_env, name):
    a1, m1 = _episode(heat_env, make_policy(name, heat_env))
    assert np.take_along_axis(m1, a1[..., None], -1).all()
    assert heat_env.metrics()["invalid_actions"] == 0
    a2, _ = _episode(heat_env, make_policy(name, heat_env))
    np.testing.assert_array_equal(a1, a2)
    assert (a1 > 1).any()  # it runs jobs, not only idles


def test_a_plan_is_followed_and_a_too_hot_level_steps_down_without_a_new_solve(heat_env):
    """Next step, a satellite takes its plan's step 1 (no event: no new solve); at a node temperature where the
    planned level is too hot it takes the highest cool one; where none is cool it plans again."""
    env, pol = heat_env.batch, make_policy("planner", heat_env, replan_every=50)
    env.reset(seed=[0])
    obs, mask, fc = env.observations.copy(), env.action_masks.copy(), env.forecast(pol.forecast_steps)
    pol.act_arrays(obs, mask, forecast=fc)
    L, A, st, caps = pol.layout, pol.actions, pol._state, pol.sheet.caps_w
    active, runnable = L.slot_field(obs, "active")[0] > 0.5, L.slot_field(obs, "runnable")[0] > 0.5
    # satellites computing a job, with another job that the mask lets run at every level: the plan switches to it
    slot = {i: k for i in range(env.n_agents) if active[i].any()
            for k in np.flatnonzero(runnable[i] & ~active[i])[:1] if mask[0, i, A.run(k, np.arange(A.P))].all()}  # fmt: skip
    cool, tepid, hot = list(slot)[:3]
    top = int(caps.argmax())
    node_c = {cool: 20.0, tepid: pol.model.limit_c - pol.sheet.k_per_w * np.sort(caps)[-2] - 0.1, hot: pol.model.limit_c - pol.sheet.k_per_w * caps.min() + 1.0}
    for i, c in node_c.items():
        st["levels"][0, i, 1], st["slots"][0, i, 1] = top, slot[i]
        obs[0, i, L.own_names.index("temp")] = (c - 40.0) / 60.0
    solves = len(pol.stats)
    act = pol.act_arrays(obs, mask, forecast=fc)[0]
    assert act[cool] == A.run(slot[cool], top) and act[tepid] == A.run(slot[tepid], int(np.argsort(caps)[-2]))
    assert st["age"][0, cool] == st["age"][0, tepid] == 1 and st["age"][0, hot] == 0  # hot: planned again
    assert len(pol.stats) - solves == (st["age"][0] == 0).sum()  # one solve per satellite that planned again


def test_solver_time_out_or_failure_falls_back_without_raising(heat_env):
    pol = make_policy("planner", heat_env, time_limit_s=0.0)
    a, m = _episode(heat_env, pol)
    assert np.take_along_axis(m, a[..., None], -1).all()

    def broken(*args, **kwargs):
        raise RuntimeError("HiGHS is not available")

    pol = make_policy("planner", heat_env)
    pol.solver = broken
    a, m = _episode(heat_env, pol)
    assert np.take_along_axis(m, a[..., None], -1).all()
    assert pol.fallbacks > 0 and all(s[3].startswith("failed") for s in pol.stats)


def test_planner_needs_the_forecast(heat_env):
    pol = make_policy("planner", heat_env)
    heat_env.batch.reset(0)
    with pytest.raises(ValueError, match="forecast"):
        pol.act_arrays(heat_env.batch.observations, heat_env.batch.action_masks)


def test_planner_parameters_are_checked(heat_env):
    with pytest.raises(ValueError, match="horizon_orbits"):
        make_policy("planner", heat_env, horizon_orbits=10.0)


def test_planner_with_nothing_to_plan_idles_without_raising():
    """No jobs aboard, none offered: the program has no job at all (a crash in energy-eclipse-24's benchmark)."""
    env = OrbitComputeEnv("heat-radiator-16", max_cycles=6, overrides={"workload.arrival_rate_per_hour": 0.0})
    pol = make_policy("planner", env)
    actions, masks = _episode(env, pol)
    assert (actions == env.actions.IDLE).all() and pol.fallbacks == 0
