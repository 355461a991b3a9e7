"""Behaviour cloning warm start: fit the PPO actor to a heuristic's actions before PPO takes over.

PPO from scratch spends its first millions of steps rediscovering what the baselines already know (run
a job at every step, earliest deadline first). Cloning a heuristic first starts PPO from the
heuristic's level, so its budget goes to improving on it. The critic is fitted at the same time to
the discounted returns of the episodes, so the first PPO updates get sensible advantages instead of
tearing the cloned actor down.

A clone that agrees with its teacher on 99.9% of the teacher's own states can still do much worse than
the teacher: each disagreement leads it into states the teacher never visits, where it was never
taught. DAgger (Ross, Gordon and Bagnell, AISTATS 2011) fixes this: the clone acts, the teacher labels
the states it visits, they join the data and the clone is fitted again. The teachers here read only
the observation, so labelling any state costs one call.
"""

from __future__ import annotations

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import VecNormalize

from agents.policy import ArrayPolicy


def collect(
    venv: VecNormalize, teacher: ArrayPolicy, steps: int, gamma: float, seed: int, student: MaskablePPO | None = None
) -> dict[str, np.ndarray]:
    """Run ``steps`` vec steps in ``venv``; return raw observations, masks, the teacher's actions and returns.

    The teacher acts, or with ``student`` the student acts (its argmax, kept as ``student_action``) and
    the teacher only labels. Stepping ``venv`` also warms up its observation and reward statistics."""
    bridge = venv.venv
    teacher.reset(seed)
    venv.seed(seed)
    obs = venv.reset()
    data = {"obs": [], "mask": [], "action": [], "reward": [], "done": []} | ({"student_action": []} if student else {})
    for _ in range(steps):
        mask = bridge.action_masks().copy()
        raw = venv.get_original_obs()
        label = teacher.act_arrays(raw[:, : bridge.agent_obs_size], mask)
        action = label
        if student is not None:
            action = student.predict(obs, action_masks=mask, deterministic=True)[0]
            data["student_action"].append(action)
        data["obs"].append(raw)
        data["mask"].append(mask)
        data["action"].append(label)
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


def clone(
    model: MaskablePPO, data: dict[str, np.ndarray], epochs: int, batch_size: int, seed: int, learning_rate: float = 3e-4
) -> float:
    """Fit actor (cross-entropy on the teacher's actions, masked) and critic (returns) at ``learning_rate``,
    on normalised observations; return the final accuracy. The optimizer's state carries on into PPO."""
    policy = model.policy
    for group in policy.optimizer.param_groups:
        group["lr"] = learning_rate  # PPO sets its own rate again at every update
    device = policy.device  # the data moves to the model's device once; the shuffle stays on the CPU's generator
    obs = torch.as_tensor(data["obs"], dtype=torch.float32, device=device)
    masks = torch.as_tensor(data["mask"], dtype=torch.bool)  # numpy for the masking, which moves it itself
    actions = torch.as_tensor(data["action"], dtype=torch.long, device=device)
    returns = torch.as_tensor(data["return"], dtype=torch.float32, device=device)
    gen = torch.Generator().manual_seed(seed)
    n = len(obs)
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=gen).split(batch_size):
            logits = policy.get_distribution(obs[idx], masks[idx].numpy()).distribution.logits
            loss = torch.nn.functional.cross_entropy(logits, actions[idx])
            loss = loss + model.vf_coef * torch.nn.functional.mse_loss(policy.predict_values(obs[idx]).squeeze(-1), returns[idx])
            policy.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), model.max_grad_norm)
            policy.optimizer.step()
    with torch.no_grad():
        dist = policy.get_distribution(obs)
        dist.apply_masking(masks.numpy())
        return float((dist.get_actions(deterministic=True) == actions).float().mean())


def warm_start(model: MaskablePPO, venv: VecNormalize, teacher: ArrayPolicy, cfg, gamma: float, batch_size: int, seed: int) -> dict:
    """Clone ``teacher``, then ``cfg.dagger_rounds`` rounds of DAgger (``cfg`` is a BCConfig); return a report.

    Observations are normalised for fitting with the VecNormalize statistics as they stand at each fit."""

    def fit(data: dict[str, np.ndarray], epochs: int) -> float:
        return clone(model, {**data, "obs": venv.normalize_obs(data["obs"])}, epochs, batch_size, seed, cfg.learning_rate)

    data = collect(venv, teacher, cfg.steps, gamma, seed)
    report = {"teacher": teacher.name, "samples": [len(data["obs"])], "accuracy": [fit(data, cfg.epochs)], "student_agreement": []}
    for r in range(cfg.dagger_rounds):
        more = collect(venv, teacher, cfg.steps, gamma, seed + 1 + r, student=model)
        report["student_agreement"].append(float(np.mean(more.pop("student_action") == more["action"])))
        data = {k: np.concatenate([data[k], more[k]]) for k in data}
        report["samples"].append(len(data["obs"]))
        report["accuracy"].append(fit(data, cfg.dagger_epochs))
    return report
