"""The policies: the Policy protocol on one env or many, legal actions, the observation decoders, and each
heuristic's rule on hand-made observations."""

from __future__ import annotations

import numpy as np
import pytest

from agents import HEURISTICS, ArrayPolicy, Policy, make_policy
from agents import decode
from agents.datasheet import Datasheet, worst_eclipse_s
from agents.policy import act_on, play
from orbit_env.batch import BatchEnv
from orbit_env.env import OrbitComputeEnv
from orbit_env.observe import OWN_FIELDS, SLOT_FIELDS, NEIGH_FIELDS
from orbit_env.physics.thermal import KELVIN
from orbit_env.sim import Place


@pytest.mark.parametrize("scenario", ["starcloud-1", "three-body-12", "walker-160"])
def test_heuristics_are_policies_that_take_only_legal_actions(scenario):
    env = OrbitComputeEnv(scenario, max_cycles=120)
    for name in HEURISTICS:
        policy = make_policy(name, env, seed=1)
        assert isinstance(policy, Policy) and isinstance(policy, ArrayPolicy)
        obs, infos = env.reset(seed=1)
        while env.agents:
            obs, _, _, _, infos = env.step(policy.act(obs, infos))
        assert env.metrics()["invalid_actions"] == 0, name


def test_one_policy_serves_one_env_or_many():
    envs = [OrbitComputeEnv("three-body-12", max_cycles=50) for _ in range(2)]
    obs = [env.reset(seed=s)[0] for env, s in zip(envs, (3, 4))]
    policy = make_policy("balance", envs[0])
    for _ in range(40):  # far enough in for jobs to be on board
        obs = [env.step(policy.act(o))[0] for env, o in zip(envs, obs)]
    together = policy.act(obs)
    assert together == [policy.act(o) for o in obs]
    stacked = np.stack([env.observations for env in envs]), np.stack([env.action_masks for env in envs])  # (envs, agents, ...)
    assert policy.act_arrays(*stacked).tolist() == [list(t.values()) for t in together]


def test_play_read_only_runs_every_heuristic_and_stops_a_policy_that_writes_into_its_inputs():
    env = BatchEnv("combined-walker-120", 2, max_cycles=20)  # every decision kind: admit, send, checkpoint
    for name in HEURISTICS:
        free = play(make_policy(name, env), env, [5, 6])
        viewed = play(make_policy(name, env), env, [5, 6], read_only=True)
        assert free.keys() == viewed.keys() and all(np.array_equal(free[k], viewed[k], equal_nan=True) for k in free), name

    class Scribbler(ArrayPolicy):
        def act_arrays(self, obs, mask):
            mask[...] = 1
            return np.zeros(mask.shape[:-1], np.int64)

    env.reset(seed=[5, 6])
    before = env.action_masks.copy()
    with pytest.raises(ValueError, match="read-only"):
        act_on(Scribbler.for_env(env), env, read_only=True)
    assert np.array_equal(env.action_masks, before)


def test_make_policy_rejects_unknown_names_and_parameters():
    env = OrbitComputeEnv("three-body-12", max_cycles=5)
    with pytest.raises(ValueError, match="unknown policy 'nope'; known: random, greedy"):
        make_policy("nope", env)
    with pytest.raises(ValueError, match="edf-safe has no parameter soc; its parameters: .*soc_margin"):
        make_policy("edf-safe", env, soc=0.1)
    with pytest.raises(ValueError, match="soc_margin = 'high' must be a finite float"):
        make_policy("edf-safe", env, soc_margin="high")
    assert make_policy("balance", env, soc_margin=0.2, relay_margin_min=5).soc_margin == 0.2


def test_decoders_invert_the_observation_scalings():
    env = OrbitComputeEnv("three-body-12", max_cycles=200)
    env.batch.reset(5)
    policy = make_policy("greedy", env)
    for _ in range(150):
        env.batch.step(policy.act_arrays(env.observations, env.action_masks)[None])
    L, sim, eph = env.layout, env.sim, env.ephemeris
    e = int(sim.e0[0] + sim.t[0])
    obs = env.observations
    np.testing.assert_allclose(decode.node_temp_c(L.own_field(obs, "temp")), sim.temp_k - KELVIN, atol=1e-3)
    np.testing.assert_allclose(decode.orbit_seconds(L.own_field(obs, "t_light_change")), np.minimum(eph.t_light_change[e], 6000), atol=0.5)
    np.testing.assert_allclose(decode.contact_minutes(L.own_field(obs, "t_contact_next")), eph.t_contact_next[e] / 60, rtol=1e-4, atol=1e-3)
    jobs = sim.slots[sim.slots >= 0]
    onboard = sim.place[jobs] == Place.ONBOARD
    thr = env.params.model_thr[sim.jobs.model[jobs]]
    risk_h = (sim.done_work[jobs] - sim.ckpt_work[jobs]) / thr / 3600
    occupied = sim.slots >= 0
    np.testing.assert_allclose(decode.at_risk_hours(L.slot_field(obs, "at_risk")[occupied])[onboard], risk_h[onboard], rtol=1e-4, atol=1e-6)
    ckpt = env.params.model_ckpt[sim.jobs.model[jobs]]
    np.testing.assert_allclose(decode.checkpoint_bytes(L.slot_field(obs, "checkpoint")[occupied]), ckpt, rtol=1e-4)
    assert onboard.any()


