"""One observation and action layout for every scenario, and the set network that plays it.

Scenarios differ in queue slots K, laser terminals M, admission-window entries G and in whether the own
block carries the ground fields, so their native observations and Discrete action spaces differ in size.
``UniversalLayout`` pads each of them to fixed maxima: the own block always holds every own field; each of
``K_MAX`` slot, ``M_MAX`` neighbour and ``G_MAX`` window entries starts with an ``exists`` flag (0 for
padding) before the entry's native fields. Both maps are gathers built once from the field names of
``orbit_env.observe.Layout``, so the transform has no per-satellite loop and follows the env's layout:

- ``obs(native)`` (..., D) -> (..., UNIVERSAL size); ``mask(native)`` (..., A) -> (..., universal n),
  padding always masked;
- ``to_native(u)``: a universal action index -> the native one (``ActionLayout`` arithmetic on both sides).

The network (``forward``) is permutation-invariant over the entry sets (deep sets, Zaheer et al., NeurIPS
2017): each entry is encoded by one shared layer per set, the sets are mean-pooled over existing entries
into a context with the own state, and the logits of entry-indexed actions are computed from each
entry's embedding (run(k, p) from slot k, admit(g) from entry g, send(k, m) as the dot product of slot
k's and neighbour m's projections), so permuting slots, neighbours or window entries permutes the
logits alike. ``forward`` is written once for numpy and torch (``xp``): the trainer (``train.ppo_scratch``)
differentiates it, ``UniversalPolicy`` runs it on the exported weights.

Advice (optional, residual policy learning: Silver et al., arXiv:1812.06298, 2018): the network may also
read the actions that named deterministic heuristics (``ADVISORS``) would take, as one-hot vectors over the
universal actions, and add ``trust(context) x one-hot`` to its logits. ``trust`` is a linear head of the
context; it starts near zero (a fresh network ignores its advisors) or, for a residual start, with a bias
(``advice_bias`` of the trainer: the network starts as an advisor). PPO learns from reward alone when to
follow which (no imitation loss, no teacher's targets). The advisors are named in the spec and rebuilt
from the installed heuristics on load, so a submission still holds only weights and a JSON spec.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.policy import ArrayPolicy
from orbit_env.actions import Act, ActionLayout
from orbit_env.observe import GROUND_FIELDS, NEIGH_FIELDS, OWN_FIELDS, SLOT_FIELDS, WINDOW_FIELDS, Layout

K_MAX, M_MAX, G_MAX, P_MAX = 16, 4, 8, 3  # the suite's largest: K 16 (v2 storage cap), M 4 lasers, G 8, P 3 levels
KIND = "universal-sets"  # the spec's "kind" (agents.learned reads "mlp" specs)
OWN_DEFAULTS = {"own.link": 0.0, "own.storage_free": 1.0}  # a v1 scenario's values: no antenna booking, no storage limit
ADVISORS = ("greedy", "edf", "edf-safe", "edf-ckpt", "balance")  # the deterministic heuristics a network may read
SETS = (("slot", K_MAX, SLOT_FIELDS), ("neigh", M_MAX, NEIGH_FIELDS), ("window", G_MAX, WINDOW_FIELDS))


@dataclass(frozen=True)
class UniversalLayout:
    """The padded layout and the gathers between it and a scenario's native ``Layout`` / ``ActionLayout``."""

    native: Layout
    native_actions: ActionLayout

    @classmethod
    def for_env(cls, env) -> UniversalLayout:
        return cls(env.layout, env.actions)

    def __post_init__(self):
        n, a = self.native, self.native_actions
        too_big = [f"{name}={v} > {cap}" for name, v, cap in (("K", n.K, K_MAX), ("M", n.M, M_MAX), ("G", n.G, G_MAX), ("P", a.P, P_MAX))
                   if v > cap]  # fmt: skip
        if too_big:
            raise ValueError(f"the universal layout holds at most K={K_MAX}, M={M_MAX}, G={G_MAX}, P={P_MAX}; this env has {', '.join(too_big)}")
        unknown = set(n.names()) - set(universal_names())
        if unknown:
            raise ValueError(f"the universal layout has no place for the native fields {sorted(unknown)[:5]}")

    @functools.cached_property
    def _obs_gather(self) -> tuple[np.ndarray, np.ndarray]:
        """(source index into the native vector or -1, fill value where -1) per universal element."""
        where = {name: i for i, name in enumerate(self.native.names())}
        names = universal_names()
        src = np.array([where.get(name, -1) for name in names])
        fill = np.zeros(len(names), np.float32)
        for i, name in enumerate(names):
            if name.endswith(".exists"):
                fill[i] = float(name.replace(".exists", ".present") in where)
            fill[i] = OWN_DEFAULTS.get(name, fill[i])
        return src, fill

    @functools.cached_property
    def _to_native(self) -> np.ndarray:
        """Native action index of every universal index (-1 where the native env has no such action)."""
        u, a = UNIVERSAL_ACTIONS, self.native_actions
        kind, slot, level, neigh = u.tables
        entry = u.entry
        ok = np.select(
            [kind == Act.RUN, kind == Act.SEND, kind == Act.ADMIT],
            [(slot < a.K) & (level < a.P), (slot < a.K) & (neigh < a.M), entry < a.G],
            default=True,
        )
        native = np.select(
            [kind == Act.IDLE, kind == Act.CHECKPOINT, kind == Act.RUN, kind == Act.SEND],
            [a.IDLE, a.CHECKPOINT, a.run(slot, level), a.send(slot, neigh)],
            default=a.admit(entry),
        )
        return np.where(ok, native, -1)

    @functools.cached_property
    def _from_native(self) -> np.ndarray:
        """Universal action index of every native index (the universal layout holds every native action)."""
        nat = self._to_native
        inverse = np.full(self.native_actions.n, -1)
        inverse[nat[nat >= 0]] = np.flatnonzero(nat >= 0)
        return inverse

    def obs(self, native: np.ndarray) -> np.ndarray:
        """(..., UNIVERSAL_SIZE) float32 universal observations of (..., D) native ones."""
        src, fill = self._obs_gather
        return np.where(src >= 0, np.asarray(native, np.float32)[..., np.maximum(src, 0)], fill)

    def mask(self, native: np.ndarray) -> np.ndarray:
        """(..., universal n) bool mask of a (..., A) native mask: padding actions are never legal."""
        nat = self._to_native
        return (np.asarray(native)[..., np.maximum(nat, 0)] > 0) & (nat >= 0)

    def to_native(self, actions: np.ndarray) -> np.ndarray:
        """Native action indices of universal ones (a padding action is an error: the mask forbids it)."""
        native = self._to_native[np.asarray(actions)]
        if (native < 0).any():
            raise ValueError(f"universal actions {np.unique(np.asarray(actions)[native < 0])[:5]} have no native action in this env")
        return native

    def from_native(self, actions: np.ndarray) -> np.ndarray:
        """Universal action indices of native ones."""
        return self._from_native[np.asarray(actions)]


