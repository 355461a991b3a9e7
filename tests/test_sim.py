"""The simulator against hand-computed cases, on hand-made geometry (always sunlit, always in contact, ...)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from orbit_env.ephemeris import Ephemeris
from orbit_env.physics.power import dvfs_speed
from orbit_env.scenario import load_scenario
from orbit_env.sim import Place, consistency_errors, job_census, make_params, reset_state, step
from orbit_env.workload.catalog import MODELS
from orbit_env.workload.generator import JobBatch


def world(n=1, steps=400, sunlit=True, contact=True, in_saa=False, isl=False, **overrides):
    """Params and an Ephemeris of constant conditions for ``n`` satellites in a ring of ISLs (if ``isl``)."""
    sc = load_scenario("starcloud-1", overrides={"links.isl_terminals": 2 if isl else 0, "episode.max_cycles": steps - 1,
                                                 "workload.arrival_rate_per_hour": 0.0, **overrides})  # fmt: skip
    m = 2 if isl else 0
    T = steps
    full = lambda v, dtype=bool: np.full((T, n), v, dtype)  # noqa: E731
    neighbours = np.stack([(np.arange(n) - 1) % n, (np.arange(n) + 1) % n], axis=1) if isl else np.zeros((n, 0), int)
    eph = Ephemeris(
        dt_s=60.0, times_s=np.arange(T) * 60.0, pos_km=np.zeros((T, n, 3), np.float32),
        lat_deg=full(0.0, np.float32), lon_deg=full(0.0, np.float32), sunlit=full(sunlit), in_saa=full(in_saa),
        contact=full(contact), station=full(0 if contact else -1, np.int16), neighbours=neighbours,
        isl_up=np.full((T, n, m), isl), isl_range_km=np.full((T, n, m), 100.0, np.float32),
        t_light_change=full(1e4, np.float32), t_saa_change=full(1e4, np.float32),
        t_contact_next=full(0.0 if contact else 1e4, np.float32), t_contact_left=full(600.0 if contact else 0.0, np.float32),
        station_names=("test",),
    )  # fmt: skip
    return make_params(sc, n), eph


def start(params, eph, work, model=0, deadline=1e9, value=1.0):
    """A state with one job per entry of ``work``, all submitted at t = 0."""
    k = len(work)
    jobs = JobBatch(np.zeros(k), np.full(k, model, np.int32), np.ones(k, np.int32), np.asarray(work, float),
                    np.full(k, deadline), np.full(k, value))  # fmt: skip
    state = reset_state(params, eph, [np.random.default_rng(0)], jobs=[jobs])
    state.e0[:] = 0
    return state


def run_until(params, state, eph, action, cond, limit=390):
    for _ in range(limit):
        info = step(params, state, eph, np.full(params.n_sats, action))
        assert not consistency_errors(state), consistency_errors(state)
        if cond(state, info):
            return info
    raise AssertionError("condition never met")


@pytest.mark.parametrize("level", [0, 1, 2])
def test_job_runtime_follows_throughput_and_dvfs(level):
    params, eph = world()
    model = MODELS["shakespeare-char"]  # models[0] of starcloud-1
    cap = params.caps_w[level]
    rate = model.throughput * dvfs_speed(cap, 75.0, 675.0, model.dvfs_gamma)
    work = rate * 1800.0  # exactly 30 minutes of compute at this cap
    state = start(params, eph, [work])
    run = int(params.actions.run(0, level))
    # step 0: arrives and is uplinked (1.1 MB at 0.3 Gbps); step 1 on: loading costs one checkpoint time
    load_s = params.scenario.hardware.checkpoint_overhead_s + model.checkpoint_bytes * 8 / 16e9
    run_until(params, state, eph, run, lambda s, i: s.place[0] == Place.DONE)
    expected_steps = 1 + math.ceil((1800.0 + load_s) / 60.0)
    assert state.t == expected_steps
    assert state.delivered_s[0] == expected_steps * 60.0
    assert state.totals["delivered_value"] == pytest.approx(1.0)
    assert state.totals["busy_gpu_s"] == pytest.approx(1800.0 + load_s, rel=1e-9)


def test_value_is_discounted_after_the_deadline():
    params, eph = world(**{"workload.value_half_life_h": 1.0})
    state = start(params, eph, [450_000.0 * 600], deadline=0.0, value=8.0)
    run_until(params, state, eph, int(params.actions.run(0, 2)), lambda s, i: s.place[0] == Place.DONE)
    late_h = state.delivered_s[0] / 3600.0
    assert state.totals["delivered_value"] == pytest.approx(8.0 * 0.5**late_h)
    assert state.totals["deadline_hits"] == 0


def test_upset_rolls_back_to_the_checkpoint_and_costs_recovery():
    params, eph = world(in_saa=True, **{"radiation.upsets_per_gpu_day": 1000.0, "radiation.saa_multiplier": 1000.0})
    state = start(params, eph, [1e15])
    run = np.array([params.actions.run(0, 2)])
    step(params, state, eph, np.array([0]))  # uplink
    info = step(params, state, eph, run)  # runs, and with ~1e6 upsets/day crashes at once
    assert info.upset[0]
    assert state.done_work[0] == state.ckpt_work[0] == 0.0
    assert state.recover_s[0] == params.scenario.radiation.recovery_s
    assert state.active[0] == -1
    info = step(params, state, eph, run)
    assert info.invalid[0]  # the GPU is resetting: running is illegal for recovery_s


def test_checkpoint_saves_work_at_risk():
    params, eph = world()
    state = start(params, eph, [1e15])
    step(params, state, eph, np.array([0]))
    step(params, state, eph, np.array([params.actions.run(0, 2)]))
    assert state.done_work[0] > 0 and state.ckpt_work[0] == 0
    before = state.done_work[0]
    step(params, state, eph, np.array([params.actions.CHECKPOINT]))
    assert state.ckpt_work[0] == pytest.approx(before)  # saved first, then kept running
    assert state.done_work[0] > before
    assert state.totals["checkpoints"] == 1


def test_eclipse_drains_battery_into_safe_mode_which_crashes_the_job():
    params, eph = world(sunlit=False)
    hw = params.scenario.hardware
    state = start(params, eph, [1e15])
    # 450 W cap: load = bus 150 + GPU 450 + radio 30 = 630 W from 450 Wh at 0.965 efficiency
    run_until(params, state, eph, int(params.actions.run(0, 1)), lambda s, i: bool(i.safe_entered[0]))
    drawn_wh = (hw.initial_soc - hw.safe_mode_soc) * hw.battery_wh / 1.0
    expected_steps = math.ceil(drawn_wh / (630.0 / 0.965 / 60.0))
    assert abs(state.t - expected_steps) <= 1
    assert state.safe[0] and state.done_work[0] == state.ckpt_work[0]
    assert state.totals["safe_mode_entries"] == 1
    info = step(params, state, eph, np.array([params.actions.run(0, 1)]))
    assert info.invalid[0]  # accelerators off in safe mode
    assert info.load_w[0] == pytest.approx(150.0 + 30.0)  # bus + radio, no GPU


def test_thermal_shutdown_crashes_and_clears_when_cool():
    params, eph = world(**{"hardware.gpu_k_per_w": 0.2})  # 700 W -> +140 K: instant shutdown
    state = start(params, eph, [1e15])
    run_until(params, state, eph, int(params.actions.run(0, 2)), lambda s, i: bool(i.thermal_shutdown[0]))
    assert state.thermal_off[0] and state.totals["thermal_shutdowns"] == 1
    # idle until the junction (node + 0.2 K/W x 75 W idle) is below 87 C: it clears
    run_until(params, state, eph, 0, lambda s, i: not s.thermal_off[0])


def test_isl_transfer_takes_bytes_over_rate_and_lands_in_a_free_slot():
    params, eph = world(n=3, isl=True, **{"links.isl_rate_gbps": 0.001})
    state = start(params, eph, [1e15])
    step(params, state, eph, np.zeros(3, int))  # uplink lands on sat 0 (first in contact)
    assert state.sat[0] == 0
    step(params, state, eph, np.array([params.actions.send(0, 1), 0, 0]))  # terminal 1 = satellite 1
    assert state.place[0] == Place.SENDING and state.dest[0] == 1 and job_census(state)["in_flight"] == 1
    # 128 MB checkpoint at 1 Mbps = 1024 s: lands in the 18th step of the transfer (17 x 60 = 1020 s)
    sent_at = state.t
    run_until(params, state, eph, 0, lambda s, i: s.place[0] == Place.ONBOARD)
    assert state.t - sent_at == 17 and state.sat[0] == 1
    assert (state.slots[0] == -1).all() and (state.slots[1] >= 0).sum() == 1


def test_sending_a_waiting_job_keeps_the_loaded_job_running():
    """The laser terminal works beside the accelerators: a send costs the loaded job no compute."""
    params, eph = world(n=3, isl=True)
    state = start(params, eph, [1e15, 1e15])
    A, top = params.actions, params.P - 1
    step(params, state, eph, np.zeros(3, int))  # job 0 lands on sat 0, job 1 on sat 1
    step(params, state, eph, np.array([0, A.send(state.slot[1], 0), 0]))  # sat 1 -> sat 0 (terminal 0)
    assert state.sat[1] == 0 and state.place[1] == Place.ONBOARD
    run = np.array([A.run(state.slot[0], top), 0, 0])
    step(params, state, eph, run)  # loads job 0 (pays the load time)
    before = state.done_work[0]
    step(params, state, eph, run)
    full_step = state.done_work[0] - before
    assert full_step == pytest.approx(params.rate_per_level[0, top] * 60.0)
    before = state.done_work[0]
    step(params, state, eph, np.array([A.send(state.slot[1], 1), 0, 0]))  # sat 0 sends job 1 to sat 1
    assert state.sat[1] == 1 and state.active[0] == 0
    assert state.done_work[0] - before == pytest.approx(full_step)
    sent_loaded = np.array([A.send(state.slot[0], 1), 0, 0])  # sending the loaded job itself unloads it
    step(params, state, eph, sent_loaded)
    assert state.active[0] == -1 and state.sat[0] == 1


def test_a_relayed_result_credits_the_satellite_that_did_the_work():
    params, eph = world(n=3, isl=True)
    rate = MODELS["shakespeare-char"].throughput
    state = start(params, eph, [rate * 600.0], value=2.0)  # ten minutes of work
    A = params.actions
    step(params, state, eph, np.zeros(3, int))  # uplinked to sat 0
    eph.contact.setflags(write=True)
    contact = eph.contact.copy()
    contact[int(state.t[0]) :, 0] = False  # then sat 0 loses the ground; its neighbours keep it
    eph = dataclasses.replace(eph, contact=contact)
    run_until(params, state, eph, int(A.run(0, 2)), lambda s, i: s.place[0] == Place.RESULT)
    assert state.finisher[0] == 0
    info = step(params, state, eph, np.array([A.send(0, 1), 0, 0]))  # relay to sat 1 over terminal 1
    assert state.place[0] == Place.DONE and state.sat[0] == 1  # it landed and went down through sat 1 ...
    np.testing.assert_allclose(info.delivered_value, [2.0, 0.0, 0.0])  # ... but sat 0 earned it


def test_dense_shaping_pays_the_value_a_delivery_would_earn_now():
    params, eph = world(**{"workload.value_half_life_h": 1.0, "episode.dense_shaping": True})
    work = 1e15
    state = start(params, eph, [work], deadline=0.0, value=8.0)  # late from the start
    run = np.array([params.actions.run(0, 2)])
    step(params, state, eph, np.array([0]))  # uplink
    step(params, state, eph, run)  # load and run
    before, now_h = state.done_work[0], state.t * 60.0 / 3600.0
    info = step(params, state, eph, run)
    assert info.shaping[0] == pytest.approx(8.0 * 0.5**now_h * (state.done_work[0] - before) / work)


def test_broken_link_aborts_the_transfer():
    params, eph = world(n=3, isl=True, **{"links.isl_rate_gbps": 0.001})  # 128 MB takes 17 min
    state = start(params, eph, [1e15])
    step(params, state, eph, np.zeros(3, int))
    step(params, state, eph, np.array([params.actions.send(0, 1), 0, 0]))
    assert state.place[0] == Place.SENDING
    eph.isl_up.setflags(write=True)
    isl_up = eph.isl_up.copy()
    isl_up[int(state.t[0]) :] = False
    eph = dataclasses.replace(eph, isl_up=isl_up)
    step(params, state, eph, np.zeros(3, int))
    assert state.place[0] == Place.ONBOARD and state.sat[0] == 0 and state.totals["isl_aborts"] == 1
    assert (state.slots[1] == -1).all()  # the reserved slot at the destination is released


def test_no_contact_means_no_uplink_and_jobs_expire_on_the_ground():
    params, eph = world(contact=False, **{"workload.drop_after_h": 1.0})
    state = start(params, eph, [1e9], deadline=0.0)
    run_until(params, state, eph, 0, lambda s, i: s.place[0] == Place.DROPPED)
    assert state.t == 62  # step 61 (starting at 3,660 s) is the first to begin more than 1 h past the deadline
    assert job_census(state) == {"submitted": 1, "ground": 0, "queued": 0, "running": 0, "in_flight": 0, "done": 0, "dropped": 1}


def test_a_job_that_fails_on_its_own_leaves_at_its_failure_point():
    params, eph = world()
    rate = MODELS["shakespeare-char"].throughput  # full power, level 2
    state = start(params, eph, [rate * 3600.0])
    state.jobs.fail_at_fraction[0] = 0.5  # trace outcome: fails after 30 of its 60 minutes
    run_until(params, state, eph, int(params.actions.run(0, 2)), lambda s, i: s.place[0] == Place.DROPPED)
    assert state.done_work[0] == pytest.approx(rate * 1800.0)
    assert state.totals["jobs_failed"] == 1 and state.totals["jobs_delivered"] == 0
    assert (state.slots == -1).all() and state.active[0] == -1


def _on_board(params, eph, n_jobs):
    """A state with ``n_jobs`` jobs waiting in the slots of satellite 0 (no contact, nothing arrives)."""
    state = start(params, eph, [1e15] * n_jobs)
    j = np.arange(n_jobs)
    state.place[j], state.sat[j], state.slot[j] = Place.ONBOARD, 0, j
    state.slots[0, j] = j
    state.n_arrived[:], state.live = n_jobs, j
    return state


def test_a_laser_terminal_is_one_resource_shared_by_its_transfers():
    """Three sends on one terminal: the terminal's 40 W once, its 7.5 MB per step split three ways (issue 11)."""
    params, eph = world(n=3, isl=True, contact=False, **{"links.isl_rate_gbps": 0.001, "hardware.isl_terminal_w": 40.0})
    state = _on_board(params, eph, 3)
    A, rate = params.actions, 0.001e9 / 8 * 60.0  # bytes per step of one terminal
    ckpt = params.model_ckpt[0]
    for k in range(3):  # one send per step, all on terminal 1 (to satellite 1)
        info = step(params, state, eph, np.array([A.send(k, 1), 0, 0]))
    idle_w = 150.0 + 75.0  # bus + H100 idle
    assert info.load_w.tolist() == pytest.approx([idle_w + 40.0, idle_w, idle_w])
    # bytes moved: job 0 had rate alone, then rate/2, then rate/3; job 2 only rate/3
    assert state.xfer_left[:3] == pytest.approx(ckpt - rate * np.array([1 + 1 / 2 + 1 / 3, 1 / 2 + 1 / 3, 1 / 3]))
    assert not consistency_errors(state)


def test_two_terminals_double_a_satellites_outbound_rate():
    params, eph = world(n=3, isl=True, contact=False, **{"links.isl_rate_gbps": 0.001, "hardware.isl_terminal_w": 40.0})
    state = _on_board(params, eph, 2)
    A, rate = params.actions, 0.001e9 / 8 * 60.0
    step(params, state, eph, np.array([A.send(0, 1), 0, 0]))  # to satellite 1 on terminal 1
    info = step(params, state, eph, np.array([A.send(1, 0), 0, 0]))  # to satellite 2 on terminal 0
    assert state.dest[:2].tolist() == [1, 2]
    assert state.xfer_left[:2] == pytest.approx(params.model_ckpt[0] - rate * np.array([2.0, 1.0]))  # each at full rate
    assert info.load_w[0] == pytest.approx(150.0 + 75.0 + 2 * 40.0)
