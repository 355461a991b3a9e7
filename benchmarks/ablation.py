"""Does each suite v2 scenario's constraint bind? A paired ablation per scenario, and the heuristics' spread.

For every v2 scenario, the policy blind to the scenario's constraint and the policy that respects it run
on the same seeds (same start time, jobs and random stream). Printed per scenario: each policy's mean
value delivered in the measurement window, the mean paired difference (aware - blind) with a 95% interval
(Student t on the paired differences), the Wilcoxon signed-rank p-value and a sign-flip permutation
p-value, and the spread of the best four heuristics (issue 10: they must not sit within 0.5%).

The score is the env's ``metrics()["window_value"]``: the value delivered in the scenario's measurement
window (``episode.measure_start_h`` / ``measure_end_h``) of a warm-started episode (``episode.warmup_h``).

    python benchmarks/ablation.py [--seeds 0-19] [--scenarios heat-radiator-16 ...] [--all-policies] [--relax]
                                  [--other-seeds 0-5] [--workers 2]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from agents.heuristics import HEURISTICS, make_policy
from leaderboard.worker import run_episode
from orbit_env.env import OrbitComputeEnv


@dataclass(frozen=True)
class Ablation:
    """A v2 scenario's binding-constraint test: ``aware`` must beat ``blind`` on paired seeds."""

    scenario: str
    constraint: str
    blind: str
    aware: str
    relax: tuple[tuple[str, object], ...] = ()  # overrides that lift the constraint (the aware policy reruns with them)


WIDE_GROUND = ("Wallops", "Hartebeesthoek", "Singapore", "PuntaArenas", "Awarua", "Maspalomas",
               "Kourou", "Dongara", "Malindi", "SouthPoint", "Fairbanks", "SvalSat")  # walker-160's 12 stations
ABLATIONS: tuple[Ablation, ...] = (
    Ablation("heat-radiator-16", "heat", "edf", "edf-safe", (("hardware.radiator_area_m2", 4.0),)),
    Ablation("energy-eclipse-24", "energy", "edf", "edf-safe", (("hardware.solar_area_m2", 8.0), ("hardware.battery_wh", 2100.0))),
    Ablation("radiation-saa-16", "radiation", "edf-safe", "edf-ckpt", (("radiation.upsets_per_gpu_day", 0.0),)),
    Ablation("contacts-relay-24", "contacts", "edf-ckpt", "balance", (("ground.stations", WIDE_GROUND), ("ground.uplink_gbps", 2.0), ("ground.downlink_gbps", 2.0))),
    Ablation("combined-walker-120", "combined", "edf", "balance", (("hardware.solar_area_m2", 8.0), ("hardware.battery_wh", 2100.0),
             ("hardware.radiator_area_m2", 4.0), ("radiation.upsets_per_gpu_day", 0.0))),
)


def heuristic_episode(scenario: str, policy: str, seed: int, overrides: dict | None = None) -> dict:
    """One episode of a heuristic: window value, a few totals, and the wall and CPU time of reset + steps
    (CPU time is the budget's measure on a shared machine; the ephemeris comes from the disk cache)."""
    env = OrbitComputeEnv(scenario, overrides=overrides)
    t0, c0 = time.perf_counter(), time.process_time()
    run_episode(env, make_policy(policy, env, seed=seed), seed)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    m = env.metrics()
    keys = ("delivered_value", "safe_mode_entries", "thermal_shutdowns", "upsets", "throttled_steps", "work_lost_s", "busy_gpu_s", "energy_gpu_wh")
    return {"value": float(m["window_value"]), "wall_s": wall, "cpu_s": cpu, **{k: float(m[k]) for k in keys}}


def paired_stats(diff: np.ndarray, n_perm: int = 20000, seed: int = 0) -> dict:
    """Mean paired difference, its 95% t-interval, Wilcoxon and sign-flip permutation p-values (two-sided)."""
    from scipy import stats

    n = len(diff)
    mean = float(diff.mean())
    half = float(stats.t.ppf(0.975, n - 1) * diff.std(ddof=1) / np.sqrt(n)) if n > 1 else np.inf
    wil = float(stats.wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    signs = np.random.default_rng(seed).choice((-1.0, 1.0), size=(n_perm, n))
    perm = float((np.abs((signs * diff).mean(axis=1)) >= abs(mean) - 1e-12).mean())
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "p_wilcoxon": wil, "p_perm": max(perm, 1.0 / n_perm)}


def top_spread(means: dict[str, float], k: int = 4) -> tuple[list[str], float]:
    """The best ``k`` policies by mean and the relative gap between the best and the k-th."""
    best = sorted(means, key=means.get, reverse=True)[:k]
    top = means[best[0]]
    return best, (top - means[best[-1]]) / abs(top) if top else 0.0


