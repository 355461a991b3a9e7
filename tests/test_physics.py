"""Physics functions against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from orbit_env.accelerators import ACCELERATORS
from orbit_env.physics import power, radiation, thermal


def test_solar_power_sun_and_shadow():
    # 3.3 m2 x 281 W/m2 = 927.3 W in sun (physics.md s5/s10), nothing in shadow
    np.testing.assert_allclose(power.solar_power_w(np.array([True, False]), 3.3, 281.0), [927.3, 0.0])


def test_dvfs_matches_physics_md_points():
    # physics.md s4: gamma 0.5, idle 75, work ~675 W: ~9% loss at 600 W, ~25% at 450 W, ~42% at 300 W
    h = ACCELERATORS["h100-sxm"]
    speed = power.dvfs_speed(np.array([700.0, 600.0, 450.0, 300.0]), h.idle_w, h.work_w, 0.5)
    np.testing.assert_allclose(1 - speed, [0.0, 0.065, 0.21, 0.39], atol=0.035)
    assert speed[0] == 1.0  # capped at full speed above the knee
    assert np.all(np.diff(speed) < 0)


@pytest.mark.parametrize("solar, load", [(900.0, 300.0), (0.0, 600.0), (5000.0, 100.0), (400.0, 400.0), (0.0, 1e6)])
def test_battery_energy_balance(solar, load):
    e0 = np.array([250.0, 0.0, 499.0])
    s = power.battery_step(e0, solar, load, 60.0, 500.0, 500.0, 0.965, 0.965)
    de_w = (s.energy_wh - e0) * 3600.0 / 60.0
    # solar in = loads served + battery change + shunted + conversion losses, every case
    np.testing.assert_allclose(solar, (load - s.unmet_w) + de_w + s.shunt_w + s.loss_w, atol=1e-6)
    assert np.all((s.energy_wh >= 0) & (s.energy_wh <= 500.0))
    assert np.all(s.charge_w <= 500.0 + 1e-9)


def test_battery_hand_case():
    # 1 h at 100 W deficit from 500 Wh with 0.95 discharge efficiency: 100/0.95 = 105.26 Wh drawn
    s = power.battery_step(np.array([500.0]), 0.0, 100.0, 3600.0, 1000.0, 1000.0, 0.95, 0.95)
    assert s.energy_wh[0] == pytest.approx(500.0 - 100.0 / 0.95)
    # empty battery cannot serve a load: all of it unmet
    s = power.battery_step(np.array([0.0]), 0.0, 100.0, 60.0, 1000.0, 1000.0, 0.95, 0.95)
    assert s.unmet_w[0] == pytest.approx(100.0)


def test_safe_mode_hysteresis():
    soc = np.array([0.25, 0.5, 0.65, 0.5])
    safe = np.array([False, False, True, True])
    new, entered = power.safe_mode_update(safe, soc, 0.3, 0.6, np.array([False, True, False, False]))
    np.testing.assert_array_equal(new, [True, True, False, True])  # enter <0.3 or brown-out; leave only >0.6
    np.testing.assert_array_equal(entered, [True, True, False, False])


def test_radiator_equilibrium_against_stefan_boltzmann():
    # eps sigma A (T^4 - Ts^4) = P  =>  T = (P / (eps sigma A) + Ts^4)^(1/4); 1 kW on 2 m2 at eps 0.9, Ts 250 K
    p, eps, area, sink = 1000.0, 0.9, 2.0, 250.0
    t_eq = (p / (eps * 5.670374419e-8 * area) + sink**4) ** 0.25
    assert t_eq == pytest.approx(342.14, abs=0.01)  # by hand: (9.7975e9 + 3.9063e9)^0.25 = 342.14 K
    t = np.array(280.0)
    for _ in range(300):  # 5 h at 60 s steps, tau ~15 min
        t = thermal.node_step(t, p, 60.0, 14000.0, eps, area, sink)
    assert float(t) == pytest.approx(t_eq, abs=1e-6)
    assert float(thermal.radiated_w(t, eps, area, sink)) == pytest.approx(p, rel=1e-6)


def test_implicit_thermal_is_stable_with_huge_steps():
    # dt far beyond the time constant: backward Euler lands on equilibrium without oscillating
    t_eq = thermal.equilibrium_temp_k(500.0, 0.9, 1.0, 200.0)
    t = thermal.node_step(np.array([200.0, 400.0]), 500.0, 86400.0, 1000.0, 0.9, 1.0, 200.0)
    np.testing.assert_allclose(t, t_eq, rtol=1e-3)
    # and the transient is monotone from both sides
    lo, hi = np.array(200.0), np.array(400.0)
    for _ in range(20):
        lo2, hi2 = thermal.node_step(lo, 500.0, 600.0, 1000.0, 0.9, 1.0, 200.0), thermal.node_step(hi, 500.0, 600.0, 1000.0, 0.9, 1.0, 200.0)
        assert lo <= lo2 <= t_eq + 1e-9 and t_eq - 1e-9 <= hi2 <= hi
        lo, hi = lo2, hi2


def test_upset_rate_and_probability():
    # 1 upset per 100 GPU-days, 8 GPUs, x30 in the SAA: 2.4 per day inside
    rate = radiation.upset_rate_per_s(np.array([8, 8, 0]), np.array([True, False, True]), 0.01, 30.0)
    np.testing.assert_allclose(rate * 86400, [2.4, 0.08, 0.0])
    p = radiation.upset_probability(rate, 86400.0)
    np.testing.assert_allclose(p, 1 - np.exp(-np.array([2.4, 0.08, 0.0])))


def _exact_backward_euler(t0, p, dt, c, eps, area, sink):
    """The root of C (T - T0)/dt - P + k (T^4 - Ts^4) by bracketing (scalar, to 1e-12 K)."""
    from scipy.optimize import brentq

    k = eps * thermal.SIGMA * area
    f = lambda t: c / dt * (t - t0) - p + k * (t**4 - sink**4)  # noqa: E731
    hi = max(t0, float(thermal.equilibrium_temp_k(max(p, 0.0), eps, area, sink))) + 1.0
    return brentq(f, 1e-9, hi, xtol=1e-12, rtol=4 * np.finfo(float).eps)


def test_implicit_thermal_step_reaches_its_tolerance_in_extreme_cases():
    """Newton runs to 1e-9 K, not a fixed count: big radiators, cold sinks, tiny heat capacities, long steps.
    Issue 11: starcloud-1 with a 2,000 m2 radiator and 0 K sinks ended 3.4 K too hot after 4 iterations."""
    grid = [
        (t0, p, dt, c, area, sink)
        for t0 in (150.0, 293.15, 600.0)
        for p in (0.0, 255.0, 5e4)
        for dt in (1.0, 60.0, 3600.0)
        for c in (100.0, 6000.0, 1e9)
        for area in (0.01, 2.0, 2000.0, 10000.0)
        for sink in (0.0, 250.0)
    ]
    t0, p, dt, c, area, sink = (np.array(col) for col in zip(*grid))
    got = thermal.node_step(t0, p, dt, c, 0.9, area, sink)
    exact = np.array([_exact_backward_euler(*case[:4], 0.9, *case[4:]) for case in grid])
    assert np.max(np.abs(got - exact)) < 1e-8
    # the case: one idle step of starcloud-1 (bus 150 W + H100 idle 75 W + radio 30 W)
    one = thermal.node_step(np.array([293.15]), 255.0, 60.0, 6000.0, 0.9, 2000.0, 0.0)[0]
    assert one == pytest.approx(_exact_backward_euler(293.15, 255.0, 60.0, 6000.0, 0.9, 2000.0, 0.0), abs=1e-9)
    assert one < 116.0


def test_terminals_in_use_and_rate_per_terminal_hand_cases():
    from orbit_env.physics import links

    # satellite 0: three transfers on terminal 1; satellite 1: one each on terminals 0 and 1; satellite 2: none
    sat, term = np.array([0, 0, 0, 1, 1]), np.array([1, 1, 1, 0, 1])
    assert links.terminals_in_use(sat, term, 3, 2).tolist() == [1, 2, 0]
    per_xfer = links.shared_progress(links.terminal_index(sat, term, 2), 3 * 2, 9.0)
    assert per_xfer.tolist() == [3.0, 3.0, 3.0, 9.0, 9.0]
    assert links.bytes_per_step(0.001, 60.0) == pytest.approx(7.5e6)
