"""The planners through the leaderboard's command line, end to end, on a tiny suite scored as v2 (per seed between
random and the bound), into a temporary database: what their board shows, and what it costs.

    PYTHONPATH=$PWD python benchmarks/planner_board.py --db /tmp/planner.sqlite --steps 60

The suite ``planner-demo`` is suite v2's first two 16-satellite scenarios cut to ``--steps`` steps, on three test
seeds each; it is registered for this process only. Every baseline runs on the three seeds, the planners on
their first ``leaderboard.entries.PLANNER_SEEDS`` (as on suite v2), then ``orbit-env board`` prints the board.
"""

from __future__ import annotations

import argparse
import time

from leaderboard.suite import BOUND, SUITES, V2, Suite, Task
from orbit_env.cli import main as orbit_env

SCENARIOS = ("heat-radiator-16", "radiation-saa-16")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", default="/tmp/planner.sqlite")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--workers", default="1")
    args = p.parse_args()
    tasks = tuple(Task(t.scenario, args.steps, t.dev_seeds[:3], t.test_seeds[:3]) for t in V2.tasks if t.scenario in SCENARIOS)
    demo = Suite("planner-demo", "suite v2's 16-satellite scenarios, shortened: the planners end to end", tasks, reference=BOUND, metric=V2.metric)
    SUITES[demo.name] = demo
    from agents.heuristics import policy_classes

    common = ["--suite", demo.name, "--db", args.db, "--workers", args.workers]
    t0 = time.perf_counter()
    orbit_env(["evaluate", *policy_classes(), *common, "--quiet"])
    print(f"\nevaluated in {time.perf_counter() - t0:.0f} s; the board:\n", flush=True)
    orbit_env(["board", *common[:4]])


if __name__ == "__main__":
    main()