def test_worst_eclipse_hand_computed_and_bounds_every_scenario():
    # 500 km: period 2 pi sqrt(6871^3 / 398600.4418) = 5668.1 s; x asin(6371 / 6871) / pi = 2141.5 s (35.7 min)
    assert worst_eclipse_s(500.0) == pytest.approx(2141.5, abs=0.1)
    for scenario in ("starcloud-1", "three-body-12", "walker-160"):
        env = OrbitComputeEnv(scenario, max_cycles=5)
        dark = ~env.ephemeris.sunlit[:, :8]  # (T, sats): the longest run of shadow of each satellite
        runs = np.zeros(dark.shape[1])
        longest = np.zeros(dark.shape[1])
        for row in dark:
            runs = np.where(row, runs + 1, 0)
            longest = np.maximum(longest, runs)
        assert longest.max() * env.params.dt <= Datasheet.from_scenario(env.scenario).eclipse_s + env.params.dt


# ---------------------------------------------------------------------------- rules on hand-made observations


def blank(env):
    """One satellite's observation with nothing going on, and a mask where only idle is legal."""
    obs = np.zeros(env.layout.size, np.float32)
    mask = np.zeros(env.actions.n, np.int8)
    mask[env.actions.IDLE] = 1
    return obs, mask


def set_own(env, obs, **fields):
    for name, v in fields.items():
        obs[env.layout.own.start + OWN_FIELDS.index(name)] = v


def set_slot(env, obs, k, **fields):
    for name, v in fields.items():
        obs[env.layout.slots.start + k * len(SLOT_FIELDS) + SLOT_FIELDS.index(name)] = v


def set_neigh(env, obs, m, **fields):
    for name, v in fields.items():
        obs[env.layout.neighbours.start + m * len(NEIGH_FIELDS) + NEIGH_FIELDS.index(name)] = v


def with_job(env, obs, mask, k=0, **fields):
    """A runnable job in slot k (every power level legal)."""
    set_slot(env, obs, k, **{"present": 1, "runnable": 1, "deadline": 0.5, **fields})
    mask[env.actions.run(k, np.arange(env.actions.P))] = 1


def test_safe_edf_lowers_the_power_cap_before_the_throttle_temperature():
    env = OrbitComputeEnv("walker-160", max_cycles=5)
    policy, sheet, A = make_policy("edf-safe", env), Datasheet.from_scenario(env.scenario), env.actions
    obs, mask = blank(env)
    set_own(env, obs, soc=1.0, sunlit=1, t_light_change=0.5)
    with_job(env, obs, mask)
    top_gpu_rise = sheet.k_per_w * sheet.caps_w[-1]  # 28 K at 700 W
    for node_c, level in [(20.0, 2), (sheet.throttle_c - top_gpu_rise, 1), (sheet.throttle_c - 5, -1)]:
        set_own(env, obs, temp=(node_c - 40) / 60)
        action = int(policy.act_arrays(obs[None], mask[None])[0])
        assert action == (A.IDLE if level < 0 else A.run(0, level)), (node_c, A.describe(action))
    assert make_policy("edf", env).act_arrays(obs[None], mask[None])[0] == A.run(0, 2)  # plain EDF runs flat out


