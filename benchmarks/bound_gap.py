"""How far below the upper bound (leaderboard/bound.py) do the shipped heuristics stay?

For each scenario and seed: the bound, the best heuristic's ``window_value`` (``delivered_value`` before
the measurement window exists), the headroom (1 - best / bound) and the bound's solve time and size.

    PYTHONPATH=$PWD python benchmarks/bound_gap.py [--scenarios three-body-12 starcloud-1] [--seeds 0-2]
        [--max-cycles N] [--policies edf-safe balance]
"""

from __future__ import annotations

import argparse

import numpy as np

from agents.heuristics import HEURISTICS, make_policy
from leaderboard.bound import episode_bound
from leaderboard.worker import run_episode
from orbit_env.env import OrbitComputeEnv
from train.evaluate import seed_range

V1 = ("three-body-12", "suncatcher-81", "walker-160", "starcloud-1")


def window_value(env: OrbitComputeEnv) -> float:
    m = env.metrics()
    return m.get("window_value", m["delivered_value"])


def heuristic_values(scenario: str, seed: int, policies, max_cycles: int | None = None) -> dict[str, float]:
    """window_value of each heuristic on one seeded episode."""
    env = OrbitComputeEnv(scenario, max_cycles=max_cycles)
    out = {}
    for name in policies:
        run_episode(env, make_policy(name, env, seed=seed), seed)
        out[name] = window_value(env)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", nargs="+", default=list(V1))
    p.add_argument("--seeds", default="0-2", help="inclusive range, e.g. 0-4")
    p.add_argument("--max-cycles", type=int, default=None)
    p.add_argument("--policies", nargs="+", default=[n for n in HEURISTICS if n != "random"])
    args = p.parse_args(argv)
    print(f"{'scenario':<16}{'seed':>5}{'bound':>10}{'best':>10}{'policy':>10}{'headroom':>10}{'solve s':>9}{'vars':>9}{'cons':>8}  status")
    for scenario in args.scenarios:
        gaps = []
        for seed in seed_range(args.seeds):
            b = episode_bound(scenario, seed, max_cycles=args.max_cycles)
            values = heuristic_values(scenario, seed, args.policies, args.max_cycles)
            best = max(values, key=values.get)
            gap = 1.0 - values[best] / b.value if b.value > 0 else float("nan")
            gaps.append(gap)
            print(f"{scenario:<16}{seed:>5}{b.value:>10.2f}{values[best]:>10.2f}{best:>10}{gap:>10.1%}{b.seconds:>9.1f}{b.n_vars:>9}{b.n_cons:>8}  {b.status}", flush=True)
        print(f"{scenario:<16} mean headroom {np.mean(gaps):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
