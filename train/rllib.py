"""PPO with Ray RLlib (new API stack): one shared, action-masked policy over every satellite, on one
machine or a Ray cluster. ``orbit-env train --backend rllib`` is its command line; docs/ray.md says how
to start a cluster.

The env reaches RLlib through ``RLlibOrbitEnv``, a ``MultiAgentEnv`` over the PettingZoo env whose
observation is ``{"observations": Box(D), "action_mask": Box(A)}``: the keys RLlib's
``ActionMaskingTorchRLModule`` reads (the PettingZoo face's ``{"observation", "action_mask"}`` Dict has no
default encoder in RLlib). Every agent maps to the policy ``shared``. The module is configured to the MLP
``orbit-env train`` builds (``ppo.net_arch`` hidden layers, ``ppo.activation``, separate actor and critic,
a linear logits head), so the exported actor is the same network spec as the SB3 path's: ``train.export``
writes it and ``agents.learned`` plays it on the board. RLlib does not normalise observations here (they
are already in [-1, 1]), so the spec says ``normalize.obs = false``; a config's [normalize] table and
``env.vec_env`` (SB3's bridge) do not apply, and a central critic, a BC warm start and ``env.team_weight``
are refused (the SB3 backend has them).

A run directory has the same shape as the SB3 path's (train.ppo): config.json, curve.csv (one row per
training iteration: the mean return per satellite and delivered value of the episodes it finished),
policy.safetensors + policy.json, baselines.json, curve.png, summary.json; checkpoints/ckpt_<steps>/ are
RLlib checkpoint folders (weights, optimizer, env runner state) with our meta.json, written to a
temporary name and renamed, so an interrupted save never leaves a checkpoint that looks complete.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModule, RLModuleSpec
from ray.rllib.env.multi_agent_env import MultiAgentEnv
from ray.rllib.examples.rl_modules.classes.action_masking_rlm import ActionMaskingTorchRLModule
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_AGENT_STEPS_SAMPLED
from tqdm import tqdm

from leaderboard.ray_pool import connect
from orbit_env.env import OrbitComputeEnv
from train.config import TrainConfig, config_from_dict
from train.export import atomic_write_bytes, export_policy
from train.ppo import CURVE_FIELDS, RunError, TrainResult, _truncate_curve, score_run, start_run

POLICY = "shared"  # the one module every satellite maps to
MODULE_PATH = ("learner_group", "learner", "rl_module", POLICY)  # the module inside an RLlib checkpoint
ROW_KEY = "orbit_episode"  # the per-episode (return per satellite, delivered value, length) the env runners log


class RLlibOrbitEnv(MultiAgentEnv):
    """The PettingZoo env as an RLlib ``MultiAgentEnv``: masked Dict observations under RLlib's key names.

    ``config``: ``scenario`` (name or TOML path) and ``overrides`` (scenario overrides), as in a TrainConfig.
    """

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__()
        config = config or {}
        self.env = OrbitComputeEnv(config.get("scenario", TrainConfig.scenario), overrides=config.get("overrides") or None)
        self.agents = self.possible_agents = list(self.env.possible_agents)
        D, A = self.env.layout.size, self.env.actions.n
        obs = gym.spaces.Dict({"observations": gym.spaces.Box(-1.0, 1.0, (D,), np.float32), "action_mask": gym.spaces.Box(0.0, 1.0, (A,), np.float32)})
        self.observation_spaces = dict.fromkeys(self.agents, obs)
        self.action_spaces = dict.fromkeys(self.agents, gym.spaces.Discrete(A))

    def _obs(self) -> dict[str, dict[str, np.ndarray]]:
        masks = self.env.action_masks.astype(np.float32)  # RLlib's module takes log(mask): it must be float
        return {a: {"observations": o, "action_mask": m} for a, o, m in zip(self.possible_agents, self.env.observations.copy(), masks)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        _, infos = self.env.reset(seed=seed, options=options)
        return self._obs(), infos

    def step(self, action_dict: dict[str, int]):
        _, rewards, terms, truncs, infos = self.env.step(action_dict)
        return self._obs(), rewards, {**terms, "__all__": False}, {**truncs, "__all__": any(truncs.values())}, infos


class EpisodeRows(RLlibCallback):
    """Logs each finished episode's (return per satellite, delivered value, length) for the curve."""

    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
        infos = episode.get_infos(-1)
        delivered = next(info["episode_metrics"]["delivered_value"] for info in infos.values() if "episode_metrics" in info)
        n = max(len(episode.agent_ids), 1)
        metrics_logger.log_value(ROW_KEY, [episode.get_return() / n, delivered, episode.env_steps()], reduce="item_series")


