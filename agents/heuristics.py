"""Baseline heuristics. They see only the agents' observations, read by field name, so comparisons with
learned policies are fair."""

from __future__ import annotations

import numpy as np

from agents.policy import ArrayPolicy


def first_true(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the first True along the last axis, whether there is one)."""
    return flags.argmax(axis=-1), flags.any(axis=-1)


class RandomPolicy(ArrayPolicy):
    """Uniform over the legal actions (the leaderboard's zero)."""

    name = "random"

    def act_arrays(self, obs, mask):
        return (self.rng.random(mask.shape) * mask).argmax(axis=-1)


class GreedyPolicy(ArrayPolicy):
    """Run the first runnable job at full power; otherwise idle. Blind to energy, heat and deadlines."""

    name = "greedy"

    def act_arrays(self, obs, mask):
        top = self.actions.P - 1
        legal = mask[..., self.actions.run(np.arange(self.actions.K), top)] > 0
        k, any_job = first_true(legal)
        return np.where(any_job, self.actions.run(k, top), self.actions.IDLE)


HEURISTICS: dict[str, type[ArrayPolicy]] = {p.name: p for p in (RandomPolicy, GreedyPolicy)}


def make_policy(name: str, env, seed: int | None = None) -> ArrayPolicy:
    """A heuristic by name for ``env``; unknown names list the known ones."""
    if name not in HEURISTICS:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(HEURISTICS)}")
    policy = HEURISTICS[name].for_env(env)
    policy.reset(seed)
    return policy
