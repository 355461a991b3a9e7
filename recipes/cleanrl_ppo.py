"""CleanRL-style recipe: PPO in one file, straight on the array API (``orbit_env.batch.BatchEnv``).

Every satellite of every episode is one row of one shared policy (parameter sharing): ``BatchEnv`` gives
observations (B, N, D), masks (B, N, A) and rewards (B, N), which this file flattens to B x N rows. The
categorical is masked (illegal actions get probability 0), advantages are GAE, and the update is the
clipped PPO objective with a value loss and an entropy bonus, all written out below.

    pip install -e ".[train]"
    python recipes/cleanrl_ppo.py

Episodes never terminate, they are truncated after ``max_cycles`` steps; the env resets them in the same
step (``autoreset_mode="same_step"``) and hands back the last observation in ``info["final_obs"]``, whose
value is added to the last reward so the return is bootstrapped, not cut.
Hyperparameters are ``train.config.PPOConfig``'s defaults (what ``orbit-env train`` uses).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

from orbit_env.batch import BatchEnv
from train.config import PPOConfig, RunConfig

SCENARIO = "three-body-12"
OVERRIDES = {"episode.reward": "individual", "episode.dense_shaping": True}  # as train/configs/three-body-12.toml
MASKED_LOGIT = -1e8  # an illegal action's logit: exp() of it is 0 in float32


class Agent(nn.Module):
    """Actor and critic MLPs over one satellite's observation, shared by every satellite."""

    def __init__(self, n_obs: int, n_actions: int, hidden: list[int]):
        super().__init__()

        def mlp(n_out: int, last_gain: float) -> nn.Sequential:
            sizes, layers = [n_obs, *hidden], []
            for a, b in zip(sizes, sizes[1:]):
                layers += [layer(nn.Linear(a, b), np.sqrt(2)), nn.Tanh()]
            return nn.Sequential(*layers, layer(nn.Linear(sizes[-1], n_out), last_gain))

        self.actor, self.critic = mlp(n_actions, 0.01), mlp(1, 1.0)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def act(self, obs: torch.Tensor, mask: torch.Tensor, action: torch.Tensor | None = None):
        """Sample (or score the given) actions from the masked categorical: action, log-prob, entropy, value."""
        dist = Categorical(logits=self.actor(obs).masked_fill(~mask, MASKED_LOGIT))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.value(obs)


def layer(linear: nn.Linear, gain: float) -> nn.Linear:
    """Orthogonal weights, zero bias: the usual PPO initialisation."""
    nn.init.orthogonal_(linear.weight, gain)
    nn.init.zeros_(linear.bias)
    return linear