def algorithm_config(cfg: TrainConfig, seed: int, env_runners: int):
    """RLlib's PPOConfig for ``cfg``: the same rollout size, minibatches and losses as ``orbit-env train``.

    A rollout is ``ppo.n_steps x env.n_envs x satellites`` agent-steps, gathered by ``env_runners`` remote
    env runners (0: in the driver) of ``env.n_envs`` episodes each; ``ppo.batch_size`` agent-steps a minibatch.
    """
    p = cfg.ppo
    for key, value, allowed in (("ppo.critic", p.critic, "local"), ("bc.steps", cfg.bc.steps, 0), ("env.team_weight", cfg.env.team_weight, 0)):
        if value != allowed:
            raise RunError(f"the rllib backend does not support {key} = {value!r}; it needs {allowed!r} (the SB3 backend has it)")
    n_sats = len(RLlibOrbitEnv({"scenario": cfg.scenario, "overrides": cfg.env.overrides}).possible_agents)
    model = {"fcnet_hiddens": list(p.net_arch), "fcnet_activation": p.activation, "head_fcnet_hiddens": [], "vf_share_layers": False}
    return (
        PPOConfig()
        .environment(RLlibOrbitEnv, env_config={"scenario": cfg.scenario, "overrides": cfg.env.overrides})
        .env_runners(num_env_runners=env_runners, num_envs_per_env_runner=cfg.env.n_envs, rollout_fragment_length="auto")
        .learners(num_learners=0)
        .training(
            train_batch_size_per_learner=p.n_steps * cfg.env.n_envs * n_sats, minibatch_size=p.batch_size, num_epochs=p.n_epochs,
            lr=p.learning_rate, gamma=p.gamma, lambda_=p.gae_lambda, clip_param=p.clip_range, entropy_coeff=p.ent_coef,
            vf_loss_coeff=p.vf_coef, grad_clip=p.max_grad_norm, grad_clip_by="global_norm", use_kl_loss=False, vf_clip_param=float("inf"),
        )  # fmt: skip
        .multi_agent(policies={POLICY}, policy_mapping_fn=lambda agent_id, episode, **kw: POLICY, count_steps_by="agent_steps")
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs={POLICY: RLModuleSpec(module_class=ActionMaskingTorchRLModule, model_config=model)}))
        .callbacks(EpisodeRows)
        .debugging(seed=seed)
    )


# ------------------------------------------------------------------------------------ export


def actor_tensors(module) -> tuple[dict[str, np.ndarray], list[str], str]:
    """The actor of an RLlib PPO module (actor encoder MLP, then the pi head) as ``train.export`` writes it."""
    encoder = module.encoder.actor_encoder if hasattr(module.encoder, "actor_encoder") else module.encoder.encoder
    layers = [*encoder.net.mlp, *module.pi.net.mlp]
    linears = [m for m in layers if isinstance(m, torch.nn.Linear)]
    acts = {type(m).__name__ for m in layers if not isinstance(m, torch.nn.Linear)}
    if len(acts) > 1 or not acts <= {"Tanh", "ReLU"}:
        raise RunError(f"the RLlib module's actor has activations {sorted(acts)}; the policy spec holds one of tanh or relu")
    activation = {"Tanh": "tanh", "ReLU": "relu"}[acts.pop()] if acts else "tanh"
    names = [f"pi.{i}" for i in range(len(linears) - 1)] + ["logits"]
    tensors = {f"{n}.{k}": getattr(lin, k).detach().cpu().numpy().astype(np.float32) for n, lin in zip(names, linears) for k in ("weight", "bias")}
    return tensors, names[:-1], activation


def checkpoints(out: Path) -> list[Path]:
    """The run's complete checkpoints, oldest first."""
    return sorted(p for p in (out / "checkpoints").glob("ckpt_*") if p.is_dir() and (p / "meta.json").is_file())


def load_module(checkpoint: Path):
    """The shared RLModule of an RLlib checkpoint (no Ray instance needed)."""
    return RLModule.from_checkpoint(checkpoint.joinpath(*MODULE_PATH).absolute())


def export_run(out: Path, dest: Path | None = None, checkpoint: Path | None = None) -> tuple[Path, Path]:
    """Export a checkpoint (default: the last) of the RLlib run in ``out`` to ``dest`` (default
    ``out/policy.safetensors``) and its spec, in train.export's format."""
    out = Path(out)
    saved = json.loads((out / "config.json").read_text())
    cfg = config_from_dict(saved["config"], str(out / "config.json"))
    if checkpoint is None:
        found = checkpoints(out)
        if not found:
            raise RunError(f"{out} has no checkpoint to export")
        checkpoint = found[-1]
    meta = json.loads((checkpoint / "meta.json").read_text())
    env = OrbitComputeEnv(cfg.scenario, overrides=cfg.env.overrides)
    trained_on = {"scenario": cfg.scenario, "overrides": cfg.env.overrides, "timesteps": meta["timesteps"], "seed": saved["seed"], "backend": "rllib"}
    return export_policy(
        load_module(checkpoint), dest or out / "policy.safetensors", env.layout, env.actions, None,
        deterministic=cfg.run.deterministic, trained_on=trained_on, extract=actor_tensors,
    )  # fmt: skip


