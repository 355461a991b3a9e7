"""The batched simulator: episode b of a batch is the single env with the same seed, bit for bit."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from orbit_env.batch import BatchEnv
from orbit_env.env import OrbitComputeEnv
from orbit_env.physics import thermal
from orbit_env.scenario import shipped_scenarios
from orbit_env.sim import consistency_errors, job_census, uniform

SEEDS = [5, 17, 2024]
STEPS = {"starcloud-shell-1000": 6, "walker-160": 10, "suncatcher-81": 10}  # others: 25


def varied_actions(obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A legal action per row that depends only on the row's observation: many kinds of action, deterministic."""
    A = mask.shape[-1]
    score = np.sin(np.arange(A) * 12.9898 + obs.sum(axis=-1, keepdims=True) * 78.233) + 2.0
    return (score * mask).argmax(axis=-1)


def single_run(scenario: str, steps: int, seed: int, episodes: int) -> list:
    """(observations, masks, rewards) per step and the final metrics, for consecutive episodes of one env."""
    env = OrbitComputeEnv(scenario, max_cycles=steps)
    out = []
    for k in range(episodes):
        env.reset(seed=seed if k == 0 else None)  # later episodes continue the generator, as autoreset does
        record = [(env.observations.copy(), env.action_masks.copy(), None)]
        while not env.truncated:
            _, _, rewards, _, _, _ = env.batch.step(varied_actions(env.observations, env.action_masks)[None])
            record.append((env.observations.copy(), env.action_masks.copy(), rewards[0].copy()))
        out.append((record, env.metrics()))
    return out


@pytest.mark.parametrize("scenario", shipped_scenarios())
def test_each_episode_of_a_batch_equals_the_single_env_across_autoresets(scenario):
    steps = STEPS.get(scenario, 25)
    batch = BatchEnv(scenario, len(SEEDS), max_cycles=steps)
    obs, mask, _ = batch.reset(seed=SEEDS)
    episodes = [[(obs.copy(), mask.copy(), None)]]
    metrics, restarting = [], False
    for _ in range(2 * steps + 1):  # two episodes and the next_step autoreset between them
        obs, mask, rewards, term, trunc, info = batch.step(varied_actions(obs, mask))
        assert not term.any()
        if restarting:  # the autoreset step: the next episode's first observation, nothing else
            assert not trunc.any() and (rewards == 0).all() and "episode_metrics" not in info
            episodes.append([(obs.copy(), mask.copy(), None)])
            restarting = False
            continue
        episodes[-1].append((obs.copy(), mask.copy(), rewards.copy()))
        if "episode_metrics" in info:
            assert info["_episode_metrics"].all() and trunc.all()
            metrics.append(info["episode_metrics"])
            restarting = True
    assert len(metrics) == 2 and len(episodes) == 2
    for b, seed in enumerate(SEEDS):
        for k, (record, final) in enumerate(single_run(scenario, steps, seed, 2)):
            got = episodes[k]
            assert len(got) == len(record) == steps + 1
            for t, (o, m, r) in enumerate(record):
                assert np.array_equal(got[t][0][b], o), f"episode {b}.{k}: observations differ at step {t}"
                assert np.array_equal(got[t][1][b], m), f"episode {b}.{k}: masks differ at step {t}"
                if r is not None:
                    assert np.array_equal(got[t][2][b], r), f"episode {b}.{k}: rewards differ at step {t}"
            for name, value in final.items():
                assert metrics[k][name][b] == value, f"episode {b}.{k}: {name} {metrics[k][name][b]} != {value}"


def test_same_step_autoreset_hands_back_the_final_observation():
    nxt = BatchEnv("three-body-12", 2, max_cycles=8)
    same = BatchEnv("three-body-12", 2, max_cycles=8, autoreset_mode="same_step")
    o1, m1, _ = nxt.reset(seed=3)
    o2, m2, _ = same.reset(seed=3)
    for t in range(8):
        o1, m1, r1, _, tr1, _ = nxt.step(varied_actions(o1, m1))
        o2, m2, r2, _, tr2, info = same.step(varied_actions(o2, m2))
        assert np.array_equal(r1, r2) and np.array_equal(tr1, tr2)
    assert tr2.all() and info["_final_obs"].all()
    assert np.array_equal(info["final_obs"], o1) and np.array_equal(info["final_mask"], m1)
    o1, m1, r1, _, tr1, _ = nxt.step(varied_actions(o1, m1))  # next_step: this step starts the next episodes
    assert np.array_equal(o1, o2) and np.array_equal(m1, m2) and not tr1.any() and (r1 == 0).all()
    assert (nxt.t == 0).all() and (same.t == 0).all()