def rows(x: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    """(B, N, ...) arrays -> (B*N, ...) tensor, copied (the env reuses its buffers)."""
    return torch.tensor(np.ascontiguousarray(x).reshape(-1, *x.shape[2:]), dtype=dtype)


def main(total_steps: int = 600_000, num_envs: int = 8, num_steps: int = 256, max_cycles: int = 1_440, seed: int = 0, quiet: bool = False) -> dict:
    """Train for ``total_steps`` agent-steps (one satellite deciding once); return a summary: steps taken,
    each update's losses, the delivered value of every finished episode, the share of legal actions per
    rollout and how many actions the env counted as illegal (0 with the mask)."""
    cfg = PPOConfig()
    torch.set_num_threads(RunConfig().torch_threads)  # one thread, as orbit-env train: small MLPs gain nothing from more
    torch.manual_seed(seed)
    env = BatchEnv(SCENARIO, num_envs, max_cycles=max_cycles, overrides=OVERRIDES, autoreset_mode="same_step")
    obs_np, mask_np, _ = env.reset(seed=seed)
    R, D, A = num_envs * env.n_agents, env.obs_size, env.n_actions  # rows: every satellite of every episode
    agent = Agent(D, A, cfg.net_arch)
    optimiser = torch.optim.Adam(agent.parameters(), lr=cfg.learning_rate, eps=1e-5)

    obs_buf = torch.zeros(num_steps, R, D)
    mask_buf = torch.zeros(num_steps, R, A, dtype=torch.bool)
    act_buf = torch.zeros(num_steps, R, dtype=torch.long)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros(num_steps, R) for _ in range(4))
    obs, mask = rows(obs_np), rows(mask_np, torch.bool)
    summary = {"steps": 0, "updates": 0, "losses": [], "delivered_value": [], "invalid_actions": 0, "legal_share": []}
    start = time.time()

    while summary["steps"] < total_steps:
        ended_before = len(summary["delivered_value"])
        # ---- rollout: num_steps decisions of every satellite
        for t in range(num_steps):
            with torch.no_grad():
                action, logp, _, value = agent.act(obs, mask)
            obs_buf[t], mask_buf[t], act_buf[t], logp_buf[t], val_buf[t] = obs, mask, action, logp, value
            obs_np, mask_np, reward, _, truncated, info = env.step(action.numpy().reshape(num_envs, -1))
            summary["invalid_actions"] += int(info["invalid_action"].sum())
            reward = torch.as_tensor(reward.reshape(-1), dtype=torch.float32)
            ended = torch.as_tensor(np.repeat(truncated, env.n_agents))
            if ended.any():  # truncated, not terminal: bootstrap from the value of the last observation
                with torch.no_grad():
                    reward[ended] += cfg.gamma * agent.value(rows(info["final_obs"]))[ended]
                summary["delivered_value"] += info["episode_metrics"]["delivered_value"][truncated].tolist()
            rew_buf[t], done_buf[t] = reward, ended.float()
            obs, mask = rows(obs_np), rows(mask_np, torch.bool)
        summary["steps"] += num_steps * R
        summary["legal_share"].append(mask_buf.float().mean().item())

        # ---- generalised advantage estimation, backwards through the rollout
        with torch.no_grad():
            next_value = agent.value(obs)
        advantages = torch.zeros_like(rew_buf)
        running = torch.zeros(R)
        for t in reversed(range(num_steps)):
            following = next_value if t == num_steps - 1 else val_buf[t + 1]
            live = 1.0 - done_buf[t]
            delta = rew_buf[t] + cfg.gamma * following * live - val_buf[t]
            running = delta + cfg.gamma * cfg.gae_lambda * live * running
            advantages[t] = running
        returns = advantages + val_buf

        # ---- PPO update on shuffled minibatches of rows
        b_obs, b_mask, b_act = obs_buf.reshape(-1, D), mask_buf.reshape(-1, A), act_buf.reshape(-1)
        b_logp, b_adv, b_ret = logp_buf.reshape(-1), advantages.reshape(-1), returns.reshape(-1)
        batch = len(b_act)
        minibatch = min(cfg.batch_size, batch)
        for _ in range(cfg.n_epochs):
            order = torch.randperm(batch)
            for lo in range(0, batch - minibatch + 1, minibatch):
                idx = order[lo : lo + minibatch]
                _, logp, entropy, value = agent.act(b_obs[idx], b_mask[idx], b_act[idx])
                ratio = (logp - b_logp[idx]).exp()
                adv = (b_adv[idx] - b_adv[idx].mean()) / (b_adv[idx].std() + 1e-8)
                policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - cfg.clip_range, 1 + cfg.clip_range)).mean()
                value_loss = 0.5 * (value - b_ret[idx]).pow(2).mean()
                loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * entropy.mean()
                optimiser.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
                optimiser.step()
                summary["losses"].append({"policy": policy_loss.item(), "value": value_loss.item(), "entropy": entropy.mean().item()})
        summary["updates"] += 1
        if not quiet:
            ended = summary["delivered_value"][ended_before:]  # the episodes that ended in this rollout
            shown = f"{np.mean(ended):7.2f}" if ended else "      -"
            print(
                f"steps {summary['steps']:>9}  delivered/episode {shown}  policy {policy_loss.item():7.4f}  "
                f"value {value_loss.item():8.4f}  entropy {entropy.mean().item():5.3f}  {summary['steps'] / (time.time() - start):6.0f} steps/s"
            )
    return summary


if __name__ == "__main__":
    main()
