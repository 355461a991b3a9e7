"""Training configuration: one TOML file per scenario under ``train/configs/``, over documented defaults.

A config file has four tables, each optional; a key it leaves out takes the default below.

```toml
scenario = "three-body-12"   # the scenario trained on (name or TOML path)
timesteps = 8_000_000        # agent-steps: one per satellite per env step
[env]      # n_envs, overrides (scenario overrides for training only, e.g. dense shaping)
[ppo]      # MaskablePPO hyperparameters
[normalize]  # observation / reward normalisation (VecNormalize)
[bc]       # optional behaviour-cloning warm start from a heuristic
[run]      # checkpoints, torch threads, the curve's baselines, how the exported policy acts
```

An unknown table or key is an error naming it and the known ones, so a typo never silently trains
with a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).parent / "configs"
VEC_ENVS = ("batch", "supersuit")  # the training VecEnvs of train.vec_env


class ConfigError(ValueError):
    """A training config file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class EnvConfig:
    n_envs: int = 4  # parallel episodes; the vec env has n_envs x n_satellites slots (parameter sharing)
    overrides: dict[str, Any] = field(default_factory=dict)  # scenario overrides applied in training only
    team_weight: float = 0.0  # with episode.reward = "individual": reward = (1 - w) x own + w x constellation mean
    vec_env: str = "batch"  # batch: the episodes as one BatchEnv; supersuit: SuperSuit over the PettingZoo env (train.vec_env)


@dataclass(frozen=True)
class PPOConfig:
    n_steps: int = 256  # rollout length per vec slot; a rollout is n_steps x n_envs x n_satellites samples
    batch_size: int = 2048
    n_epochs: int = 5
    learning_rate: float = 3e-4
    gamma: float = 0.995  # 60 s steps: a horizon of ~200 steps (about two orbits)
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float | None = None
    net_arch: list[int] = field(default_factory=lambda: [128, 128])  # hidden layers of the policy and value MLPs
    activation: str = "tanh"  # tanh or relu
    critic: str = "local"  # local: the critic sees the agent's observation; central: also the constellation's mean and max


@dataclass(frozen=True)
class NormalizeConfig:
    obs: bool = True  # running mean/std of observations (exported with the policy)
    reward: bool = True  # scale rewards by the running std of the discounted return
    clip_obs: float = 10.0
    clip_reward: float = 10.0


@dataclass(frozen=True)
class BCConfig:
    steps: int = 0  # vec steps of the teacher to clone before PPO (0: PPO from scratch); see train/bc.py
    teacher: str = "balance"  # a heuristic from agents.heuristics
    epochs: int = 10
    learning_rate: float = 3e-4  # Adam step size while cloning (PPO then continues at ppo.learning_rate)
    dagger_rounds: int = 0  # rounds of DAgger after the clone: the clone acts, the teacher labels, fit again
    dagger_epochs: int = 10  # passes over all the data so far in each DAgger round


@dataclass(frozen=True)
class RunConfig:
    checkpoint_every: int = 250_000  # agent-steps between checkpoints
    keep_checkpoints: int = 3  # older checkpoints are deleted
    torch_threads: int = 1  # one thread: small MLPs gain nothing from more, and results stay deterministic
    baseline_episodes: int = 4  # episodes per heuristic (and of the final policy) for the curve's reference lines
    baselines: list[str] = field(default_factory=lambda: ["random", "greedy", "edf-safe", "balance"])
    deterministic: bool = True  # the exported policy acts by argmax of the masked logits, or samples (seeded)


@dataclass(frozen=True)
class TrainConfig:
    scenario: str = "three-body-12"
    timesteps: int = 1_000_000
    env: EnvConfig = field(default_factory=EnvConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    bc: BCConfig = field(default_factory=BCConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_TABLES = {"env": EnvConfig, "ppo": PPOConfig, "normalize": NormalizeConfig, "bc": BCConfig, "run": RunConfig}


def _build(cls: type, data: dict[str, Any], where: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}; known keys: {', '.join(known)}")
    return cls(**data)


def config_from_dict(data: dict[str, Any], where: str = "config") -> TrainConfig:
    """A TrainConfig from a parsed TOML dict; unknown tables or keys raise ConfigError."""
    top = {k: v for k, v in data.items() if k not in _TABLES}
    tables = {name: _build(cls, data.get(name, {}), f"{where} [{name}]") for name, cls in _TABLES.items()}
    cfg = _build(TrainConfig, {**top, **tables}, where)
    if cfg.timesteps <= 0 or cfg.env.n_envs <= 0 or cfg.run.checkpoint_every <= 0:
        raise ConfigError(f"{where}: timesteps, env.n_envs and run.checkpoint_every must be positive")
    if not 0.0 <= cfg.env.team_weight <= 1.0:
        raise ConfigError(f"{where}: env.team_weight is {cfg.env.team_weight}; expected a number in [0, 1]")
    if cfg.env.vec_env not in VEC_ENVS:
        raise ConfigError(f"{where}: env.vec_env is {cfg.env.vec_env!r}; expected one of {', '.join(map(repr, VEC_ENVS))}")
    if cfg.ppo.activation not in ("tanh", "relu"):
        raise ConfigError(f"{where}: ppo.activation is {cfg.ppo.activation!r}; expected 'tanh' or 'relu'")
    if cfg.ppo.critic not in ("local", "central"):
        raise ConfigError(f"{where}: ppo.critic is {cfg.ppo.critic!r}; expected 'local' or 'central'")
    return cfg


def load_config(scenario: str | None = None, path: str | Path | None = None) -> TrainConfig:
    """The config at ``path``, else ``train/configs/<scenario>.toml`` if it exists, else the defaults."""
    if path is None and scenario is not None and (CONFIG_DIR / f"{scenario}.toml").is_file():
        path = CONFIG_DIR / f"{scenario}.toml"
    if path is None:
        return TrainConfig(scenario=scenario or TrainConfig.scenario)
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read training config {path}: {e}") from None
    cfg = config_from_dict(data, str(path))
    if scenario is not None and scenario != cfg.scenario:
        cfg = dataclasses.replace(cfg, scenario=scenario)
    return cfg
