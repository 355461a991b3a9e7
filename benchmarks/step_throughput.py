"""Env throughput per scenario with random legal actions, against PettingZoo's simple_spread_v3 (mpe2).

Prints, for each scenario: env steps/s, satellite-steps/s, reset time, a new env's construction and
reset from a warm disk cache, ephemeris build time cold and cached, peak memory; and simple_spread with as many agents as three-body-12 for a ratio.
Times are CPU seconds of this process (time.process_time), so a busy second core disturbs them less.

    python benchmarks/step_throughput.py                 # all shipped scenarios
    python benchmarks/step_throughput.py --steps 500 three-body-12
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import warnings

import numpy as np

from orbit_env.conformance import random_legal_actions
from orbit_env.env import OrbitComputeEnv
from orbit_env import ephemeris
from orbit_env.ephemeris import load_ephemeris
from orbit_env.scenario import load_scenario, shipped_scenarios

TARGETS = {"three-body-12": 2000, "walker-160": 1000, "starcloud-shell-1000": 150}


def cpu_timed(fn):
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def bench_scenario(name: str, steps: int, seed: int = 0) -> dict:
    scenario = load_scenario(name)
    with tempfile.TemporaryDirectory() as cache:
        _, cold = cpu_timed(lambda: load_ephemeris(scenario, cache_dir=cache))
        ephemeris._MEMO.clear()  # measure the disk cache, not the in-process copy
        _, warm = cpu_timed(lambda: load_ephemeris(scenario, cache_dir=cache))
        ephemeris._MEMO.clear()
        env, make_s = cpu_timed(lambda: OrbitComputeEnv(name, cache_dir=cache))
    _, reset_s = cpu_timed(lambda: env.reset(seed=seed))
    rng = np.random.default_rng(seed)
    n = min(steps, env.max_cycles)

    def run():
        for _ in range(n):
            env.step(random_legal_actions(env, rng))

    _, run_s = cpu_timed(run)
    return {
        "scenario": name,
        "sats": env.params.n_sats,
        "steps/s": n / run_s,
        "sat-steps/s": n * env.params.n_sats / run_s,
        "reset s": reset_s,
        "make+reset s": make_s + reset_s,
        "eph cold s": cold,
        "eph cached s": warm,
    }


def bench_simple_spread(n_agents: int, steps: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mpe2 import simple_spread_v3

    env = simple_spread_v3.parallel_env(N=n_agents, max_cycles=steps + 1)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n_act = env.action_space(env.agents[0]).n

    def run():
        for _ in range(steps):
            env.step({a: int(rng.integers(n_act)) for a in env.agents})

    _, run_s = cpu_timed(run)
    return steps / run_s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", default=shipped_scenarios())
    p.add_argument("--steps", type=int, default=1000, help="steps per scenario (capped at max_cycles)")
    args = p.parse_args()
    spread = bench_simple_spread(12, min(args.steps, 500))
    print(f"{'scenario':<22}{'sats':>6}{'steps/s':>10}{'sat-steps/s':>13}{'reset s':>9}{'new env s':>11}{'eph cold s':>12}{'eph cached s':>14}"
          f"{'vs spread':>11}{'target':>8}")
    for name in args.scenarios:
        r = bench_scenario(name, args.steps)
        target = TARGETS.get(name)
        print(f"{name:<22}{r['sats']:>6}{r['steps/s']:>10.0f}{r['sat-steps/s']:>13.0f}{r['reset s']:>9.3f}{r['make+reset s']:>11.2f}{r['eph cold s']:>12.2f}"
              f"{r['eph cached s']:>14.3f}{r['steps/s'] / spread:>10.1f}x{(str(target) if target else '-'):>8}", flush=True)
    print(f"\nmpe2 simple_spread_v3, 12 agents: {spread:.0f} steps/s")
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
