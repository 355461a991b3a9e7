"""BenchMARL recipe: orbit-env as a BenchMARL task, and a short MAPPO experiment on it.

BenchMARL's PettingZoo tasks already know how to read a TorchRL-wrapped parallel env (groups, the
``action_mask`` entry, the ``observation`` entry); the task below reuses that class and changes only what
differs: how the env is built (orbit-env's own class, not a name in PettingZoo's registry), the action
type (discrete only), the absence of a global state, and the episode length.

    pip install -e ".[train,recipes]"
    python recipes/benchmarl_task.py

``OrbitTask.ORBIT_COMPUTE.get_task(config)`` gives the task; ``config`` takes ``scenario``, ``max_cycles``
and ``overrides`` (dotted scenario keys). BenchMARL's MAPPO masks its categorical with the group's
``action_mask`` (TorchRL's wrapper puts it at ``("sat", "action_mask")``). No YAML file is needed: the
config is given in Python.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import torch
from benchmarl.algorithms import MappoConfig
from benchmarl.environments import PettingZooClass, Task
from benchmarl.experiment import Callback, Experiment, ExperimentConfig
from benchmarl.models.mlp import MlpConfig
from tensordict import TensorDictBase
from torchrl.envs import EnvBase
from torchrl.envs.libs.pettingzoo import PettingZooWrapper

from orbit_env.env import OrbitComputeEnv
from train.config import PPOConfig, RunConfig

SCENARIO = "three-body-12"
OVERRIDES = {"episode.reward": "individual", "episode.dense_shaping": True}  # as train/configs/three-body-12.toml
GROUP = "sat"


class OrbitTaskClass(PettingZooClass):
    """orbit-env's parallel env as a BenchMARL task (discrete, masked actions; no global state)."""

    def get_env_fun(self, num_envs: int, continuous_actions: bool, seed: int | None, device) -> Callable[[], EnvBase]:
        cfg = self.config
        return lambda: PettingZooWrapper(
            OrbitComputeEnv(cfg["scenario"], max_cycles=cfg["max_cycles"], overrides=cfg.get("overrides")),
            categorical_actions=True, seed=seed, device=device,
        )  # fmt: skip

    def supports_continuous_actions(self) -> bool:
        return False

    def supports_discrete_actions(self) -> bool:
        return True

    def has_state(self) -> bool:
        return False

    @staticmethod
    def env_name() -> str:
        return "orbit_env"


class OrbitTask(Task):
    """The enum BenchMARL expects; one task, configured in Python (``get_task(config)``)."""

    ORBIT_COMPUTE = None

    @staticmethod
    def associated_class():
        return OrbitTaskClass


class Record(Callback):
    """What happened, for tests and logs: frames per batch, loss terms per update, the share of legal actions
    and how many actions the policy took that the mask forbade."""

    def __init__(self):
        super().__init__()
        self.frames, self.losses, self.masked_actions, self.mean_reward, self.legal_share = [], [], 0, [], []

    def on_batch_collected(self, batch: TensorDictBase):
        chosen = batch[GROUP, "action_mask"].gather(-1, batch[GROUP, "action"].unsqueeze(-1))
        self.masked_actions += int((~chosen).sum())
        self.legal_share.append(float(batch[GROUP, "action_mask"].float().mean()))
        self.frames.append(batch.numel())
        self.mean_reward.append(float(batch["next", GROUP, "reward"].mean()))

    def on_train_end(self, training_td: TensorDictBase, group: str):
        self.losses.append({k: float(v.mean()) for k, v in training_td.items() if k.startswith("loss_")})


def main(frames: int = 48_000, frames_per_batch: int = 2_880, envs: int = 2, max_cycles: int = 1_440, seed: int = 0, out: str | None = None, quiet: bool = False) -> dict:
    """Run MAPPO for ``frames`` env steps (each moves every satellite once) in ``envs`` episodes at a time;
    return the frames of each batch, the loss terms of each update, the share of legal actions per batch and
    how many actions the policy took that the mask forbade (0)."""
    ppo = PPOConfig()
    torch.set_num_threads(RunConfig().torch_threads)  # one thread, as orbit-env train: small MLPs gain nothing from more
    task = OrbitTask.ORBIT_COMPUTE.get_task({"scenario": SCENARIO, "max_cycles": max_cycles, "overrides": OVERRIDES})
    algorithm = MappoConfig.get_from_yaml()
    algorithm.clip_epsilon, algorithm.entropy_coef, algorithm.lmbda = ppo.clip_range, ppo.ent_coef, ppo.gae_lambda
    model = MlpConfig(num_cells=list(ppo.net_arch), layer_class=torch.nn.Linear, activation_class=torch.nn.Tanh)
    config = ExperimentConfig.get_from_yaml()
    config.max_n_frames, config.gamma, config.lr = frames, ppo.gamma, ppo.learning_rate
    config.on_policy_collected_frames_per_batch, config.on_policy_n_envs_per_worker = frames_per_batch, envs
    config.on_policy_minibatch_size = max(1, frames_per_batch // 4)
    config.on_policy_n_minibatch_iters = ppo.n_epochs  # passes over the batch, as in orbit-env train
    config.clip_grad_val = ppo.max_grad_norm
    config.evaluation, config.render, config.loggers = False, False, [] if quiet else ["csv"]
    config.checkpoint_at_end = False
    config.save_folder = out or tempfile.mkdtemp(prefix="benchmarl-orbit-")
    Path(config.save_folder).mkdir(parents=True, exist_ok=True)  # BenchMARL makes only the run's folder inside it
    record = Record()
    experiment = Experiment(task=task, algorithm_config=algorithm, model_config=model, critic_model_config=model, seed=seed, config=config, callbacks=[record])
    experiment.run()
    if not quiet:
        print(f"{experiment.total_frames} frames, {experiment.n_iters_performed} iterations, logs in {experiment.folder_name}")
    return {"frames": experiment.total_frames, "batches": record.frames, "losses": record.losses, "masked_actions": record.masked_actions, "mean_reward": record.mean_reward, "legal_share": record.legal_share}


if __name__ == "__main__":
    main()
