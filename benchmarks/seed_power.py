"""How many paired test seeds does each suite v2 scenario need to detect a 2% difference with 80% power?

The power of a paired comparison is set by the spread (sd) of the per-seed differences between the two
policies compared. A 2% difference is one between two policies that play almost alike, so the spread that
matters is that of the best baseline against its own near variants: each of its parameters moved by +-50%
(within ``PARAM_RANGES``). Variants that change nothing (sd 0) are skipped; the largest sd over the rest is
used, so the count is conservative. For reference the script also prints the spread against the closest
other baseline: baselines 15-40% apart differ seed by seed far more than policies 2% apart do (their
trajectories diverge more), so that spread overstates the seeds a 2% difference needs.

Everything runs on development seeds (never the test seeds), every policy on all of them at once through
``BatchEnv`` (one array program per policy and scenario). ``leaderboard.stats.seeds_for_power`` turns an sd
into a seed count (paired t-test, two-sided 5%).

    python benchmarks/seed_power.py [--seeds 0-29] [--scenarios radiation-saa-16 ...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from agents.heuristics import HEURISTICS, PARAM_RANGES, heuristic_params, make_policy
from agents.policy import play
from leaderboard.stats import seeds_for_power
from leaderboard.suite import V2_TASKS
from orbit_env.batch import BatchEnv
from orbit_env.env import OrbitComputeEnv


def window_values(scenario: str, seeds: list[int], name: str, params: dict) -> np.ndarray:
    """Per-seed ``window_value`` of one policy, all seeds as one batch."""
    env = BatchEnv(scenario, len(seeds))
    return play(make_policy(name, OrbitComputeEnv(scenario, max_cycles=1), **params), env, seeds)["window_value"]


def variants(name: str) -> list[dict]:
    """The near variants of a heuristic: one parameter at a time moved by -50% and +50%, clipped to its range."""
    out = []
    for key, default in heuristic_params(name).items():
        lo, hi = PARAM_RANGES[key]
        for factor in (0.5, 1.5):
            value = type(default)(np.clip(default * factor, lo, hi)) if default else type(default)(hi * 0.05)
            if value != default:
                out.append({key: value})
    return out


def seed_range(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=seed_range, default=seed_range("0-29"), help="development seeds (default 0-29)")
    p.add_argument("--scenarios", nargs="+", default=[t.scenario for t in V2_TASKS])
    args = p.parse_args()
    for sc in args.scenarios:
        t0 = time.perf_counter()
        base = {name: window_values(sc, args.seeds, name, {}) for name in HEURISTICS if name != "random"}
        order = sorted(base, key=lambda n: base[n].mean(), reverse=True)
        best, level = order[0], base[order[0]].mean()
        d_next = base[order[1]] - base[best]
        rows = []
        for params in variants(best):
            d = window_values(sc, args.seeds, best, params) - base[best]
            if d.std(ddof=1) > 0:
                rows.append((params, d))
        print(f"{sc}: best {best} {level:.1f} GPU-h on {len(args.seeds)} dev seeds ({time.perf_counter() - t0:.0f} s)")
        for params, d in rows:
            print(f"  {best} {params}: {100 * d.mean() / level:+.2f}%, sd {d.std(ddof=1):.1f} -> {seeds_for_power(d.std(ddof=1), level)} seeds")
        need = max((seeds_for_power(d.std(ddof=1), level) for _, d in rows), default=2)
        print(f"  -> {need} test seeds for a 2% difference (largest near-variant spread)")
        print(f"  (closest other baseline {order[1]}: {100 * d_next.mean() / level:+.1f}%, sd {d_next.std(ddof=1):.1f} -> "
              f"{seeds_for_power(d_next.std(ddof=1), level)} seeds)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