def advisors_ok(names) -> bool:
    """Whether ``names`` are distinct advisor names (the check Advice, the loader and the trainer share)."""
    return all(n in ADVISORS for n in names) and len(set(names)) == len(names)


class Advice:
    """The actions named heuristics would take, as (..., advisors, universal n) one-hot float32 arrays."""

    def __init__(self, names, env, universal: UniversalLayout):
        from agents.heuristics import make_policy

        if not advisors_ok(names):
            raise ValueError(f"advisors {list(names)}: each must be one of {', '.join(ADVISORS)}, named once")
        self.names = tuple(names)
        self.policies = [make_policy(n, env) for n in self.names]
        self.universal = universal

    def __call__(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
        """One-hot advice for native (..., D) observations and (..., A) masks; None without advisors."""
        if not self.policies:
            return None
        chosen = np.stack([self.universal.from_native(p.act_arrays(obs, mask)) for p in self.policies], axis=-1)
        return np.eye(UNIVERSAL_ACTIONS.n, dtype=np.float32)[chosen]


UNIVERSAL_ACTIONS = ActionLayout(K_MAX, P_MAX, M_MAX, G_MAX)


@functools.cache
def universal_names() -> tuple[str, ...]:
    """Every element's name, in order (the own block always has the ground fields)."""
    return (
        tuple(f"own.{f}" for f in OWN_FIELDS + GROUND_FIELDS)
        + tuple(f"{s}[{i}].{f}" for s, n, fields in SETS for i in range(n) for f in ("exists", *fields))
    )


OWN_SIZE = len(OWN_FIELDS + GROUND_FIELDS)
UNIVERSAL_SIZE = len(universal_names())


def split(x):
    """The own block (..., OWN_SIZE) and the (..., n, 1 + fields) entry blocks of universal observations."""
    parts, start = [x[..., :OWN_SIZE]], OWN_SIZE
    for _, n, fields in SETS:
        width = n * (1 + len(fields))
        parts.append(x[..., start : start + width].reshape(*x.shape[:-1], n, 1 + len(fields)))
        start += width
    return parts


def layer_shapes(hidden: int, advisors: int = 0) -> dict[str, tuple[int, int]]:
    """(out, in) of every linear layer of the network, by name (``head.advice`` only with advisors)."""
    H = hidden
    shapes = {"own.0": (H, OWN_SIZE)}
    for name, _, fields in SETS:
        shapes |= {f"{name}.0": (H, 1 + len(fields)), f"{name}.1": (H, H), f"{name}.ctx": (H, H)}
    shapes |= {"ctx": (H, 4 * H), "head.base": (2, H), "head.run": (P_MAX, H), "head.send_slot": (H, H),
               "head.send_neigh": (H, H), "head.admit": (1, H)}  # fmt: skip
    return shapes | ({"head.advice": (advisors, H)} if advisors else {})


def forward(params: dict[str, tuple[Any, Any]], x, xp, advice=None) -> tuple[Any, Any]:
    """(logits (..., universal n), context (..., H)) of universal observations ``x`` (..., UNIVERSAL_SIZE).

    ``params[name] = (weight (out, in), bias (out,))``; ``xp`` is numpy or torch (the same code runs on both).
    ``advice`` (..., advisors, universal n), one-hot (``Advice``): each advisor's action gains the trust the
    ``head.advice`` layer gives that advisor in this context (None: the logits of the network alone)."""

    def lin(name, v):
        w, b = params[name]
        return v @ w.T + b

    own, *entries = split(x)
    h_own = xp.tanh(lin("own.0", own))
    hidden = {name: xp.tanh(lin(f"{name}.0", e)) for (name, _, _), e in zip(SETS, entries)}
    pooled = []
    for (name, _, _), e in zip(SETS, entries):
        exists = e[..., 0:1]  # (..., n, 1)
        pooled.append((hidden[name] * exists).sum(axis=-2) / exists.sum(axis=-2).clip(min=1.0))
    ctx = xp.tanh(lin("ctx", xp.concatenate([h_own, *pooled], axis=-1)))
    z = {name: xp.tanh(lin(f"{name}.1", h) + lin(f"{name}.ctx", ctx)[..., None, :]) for name, h in hidden.items()}
    lead = x.shape[:-1]
    run = lin("head.run", z["slot"]).reshape(*lead, K_MAX * P_MAX)
    send = (lin("head.send_slot", z["slot"])[..., :, None, :] * lin("head.send_neigh", z["neigh"])[..., None, :, :]).sum(axis=-1)
    admit = lin("head.admit", z["window"])[..., 0]
    logits = xp.concatenate([lin("head.base", ctx), run, send.reshape(*lead, K_MAX * M_MAX), admit], axis=-1)
    if advice is not None:
        logits = logits + (lin("head.advice", ctx)[..., :, None] * advice).sum(axis=-2)
    return logits, ctx


def check_universal(spec: dict[str, Any], tensors: dict[str, np.ndarray], where: Path) -> None:
    """PolicyFileError unless the tensors are the set network the spec describes (shapes, finite values)."""
    from agents.learned import PolicyFileError, check_act, check_finite

    hidden = spec.get("network", {}).get("hidden") if isinstance(spec.get("network"), dict) else None
    if isinstance(hidden, bool) or not isinstance(hidden, int) or not 1 <= hidden <= 4096:
        raise PolicyFileError(f"policy spec for {where}: network.hidden must be an integer in [1, 4096], got {hidden!r}")
    advisors = spec["network"].get("advisors", [])
    if not isinstance(advisors, list) or not advisors_ok(advisors):
        raise PolicyFileError(f"policy spec for {where}: network.advisors must list distinct names of {', '.join(ADVISORS)}, got {advisors!r}")
    obs = spec.get("observation") if isinstance(spec.get("observation"), dict) else {}
    if obs.get("names") != list(universal_names()):
        raise PolicyFileError(f"policy spec for {where}: observation.names is not this loader's universal layout ({UNIVERSAL_SIZE} elements)")
    expected = {f"{n}.{p}": (s if p == "weight" else s[:1]) for n, s in layer_shapes(hidden, len(advisors)).items() for p in ("weight", "bias")}
    for key, shape in expected.items():
        if key not in tensors or tensors[key].shape != shape:
            got = tensors[key].shape if key in tensors else "missing"
            raise PolicyFileError(f"{where}: tensor {key} is {got}, expected shape {shape}")
    check_finite(tensors, list(expected), where)
    check_act(spec, where)


class UniversalPolicy(ArrayPolicy):
    """The exported set network on any scenario that fits the universal layout: masked argmax of its logits
    (or a masked sample when the spec or ``deterministic`` says so), mapped back to native actions. A spec
    that names advisors needs the env (``for_env``) to rebuild them."""

    name = "ppo-sets"

    @classmethod
    def for_env(cls, env, **kwargs):
        return cls(env.layout, env.actions, advisors_env=env, **kwargs)

    def __init__(self, layout: Layout, actions: ActionLayout, path: str | Path, deterministic: bool | None = None, root=None, advisors_env=None):
        from agents.learned import PolicyFileError, check_env, read_policy_files

        super().__init__(layout, actions)
        self.spec, tensors = read_policy_files(path, root)
        if self.spec.get("kind") != KIND:
            raise PolicyFileError(f"{path} holds a {self.spec.get('kind', 'mlp')!r} policy, not a {KIND!r} one")
        check_env(self.spec)
        self.universal = UniversalLayout(layout, actions)
        advisors = self.spec["network"].get("advisors", [])
        if advisors and advisors_env is None:
            raise ValueError(f"{path} takes advice from {advisors}: build it with UniversalPolicy.for_env(env, path=...)")
        self.advice = Advice(advisors, advisors_env, self.universal)
        self.params = {n: (tensors[f"{n}.weight"].astype(np.float32), tensors[f"{n}.bias"].astype(np.float32))
                       for n in layer_shapes(self.spec["network"]["hidden"], len(advisors))}  # fmt: skip
        self.deterministic = self.spec.get("act", {}).get("deterministic", True) if deterministic is None else deterministic
        self.name = self.spec.get("name", self.name)

    def universal_actions(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(...,) universal action indices, legal under the universal mask."""
        logits = forward(self.params, self.universal.obs(obs), np, self.advice(obs, mask))[0]
        logits = np.where(self.universal.mask(mask), logits, -np.inf)
        if not self.deterministic:
            logits = logits - np.log(-np.log(self.random(logits.shape)))
        return logits.argmax(axis=-1)

    def act_arrays(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.universal.to_native(self.universal_actions(obs, mask))
