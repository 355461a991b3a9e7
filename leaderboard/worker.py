"""The evaluation worker: a separate process that builds policies and runs batches of episodes.

The evaluator starts it as ``python -m leaderboard.worker`` and talks to it in JSON lines: the worker
says ``{"ready": true, "env": <env hash>}`` once started (the evaluator checks that the env it imported
is the one results are keyed by), then gets one task per line on stdin (``{"id", "entry", "scenario",
"seeds", "max_cycles"}``): the episodes of those seeds, run together as one ``BatchEnv`` (one array
program; episode b equals, bit for bit, the single env reset with ``seeds[b]``, and a policy reset with
the seeds draws for each episode from that episode's own generator, so a row does not depend on the batch
it ran in). For each task it says ``{"built": id}`` once the scenario is built (the time limit counts from
then: building a scenario on a cold cache is not the policy's time), then replies ``{"id", "status":
"ok", "metrics": [one dict per seed, in order]}``, ``{"id", "status": "failed", "reason"}`` (the policy's
failure, on the batch as a whole) or ``{"id", "status": "error", "reason"}`` (the scenario could not be
built: the evaluation's). Policy files are opened only here. Whatever a policy prints goes to stderr, so
it cannot corrupt the protocol; an exception or malformed actions become a failed reply; if the process
dies or hangs, the evaluator notices and records that instead.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np

from agents.heuristics import make_policy
from agents.policy import ArrayPolicy, play
from leaderboard.metrics import episode_metrics
from leaderboard.suite import env_hash
from orbit_env.batch import BatchEnv
from orbit_env.env import OrbitComputeEnv


class PolicyError(Exception):
    """The policy misbehaved; the message is the recorded reason."""


def build_policy(entry: dict[str, Any], env: BatchEnv) -> ArrayPolicy:
    """The entry's policy for ``env``: a shipped heuristic, or network weights read by agents.learned."""
    if entry["kind"] in ("baseline", "heuristic"):
        return make_policy(entry["heuristic"], env, **entry["params"])
    if entry["kind"] == "safetensors":  # spec and weights: regular files inside the submission folder only
        from agents.learned import load_policy

        rel = entry["specs"].get(env.scenario.name, entry["specs"]["*"])
        return load_policy(rel, env, root=entry["folder"])
    raise PolicyError(f"unknown entry kind {entry['kind']!r}")


def check_actions(actions: Any, n_envs: int, n_agents: int, n_actions: int, t: int) -> np.ndarray:
    """The actions as a (B, N) int64 array, or PolicyError saying how they are wrong."""
    a = np.asarray(actions)
    if a.shape != (n_envs, n_agents) or a.dtype.kind not in "iu":
        raise PolicyError(
            f"wrong actions at step {t}: expected {n_envs} x {n_agents} integers (episodes x satellites, "
            f"shape ({n_envs}, {n_agents})), got {a.dtype} with shape {a.shape}"
        )
    bad = (a < 0) | (a >= n_actions)
    if bad.any():
        b, i = np.argwhere(bad)[0]
        raise PolicyError(f"wrong actions at step {t}: action {int(a[b, i])} of agent {i} in episode {b} is outside Discrete({n_actions})")
    return a.astype(np.int64)


def run_episodes(env: BatchEnv, policy: ArrayPolicy, seeds: Sequence[int]) -> list[dict[str, float]]:
    """The seeded episodes of ``env`` (one per seed) run to their end together; the metrics of each, in
    order. The policy gets (B, N, ...) read-only views of the observations and masks, so it cannot alter the env."""
    B, N, A = env.num_envs, env.n_agents, env.n_actions
    play(policy, env, seeds, read_only=True, check=lambda actions, t: check_actions(actions, B, N, A, t))
    return episode_metrics(env)


def run_episode(env: OrbitComputeEnv, policy: ArrayPolicy, seed: int) -> dict[str, float]:
    """One seeded episode of a single env (its BatchEnv of one) and its metrics."""
    return run_episodes(env.batch, policy, [seed])[0]


def _where(exc: BaseException) -> str:
    """'ExcType: message (file:line)' of the innermost frame."""
    tb = traceback.extract_tb(exc.__traceback__)
    loc = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{loc}"


class Worker:
    """Caches one env per (scenario, horizon) with the batch size it last ran, and one policy per (entry, scenario)."""

    def __init__(self):
        self.envs: dict[tuple[str, int], BatchEnv] = {}
        self.policies: dict[tuple[str, str], ArrayPolicy] = {}

    def run(self, task: dict[str, Any], built: Callable[[], None] = lambda: None) -> dict[str, Any]:
        """The reply to one task; ``built()`` is called once the scenario is built (the time limit counts
        from then). A scenario that cannot be built is the evaluation's failure (status ``error``), not the
        policy's."""
        entry, scenario, seeds = task["entry"], task["scenario"], task["seeds"]
        key = (scenario, task["max_cycles"])
        try:
            if key not in self.envs or self.envs[key].num_envs != len(seeds):
                self.envs.pop(key, None)  # one batch of a scenario in memory at a time
                self.envs[key] = BatchEnv(scenario, len(seeds), max_cycles=task["max_cycles"], autoreset_mode="disabled")
        except Exception as e:  # noqa: BLE001
            return {"status": "error", "reason": f"could not build scenario {scenario}: {_where(e)}"}
        built()
        env = self.envs[key]
        pkey = (json.dumps(entry, sort_keys=True), scenario)
        try:
            if pkey not in self.policies:
                self.policies[pkey] = build_policy(entry, env)
        except Exception as e:  # noqa: BLE001 - any failure to load is the submission's, and is recorded
            return {"status": "failed", "reason": f"could not load the policy: {_where(e)}"}
        try:
            return {"status": "ok", "metrics": run_episodes(env, self.policies[pkey], seeds)}
        except PolicyError as e:
            return {"status": "failed", "reason": str(e)}
        except Exception as e:  # noqa: BLE001
            at = f" at step {int(env.t[0])}" if env.sim is not None else ""
            return {"status": "failed", "reason": f"crashed{at}: {_where(e)}"}


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker when the evaluator dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the evaluator died before prctl took effect
            sys.exit(0)


def main() -> None:
    """Serve tasks until stdin closes. The protocol uses a private copy of stdout; fd 1 becomes stderr."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the evaluator's: it stops the workers, records nothing for them
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    def say(message: dict[str, Any]) -> None:
        proto.write(json.dumps(message) + "\n")
        proto.flush()

    say({"ready": True, "env": env_hash()})
    worker = Worker()
    for line in sys.stdin:
        task = json.loads(line)
        reply = worker.run(task, lambda: say({"built": task["id"]}))
        say({"id": task["id"], **reply})


if __name__ == "__main__":
    main()
