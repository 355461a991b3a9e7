"""What an upper bound (leaderboard/bound.py) costs per v2 scenario, against an earlier version of the solver.

For each scenario, on the first seeds of its test split: CPU seconds per bound of the earlier solver (its
``leaderboard/bound.py`` read from git, default the one the v2 board was solved with) and of the current
one, each at its default buckets, and the ratio; the mean bound of each and the largest relative increase
over the seeds both solved to optimality (a looser bound lowers the board's scores; a solver stopped by
its time limit returns the looser per-job bound, so the statuses are printed too); the CPU seconds of the
env reset that every bound also pays, one at a time and per seed when the seeds reset as one batch (as
``leaderboard.bound_rows`` does). CPU time (``time.process_time``), so other processes on the
machine matter less than for wall time.

    PYTHONPATH=$PWD python benchmarks/bound_cost.py [--scenarios heat-radiator-16] [--seeds 5] [--before REV]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

from leaderboard import bound
from leaderboard.suite import get_suite
from orbit_env.batch import BatchEnv
from orbit_env.env import OrbitComputeEnv

BEFORE = "68b8f61"  # the commit that solved the v2 board's 234 bounds (docs/scenarios-v2.md)
ROOT = Path(__file__).resolve().parents[1]


def solver_at(rev: str) -> types.ModuleType:
    """``leaderboard/bound.py`` as of git revision ``rev``, as a module."""
    try:
        source = subprocess.run(["git", "show", f"{rev}:leaderboard/bound.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"--before {rev}: cannot read leaderboard/bound.py at that revision ({e}); give a commit of this repository") from None
    module = types.ModuleType(f"bound_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:leaderboard/bound.py", "exec"), module.__dict__)  # noqa: S102 - this repository's own file
    return module


def timed(solver: types.ModuleType, env) -> tuple[float, float, str]:
    """(CPU seconds, bound, status) of ``solver`` on the episode ``env`` was just reset to."""
    t0 = time.process_time()
    ep = solver.episode_of(env)
    b = solver.solve(ep, solver.default_bucket_steps(ep))
    return time.process_time() - t0, b.value, b.status


def main(argv=None) -> int:
    suite = get_suite("v2")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", nargs="+", default=list(suite.scenarios))
    p.add_argument("--seeds", type=int, default=5, help="the first N test seeds of each scenario")
    p.add_argument("--before", default=BEFORE, help="git revision of the solver to compare with")
    args = p.parse_args(argv)
    before = solver_at(args.before)
    tasks = {t.scenario: t for t in suite.tasks}
    print(f"{'scenario':<21}{'seeds':>6}{'reset s':>9}{'batched':>9}{'before s':>10}{'after s':>9}{'ratio':>7}{'bound before':>14}{'after':>10}{'max rise':>10}  statuses")
    total = np.zeros(4)
    for scenario in args.scenarios:
        task = tasks[scenario]
        env = OrbitComputeEnv(scenario, max_cycles=task.max_cycles)
        rows = []
        for seed in task.test_seeds[: args.seeds]:
            t0 = time.process_time()
            env.reset(seed=seed)
            reset_s = time.process_time() - t0
            rows.append((reset_s, *timed(before, env), *timed(bound, env)))
        reset_s, s0, v0, st0, s1, v1, st1 = zip(*rows)
        seeds = list(task.test_seeds[: args.seeds])
        t0 = time.process_time()
        BatchEnv(scenario, len(seeds), max_cycles=task.max_cycles, autoreset_mode="disabled").reset(seed=seeds)
        batched_s = (time.process_time() - t0) / len(seeds)
        both = np.array([a.startswith("optimal") and b.startswith("optimal") for a, b in zip(st0, st1)])
        rise = np.array(v1)[both] / np.array(v0)[both] - 1 if both.any() else np.array([np.nan])
        statuses = "; ".join(f"{name}: " + ", ".join(f"{st.count(x)} {x[:40]}" for x in sorted(set(st))) for name, st in (("before", st0), ("after", st1)))
        print(
            f"{scenario:<21}{len(rows):>6}{np.mean(reset_s):>9.2f}{batched_s:>9.2f}{np.mean(s0):>10.2f}{np.mean(s1):>9.2f}{np.mean(s0) / np.mean(s1):>7.1f}"
            f"{np.mean(v0):>14.2f}{np.mean(v1):>10.2f}{rise.max():>10.3%}  {statuses}",
            flush=True,
        )
        total += np.array([np.mean(reset_s), batched_s, np.mean(s0), np.mean(s1)]) * len(task.test_seeds)
    print(
        f"all test seeds of these scenarios (per-seed means x seeds), CPU-s: resets one at a time {total[0]:.0f}, batched {total[1]:.0f}; "
        f"bounds before {total[2]:.0f}, after {total[3]:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
