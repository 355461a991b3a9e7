"""The recipes (recipes/, docs/recipes.md), each run with a tiny budget: they run the steps asked, their losses
are finite, and the masked ones never take an action the mask forbids. Each is skipped only when its
toolkit is not installed (`pip install -e ".[recipes]"`; CI installs it)."""

from __future__ import annotations

import math

import pytest

N_SATS = 12  # three-body-12, the recipes' scenario


def finite(losses: list) -> bool:
    values = [v for x in losses for v in (x.values() if isinstance(x, dict) else [x])]
    return bool(values) and all(math.isfinite(v) for v in values)


def test_torchrl_mappo_runs_masked():
    pytest.importorskip("torchrl")
    from recipes import torchrl_mappo

    out = torchrl_mappo.main(frames=80, frames_per_batch=40, max_cycles=30, quiet=True)
    assert out["frames"] == 80 and len(out["mean_reward"]) == 2
    assert len(out["losses"]) == 2 * 5 * 4 and finite(out["losses"])  # 2 batches x 5 epochs x 4 minibatches
    assert all(share < 1 for share in out["legal_share"])  # the mask forbade something ...
    assert out["masked_actions"] == 0  # ... and the policy never chose it


def test_benchmarl_task_runs_mappo_masked():
    pytest.importorskip("benchmarl")
    from recipes import benchmarl_task

    out = benchmarl_task.main(frames=80, frames_per_batch=40, envs=2, max_cycles=20, quiet=True)
    assert out["frames"] == 80 and out["batches"] == [40, 40]
    assert len(out["losses"]) == 2 and finite(out["losses"])
    assert {"loss_objective", "loss_critic", "loss_entropy"} <= out["losses"][0].keys()
    assert all(share < 1 for share in out["legal_share"]) and out["masked_actions"] == 0


def test_cleanrl_ppo_runs_on_the_array_api_masked():
    pytest.importorskip("torch")
    from recipes import cleanrl_ppo

    envs, steps = 2, 32
    out = cleanrl_ppo.main(total_steps=2 * envs * N_SATS * steps, num_envs=envs, num_steps=steps, max_cycles=steps, quiet=True)
    assert out["steps"] == 2 * envs * N_SATS * steps and out["updates"] == 2
    assert len(out["delivered_value"]) == 2 * envs  # every episode ended once per rollout, and was reported
    assert len(out["losses"]) == 2 * 5 and finite(out["losses"])  # 5 epochs of one minibatch per update
    assert all(share < 1 for share in out["legal_share"]) and out["invalid_actions"] == 0  # the env's own count


def test_the_textbook_supersuit_to_sb3_path_runs():
    """pettingzoo_env_to_vec_env -> concat_vec_envs -> VecMonitor -> PPO, as tutorials write it: the face leaves
    infos["episode"] to SB3 (it used to hold the env's metrics, and VecMonitor failed with KeyError 'r')."""
    pytest.importorskip("supersuit")
    pytest.importorskip("stable_baselines3")
    from recipes import supersuit_sb3

    out = supersuit_sb3.main(timesteps=N_SATS * 16 * 2, n_steps=16, max_cycles=8, copies=1, quiet=True)
    assert out["timesteps"] == N_SATS * 16 * 2
    episodes = out["episodes"]
    assert len(episodes) == N_SATS * 4 and all(e["l"] == 8 for e in episodes)  # one record per satellite per 8-step episode
