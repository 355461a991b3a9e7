"""PPO training with stable-baselines3: MaskablePPO over the batched env (train.vec_env), parameter sharing.

``train(cfg, out, seed)`` trains, logs and exports; ``orbit-env train`` is its command line. A run
directory holds everything about one run:

```
config.json          the config and seed the run started with (a resume reads it back)
checkpoints/         ckpt_<timesteps>.zip: model + optimizer state + normalisation statistics, atomic
tb/                  TensorBoard logs (SB3's losses, rollout/ep_rew_mean, rollout/delivered_value)
curve.csv            one row per finished episode: timesteps, return, delivered value, wall time
baselines.json       delivered value of the run.baselines heuristics and the final policy, same seeds
curve.png            the learning curve with the baselines
policy.safetensors   the exported actor (see train.export) and policy.json, its spec
bc.json              with a [bc] warm start: the teacher, samples and accuracy of the clone and of each DAgger round
summary.json         timesteps, device, wall time per phase, agent-steps per second (below)
```

Wall time is split into phases: ``cloning_s`` (the [bc] warm start and its DAgger rounds), ``rollout_s``
(SB3's collect_rollouts: stepping the envs, the policy's forward passes, GAE) and ``update_s`` (the
gradient epochs and logging between the end of one rollout and the start of the next, or the end of
training). The phases add up over the sessions of a resumed run: each checkpoint stores them with its
``wall_s``, and a resume goes on from the checkpoint's values, as the step count does (work done after
the last checkpoint of an interrupted session is redone, so it is not counted twice). ``wall_s`` is the
PPO wall time (from the start of ``learn`` to its end, so rollouts + updates + checkpoints + the envs'
first reset); cloning comes before it. ``scoring_s`` is the export and baseline episodes at the end of
the last session, which wrote baselines.json. ``agent_steps_per_s`` is timesteps / wall_s; the
``session_*`` keys cover the last session alone.

``device`` (``train(..., device=...)``, ``orbit-env train --device``; train.device) picks where the
network trains: ``auto`` is a CUDA GPU when torch sees one, else the CPU. It is a property of the
machine, not of the run, so it is not saved in config.json and a resume may change it; checkpoints load
onto the chosen device, and the export always writes CPU float32 tensors. On a GPU the networks compute
what they do on the CPU within float tolerance (the cloning fit too), but PPO samples its actions from
the GPU's random generator, so it plays other episodes than on the CPU with the same seed;
bit-for-bit reproduction of exported weights needs ``--device cpu``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecNormalize
from tqdm import tqdm

from orbit_env.env import OrbitComputeEnv
from train.bc import warm_start
from train.config import TrainConfig, config_from_dict
from train.device import pick_device
from train.export import atomic_write_bytes, export_policy
from train.policy import CentralCriticPolicy
from train.vec_env import make_vec_env

CURVE_FIELDS = ("timesteps", "episode", "return", "delivered_value", "length", "wall_s")
BASELINE_SEED = 1_000_000  # seeds of the baseline episodes, apart from training seeds
PHASES = ("cloning_s", "rollout_s", "update_s")  # wall time per phase, summed over a run's sessions (module docstring)


class RunError(RuntimeError):
    """The run directory does not allow what was asked (resume without a run, or a new run over one)."""


@dataclass
class TrainResult:
    out: Path
    timesteps: int
    wall_s: float  # this session
    steps_per_s: float  # this session
    policy_path: Path
    phases: dict[str, float] = field(default_factory=dict)  # the run's wall time per phase (summary.json); {} if not measured
    device: str = ""  # the torch device this session trained on; "" if the backend does not say


# ------------------------------------------------------------------------------ model and env


def build_env(cfg: TrainConfig) -> VecNormalize:
    """The training VecEnv: the masked bridge (``[env] vec_env``) under VecNormalize (a pass-through if both flags are off)."""
    venv = make_vec_env(cfg.scenario, cfg.env.n_envs, cfg.env.overrides, cfg.env.team_weight, cfg.ppo.critic == "central", cfg.env.vec_env)
    n = cfg.normalize
    return VecNormalize(venv, norm_obs=n.obs, norm_reward=n.reward, clip_obs=n.clip_obs, clip_reward=n.clip_reward, gamma=cfg.ppo.gamma)


def build_model(cfg: TrainConfig, venv: VecNormalize, seed: int, device: torch.device | str = "cpu") -> MaskablePPO:
    p = cfg.ppo
    activation = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[p.activation]
    policy_kwargs = {"net_arch": {"pi": list(p.net_arch), "vf": list(p.net_arch)}, "activation_fn": activation}
    if p.critic == "central":
        policy_kwargs["actor_dim"] = venv.venv.agent_obs_size
    return MaskablePPO(
        CentralCriticPolicy if p.critic == "central" else "MlpPolicy",
        venv,
        n_steps=p.n_steps,
        batch_size=p.batch_size,
        n_epochs=p.n_epochs,
        learning_rate=p.learning_rate,
        gamma=p.gamma,
        gae_lambda=p.gae_lambda,
        clip_range=p.clip_range,
        ent_coef=p.ent_coef,
        vf_coef=p.vf_coef,
        max_grad_norm=p.max_grad_norm,
        target_kl=p.target_kl,
        policy_kwargs=policy_kwargs,
        seed=seed,
        device=device,
        verbose=0,
    )


# -------------------------------------------------------------------------------- checkpoints


def _rms_arrays(prefix: str, rms) -> dict[str, np.ndarray]:
    return {f"{prefix}_mean": rms.mean, f"{prefix}_var": rms.var, f"{prefix}_count": np.asarray(rms.count)}


def save_checkpoint(model: MaskablePPO, venv: VecNormalize, path: Path, meta: dict[str, Any]) -> None:
    """One zip with the SB3 model (weights and optimizer state), the normalisation stats and ``meta``; atomic."""
    model_buf, stats_buf, out = io.BytesIO(), io.BytesIO(), io.BytesIO()
    model.save(model_buf)
    np.savez(stats_buf, **_rms_arrays("obs", venv.obs_rms), **_rms_arrays("ret", venv.ret_rms))
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("model.zip", model_buf.getvalue())
        z.writestr("vecnormalize.npz", stats_buf.getvalue())
        z.writestr("meta.json", json.dumps(meta))
    atomic_write_bytes(path, out.getvalue())


def load_checkpoint(path: Path, venv: VecNormalize, device: torch.device | str = "cpu") -> tuple[MaskablePPO, dict[str, Any]]:
    """The model (bound to ``venv``, on ``device``) and meta of a checkpoint; restores ``venv``'s statistics."""
    with zipfile.ZipFile(path) as z:
        model = MaskablePPO.load(io.BytesIO(z.read("model.zip")), env=venv, device=device)
        stats = np.load(io.BytesIO(z.read("vecnormalize.npz")))
        meta = json.loads(z.read("meta.json"))
    for prefix, rms in (("obs", venv.obs_rms), ("ret", venv.ret_rms)):
        rms.mean, rms.var, rms.count = stats[f"{prefix}_mean"], stats[f"{prefix}_var"], float(stats[f"{prefix}_count"])
    model._last_obs = None  # the envs restart: learn() must reset them rather than reuse a stale observation
    return model, meta