def test_safe_edf_keeps_the_battery_above_safe_mode_through_the_eclipse():
    env = OrbitComputeEnv("starcloud-1", max_cycles=5)
    policy, A = make_policy("edf-safe", env), env.actions
    obs, mask = blank(env)
    with_job(env, obs, mask)
    act = lambda **own: (set_own(env, obs, **own), int(policy.act_arrays(obs[None], mask[None])[0]))[1]  # noqa: E731
    # 30 minutes of shadow left: a full battery runs, one near the floor (0.30 + 0.05 margin) idles
    assert act(sunlit=0, t_light_change=0.3, soc=1.0) != A.IDLE
    assert act(sunlit=0, t_light_change=0.3, soc=0.45) == A.IDLE
    # sunlit, 20 minutes before the eclipse: near the floor only the lowest cap (the most work per Wh) still
    # reaches the eclipse with charge to spare; a full battery runs flat out (700 W, the array covers it)
    assert act(sunlit=1, t_light_change=0.2, soc=0.36) == A.run(0, 0)
    assert act(sunlit=1, t_light_change=0.2, soc=1.0) == A.run(0, 2)


def test_checkpoint_policy_follows_young_daly_and_the_saa():
    env = OrbitComputeEnv("walker-160", max_cycles=5)
    policy, sheet, A = make_policy("edf-ckpt", env), Datasheet.from_scenario(env.scenario), env.actions
    obs, mask = blank(env)
    set_own(env, obs, soc=1.0, sunlit=1, t_light_change=0.5, power_level=1.0, t_saa_change=1.0)
    with_job(env, obs, mask, active=1, checkpoint=np.log1p(1.49) / np.log1p(100))
    mask[A.CHECKPOINT] = 1
    cost = sheet.checkpoint_s(1.49e9)
    interval_h = np.sqrt(2 * cost / sheet.upset_rate_per_s(False)) / 3600  # ~2.8 h outside the SAA
    risk = lambda h: np.log1p(h) / np.log1p(10)  # noqa: E731
    act = lambda: int(policy.act_arrays(obs[None], mask[None])[0])  # noqa: E731
    set_slot(env, obs, 0, at_risk=risk(0.5 * interval_h))
    assert act() == A.run(0, 2)
    set_slot(env, obs, 0, at_risk=risk(1.1 * interval_h))
    assert act() == A.CHECKPOINT
    set_slot(env, obs, 0, at_risk=risk(0.2))
    set_own(env, obs, t_saa_change=30 / 6000)  # entering the SAA within the step
    assert act() == A.CHECKPOINT
    set_own(env, obs, in_saa=1, t_saa_change=0.1)  # inside, the interval shrinks 30-fold to ~31 min
    assert act() == A.run(0, 2)
    set_slot(env, obs, 0, at_risk=risk(0.6))
    assert act() == A.CHECKPOINT


def test_balance_relays_results_and_offloads_queued_work_downhill():
    env = OrbitComputeEnv("three-body-12", max_cycles=5)
    policy, A = make_policy("balance", env), env.actions
    minutes = lambda m: np.log1p(m) / np.log1p(1440)  # noqa: E731
    obs, mask = blank(env)
    set_own(env, obs, soc=1.0, sunlit=1, t_light_change=0.5, t_contact_next=minutes(120), queue_fill=0.25)
    set_slot(env, obs, 0, present=1, result=1)
    set_neigh(env, obs, 1, present=1, link_up=1, contact=1, soc=0.9, sunlit=1, free_slots=0.75)
    set_neigh(env, obs, 0, present=1, link_up=1, t_contact_next=minutes(200), soc=0.9, free_slots=0.75)
    mask[A.send(0, np.arange(A.M))] = 1
    assert policy.act_arrays(obs[None], mask[None])[0] == A.send(0, 1)  # toward the neighbour in contact now
    set_own(env, obs, t_contact_next=minutes(5))
    assert policy.act_arrays(obs[None], mask[None])[0] == A.send(0, 1)  # 5 minutes sooner is worth a relay
    set_own(env, obs, t_contact_next=minutes(1))
    assert policy.act_arrays(obs[None], mask[None])[0] == A.IDLE  # a minute sooner is inside the margin

    obs, mask = blank(env)  # three queued jobs, one running; neighbour 0 is empty and in sunlight
    set_own(env, obs, soc=1.0, sunlit=1, t_light_change=0.5, queue_fill=0.75)
    for k, deadline in enumerate((0.2, 0.5, 0.9)):
        with_job(env, obs, mask, k, deadline=deadline, active=int(k == 0))
        mask[A.send(k, np.arange(A.M))] = 1
    set_neigh(env, obs, 0, present=1, link_up=1, soc=0.8, sunlit=1, free_slots=1.0)
    assert policy.act_arrays(obs[None], mask[None])[0] == A.send(2, 0)  # the latest deadline goes
    set_neigh(env, obs, 0, free_slots=0.5)  # only one more free slot than us: keep it
    assert policy.act_arrays(obs[None], mask[None])[0] == A.run(0, 2)
