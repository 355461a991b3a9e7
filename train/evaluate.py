"""Side-by-side evaluation of a trained policy and the heuristics, also on scenario variants (zero-shot).

The leaderboard scores the suite's scenarios; this answers "how does the policy do on a constellation
it was not trained on" (more or fewer satellites, other overrides) with the leaderboard's statistics:
delivered value per episode, normalised so that random = 0 and the suite's reference heuristic = 100,
and the mean score with its 95% bootstrap confidence interval (the board's per-scenario column).

    python -m train.evaluate leaderboard/submissions/ppo-bc/three-body-12.json \\
        --scenario three-body-12 --set orbit.sats_per_plane=6 --seeds 1000-1009
"""

from __future__ import annotations

import argparse
import tomllib
from typing import Any, Callable, Sequence

import numpy as np

from agents.heuristics import REFERENCE, make_policy
from agents.learned import load_policy
from agents.policy import play
from leaderboard.stats import mean, normalise, stratified_bootstrap
from orbit_env.batch import BatchEnv


def delivered(scenario: str, overrides: dict[str, Any], make: Callable[[BatchEnv], Any], seeds: Sequence[int]) -> np.ndarray:
    """Delivered value of each seeded episode (the leaderboard's metric). All seeds run as one BatchEnv,
    the policy acting on (episodes, satellites) arrays; each equals its episode run alone."""
    env = BatchEnv(scenario, len(seeds), overrides=overrides, autoreset_mode="disabled")
    return play(make(env), env, seeds)["delivered_value"]


def compare(spec: str, scenario: str, overrides: dict[str, Any], seeds: Sequence[int], heuristics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per policy: mean delivered value and the mean normalised score with its 95% CI."""
    raw = {name: delivered(scenario, overrides, lambda e, n=name: make_policy(n, e), seeds) for name in heuristics}
    raw["ppo"] = delivered(scenario, overrides, lambda e: load_policy(spec, e), seeds)
    n_sats = BatchEnv(scenario, overrides=overrides).n_agents
    zero, ref = raw["random"].mean(), raw[REFERENCE].mean()
    rows = []
    for name, values in raw.items():
        point, lo, hi = stratified_bootstrap([normalise(values, zero, ref)], mean)
        rows.append({"policy": name, "n_sats": n_sats, "delivered": float(values.mean()), "score": point, "lo": lo, "hi": hi})
    return rows


def seed_range(text: str) -> list[int]:
    """The seeds of an inclusive range such as "1000-1009", or of a single seed such as "7"."""
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("spec", help="policy.json of the trained policy")
    p.add_argument("--scenario", default="three-body-12")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="scenario override, e.g. orbit.sats_per_plane=6")
    p.add_argument("--seeds", default="1000-1009", help="seed range, e.g. 1000-1009 (the suite's test seeds)")
    p.add_argument("--heuristics", default="random,greedy,edf,edf-safe,edf-ckpt,balance")
    args = p.parse_args(argv)
    overrides = {k: tomllib.loads(f"v = {v}")["v"] for k, _, v in (s.partition("=") for s in args.set)}
    names = list(dict.fromkeys(["random", REFERENCE, *args.heuristics.split(",")]))
    rows = compare(args.spec, args.scenario, overrides, seed_range(args.seeds), names)
    print(f"{args.scenario} {' '.join(args.set)} seeds {args.seeds} ({rows[0]['n_sats']} satellites)")
    print("| policy | delivered value (mean) | score, mean [95% CI] |\n|---|---|---|")
    for r in sorted(rows, key=lambda r: -r["score"]):
        print(f"| {r['policy']} | {r['delivered']:.2f} | {r['score']:.1f} [{r['lo']:.1f}, {r['hi']:.1f}] |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
