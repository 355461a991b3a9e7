"""The Policy protocol every agent implements, and a base class for policies that act on arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from orbit_env.actions import ActionLayout
from orbit_env.observe import Layout


@runtime_checkable
class Policy(Protocol):
    """``reset(seed)`` at the start of an episode, then ``act`` once per step with PettingZoo's dicts:
    one env's ``{agent: {"observation", "action_mask"}}`` gives ``{agent: action}``, and a list of such
    dicts (many envs stepped together) gives a list of action dicts."""

    def reset(self, seed: int | None = None) -> None: ...

    def act(self, observations: Any, infos: Any = None) -> Any: ...


class ArrayPolicy:
    """A policy deciding for all agents at once: subclasses implement ``act_arrays``.

    ``act_arrays(obs, mask)`` takes (..., D) observations and (..., A) masks with any leading axes
    (agents, or environments x agents) and returns (...,) integer actions, so one policy object serves
    one env or many.

    Forecast: a policy that wants the predictable geometry of the coming steps (``orbit_env.forecast``) sets
    ``forecast_steps = H > 0``; callers then call ``act_arrays(obs, mask, forecast=F)`` with obs (B, N, D),
    mask (B, N, A) and ``F = forecast(eph, eph_index, H)`` for those B episodes (``BatchEnv.forecast(H)``).
    Policies with ``forecast_steps = 0`` are called without it. ``act_on`` calls any policy the right way.

    Random draws (``random``) come from one generator per episode when ``reset`` is given one seed per
    episode of a batch: the arrays are then (B, N, ...) and episode b draws from generator b exactly what
    a policy reset with ``seeds[b]`` draws on that episode alone, so a batch acts as its episodes would one
    by one.
    """

    forecast_steps = 0

    name = "array-policy"

    def __init__(self, layout: Layout, actions: ActionLayout):
        self.layout, self.actions = layout, actions
        self.rngs = [np.random.default_rng()]
        self.rng = self.rngs[0]

    @classmethod
    def for_env(cls, env, **kwargs):
        """Build the policy for an OrbitComputeEnv's layouts."""
        return cls(env.layout, env.actions, **kwargs)

    def reset(self, seed: int | Sequence[int] | None = None) -> None:
        """Seed the policy for one episode (an int or None), or for a batch (one seed per episode)."""
        seeds = list(seed) if isinstance(seed, Sequence) else [seed]
        self.rngs = [np.random.default_rng(s) for s in seeds]
        self.rng = self.rngs[0]

    def random(self, shape: tuple[int, ...]) -> np.ndarray:
        """Uniform draws in [0, 1) of ``shape``; after a batch ``reset``, shape[0] is the episode axis and
        episode b's draws come from its own generator."""
        if len(self.rngs) == 1:
            return self.rng.random(shape)
        if not shape or shape[0] != len(self.rngs):
            raise ValueError(f"the policy was reset for {len(self.rngs)} episodes: expected arrays of shape ({len(self.rngs)}, ...), got {shape}")
        return np.stack([rng.random(shape[1:]) for rng in self.rngs])

    def act(self, observations, infos=None):
        """One env's ``{agent: {"observation", "action_mask"}}`` -> ``{agent: action}``; a list of them
        (many envs of one scenario, stepped together) -> a list of action dicts, decided in one array call."""
        many = isinstance(observations, (list, tuple))
        envs = list(observations) if many else [observations]
        agents = [list(o) for o in envs]
        obs = np.concatenate([[o[a]["observation"] for a in ag] for o, ag in zip(envs, agents)])
        mask = np.concatenate([[o[a]["action_mask"] for a in ag] for o, ag in zip(envs, agents)])
        flat = iter(self.act_arrays(obs, mask).tolist())
        out = [{a: next(flat) for a in ag} for ag in agents]
        return out if many else out[0]

    def act_arrays(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def act_on(policy: ArrayPolicy, env, read_only: bool = False) -> np.ndarray:
    """(B, N) actions of ``policy`` for the current step of a ``BatchEnv`` (an ``OrbitComputeEnv``'s is
    ``env.batch``), with the forecast when the policy asks for one. ``read_only``: hand the policy read-only
    views of the observations and masks, so that a policy that writes into them raises instead of changing
    the env (as safe as copies, which cost ~10% of a step; a step replaces the arrays, never rewrites them)."""
    obs, mask = env.observations, env.action_masks
    if read_only:
        obs, mask = _read_only(obs), _read_only(mask)
    if policy.forecast_steps:
        return policy.act_arrays(obs, mask, forecast=env.forecast(policy.forecast_steps))
    return policy.act_arrays(obs, mask)


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def play(policy: ArrayPolicy, env, seeds: Sequence[int], read_only: bool = False, check=None) -> dict[str, np.ndarray]:
    """Run the seeded episodes of a ``BatchEnv`` (one per seed) to their end with ``policy``, reset with one
    generator per episode so that each acts as it would alone; returns ``env.metrics()`` ((B,) arrays).
    ``read_only``: as ``act_on``'s. ``check(actions, t)``: returns the actions to step, or raises on bad ones."""
    seeds = [int(s) for s in seeds]
    env.reset(seed=seeds)
    policy.reset(seeds)
    while True:
        actions = act_on(policy, env, read_only)
        if check is not None:
            actions = check(actions, int(env.t[0]))
        truncated = env.step(actions)[4]
        if truncated.all():
            return env.metrics()
