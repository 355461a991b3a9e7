"""TorchRL recipe: MAPPO on orbit-env through TorchRL's own PettingZoo wrapper.

One actor shared by every satellite reads its own observation; a centralised critic reads every satellite's
(MAPPO). The actor's categorical is masked by the env's action mask, so it never picks an illegal action.

    pip install -e ".[train,recipes]"
    python recipes/torchrl_mappo.py

Where TorchRL puts orbit-env's data: ``PettingZooWrapper`` groups the satellites as ``"sat"`` and, seeing the
``action_mask`` entry of the Dict observation, moves it to ``("sat", "action_mask")`` as bool; the feature
vector stays at ``("sat", "observation", "observation")``, the reward is ``("sat", "reward")``.
Hyperparameters are ``train.config.PPOConfig``'s defaults (what ``orbit-env train`` uses).
"""

from __future__ import annotations

import torch
from tensordict.nn import TensorDictModule
from torch import nn
from torchrl.collectors import SyncDataCollector
from torchrl.data import LazyTensorStorage, ReplayBuffer, SamplerWithoutReplacement
from torchrl.envs.libs.pettingzoo import PettingZooWrapper
from torchrl.modules import MaskedCategorical, MultiAgentMLP, ProbabilisticActor, ValueOperator
from torchrl.objectives import ClipPPOLoss, ValueEstimators

from orbit_env.env import OrbitComputeEnv
from train.config import PPOConfig, RunConfig

SCENARIO = "three-body-12"
OVERRIDES = {"episode.reward": "individual", "episode.dense_shaping": True}  # as train/configs/three-body-12.toml
GROUP = "sat"
OBS, MASK, ACTION = (GROUP, "observation", "observation"), (GROUP, "action_mask"), (GROUP, "action")


def make_env(max_cycles: int, seed: int) -> PettingZooWrapper:
    """orbit-env's parallel env behind TorchRL's wrapper; integer actions, one group of satellites."""
    env = PettingZooWrapper(OrbitComputeEnv(SCENARIO, max_cycles=max_cycles, overrides=OVERRIDES), categorical_actions=True)
    env.set_seed(seed)
    return env


def make_agents(env: PettingZooWrapper, cfg: PPOConfig) -> tuple[ProbabilisticActor, ValueOperator]:
    """The shared actor (a masked categorical over the logits of one MLP) and the centralised critic."""
    n_agents, width = len(env.group_map[GROUP]), cfg.net_arch[0]
    n_obs, n_actions = env.observation_spec[OBS].shape[-1], env.full_action_spec[ACTION].space.n
    common = dict(n_agents=n_agents, share_params=True, depth=len(cfg.net_arch), num_cells=width, activation_class=nn.Tanh)
    logits = TensorDictModule(
        MultiAgentMLP(n_obs, n_actions, centralised=False, **common), in_keys=[OBS], out_keys=[(GROUP, "logits")]
    )
    actor = ProbabilisticActor(
        logits,
        in_keys={"logits": (GROUP, "logits"), "mask": MASK},  # MaskedCategorical(logits=..., mask=...)
        out_keys=[ACTION],
        distribution_class=MaskedCategorical,
        return_log_prob=True,
        log_prob_key=(GROUP, "action_log_prob"),
    )
    critic = ValueOperator(MultiAgentMLP(n_obs, 1, centralised=True, **common), in_keys=[OBS], out_keys=[(GROUP, "state_value")])
    return actor, critic


def main(frames: int = 48_000, frames_per_batch: int = 1_440, max_cycles: int = 1_440, seed: int = 0, quiet: bool = False) -> dict:
    """Train for ``frames`` env steps (each moves every satellite once); return what happened, for tests and
    logs: frames, losses per update, mean reward and share of legal actions per iteration, and how many
    actions the policy took that the mask forbade (0)."""
    cfg = PPOConfig()
    torch.set_num_threads(RunConfig().torch_threads)  # one thread, as orbit-env train: small MLPs gain nothing from more
    torch.manual_seed(seed)
    env = make_env(max_cycles, seed)
    actor, critic = make_agents(env, cfg)
    loss = ClipPPOLoss(actor, critic, clip_epsilon=cfg.clip_range, entropy_coeff=cfg.ent_coef, critic_coeff=cfg.vf_coef)
    loss.set_keys(
        action=ACTION, sample_log_prob=(GROUP, "action_log_prob"), value=(GROUP, "state_value"),
        reward=(GROUP, "reward"), done=(GROUP, "done"), terminated=(GROUP, "terminated"),
    )  # fmt: skip
    loss.make_value_estimator(ValueEstimators.GAE, gamma=cfg.gamma, lmbda=cfg.gae_lambda)
    optimiser = torch.optim.Adam(loss.parameters(), lr=cfg.learning_rate)
    collector = SyncDataCollector(env, actor, frames_per_batch=frames_per_batch, total_frames=frames)
    minibatch = max(1, frames_per_batch // 4)
    buffer = ReplayBuffer(storage=LazyTensorStorage(frames_per_batch), sampler=SamplerWithoutReplacement(), batch_size=minibatch)
    result = {"frames": 0, "losses": [], "mean_reward": [], "masked_actions": 0, "legal_share": []}
    for data in collector:
        chosen = data[MASK].gather(-1, data[ACTION].unsqueeze(-1))
        result["masked_actions"] += int((~chosen).sum())
        result["legal_share"].append(float(data[MASK].float().mean()))
        result["frames"] += data.numel()
        result["mean_reward"].append(float(data["next", GROUP, "reward"].mean()))
        with torch.no_grad():
            loss.value_estimator(data, params=loss.critic_network_params, target_params=loss.target_critic_network_params)
        buffer.extend(data.reshape(-1))
        for _ in range(cfg.n_epochs):
            for _ in range(frames_per_batch // minibatch):
                terms = loss(buffer.sample())
                total = terms["loss_objective"] + terms["loss_critic"] + terms["loss_entropy"]
                total.backward()
                nn.utils.clip_grad_norm_(loss.parameters(), cfg.max_grad_norm)
                optimiser.step()
                optimiser.zero_grad()
                result["losses"].append(total.item())
        if not quiet:
            print(f"frames {result['frames']:>7}  mean reward {result['mean_reward'][-1]:8.4f}  loss {result['losses'][-1]:8.4f}")
    collector.shutdown()
    env.close()
    return result


if __name__ == "__main__":
    main()
