"""The Gymnasium vector face (orbit_env.vector): make_vec, the vector API contract, equality with the single envs.

Gymnasium 1.x ships no checker for vector envs (``gymnasium.utils.env_checker`` checks single envs), so the
documented contract is tested here: batched spaces contain what reset and step return, shapes and dtypes,
next-step autoreset, seeding; and the strongest check, equality with ``make_vec(..., "sync")`` over the
single Gym env, step for step across autoresets.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

import orbit_env  # noqa: F401  (registers the ids)
from orbit_env.env import OrbitComputeEnv, OrbitComputeGymEnv
from orbit_env.vector import OrbitComputeVectorEnv

GYM_ID = "orbit_env/OrbitCompute-v2"
SCENARIO = "three-body-12"
B, CYCLES = 3, 4


def make(mode: str, num_envs: int = B, scenario: str = SCENARIO, **kwargs):
    return gymnasium.make_vec(GYM_ID, num_envs=num_envs, vectorization_mode=mode, scenario=scenario, max_cycles=CYCLES, **kwargs)


def legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random legal action per satellite (the last axis is the action axis)."""
    return (rng.random(mask.shape) * mask).argmax(axis=-1)


def test_make_vec_returns_the_batched_env_with_the_single_envs_spaces():
    envs = make("vector_entry_point")
    assert isinstance(envs, OrbitComputeVectorEnv) and envs.num_envs == B
    assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    single = OrbitComputeGymEnv(SCENARIO, max_cycles=CYCLES)
    assert envs.single_observation_space == single.observation_space and envs.single_action_space == single.action_space
    assert envs.observation_space == batch_space(single.observation_space, B) and envs.action_space == batch_space(single.action_space, B)
    N, D, A = single.par.params.n_sats, single.par.layout.size, single.par.params.n_actions
    assert envs.observation_space["observation"].shape == (B, N, D) and envs.action_space.shape == (B, N)
    assert (envs.action_space.low == 0).all() and (envs.action_space.high == A - 1).all()  # batch_space of MultiDiscrete
    assert envs.unwrapped.spec.id == GYM_ID  # make_vec records the spec


@pytest.mark.parametrize("reward", ["team", "individual"])
def test_equals_the_sync_vector_env_of_the_single_env_across_autoresets(reward):
    overrides = {"episode.reward": reward}
    fast, sync = make("vector_entry_point", overrides=overrides), make("sync", overrides=overrides)
    (o1, i1), (o2, i2) = fast.reset(seed=7), sync.reset(seed=7)
    rng = np.random.default_rng(0)
    ended = 0
    for t in range(2 * CYCLES + 2):
        for key in ("observation", "action_mask"):
            np.testing.assert_array_equal(o1[key], o2[key])
        np.testing.assert_array_equal(i1["action_mask"], o1["action_mask"])  # the mask is in the info as well
        np.testing.assert_array_equal(i1["action_mask"], i2["action_mask"])
        actions = legal(o1["action_mask"], rng)
        (o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2) = fast.step(actions), sync.step(actions)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(te1, te2)
        np.testing.assert_array_equal(tr1, tr2)
        if tr1.any():
            ended += 1
            assert tr1.all() and i1["_episode_metrics"].all()
            for name, values in i1["episode_metrics"].items():
                np.testing.assert_array_equal(values, i2["episode_metrics"][name], err_msg=name)
    assert ended == 2


def test_sub_env_b_is_the_pettingzoo_env_with_the_gym_envs_seed():
    envs = make("vector_entry_point")
    obs, _ = envs.reset(seed=11)
    par = [OrbitComputeEnv(SCENARIO, max_cycles=CYCLES) for _ in range(B)]
    for b, env in enumerate(par):
        env.reset(seed=int(seeding.np_random(11 + b)[0].integers(2**63)))  # what the Gym env does with seed 11 + b
    rng = np.random.default_rng(1)
    for _ in range(CYCLES):
        actions = legal(obs["action_mask"], rng)
        obs, rewards, _, truncs, _ = envs.step(actions)
        for b, env in enumerate(par):
            pz_obs, pz_rewards, _, pz_truncs, _ = env.step(dict(zip(env.agents, actions[b].tolist())))
            np.testing.assert_array_equal(obs["observation"][b], np.stack([o["observation"] for o in pz_obs.values()]))
            assert rewards[b] == pz_rewards["sat_0"] and truncs[b] == pz_truncs["sat_0"]  # the team reward
    assert truncs.all()


def test_vector_api_contract_spaces_shapes_autoreset_and_seeding():
    envs = make("vector_entry_point")
    obs, info = envs.reset(seed=3)
    assert envs.observation_space.contains(obs) and info["_action_mask"].all()
    rng = np.random.default_rng(2)
    trajectory = [obs["observation"]]
    for t in range(CYCLES + 1):
        actions = legal(obs["action_mask"], rng)
        assert envs.action_space.contains(actions)
        obs, rewards, terms, truncs, info = envs.step(actions)
        assert envs.observation_space.contains(obs)
        assert rewards.shape == (B,) and terms.shape == truncs.shape == (B,) and terms.dtype == truncs.dtype == bool
        assert info["invalid_actions"].shape == (B,) and not info["invalid_actions"].any()  # legal actions only
        trajectory.append(obs["observation"])
        if t == CYCLES - 1:
            assert truncs.all() and not terms.any()  # the time limit is a truncation
            last = obs["observation"]
        if t == CYCLES:  # next-step autoreset: the actions were ignored, a new episode began
            assert not truncs.any() and (rewards == 0).all() and not info["_invalid_actions"].any()
            assert (envs.unwrapped.batch.t == 0).all() and not np.array_equal(obs["observation"], last)
    obs, _ = envs.reset(seed=3)
    np.testing.assert_array_equal(obs["observation"], trajectory[0])  # same seed, same start
    assert not np.array_equal(obs["observation"][0], obs["observation"][1])  # sub-envs get seeds 3, 4, 5
    other, _ = envs.reset(seed=[5, 4, 3])
    np.testing.assert_array_equal(other["observation"][::-1], trajectory[0])  # one seed per sub-env


def test_one_satellite_takes_discrete_actions_and_wrappers_work():
    envs = make("vector_entry_point", num_envs=2, scenario="starcloud-1")
    single = OrbitComputeGymEnv("starcloud-1")
    assert envs.single_action_space == single.action_space == gymnasium.spaces.Discrete(single.par.params.n_actions)
    envs = gymnasium.wrappers.vector.RecordEpisodeStatistics(envs)
    obs, _ = envs.reset(seed=0)
    assert obs["observation"].shape == (2, single.par.layout.size)
    rng = np.random.default_rng(0)
    for _ in range(CYCLES):
        obs, _, _, truncs, info = envs.step(legal(obs["action_mask"], rng))
    assert truncs.all() and info["_episode"].all() and (info["episode"]["l"] == CYCLES).all()


def test_bad_actions_and_render_mode_are_clear_errors():
    envs = make("vector_entry_point")
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(3, 12\)"):
        envs.step(np.zeros((B, 5), np.int64))
    with pytest.raises(ValueError, match="outside Discrete"):
        envs.step(np.full((B, 12), 10**6))
    with pytest.raises(ValueError, match="render the single env"):
        OrbitComputeVectorEnv(2, SCENARIO, render_mode="rgb_array")