def _job(args):
    scenario, policy, seed, relax = args
    overrides = {k: list(v) if isinstance(v, tuple) else v for k, v in relax}  # tuples keep the job key hashable
    return args, heuristic_episode(scenario, policy, seed, overrides or None)


def report(a: Ablation, rest: list[str], seeds: list[int], others: list[int], results: dict, args) -> None:
    """Print one scenario's policies, its ablation and the top-four spread (over the seeds all policies share)."""
    row = lambda pol, ss: [results[(a.scenario, pol, s, ())] for s in ss]  # noqa: E731
    rows = {pol: row(pol, seeds) for pol in (a.blind, a.aware)}
    print(f"\n== {a.scenario} (constraint: {a.constraint}; seeds {args.seeds}"
          f"{'' if others == seeds else f', other policies on {args.other_seeds}'})")
    for pol, r in {**rows, **{pol: row(pol, others) for pol in rest}}.items():
        col = lambda k: np.mean([x[k] for x in r])  # noqa: E731
        print(f"  {pol:<9} (n={len(r):2d}) value {col('value'):9.2f}  safe-mode {col('safe_mode_entries'):6.1f}  shutdowns {col('thermal_shutdowns'):6.1f}"
              f"  upsets {col('upsets'):5.1f}  lost {col('work_lost_s') / 3600:7.2f} GPU-h  cpu {col('cpu_s'):5.2f} s")
    diff = np.array([x["value"] for x in rows[a.aware]]) - np.array([x["value"] for x in rows[a.blind]])
    st = paired_stats(diff)
    aware_mean = np.mean([x["value"] for x in rows[a.aware]])
    print(f"  ablation {a.aware} - {a.blind}: {st['mean']:+.2f} ({st['mean'] / aware_mean:+.1%} of {a.aware}), "
          f"95% CI [{st['lo']:+.2f}, {st['hi']:+.2f}], wins {int((diff > 0).sum())}/{len(diff)}, "
          f"p Wilcoxon {st['p_wilcoxon']:.2g}, p sign-flip {st['p_perm']:.2g}")
    if args.relax:
        lifted = np.array([results[(a.scenario, a.aware, s, a.relax)]["value"] for s in others])
        aware = np.array([x["value"] for x in row(a.aware, others)])
        print(f"  {a.aware} with the constraint lifted ({', '.join(f'{k}={v}' for k, v in a.relax)}): "
              f"{lifted.mean():.2f}, {lifted.mean() / aware.mean() - 1:+.1%}: what the constraint costs the aware policy")
    if args.all_policies:
        means = {pol: float(np.mean([x["value"] for x in row(pol, others)])) for pol in (a.blind, a.aware, *rest) if pol != "random"}
        best, spread = top_spread(means)
        print(f"  top four (random excluded, seeds {args.other_seeds or args.seeds}): "
              f"{', '.join(f'{b} {means[b]:.2f}' for b in best)}; best - fourth = {spread:.1%} of the best")
    print(flush=True)


def main(argv=None) -> int:
    from train.evaluate import seed_range

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0-19", help="dev seeds, e.g. 0-19")
    p.add_argument("--scenarios", nargs="*", default=[a.scenario for a in ABLATIONS])
    p.add_argument("--all-policies", action="store_true", help="also run every other heuristic (for the top-4 spread)")
    p.add_argument("--relax", action="store_true", help="also rerun the aware policy with the constraint lifted")
    p.add_argument("--other-seeds", help="seeds for the other heuristics and the lifted rerun (default: --seeds)")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    seeds = seed_range(args.seeds)
    others = seed_range(args.other_seeds) if args.other_seeds else seeds
    if not set(others) <= set(seeds):
        p.error(f"--other-seeds {args.other_seeds} must lie within --seeds {args.seeds} (the ablation pair runs on those)")
    ablations = [a for a in ABLATIONS if a.scenario in args.scenarios]
    with ProcessPoolExecutor(args.workers) as ex:
        for a in ablations:  # one scenario at a time, printed as soon as it is done
            rest = [p for p in HEURISTICS if p not in (a.blind, a.aware)] if args.all_policies else []
            jobs = [(a.scenario, pol, s, ()) for pol in (a.blind, a.aware) for s in seeds]
            jobs += [(a.scenario, pol, s, ()) for pol in rest for s in others]
            jobs += [(a.scenario, a.aware, s, a.relax) for s in others] if args.relax else []
            results = dict(ex.map(_job, jobs, chunksize=1))
            report(a, rest, seeds, others, results, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