def checkpoints(out: Path) -> list[Path]:
    """The run's checkpoints, oldest first."""
    return sorted((out / "checkpoints").glob("ckpt_*.zip"))


def export_run(out: Path, dest: Path | None = None, checkpoint: Path | None = None) -> tuple[Path, Path]:
    """Export a checkpoint (default: the last) of the run in ``out`` to ``dest`` (default
    ``out/policy.safetensors``) and its spec."""
    saved = json.loads((out / "config.json").read_text())
    cfg = config_from_dict(saved["config"], str(out / "config.json"))
    venv = build_env(dataclasses.replace(cfg, env=dataclasses.replace(cfg.env, n_envs=1)))
    if checkpoint is None:
        found = checkpoints(out)
        if not found:
            raise RunError(f"{out} has no checkpoint to export")
        checkpoint = found[-1]
    model, meta = load_checkpoint(checkpoint, venv)  # onto the CPU, whatever the run trained on
    env = OrbitComputeEnv(cfg.scenario, overrides=cfg.env.overrides)
    trained_on = {"scenario": cfg.scenario, "overrides": cfg.env.overrides, "timesteps": meta["timesteps"], "seed": saved["seed"]}
    n = cfg.normalize
    return export_policy(
        model.policy, dest or out / "policy.safetensors", env.layout, env.actions, venv.obs_rms if n.obs else None,
        clip_obs=n.clip_obs, epsilon=venv.epsilon, deterministic=cfg.run.deterministic, trained_on=trained_on,
    )  # fmt: skip


# -------------------------------------------------------------------------------- callbacks


