"""The planning baseline against the heuristics, scored as suite v2 scores: per-seed scores, paired differences,
solve times and program sizes per horizon and re-planning period.

    PYTHONPATH=$PWD python benchmarks/planner.py --scenarios heat-radiator-16 --seeds 0-1 --steps 240 --horizons 1 2 3

Per scenario the seeds run together (one ``BatchEnv``, as the leaderboard's worker runs them): random, every
heuristic, and the planner at each horizon (orbits) and re-planning period; each episode's upper bound is
``leaderboard.bound.episode_bound`` on the same seed and length. Scores are suite v2's (random on the same seed
= 0, the bound = 100). It prints one Markdown row per planner setting: its mean score, the paired difference
from the best heuristic (the highest mean window value on these seeds) with the board's 95% interval
(``leaderboard.stats.paired_bootstrap``), the median and p99 solve time, the median number of variables, the
solves per satellite-step and the CPU time per episode, and the solves that hit the time limit (solve times
are HiGHS's wall times: on a loaded machine they grow with the load, and so do the time-outs, whose incumbents
make the planner's actions depend on the load).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from agents.heuristics import HEURISTICS, RandomPolicy, make_policy
from agents.policy import play
from leaderboard.bound import episode_bound
from leaderboard.stats import paired_bootstrap
from leaderboard.suite import V2_TASKS
from orbit_env.batch import BatchEnv


def seeds_arg(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def run(env: BatchEnv, policy, seeds: list[int]) -> tuple[np.ndarray, float]:
    """(window_value per seed, CPU seconds of this process per episode: on a shared machine wall time measures the
    load); planners get the forecast (agents.policy.act_on)."""
    t0 = time.process_time()
    value = play(policy, env, seeds)["window_value"]
    return np.asarray(value, float), (time.process_time() - t0) / len(seeds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenarios", nargs="+", default=[t.scenario for t in V2_TASKS])
    p.add_argument("--seeds", type=seeds_arg, default=seeds_arg("0-1"))
    p.add_argument("--steps", type=int, default=None, help="episode length (default the scenario's)")
    p.add_argument("--horizons", type=float, nargs="+", default=[1.0, 2.0], help="planner horizons in orbits")
    p.add_argument("--replan-every", type=int, nargs="+", default=[5], help="planner steps between periodic decisions (at horizon 1 beyond the first)")
    p.add_argument("--policy", default="planner", choices=("planner", "planner-central"))
    args = p.parse_args()
    print("| scenario | policy | horizon (orbits) | replan every | mean score | Δ score vs best heuristic [95% CI] | "
          "solve median (ms) | solve p99 (ms) | variables | solves per sat-step | CPU s per episode |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for sc in args.scenarios:
        env = BatchEnv(sc, len(args.seeds), max_cycles=args.steps, autoreset_mode="disabled")
        bound = np.array([episode_bound(sc, s, max_cycles=env.max_cycles).value for s in args.seeds])
        value = {h: run(env, make_policy(h, env), args.seeds)[0] for h in HEURISTICS}
        zero = value[RandomPolicy.name]

        def score(v):
            return 100.0 * (v - zero) / (bound - zero)

        best = max((h for h in HEURISTICS if h != RandomPolicy.name), key=lambda h: value[h].mean())
        print(f"| {sc} | {best} (best heuristic) | – | – | {score(value[best]).mean():.1f} | – | – | – | – | – | – |", flush=True)
        settings = [(h, args.replan_every[0]) for h in args.horizons] + [(args.horizons[0], r) for r in args.replan_every[1:]]
        for hor, every in settings:
            pol = make_policy(args.policy, env, horizon_orbits=hor, replan_every=every)
            vals, wall = run(env, pol, args.seeds)
            d = paired_bootstrap([score(vals)], [score(value[best])])
            secs = np.array([x[2] for x in pol.stats if np.isfinite(x[2])]) * 1e3
            sat_steps = len(args.seeds) * env.max_cycles * env.n_agents
            solved = sum(x[0] for x in pol.stats)  # satellites planned (a central solve plans several)
            print(f"| {sc} | {args.policy} | {hor:g} | {every} | {score(vals).mean():.1f} | {d[0]:+.1f} [{d[1]:+.1f}, {d[2]:+.1f}] | "
                  f"{np.median(secs):.1f} | {np.percentile(secs, 99):.1f} | {int(np.median([x[1] for x in pol.stats]))} | "
                  f"{solved / sat_steps:.2f} | {wall:.0f} |" + (f" fallbacks {pol.fallbacks}" if pol.fallbacks else "")
                  + (f" time-outs {timeouts}" if (timeouts := sum("time limit" in x[3].lower() for x in pol.stats)) else ""), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
