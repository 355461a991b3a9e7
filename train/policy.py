"""The actor-critic network for a centralised critic: the actor reads the satellite's own observation,
the critic also a summary of the whole constellation (MAPPO's "centralised training, decentralised
execution", Yu et al., NeurIPS 2022).

With ``[ppo] critic = "central"`` the training VecEnv appends to every satellite's observation vector
the constellation's mean and maximum of each field (``train.vec_env``). The critic sees all of it, so it
can tell a quiet constellation from a busy one and give better advantages when the reward is shared;
the actor sees only the first ``actor_dim`` elements, the observation the env gives an agent, so the
exported actor (``train.export``) runs on any satellite with nothing but its own observation.
"""

from __future__ import annotations

import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class ActorSlice(BaseFeaturesExtractor):
    """The actor's input: the first ``actor_dim`` elements of the (observation + summary) vector."""

    def __init__(self, observation_space: spaces.Box, actor_dim: int):
        super().__init__(observation_space, actor_dim)
        self.actor_dim = actor_dim

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return observations[..., : self.actor_dim]


def _mlp(width_in: int, widths: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(width_in, width), activation()]
        width_in = width
    return nn.Sequential(*layers)


class SplitMlpExtractor(nn.Module):
    """SB3's MlpExtractor with inputs of different widths: the actor's own observation, the critic's whole vector."""

    def __init__(self, actor_dim: int, critic_dim: int, net_arch: dict[str, list[int]], activation: type[nn.Module]):
        super().__init__()
        self.policy_net = _mlp(actor_dim, list(net_arch["pi"]), activation)
        self.value_net = _mlp(critic_dim, list(net_arch["vf"]), activation)
        self.latent_dim_pi = net_arch["pi"][-1] if net_arch["pi"] else actor_dim
        self.latent_dim_vf = net_arch["vf"][-1] if net_arch["vf"] else critic_dim

    def forward(self, features: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        pi_features, vf_features = features
        return self.forward_actor(pi_features), self.forward_critic(vf_features)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        return self.policy_net(features)

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        return self.value_net(features)


class CentralCriticPolicy(MaskableActorCriticPolicy):
    """MaskablePPO's MLP policy whose actor sees the first ``actor_dim`` inputs and whose critic sees all."""

    def __init__(self, observation_space: spaces.Box, action_space: spaces.Space, lr_schedule, actor_dim: int, **kwargs):
        if not 0 < actor_dim < observation_space.shape[0]:
            raise ValueError(f"actor_dim {actor_dim} must be between 1 and the input width {observation_space.shape[0]} - 1")
        self.actor_dim = actor_dim
        super().__init__(observation_space, action_space, lr_schedule, share_features_extractor=False, **kwargs)
        self.pi_features_extractor = ActorSlice(observation_space, actor_dim)  # parameter-free: the optimizer is unaffected

    def _build_mlp_extractor(self) -> None:
        arch = self.net_arch if isinstance(self.net_arch, dict) else {"pi": list(self.net_arch), "vf": list(self.net_arch)}
        self.mlp_extractor = SplitMlpExtractor(self.actor_dim, self.features_dim, arch, self.activation_fn)

    def _get_constructor_parameters(self) -> dict:
        return {**super()._get_constructor_parameters(), "actor_dim": self.actor_dim}