class TrainingCallback(BaseCallback):
    """Learning curve rows, the progress bar, periodic checkpoints, an extra TensorBoard scalar and the
    wall time of rollouts and updates (added to ``phases``, which starts from the run's values so far)."""

    def __init__(self, out: Path, cfg: TrainConfig, seed: int, target: int, wall_before: float, phases: dict[str, float], progress: bool):
        super().__init__()
        self.out, self.cfg, self.seed, self.target = out, cfg, seed, target
        self.wall_before, self.progress = wall_before, progress
        self.phases = dict(phases)
        self.rollout_start = self.rollout_end = None  # time.time() of the current rollout's start, the last one's end
        self.recent: list[tuple[float, float]] = []

    def _on_training_start(self) -> None:
        self.t0 = time.time()
        self.start_steps = self.last_ckpt = self.num_timesteps
        path = self.out / "curve.csv"
        new = not path.exists()
        self.curve_file = path.open("a", newline="")
        self.curve = csv.writer(self.curve_file)
        if new:
            self.curve.writerow(CURVE_FIELDS)
        self.episodes = sum(1 for _ in path.open()) - 1 if not new else 0
        self.bar = tqdm(total=self.target, initial=self.num_timesteps, unit="step", unit_scale=True, disable=not self.progress,
                        desc=f"PPO {self.cfg.scenario}", dynamic_ncols=True)  # fmt: skip

    def wall_s(self) -> float:
        return self.wall_before + time.time() - self.t0

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            ep = info.get("episode")
            if ep is None:
                continue
            self.episodes += 1
            self.recent = (self.recent + [(ep["r"], ep["delivered_value"])])[-2 * self.cfg.env.n_envs :]
            self.curve.writerow([self.num_timesteps, self.episodes, f"{ep['r']:.6g}", f"{ep['delivered_value']:.6g}", ep["l"], f"{self.wall_s():.1f}"])
            self.curve_file.flush()
        self.bar.update(self.num_timesteps - self.bar.n)
        if self.n_calls % 64 == 0:
            sps = (self.num_timesteps - self.start_steps) / max(time.time() - self.t0, 1e-9)
            post = {"sps": f"{sps:,.0f}"} | {name.removesuffix("_s"): f"{t:.0f}s" for name, t in self.phases.items() if t}
            if self.recent:
                r, v = np.mean(self.recent, axis=0)
                post = {"return": f"{r:.2f}", "delivered": f"{v:.2f}", **post}
            self.bar.set_postfix(post, refresh=False)
        return True

    def _end_update(self) -> None:
        """Count the time since the last rollout ended as update time (SB3 trains between rollouts)."""
        if self.rollout_end is not None:
            self.phases["update_s"] += time.time() - self.rollout_end
            self.rollout_end = None

    def _on_rollout_start(self) -> None:
        self._end_update()
        if self.num_timesteps - self.last_ckpt >= self.cfg.run.checkpoint_every:
            self.checkpoint()
        self.rollout_start = time.time()  # after the checkpoint: saving counts in neither phase

    def _on_rollout_end(self) -> None:
        self.rollout_end = time.time()
        self.phases["rollout_s"] += self.rollout_end - self.rollout_start
        if self.recent:
            self.logger.record("rollout/delivered_value", float(np.mean([v for _, v in self.recent])))

    def checkpoint(self) -> None:
        """Save a checkpoint now (between updates, so weights, optimizer and step count agree)."""
        meta = {"timesteps": self.num_timesteps, "seed": self.seed, "wall_s": self.wall_s(), "episodes": self.episodes, "phases": self.phases}
        save_checkpoint(self.model, self.model.get_env(), self.out / "checkpoints" / f"ckpt_{self.num_timesteps:012d}.zip", meta)
        for old in checkpoints(self.out)[: -self.cfg.run.keep_checkpoints]:
            old.unlink()
        self.last_ckpt = self.num_timesteps

    def _on_training_end(self) -> None:
        self._end_update()
        self.bar.close()
        self.curve_file.close()


# ------------------------------------------------------------------------------------- train


