"""The planning baseline against the heuristics: paired window_value, solve times and program sizes per horizon.

    PYTHONPATH=$PWD python benchmarks/planner.py --scenarios heat-radiator-16 --seeds 0-1 --steps 300 --horizons 1 2

Per scenario and seed, edf-safe and balance and the planner at each horizon (orbits) run the same episode;
it prints each policy's mean window_value, the planner's paired difference from the better heuristic (mean
and per-seed), the median and p99 of its solve times, its median program size and its wall time per episode.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from agents.heuristics import make_policy
from agents.policy import play
from leaderboard.suite import V2_TASKS
from orbit_env.env import OrbitComputeEnv

HEURISTICS = ("edf-safe", "balance")


def seeds_arg(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def run(env, policy, seed: int) -> tuple[float, float]:
    """(window_value, wall seconds) of one episode; planners get the forecast (agents.policy.act_on)."""
    t0 = time.perf_counter()
    value = play(policy, env.batch, [seed])["window_value"][0]
    return float(value), time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenarios", nargs="+", default=[t.scenario for t in V2_TASKS])
    p.add_argument("--seeds", type=seeds_arg, default=seeds_arg("0-1"))
    p.add_argument("--steps", type=int, default=None, help="episode length (default the scenario's)")
    p.add_argument("--horizons", type=float, nargs="+", default=[1.0, 2.0], help="planner horizons in orbits")
    p.add_argument("--policy", default="planner", choices=("planner", "planner-central"))
    args = p.parse_args()
    for sc in args.scenarios:
        env = OrbitComputeEnv(sc, max_cycles=args.steps)
        value = {h: np.array([run(env, make_policy(h, env), s)[0] for s in args.seeds]) for h in HEURISTICS}
        best = max(HEURISTICS, key=lambda h: value[h].mean())
        print(f"{sc} ({env.params.n_sats} sats, {env.max_cycles} steps, seeds {args.seeds}): "
              + ", ".join(f"{h} {value[h].mean():.1f}" for h in HEURISTICS), flush=True)  # fmt: skip
        for hor in args.horizons:
            vals, walls, stats = [], [], []
            for s in args.seeds:
                pol = make_policy(args.policy, env, horizon_orbits=hor)
                v, wall = run(env, pol, s)
                vals.append(v)
                walls.append(wall)
                stats += pol.stats
            d = np.array(vals) - value[best]
            secs = np.array([x[2] for x in stats if np.isfinite(x[2])]) * 1e3
            print(f"  {args.policy} {hor:g} orbit(s) ({pol.forecast_steps} steps): {np.mean(vals):.1f}, vs {best} {d.mean():+.1f} "
                  f"(per seed {', '.join(f'{x:+.1f}' for x in d)}); {len(stats)} solves, median {np.median(secs):.1f} ms, "
                  f"p99 {np.percentile(secs, 99):.1f} ms, {int(np.median([x[1] for x in stats]))} variables, "
                  f"{np.mean(walls):.0f} s per episode, fallbacks {pol.fallbacks}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
