"""Export a trained MaskablePPO policy to ``policy.safetensors`` + ``policy.json`` (no pickle).

Only the actor is exported: the hidden layers of the policy MLP, the logits layer, and the running
observation statistics that VecNormalize applied during training (the loader applies them itself).
``agents.learned.LearnedPolicy`` reads the pair back with numpy. ``orbit-env train`` exports every run to
``policy.safetensors`` in its directory; to write a run's last checkpoint under another name:

    python -m train.export RUN_DIR DEST.safetensors
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors.numpy import save

from agents.learned import FORMAT, FORMAT_VERSION, check_policy
from orbit_env import ENV_VERSION, __version__
from orbit_env.actions import ActionLayout
from orbit_env.atomic import atomic_write
from orbit_env.observe import Layout


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` atomically (orbit_env.atomic), readable by others: exports and checkpoints are shared."""

    def write(f) -> None:
        os.fchmod(f.fileno(), 0o644)  # mkstemp makes the file private
        f.write(data)

    atomic_write(path, write)


def actor_tensors(policy) -> tuple[dict[str, np.ndarray], list[str], str]:
    """The actor's Linear layers from an SB3 ActorCriticPolicy: (tensors, hidden layer names, activation)."""
    linears = [m for m in policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)]
    acts = {type(m).__name__ for m in policy.mlp_extractor.policy_net if not isinstance(m, torch.nn.Linear)}
    activation = {"Tanh": "tanh", "ReLU": "relu"}[acts.pop()] if acts else "tanh"
    tensors, names = {}, []
    for i, lin in enumerate(linears):
        names.append(f"pi.{i}")
        tensors[f"pi.{i}.weight"] = lin.weight.detach().cpu().numpy().astype(np.float32)
        tensors[f"pi.{i}.bias"] = lin.bias.detach().cpu().numpy().astype(np.float32)
    tensors["logits.weight"] = policy.action_net.weight.detach().cpu().numpy().astype(np.float32)
    tensors["logits.bias"] = policy.action_net.bias.detach().cpu().numpy().astype(np.float32)
    return tensors, names, activation


def export_policy(
    policy,
    path: str | Path,
    layout: Layout,
    actions: ActionLayout,
    obs_rms=None,
    clip_obs: float = 10.0,
    epsilon: float = 1e-8,
    name: str = "ppo",
    deterministic: bool = True,
    trained_on: dict[str, Any] | None = None,
    extract: Callable[[Any], tuple[dict[str, np.ndarray], list[str], str]] = actor_tensors,
) -> tuple[Path, Path]:
    """Write the actor of ``policy`` (an SB3 ActorCriticPolicy) and its spec; return both paths.

    ``obs_rms`` is VecNormalize's RunningMeanStd of the observations (None if training did not normalise).
    ``extract`` reads (tensors, hidden layer names, activation) from ``policy``: another trainer's network
    (train.rllib's) is exported by passing its own.
    """
    path = Path(path).with_suffix(".safetensors")
    tensors, layers, activation = extract(policy)
    if obs_rms is not None:  # float64 as VecNormalize keeps them; a central critic's summary (after D) is not the actor's
        tensors["obs_mean"] = np.asarray(obs_rms.mean, np.float64)[: layout.size]
        tensors["obs_var"] = np.asarray(obs_rms.var, np.float64)[: layout.size]
    blob = save(tensors)
    spec = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "env": {"id": ENV_VERSION, "package_version": __version__},
        "trained_on": trained_on or {},
        "observation": {"size": layout.size, "K": layout.K, "M": layout.M, "names": layout.names()},
        "action": {"n": actions.n, "K": actions.K, "P": actions.P, "M": actions.M, "G": actions.G},
        "network": {"layers": layers, "output": "logits", "activation": activation},
        "normalize": {"obs": obs_rms is not None, "clip": float(clip_obs), "epsilon": float(epsilon)},
        "act": {"deterministic": deterministic},
        "weights": {"file": path.name, "sha256": hashlib.sha256(blob).hexdigest()},
    }
    check_policy(spec, tensors, path)  # e.g. a diverged run's NaN weights: refused now, not when evaluated
    spec_path = path.with_suffix(".json")
    atomic_write_bytes(path, blob)
    atomic_write_bytes(spec_path, (json.dumps(spec, indent=1) + "\n").encode())
    return path, spec_path


def main(argv: list[str] | None = None) -> int:
    import argparse

    from train.ppo import RunError

    p = argparse.ArgumentParser(prog="python -m train.export", description="Export a run's checkpoint (the last by default).")
    p.add_argument("run", type=Path, help="the run directory (orbit-env train --out)")
    p.add_argument("dest", type=Path, help="the .safetensors file to write; its .json spec goes beside it")
    p.add_argument("--checkpoint", type=Path, help="a checkpoint of the run (checkpoints/ckpt_<steps>.zip; an RLlib run's are folders) instead of the last")
    args = p.parse_args(argv)
    if not (args.run / "config.json").is_file():
        p.error(f"{args.run} is not a run directory (it has no config.json)")
    rllib = json.loads((args.run / "config.json").read_text()).get("backend") == "rllib"  # orbit-env train --backend rllib
    if args.checkpoint is not None and not (args.checkpoint.is_dir() if rllib else args.checkpoint.is_file()):
        p.error(f"no checkpoint {'folder' if rllib else 'file'} {args.checkpoint}")
    if rllib:
        from train.rllib import export_run
    else:
        from train.ppo import export_run
    try:
        weights, spec = export_run(args.run, args.dest, args.checkpoint)
    except RunError as e:
        p.error(str(e))
    print(f"wrote {weights} and {spec}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