def _truncate_curve(path: Path, timesteps: int) -> None:
    """Drop curve rows written after the checkpoint a resume starts from."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    keep = [rows[0]] + [r for r in rows[1:] if int(r[0]) <= timesteps]
    buf = io.StringIO()
    csv.writer(buf).writerows(keep)
    atomic_write_bytes(path, buf.getvalue().encode())


def score_run(cfg: TrainConfig, out: Path, spec_path: Path, title: str) -> None:
    """baselines.json and curve.png of a finished run: the heuristics and the exported policy on the same seeds."""
    from agents import make_policy
    from agents.learned import load_policy
    from train.evaluate import delivered
    from train.plot import plot_curves

    seeds = [BASELINE_SEED + i for i in range(cfg.run.baseline_episodes)]
    scored = {name: (lambda e, n=name: make_policy(n, e)) for name in cfg.run.baselines} | {"ppo (exported)": lambda e: load_policy(spec_path, e)}
    baselines = {name: float(delivered(cfg.scenario, cfg.env.overrides, make, seeds).mean()) for name, make in scored.items()}
    atomic_write_bytes(out / "baselines.json", json.dumps({"seeds": seeds, "delivered_value": baselines}, indent=1).encode())
    plot_curves({"PPO": out / "curve.csv"}, out / "curve.png", baselines, title=title)


def start_run(cfg: TrainConfig, out: Path, seed: int, resume: bool, found: list[Path], **saved_too: Any) -> TrainConfig:
    """The config a run in ``out`` goes on with: on a resume the saved one (with ``cfg``'s target), else
    ``cfg``, saved to config.json with the seed and ``saved_too``. RunError if ``out`` (whose checkpoints are
    ``found``) does not allow it: nothing to resume, another seed, or a new run over an old one."""
    if resume:
        if not found:
            raise RunError(f"--resume: no checkpoint in {out / 'checkpoints'}; start a new run without --resume")
        saved = json.loads((out / "config.json").read_text())
        if saved["seed"] != seed:
            raise RunError(f"--resume: the run in {out} was started with seed {saved['seed']}, not {seed}")
        return config_from_dict({**saved["config"], "timesteps": cfg.timesteps}, str(out / "config.json"))
    if found or (out / "curve.csv").exists():
        raise RunError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "config.json", json.dumps({"seed": seed, "config": cfg.to_dict(), **saved_too}, indent=1).encode())
    return cfg


def train(cfg: TrainConfig, out: str | Path, seed: int = 0, resume: bool = False, progress: bool = True, device: str = "auto") -> TrainResult:
    """Train (or resume) a run in ``out`` up to ``cfg.timesteps`` agent-steps on ``device`` (train.device),
    then export and plot."""
    from agents import make_policy

    out = Path(out)
    torch_device = pick_device(device)  # before anything is written: a missing GPU leaves no half-made run
    torch.set_num_threads(cfg.run.torch_threads)
    found = checkpoints(out)
    cfg = start_run(cfg, out, seed, resume, found)

    venv = build_env(cfg)
    wall_before, phases = 0.0, dict.fromkeys(PHASES, 0.0)
    if resume:
        model, meta = load_checkpoint(found[-1], venv, torch_device)
        wall_before = meta["wall_s"]
        phases |= meta.get("phases", {})  # checkpoints written before phases were timed count from this resume
        _truncate_curve(out / "curve.csv", meta["timesteps"])
        set_random_seed(seed + meta["timesteps"])  # a resumed run is reproducible from its checkpoint
        venv.seed(seed + meta["timesteps"])
    else:
        model = build_model(cfg, venv, seed, torch_device)
        if cfg.bc.steps:
            teacher = make_policy(cfg.bc.teacher, OrbitComputeEnv(cfg.scenario, overrides=cfg.env.overrides))
            t_bc = time.time()
            bc = warm_start(model, venv, teacher, cfg.bc, cfg.ppo.gamma, cfg.ppo.batch_size, seed)
            phases["cloning_s"] = time.time() - t_bc
            atomic_write_bytes(out / "bc.json", json.dumps({**bc, "wall_s": phases["cloning_s"]}, indent=1).encode())
    model.set_logger(configure(str(out / "tb"), ["tensorboard"]))
    callback = TrainingCallback(out, cfg, seed, cfg.timesteps, wall_before, phases, progress)
    start = model.num_timesteps
    t0 = time.time()
    model.learn(max(cfg.timesteps - start, 0), callback=callback, reset_num_timesteps=False, log_interval=1)
    session_s, wall_s = time.time() - t0, callback.wall_s()
    if model.num_timesteps != callback.last_ckpt:
        callback.checkpoint()
    venv.close()

    t_score = time.time()
    policy_path, spec_path = export_run(out)
    score_run(cfg, out, spec_path, f"MaskablePPO on {cfg.scenario} (seed {seed})")
    phases = callback.phases | {"scoring_s": time.time() - t_score}
    sps = (model.num_timesteps - start) / max(session_s, 1e-9)
    summary = {
        "timesteps": model.num_timesteps, "device": str(torch_device), "wall_s": wall_s, "phases": phases,
        "agent_steps_per_s": model.num_timesteps / max(wall_s, 1e-9), "session_wall_s": session_s, "session_steps_per_s": sps,
    }  # fmt: skip
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1).encode())
    return TrainResult(out, model.num_timesteps, session_s, sps, policy_path, phases, str(torch_device))
