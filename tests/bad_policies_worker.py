"""The leaderboard worker with misbehaving heuristics registered: what a broken or malicious policy does
from inside the worker process. Used by tests/test_leaderboard.py as the evaluator's worker command."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from agents.heuristics import HEURISTICS, GreedyPolicy  # noqa: E402
from leaderboard import worker  # noqa: E402


class Misbehaving(GreedyPolicy):
    """Acts greedily, then misbehaves from the third step on."""

    def reset(self, seed=None):
        super().reset(seed)
        self.steps = 0

    def act_arrays(self, obs, mask):
        self.steps += 1
        actions = super().act_arrays(obs, mask)
        return self.misbehave(actions) if self.steps >= 3 else actions


class Raises(Misbehaving):
    name = "raises"

    def misbehave(self, actions):
        raise RuntimeError("the policy blew up")


class WrongShape(Misbehaving):
    name = "wrong-shape"

    def misbehave(self, actions):
        return actions[:-1]


class OutOfRange(Misbehaving):
    name = "out-of-range"

    def misbehave(self, actions):
        return np.full_like(actions, self.actions.n)


class Dies(Misbehaving):
    name = "dies"

    def misbehave(self, actions):
        print("about to exit", file=sys.stderr, flush=True)
        os._exit(3)


class Hangs(Misbehaving):
    name = "hangs"

    def misbehave(self, actions):
        time.sleep(3600)


class Chatty(GreedyPolicy):
    """Prints to stdout every step: must not corrupt the worker's protocol."""

    name = "chatty"

    def act_arrays(self, obs, mask):
        print('{"id": 0, "status": "ok", "metrics": {}}')
        return super().act_arrays(obs, mask)


HEURISTICS.update({p.name: p for p in (Raises, WrongShape, OutOfRange, Dies, Hangs, Chatty)})

if __name__ == "__main__":
    worker.main()