# ------------------------------------------------------------------------------------- train


def save_checkpoint(algo, out: Path, meta: dict[str, Any], keep: int) -> Path:
    """An RLlib checkpoint of ``algo`` with ``meta``, complete once renamed to ckpt_<steps>; older ones beyond ``keep`` go."""
    final = out / "checkpoints" / f"ckpt_{meta['timesteps']:012d}"
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    algo.save_to_path(str(tmp.absolute()))
    atomic_write_bytes(tmp / "meta.json", json.dumps(meta).encode())
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in checkpoints(out)[:-keep]:
        shutil.rmtree(old)
    return final


def _steps(result: dict[str, Any]) -> int:
    sampled = result.get(ENV_RUNNER_RESULTS, {}).get(NUM_AGENT_STEPS_SAMPLED, 0)
    return int(sum(sampled.values()) if isinstance(sampled, dict) else sampled)


def train(
    cfg: TrainConfig, out: str | Path, seed: int = 0, resume: bool = False, progress: bool = True,
    address: str | None = None, num_cpus: int | None = None, env_runners: int | None = None,
) -> TrainResult:  # fmt: skip
    """Train (or resume) an RLlib run in ``out`` up to ``cfg.timesteps`` agent-steps, then export and plot.

    Ray: the cluster at ``address`` (``auto``: the one this machine has joined), else a local instance of
    ``num_cpus`` (default the machine's); an instance this process already started is used as it is.
    ``env_runners`` remote env runners sample (default: one per CPU of the cluster but the driver's, at least one).
    """
    out = Path(out)
    torch.set_num_threads(cfg.run.torch_threads)
    found = checkpoints(out)
    cfg = start_run(cfg, out, seed, resume, found, backend="rllib")
    cpus = connect(address, num_cpus)
    if env_runners is None:
        env_runners = max(1, cpus - 1)
    meta = json.loads((found[-1] / "meta.json").read_text()) if resume else {"timesteps": 0, "wall_s": 0.0, "episodes": 0, "seed": seed}
    algo = algorithm_config(cfg, seed + meta["timesteps"], env_runners).build_algo()  # a resume does not replay the first episodes' seeds
    if resume:
        algo.restore_from_path(str(found[-1].absolute()))
        _truncate_curve(out / "curve.csv", meta["timesteps"])
    start, last_ckpt, wall_before, t0 = meta["timesteps"], meta["timesteps"], meta["wall_s"], time.time()
    curve_path = out / "curve.csv"
    new_curve = not curve_path.exists()
    bar = tqdm(total=cfg.timesteps, initial=start, unit="step", unit_scale=True, disable=not progress, desc=f"RLlib PPO {cfg.scenario}", dynamic_ncols=True)
    try:
        with curve_path.open("a", newline="") as f:
            curve = csv.writer(f)
            if new_curve:
                curve.writerow(CURVE_FIELDS)
            while meta["timesteps"] < cfg.timesteps:
                result = algo.train()
                meta["timesteps"] += _steps(result)
                wall = wall_before + time.time() - t0
                for ret, delivered, length in result.get(ENV_RUNNER_RESULTS, {}).get(ROW_KEY, []) or []:
                    meta["episodes"] += 1
                    curve.writerow([meta["timesteps"], meta["episodes"], f"{ret:.6g}", f"{delivered:.6g}", int(length), f"{wall:.1f}"])
                f.flush()
                bar.update(meta["timesteps"] - bar.n)
                if meta["timesteps"] - last_ckpt >= cfg.run.checkpoint_every or meta["timesteps"] >= cfg.timesteps:
                    save_checkpoint(algo, out, {**meta, "wall_s": wall}, cfg.run.keep_checkpoints)
                    last_ckpt = meta["timesteps"]
    finally:
        bar.close()
        algo.stop()
    session_s = time.time() - t0
    policy_path, spec_path = export_run(out)
    sps = (meta["timesteps"] - start) / max(session_s, 1e-9)
    summary = {"timesteps": meta["timesteps"], "wall_s": wall_before + session_s, "session_wall_s": session_s, "session_steps_per_s": sps, "backend": "rllib"}
    score_run(cfg, out, spec_path, f"RLlib PPO on {cfg.scenario} (seed {seed})")
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1).encode())
    return TrainResult(out, meta["timesteps"], session_s, sps, policy_path)

