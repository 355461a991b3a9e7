"""Suite v2 mechanics: agent admission, antennas per station, on-board storage, warm start and the measurement window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orbit_env.actions import Act
from orbit_env.conformance import check_determinism, check_invariants, random_legal_actions, run_checks
from orbit_env.env import OrbitComputeEnv
from orbit_env.observe import Layout
from orbit_env.scenario import ScenarioError, load_scenario
from orbit_env.sim import K_MAX, Place, action_mask, admission_window, consistency_errors, free_bytes, ground_link, queue_slots, step
from orbit_env.workload.catalog import MODELS
from test_sim import run_until, start, world

V2 = str(Path(__file__).parent / "data" / "v2-small.toml")
AGENT = {"ground.admission": "agent", "ground.queue_window": 2}


def arrive(params, state, eph):
    """One idle step so jobs submitted at t = 0 are on the ground; returns the mask of the next step."""
    step(params, state, eph, np.zeros(params.n_sats, np.int64))
    return action_mask(params, state, eph)


def admits(params, mask):
    return mask[:, params.actions.admit(np.arange(params.G))]


def test_window_is_the_ground_queue_in_deadline_order_and_admit_moves_that_job():
    params, eph = world(n=1, **AGENT)
    state = start(params, eph, [1e6, 1e6, 1e6], model=2)  # llama2-7b-lora: a 13.54 GB dataset
    state.jobs.deadline_s[:3] = [3e4, 1e4, 2e4]
    mask = arrive(params, state, eph)
    assert admission_window(params, state)[0].tolist() == [1, 2]  # earliest deadlines first, G = 2
    assert admits(params, mask).tolist() == [[1, 1]]
    step(params, state, eph, np.array([params.actions.admit(1)]))
    assert state.place[2] == Place.UPLINK and state.sat[2] == 0 and state.slots[0, state.slot[2]] == 2
    assert (state.place[[0, 1]] == Place.GROUND).all()
    # the dataset uplinks at 0.3 Gbps (starcloud-1): 2.25 GB per 60 s step
    assert state.xfer_left[2] == pytest.approx(MODELS["llama2-7b-lora"].dataset_bytes - 0.3e9 / 8 * 60)
    assert admission_window(params, state)[0].tolist() == [1, 0]


def test_admission_is_legal_only_with_a_link_outside_safe_mode_with_a_free_slot_and_bytes():
    params, eph = world(n=1, contact=False, **AGENT)
    state = start(params, eph, [1e6])
    assert admits(params, arrive(params, state, eph)).sum() == 0  # no contact

    params, eph = world(n=1, **AGENT)
    state = start(params, eph, [1e6])
    arrive(params, state, eph)
    state.safe[:] = True
    assert admits(params, action_mask(params, state, eph)).sum() == 0
    state.safe[:] = False
    assert admits(params, action_mask(params, state, eph)).tolist() == [[1, 0]]  # one job: entry 1 is empty
    state.slots[:] = 0  # every slot taken (by one job: only the mask is asked)
    assert admits(params, action_mask(params, state, eph)).sum() == 0

    # storage: a gpt2-124m job needs 3.49 GB; with 5 GB and one aboard, no second one fits (K = 16: shakespeare-char is 0.13 GB)
    hold = MODELS["gpt2-124m"].dataset_bytes + MODELS["gpt2-124m"].checkpoint_bytes
    params, eph = world(n=1, **AGENT, **{"hardware.storage_gb": 5.0, "workload.models": ["gpt2-124m", "shakespeare-char"], "workload.model_weights": []})
    state = start(params, eph, [1e6, 1e6], model=0)
    mask = arrive(params, state, eph)
    assert free_bytes(params, state)[0] == pytest.approx(5e9) and params.K == 16
    assert admits(params, mask).tolist() == [[1, 1]]
    step(params, state, eph, np.array([params.actions.admit(0)]))
    assert free_bytes(params, state)[0] == pytest.approx(5e9 - hold)
    assert admits(params, action_mask(params, state, eph)).sum() == 0
    assert (state.slots[0] < 0).any()  # slots are free: bytes are what is full


def test_two_satellites_admitting_one_entry_the_lower_index_gets_it():
    params, eph = world(n=2, **AGENT)
    state = start(params, eph, [1e6, 1e6])
    arrive(params, state, eph)
    j = admission_window(params, state)[0, 0]
    step(params, state, eph, np.full(2, params.actions.admit(0)))
    assert state.sat[j] == 0 and state.place[j] in (Place.UPLINK, Place.ONBOARD)
    assert (state.slots[1] < 0).all() and state.totals["admit_refused"] == 1
    assert not consistency_errors(state, params)


def test_admit_keeps_the_loaded_job_running():
    params, eph = world(n=1, **AGENT)
    state = start(params, eph, [1e12, 1e12], model=1)
    arrive(params, state, eph)
    step(params, state, eph, np.array([params.actions.admit(0)]))
    run_until(params, state, eph, params.actions.run(0, 2), lambda s, i: s.active[0] >= 0 and s.done_work[s.active[0]] > 0)
    j, before = state.active[0], state.done_work[state.active[0]]
    step(params, state, eph, np.array([params.actions.admit(0)]))
    assert state.active[0] == j and state.done_work[j] > before
    assert (state.place[:2] != Place.GROUND).all()


def test_auto_admission_has_no_admit_actions_and_keeps_v1_spaces():
    env = OrbitComputeEnv("three-body-12", max_cycles=5)
    assert env.params.G == 0 and env.layout == Layout(4, 2) and env.layout.size == 21 + 4 * 12 + 2 * 12
    assert env.params.n_actions == 2 + 4 * 3 + 4 * 2
    kinds = env.actions.tables[0]
    assert Act.ADMIT not in kinds


def test_antennas_one_per_station_priority_to_a_satellite_with_work_for_the_ground():
    params, eph = world(n=3, **{"ground.antennas_per_station": 1})
    state = start(params, eph, [1e6])
    assert ground_link(params, state, eph).tolist() == [True, False, False]  # nothing to do anywhere: lowest index
    state.place[0], state.sat[0], state.slot[0], state.slots[2, 0] = Place.RESULT, 2, 0, 0
    state.done_work[0] = state.ckpt_work[0] = state.jobs.work[0]
    state.finisher[0], state.n_arrived[:], state.live = 2, 1, np.array([0])
    assert ground_link(params, state, eph).tolist() == [False, False, True]  # a result to downlink wins
    state.xfer_left[0] = 1e10  # 1e10 bytes at 0.3 Gbps: several steps; it keeps the antenna while it has some to send
    step(params, state, eph, np.zeros(3, np.int64))
    assert state.antenna.tolist() == [-1, -1, 0]
    assert ground_link(params, state, eph).tolist() == [False, False, True]


def test_antenna_limit_holds_under_play():
    """36 satellites 1,200 km apart often see one station together; at most A of them may transfer."""
    from agents import make_policy

    env = OrbitComputeEnv(V2, max_cycles=400, overrides={"orbit.sats_per_plane": 36, "ground.elevation_mask_deg": 5.0})
    env.batch.reset(3)
    policy = make_policy("greedy", env, seed=0)
    sim, eph, A = env.sim, env.ephemeris, env.params.antennas
    crowded = 0
    while not env.truncated:
        link, st = ground_link(env.params, sim, eph), eph.station[int(sim.e0[0] + sim.t[0])]
        assert not (link & (st < 0)).any()
        assert np.bincount(st[link], minlength=len(eph.station_names)).max() <= A
        crowded += int(np.bincount(st[st >= 0], minlength=len(eph.station_names)).max() > A)
        before = sim.xfer_left.copy()
        env.batch.step(policy.act_arrays(env.observations, env.action_masks)[None])
        ground_xfer = (sim.xfer_left != before) & np.isin(sim.place, (Place.UPLINK, Place.ONBOARD, Place.RESULT, Place.DONE))
        assert not (ground_xfer & ~link[np.maximum(sim.sat, 0)]).any()  # every ground transfer had an antenna
        assert not consistency_errors(sim, env.params)
    assert crowded > 0  # some station saw more satellites than antennas: the limit was exercised


def test_storage_is_never_exceeded_and_k_follows_from_it():
    sc = load_scenario(V2)
    hold = min(MODELS[m].dataset_bytes + MODELS[m].checkpoint_bytes for m in sc.workload.models)
    assert queue_slots(sc) == int(30e9 // hold) == 8  # 30 GB / 3.49 GB (gpt2-124m)
    assert queue_slots(load_scenario(V2, {"hardware.storage_gb": 1e5})) == K_MAX
    assert queue_slots(load_scenario("three-body-12")) == 4
    from agents import make_policy

    env = OrbitComputeEnv(V2, max_cycles=300, overrides={"workload.arrival_rate_per_hour": 30.0})
    env.batch.reset(1)
    policy = make_policy("greedy", env, seed=0)  # admits whenever it can
    lowest = np.inf
    while not env.truncated:
        env.batch.step(policy.act_arrays(env.observations, env.action_masks)[None])
        free = free_bytes(env.params, env.sim)
        assert (free >= -1e-3).all()
        lowest = min(lowest, free.min())
    assert lowest < 8.11e9  # storage filled up at some point (less than a llama job free)


def test_warm_start_is_reproducible_from_the_seed_and_differs_across_seeds():
    env = OrbitComputeEnv(V2, max_cycles=30)
    snap = []
    for seed in (5, 5, 6):
        env.batch.reset(seed)
        s = env.sim
        snap.append((s.e0, s.energy_wh.copy(), s.temp_k.copy(), s.place.copy(), s.done_work.copy(), env.observations.copy()))
        assert s.t == 0 and env.metrics()["delivered_value"] == 0.0
        assert env.metrics()["jobs_ground"] + env.metrics()["jobs_queued"] + env.metrics()["jobs_running"] > 0
        assert (s.done_work[:-1] > 0).any()  # partial progress
        assert not np.allclose(s.energy_wh, s.energy_wh[0]) or not np.allclose(s.temp_k, 293.15)  # not the cold state
    same = all(np.array_equal(a, b) for a, b in zip(snap[0], snap[1]))
    differ = any(not np.array_equal(a, b) for a, b in zip(snap[0][1:], snap[2][1:]))
    assert same and differ


def test_warm_start_submits_jobs_before_step_zero_and_keeps_the_ephemeris_in_range():
    env = OrbitComputeEnv(V2, max_cycles=30)
    env.batch.reset(0)
    assert env.sim.jobs.submit_s[0] < 0  # arrivals began at -warmup_h
    assert env.sim.e0 >= env.params.warm_steps and env.sim.e0 + env.max_cycles < env.ephemeris.n_steps


def test_window_value_equals_delivered_value_over_the_whole_episode():
    env = OrbitComputeEnv(V2, max_cycles=400, overrides={"episode.measure_start_h": 0.0, "episode.measure_end_h": 0.0})
    rng = np.random.default_rng(0)
    env.reset(seed=2)
    while env.agents:
        env.step(random_legal_actions(env, rng))
    m = env.metrics()
    assert m["delivered_value"] > 0 and m["window_value"] == m["delivered_value"]


@pytest.mark.parametrize("window, counted", [((0.0, 0.0), True), ((0.0, 1.0), True), ((1.0, 2.0), False), ((0.5, 0.0), False)])
def test_window_value_counts_only_deliveries_in_the_window(window, counted):
    # one shakespeare-char job (2 s of work here) delivered within the first half hour, while in contact
    params, eph = world(n=1, **{"episode.measure_start_h": window[0], "episode.measure_end_h": window[1]})
    state = start(params, eph, [1.0], value=2.0)
    run_until(params, state, eph, params.actions.run(0, 2), lambda s, i: s.place[0] == Place.DONE, limit=30)
    assert state.t < 30
    assert state.totals["delivered_value"] == 2.0
    assert state.totals["window_value"] == (2.0 if counted else 0.0)


def test_invariants_determinism_and_conformance_on_a_v2_scenario():
    check_invariants(lambda: OrbitComputeEnv(V2), episodes=2, cycles=480)
    assert "identical" in check_determinism(lambda: OrbitComputeEnv(V2), 480)
    results = run_checks(V2, max_cycles=40, episodes=1)
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    assert not failed, failed


def test_multi_day_episode_fits_the_ephemeris():
    env = OrbitComputeEnv(V2, overrides={"episode.max_cycles": 3 * 1440, "episode.warmup_h": 12.0})
    assert env.ephemeris.n_steps > 3 * 1440 + 720
    env.batch.reset(0)
    assert env.sim.e0 + env.max_cycles < env.ephemeris.n_steps


@pytest.mark.parametrize(
    "overrides, expect",
    [
        ({"ground.admission": "manual"}, ["ground.admission", "'manual'", "auto", "agent"]),
        ({"ground.admission": "agent"}, ["ground.queue_window", ">= 1"]),
        ({"ground.queue_window": -1}, ["ground.queue_window", "-1", "out of range"]),
        ({"ground.queue_window": 2.5}, ["ground.queue_window", "whole number"]),
        ({"ground.antennas_per_station": -1}, ["ground.antennas_per_station", "-1", "out of range"]),
        ({"ground.antennas_per_station": "two"}, ["ground.antennas_per_station", "whole number"]),
        ({"hardware.storage_gb": -5.0}, ["hardware.storage_gb", "-5", "out of range"]),
        ({"hardware.storage_gb": 5.0}, ["hardware.storage_gb", "llama3.1-8b-inference", "8.11 GB"]),
        ({"episode.warmup_h": -1.0}, ["episode.warmup_h", "out of range"]),
        ({"episode.warmup_h": "long"}, ["episode.warmup_h", "number"]),
        ({"episode.measure_start_h": -2.0}, ["episode.measure_start_h", "out of range"]),
        ({"episode.measure_start_h": 6.0, "episode.measure_end_h": 3.0}, ["measure_end_h = 3", "measure_start_h = 6"]),
    ],
)
def test_bad_v2_values_are_clear_errors(overrides, expect):
    with pytest.raises(ScenarioError) as err:
        load_scenario("three-body-12", overrides)
    for word in expect:
        assert word in str(err.value), (word, str(err.value))