def test_disabled_autoreset_refuses_a_step_after_the_end():
    env = BatchEnv("starcloud-1", 2, max_cycles=3, autoreset_mode="disabled")
    obs, mask, _ = env.reset(seed=0)
    for _ in range(3):
        obs, mask, *_ = env.step(varied_actions(obs, mask))
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(varied_actions(obs, mask))


@pytest.mark.parametrize(
    "actions, expect",
    [
        (np.zeros((2, 11), np.int64), r"shape \(2, 12\)"),
        (np.zeros(24, np.int64), r"shape \(2, 12\)"),
        (np.zeros((2, 12)), "integers"),
        (np.full((2, 12), 99), "action 99 for sat_0 of episode 0 is outside"),
        (np.array([[0] * 12, [0] * 11 + [-1]]), "action -1 for sat_11 of episode 1"),
    ],
)
def test_bad_batch_actions_are_clear_errors_and_change_nothing(actions, expect):
    env = BatchEnv("three-body-12", 2, max_cycles=5)
    env.reset(seed=1)
    before = copy.deepcopy(env.sim)
    with pytest.raises(ValueError, match=expect):
        env.step(actions)
    assert np.array_equal(env.sim.t, before.t) and np.array_equal(env.sim.place, before.place)
    assert all(np.array_equal(env.sim.totals[k], v) for k, v in before.totals.items())


def test_a_batch_keeps_the_invariants_of_every_episode():
    """Job census per episode, slots/places/live list consistent, on a v2 scenario with admission and storage."""
    env = BatchEnv("contacts-relay-24", 3, max_cycles=60)
    obs, mask, _ = env.reset(seed=9)
    for _ in range(60):
        obs, mask, *_ = env.step(varied_actions(obs, mask))
        assert consistency_errors(env.sim, env.params) == []
        c = job_census(env.sim)
        assert np.array_equal(sum(v for k, v in c.items() if k != "submitted"), c["submitted"])
    assert (c["submitted"] > 0).all() and len(env.sim.live) < env.sim.B * env.sim.J


def test_seeds_follow_gymnasiums_vector_convention():
    a, b = BatchEnv("starcloud-1", 3, max_cycles=4), BatchEnv("starcloud-1", 3, max_cycles=4)
    oa, *_ = a.reset(seed=10)
    ob, *_ = b.reset(seed=[10, 11, 12])
    assert np.array_equal(oa, ob) and np.array_equal(a.sim.e0, b.sim.e0)
    with pytest.raises(ValueError, match="2 seeds for 3 episodes"):
        a.reset(seed=[1, 2])
    with pytest.raises(ValueError, match="num_envs 0"):
        BatchEnv("starcloud-1", 0)
    with pytest.raises(ValueError, match="autoreset_mode 'sometimes'"):
        BatchEnv("starcloud-1", 2, autoreset_mode="sometimes")


def test_upset_draws_are_uniform_and_a_function_of_key_and_counter():
    counter = np.arange(200_000)
    u = uniform(np.full(len(counter), np.uint64(12345)), counter)
    assert ((u >= 0) & (u < 1)).all()
    assert abs(u.mean() - 0.5) < 0.005 and abs(np.mean(u < 0.01) - 0.01) < 0.001  # the tail an upset draw uses
    assert np.array_equal(u[5:9], uniform(np.full(4, np.uint64(12345)), counter[5:9]))  # no hidden state
    assert not np.array_equal(u[:100], uniform(np.full(100, np.uint64(12346)), counter[:100]))
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


def test_thermal_step_of_an_array_equals_each_element_alone():
    """Each element's Newton iteration stops on its own, so batching episodes cannot change a temperature."""
    rng = np.random.default_rng(0)
    temp, heat, sink = rng.uniform(250, 360, 64), rng.uniform(0, 3000, 64), rng.choice([200.0, 250.0], 64)
    together = thermal.node_step(temp, heat, 120.0, 2.4e5, 0.9, 2.0, sink)
    alone = [thermal.node_step(temp[i : i + 1], heat[i : i + 1], 120.0, 2.4e5, 0.9, 2.0, sink[i : i + 1])[0] for i in range(64)]
    assert np.array_equal(together, alone)
