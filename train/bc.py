"""Behaviour cloning warm start: fit the PPO actor to a heuristic's actions before PPO takes over.

PPO from scratch spends its first millions of steps rediscovering what the baselines already know (run
a job at every step, earliest deadline first). Cloning a heuristic first starts PPO from the
heuristic's level, so its budget goes to improving on it. The critic is fitted at the same time to
the discounted returns of the teacher's episodes, so the first PPO updates get sensible advantages
instead of tearing the cloned actor down.
"""

from __future__ import annotations

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import VecNormalize

from agents.policy import ArrayPolicy


def collect(venv: VecNormalize, teacher: ArrayPolicy, steps: int, gamma: float, seed: int) -> dict[str, np.ndarray]:
    """Run the teacher in ``venv`` for ``steps`` vec steps; return normalised obs, masks, actions, returns.

    Stepping ``venv`` also warms up its observation and reward statistics."""
    bridge = venv.venv
    teacher.reset(seed)
    venv.seed(seed)
    obs = venv.reset()
    data = {"obs": [], "mask": [], "action": [], "reward": [], "done": []}
    for _ in range(steps):
        mask = bridge.action_masks().copy()
        action = teacher.act_arrays(venv.get_original_obs(), mask)
        data["obs"].append(obs)
        data["mask"].append(mask)
        data["action"].append(action)
        obs, reward, done, _ = venv.step(action)
        data["reward"].append(reward)
        data["done"].append(done)
    returns = np.zeros_like(data["reward"][0])
    out = []
    for reward, done in zip(reversed(data["reward"]), reversed(data["done"])):
        returns = reward + gamma * returns * ~done
        out.append(returns)
    data["return"] = out[::-1]
    return {k: np.concatenate(v) for k, v in data.items()}


def clone(model: MaskablePPO, data: dict[str, np.ndarray], epochs: int, batch_size: int, seed: int) -> float:
    """Fit actor (cross-entropy on the teacher's actions, masked) and critic (returns); return the final accuracy."""
    policy = model.policy
    obs = torch.as_tensor(data["obs"], dtype=torch.float32)
    masks = torch.as_tensor(data["mask"], dtype=torch.bool)
    actions = torch.as_tensor(data["action"], dtype=torch.long)
    returns = torch.as_tensor(data["return"], dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    n = len(obs)
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=gen).split(batch_size):
            features = policy.extract_features(obs[idx])
            latent_pi, latent_vf = policy.mlp_extractor(features)
            logits = policy.action_net(latent_pi).masked_fill(~masks[idx], -1e8)
            loss = torch.nn.functional.cross_entropy(logits, actions[idx])
            loss = loss + model.vf_coef * torch.nn.functional.mse_loss(policy.value_net(latent_vf).squeeze(-1), returns[idx])
            policy.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), model.max_grad_norm)
            policy.optimizer.step()
    with torch.no_grad():
        dist = policy.get_distribution(obs)
        dist.apply_masking(masks.numpy())
        return float((dist.get_actions(deterministic=True) == actions).float().mean())
