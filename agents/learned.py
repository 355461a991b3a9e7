"""A trained policy loaded from a safetensors file and its JSON spec: numpy only, no pickle, no SB3.

The pair is what ``train.export`` writes (and what a ``kind = "safetensors"`` leaderboard submission
holds): ``policy.safetensors`` has the MLP weights and the observation normalisation statistics;
``policy.json`` says which env version, observation layout (every field name, in order) and action
space the network was trained on, its layers and activation, and the sha256 of the weights file.

Loading checks all of it against the env the policy is asked to play, so a policy never silently acts
on observations it was not trained on: a mismatch or a corrupt file raises ``PolicyFileError`` saying
what differs.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from agents import universal
from agents.confined import MIB, UnsafeFileError, read_confined
from agents.policy import ArrayPolicy
from orbit_env import ENV_VERSION
from orbit_env.actions import ActionLayout
from orbit_env.observe import Layout

FORMAT = "orbit-env-policy"
FORMAT_VERSION = 1
ACTIVATIONS = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0)}
SPEC_LIMIT = MIB  # the shipped specs are 2-5 KiB: mostly the observation's field names
WEIGHTS_LIMIT = 64 * MIB  # the shipped networks are 0.3-0.5 MiB; 64 MiB holds 16 M float32 parameters


class PolicyFileError(ValueError):
    """A policy file is missing, corrupt, or does not fit the env; the message says which and why."""


def spec_path_for(path: str | Path) -> Path:
    """The spec of a policy: ``path`` itself, or ``policy.json`` beside a given ``policy.safetensors``."""
    path = Path(path)
    return path if path.suffix == ".json" else path.with_suffix(".json")


def read_policy_files(path: str | Path, root: str | Path | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The (spec, tensors) of a policy, verified: format, checksum, tensor shapes, dtypes and values.

    ``path`` is the spec (or the weights file beside it); the spec names its weights file, which must
    sit in the same folder. With ``root`` (a leaderboard submission's folder), ``path`` is relative to
    it and both files must be regular files inside it; without, they must be regular files in the
    spec's own folder. Either way no link is followed and no read exceeds its size limit.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    spec_rel = spec_path_for(path)
    if root is None:
        root, spec_rel = spec_rel.parent, Path(spec_rel.name)
    spec_file = Path(root, spec_rel)
    try:
        spec = json.loads(read_confined(root, spec_rel.as_posix(), SPEC_LIMIT, "policy spec"))
    except FileNotFoundError:
        raise PolicyFileError(f"policy spec {spec_file} not found (it is written beside the .safetensors file)") from None
    except UnsafeFileError as e:
        raise PolicyFileError(str(e)) from None
    except (OSError, ValueError, RecursionError) as e:  # ValueError: not UTF-8 or not JSON
        raise PolicyFileError(f"policy spec {spec_file} is not valid JSON: {str(e) or 'nested too deeply'}") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise PolicyFileError(f"{spec_file} is not an orbit-env policy spec (expected \"format\": \"{FORMAT}\")")
    if spec.get("format_version") != FORMAT_VERSION:
        raise PolicyFileError(f"{spec_file} has format_version {spec.get('format_version')!r}; this loader reads {FORMAT_VERSION}")
    weights = spec.get("weights") if isinstance(spec.get("weights"), dict) else {}
    name = weights.get("file")
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise PolicyFileError(f"{spec_file}: weights.file must name a file in the same folder, got {name!r}")
    weights_file = spec_file.parent / name
    try:
        blob = read_confined(root, (spec_rel.parent / name).as_posix(), WEIGHTS_LIMIT, "policy weights")
    except (OSError, UnsafeFileError) as e:
        raise PolicyFileError(f"cannot read policy weights {weights_file}: {e}") from None
    digest = hashlib.sha256(blob).hexdigest()
    if digest != weights.get("sha256"):
        raise PolicyFileError(f"policy weights {weights_file} do not match the sha256 in {spec_file}: the file is corrupt or from another export")
    try:
        tensors = load(blob)
    except (SafetensorError, ValueError, TypeError) as e:
        raise PolicyFileError(f"policy weights {weights_file} are not a valid safetensors file: {e}") from None
    kind = spec.get("kind", "mlp")
    if kind == "mlp":
        check_policy(spec, tensors, weights_file)
    elif kind == universal.KIND:
        universal.check_universal(spec, tensors, weights_file)
    else:
        raise PolicyFileError(f"{spec_file}: kind {kind!r} is not one of 'mlp', {universal.KIND!r}")
    return spec, tensors


def check_policy(spec: dict[str, Any], tensors: dict[str, np.ndarray], where: Path) -> None:
    """PolicyFileError unless the tensors are the network the spec describes, with usable values (the
    loader's check; ``train.export`` runs it too, so a diverged network is refused when exported)."""
    _check_shapes(spec, tensors, where)
    _check_values(spec, tensors, where)


def _check_shapes(spec: dict[str, Any], tensors: dict[str, np.ndarray], where: Path) -> None:
    try:
        net, obs_size, n_act = spec["network"], spec["observation"]["size"], spec["action"]["n"]
        names = [*net["layers"], net["output"]]
    except (KeyError, TypeError) as e:
        raise PolicyFileError(f"policy spec for {where} lacks the field {e}") from None
    if not isinstance(net["layers"], list) or not all(isinstance(n, str) for n in names):
        raise PolicyFileError(f"policy spec for {where}: network.layers must be a list of tensor names and network.output a name")
    if net.get("activation") not in ACTIVATIONS:
        raise PolicyFileError(f"policy spec for {where}: activation {net.get('activation')!r} is not one of {sorted(ACTIVATIONS)}")
    width = obs_size
    for name in names:
        w, b = tensors.get(f"{name}.weight"), tensors.get(f"{name}.bias")
        if w is None or b is None:
            raise PolicyFileError(f"{where} lacks the tensors {name}.weight / {name}.bias that its spec lists")
        if w.ndim != 2 or w.shape[1] != width or b.shape != (w.shape[0],):
            raise PolicyFileError(f"{where}: layer {name} has shape {w.shape}, expected (*, {width}) with a matching bias")
        width = w.shape[0]
    if width != n_act:
        raise PolicyFileError(f"{where}: the output layer has {width} logits but the spec's action space has {n_act}")
    if _normalize(spec, where)["obs"]:
        for key in ("obs_mean", "obs_var"):
            if tensors.get(key, np.empty(0)).shape != (obs_size,):
                raise PolicyFileError(f"{where}: {key} must have shape ({obs_size},) as the spec normalises observations")


# every version keeps the spaces of the earlier ones on their scenarios, so an older policy plays them (the
# checks below still refuse it wherever the layout or the action space differs, as on a suite-v2 scenario)
COMPATIBLE_ENVS = ("orbit_compute_v0", "orbit_compute_v1", ENV_VERSION)


def _number(value: Any) -> bool:
    """A finite JSON number (not a boolean; an integer too large for a float is not finite either)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _normalize(spec: dict[str, Any], where: Path) -> dict[str, Any]:
    """The spec's ``normalize`` table, checked: ``obs`` a boolean; when true, ``clip`` > 0 and ``epsilon`` >= 0."""
    norm = spec.get("normalize", {"obs": False})
    if not isinstance(norm, dict) or not isinstance(norm.get("obs"), bool):
        raise PolicyFileError(f"policy spec for {where}: normalize must be a table with obs = true or false, got {norm!r}")
    if norm["obs"]:
        if not _number(norm.get("clip")) or norm["clip"] <= 0:
            raise PolicyFileError(f"policy spec for {where}: normalize.clip = {norm.get('clip')!r} must be a finite number > 0")
        if not _number(norm.get("epsilon")) or norm["epsilon"] < 0:
            raise PolicyFileError(f"policy spec for {where}: normalize.epsilon = {norm.get('epsilon')!r} must be a finite number >= 0")
    return norm


def _check_values(spec: dict[str, Any], tensors: dict[str, np.ndarray], where: Path) -> None:
    """Floating-point tensors with finite values, a non-negative observation variance, a boolean act mode:
    a NaN network would otherwise play (and idle) as if it were a policy."""
    net, norm = spec["network"], _normalize(spec, where)
    used = [f"{n}.{p}" for n in (*net["layers"], net["output"]) for p in ("weight", "bias")]
    used += ["obs_mean", "obs_var"] if norm["obs"] else []
    check_finite(tensors, used, where)
    if norm["obs"]:
        var = tensors["obs_var"]
        if (var < 0).any() or ((var + norm["epsilon"]) <= 0).any():
            i = int(np.flatnonzero((var < 0) | (var + norm["epsilon"] <= 0))[0])
            raise PolicyFileError(
                f"{where}: obs_var[{i}] = {var[i]} with epsilon {norm['epsilon']}: variances must be >= 0 and variance + epsilon > 0"
            )
    check_act(spec, where)


def check_finite(tensors: dict[str, np.ndarray], keys: list[str], where: Path) -> None:
    """PolicyFileError unless every tensor of ``keys`` is floating point with finite values: a NaN network
    would otherwise play (and idle) as if it were a policy."""
    for key in keys:
        t = tensors[key]
        if t.dtype.kind != "f":
            raise PolicyFileError(f"{where}: tensor {key} has dtype {t.dtype}; weights and statistics must be floating point")
        if not np.isfinite(t).all():
            i = np.unravel_index(np.flatnonzero(~np.isfinite(t))[0], t.shape)
            raise PolicyFileError(f"{where}: tensor {key} holds {t[i]} at index {tuple(int(j) for j in i)}; every value must be finite")


def check_act(spec: dict[str, Any], where: Path) -> None:
    """PolicyFileError unless the spec's ``act`` table is absent or has a boolean ``deterministic``."""
    act = spec.get("act", {})
    if not isinstance(act, dict) or not isinstance(act.get("deterministic", True), bool):
        raise PolicyFileError(f"policy spec for {where}: act must be a table with deterministic = true or false, got {act!r}")


def check_env(spec: dict[str, Any]) -> None:
    """Raise PolicyFileError unless the policy was trained on a compatible env version."""
    trained = spec.get("env", {}).get("id") if isinstance(spec.get("env"), dict) else None
    if trained not in COMPATIBLE_ENVS:
        raise PolicyFileError(f"the policy was trained on env {trained!r} but this is {ENV_VERSION!r}; retrain or use a matching orbit-env")


def check_compatible(spec: dict[str, Any], layout: Layout, actions: ActionLayout) -> None:
    """Raise PolicyFileError unless the policy was trained on this env version, layout and action space."""
    check_env(spec)
    obs = spec["observation"]
    if obs.get("size") != layout.size or obs.get("names") != layout.names():
        if obs.get("K") != layout.K or obs.get("M") != layout.M:
            raise PolicyFileError(
                f"observation layout mismatch: the policy was trained with K={obs.get('K')} queue slots and "
                f"M={obs.get('M')} neighbour terminals, this env has K={layout.K}, M={layout.M}"
            )
        theirs, ours = obs.get("names") or [], layout.names()
        i = next((i for i, (a, b) in enumerate(zip(theirs, ours)) if a != b), min(len(theirs), len(ours)))
        raise PolicyFileError(
            f"observation layout mismatch at element {i}: the policy expects "
            f"{theirs[i] if i < len(theirs) else '(end)'!r}, the env has {ours[i] if i < len(ours) else '(end)'!r}"
        )
    act = spec["action"]
    if (act.get("n"), act.get("K"), act.get("P"), act.get("M"), act.get("G", 0)) != (actions.n, actions.K, actions.P, actions.M, actions.G):
        raise PolicyFileError(
            f"action space mismatch: the policy was trained on Discrete({act.get('n')}) with K={act.get('K')}, "
            f"P={act.get('P')}, M={act.get('M')}, G={act.get('G', 0)}; this env has Discrete({actions.n}) with "
            f"K={actions.K}, P={actions.P}, M={actions.M}, G={actions.G}"
        )


class LearnedPolicy(ArrayPolicy):
    """An exported MLP policy: masked argmax of its logits (or a masked sample if the spec says so).

    ``LearnedPolicy.for_env(env, path="policy.safetensors")`` checks the files against the env.
    """

    name = "ppo"

    def __init__(
        self, layout: Layout, actions: ActionLayout, path: str | Path, deterministic: bool | None = None, root: str | Path | None = None
    ):
        super().__init__(layout, actions)
        self.spec, tensors = read_policy_files(path, root)
        if self.spec.get("kind", "mlp") != "mlp":
            raise PolicyFileError(f"{path} holds a {self.spec['kind']!r} policy: load it with agents.learned.load_policy")
        check_compatible(self.spec, layout, actions)
        net = self.spec["network"]
        self.layers = [(tensors[f"{n}.weight"].astype(np.float32), tensors[f"{n}.bias"].astype(np.float32)) for n in net["layers"]]
        self.output = (tensors[f"{net['output']}.weight"].astype(np.float32), tensors[f"{net['output']}.bias"].astype(np.float32))
        self.activation = ACTIVATIONS[net["activation"]]
        norm = self.spec.get("normalize", {"obs": False})
        self.obs_norm = None
        if norm["obs"]:
            std = np.sqrt(tensors["obs_var"].astype(np.float64) + norm["epsilon"])
            self.obs_norm = (tensors["obs_mean"].astype(np.float64), std, float(norm["clip"]))
        self.deterministic = self.spec.get("act", {}).get("deterministic", True) if deterministic is None else deterministic
        self.name = self.spec.get("name", self.name)

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """(..., A) unmasked logits for (..., D) observations."""
        x = np.asarray(obs, np.float32)
        if self.obs_norm is not None:  # in float64, then float32, exactly as VecNormalize does in training
            mean, std, clip = self.obs_norm
            x = np.clip((x - mean) / std, -clip, clip).astype(np.float32)
        for w, b in self.layers:
            x = self.activation(x @ w.T + b)
        w, b = self.output
        return x @ w.T + b

    def act_arrays(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        logits = np.where(np.asarray(mask) > 0, self.logits(obs), -np.inf)
        if self.deterministic:
            return logits.argmax(axis=-1)
        gumbel = -np.log(-np.log(self.random(logits.shape)))
        return (logits + gumbel).argmax(axis=-1)


def load_policy(spec_path: str | Path, env, root: str | Path | None = None) -> ArrayPolicy:
    """The leaderboard's entry point: the policy of ``spec_path`` for ``env``, checked against it: an MLP
    (``LearnedPolicy``) or, for a spec of kind ``universal-sets``, the set network (``agents.universal``)."""
    spec, _ = read_policy_files(spec_path, root)
    cls = universal.UniversalPolicy if spec.get("kind") == universal.KIND else LearnedPolicy
    try:
        return cls.for_env(env, path=spec_path, root=root)
    except ValueError as e:  # the universal layout's own refusals (an env beyond its maxima)
        raise e if isinstance(e, PolicyFileError) else PolicyFileError(str(e)) from None
