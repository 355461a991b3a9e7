"""Zero-shot: a universal-layout policy on constellations of sizes it never trained on.

For each scenario, the walker constellation is resized to ``factor`` x its satellites per plane (half and
double by default; planes, altitude, workload and everything else unchanged), and the policy is compared,
per seed, with the named heuristics on the same episodes (``train.ppo_scratch.paired``: delivered value and
the paired difference with its 95% bootstrap interval). Issue 13's must-hold is "at least edf-safe's level".

    python -m train.zero_shot leaderboard/submissions/ppo-advised/policy.json --scenarios radiation-saa-16 --seeds 1000-1009
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

from orbit_env.scenario import load_scenario
from train.evaluate import seed_range
from train.export import atomic_write_bytes
from train.ppo_scratch import paired

FACTORS = (0.5, 2.0)  # half and double the satellites


def resized(scenario: str, factor: float) -> dict[str, int]:
    """The override that gives ``scenario`` ``factor`` x its satellites per plane (a walker scenario only)."""
    orbit = load_scenario(scenario).orbit
    if orbit.kind != "walker":
        raise ValueError(f"{scenario}: only walker constellations are resized (its orbit kind is {orbit.kind!r})")
    return {"orbit.sats_per_plane": max(1, round(orbit.sats_per_plane * factor))}


def zero_shot(spec: str | Path, scenarios: Sequence[str], seeds: Sequence[int], heuristics: Sequence[str], factors=FACTORS) -> list[dict]:
    """One row per (scenario, factor): the satellites, and ``paired``'s values for the policy and each heuristic."""
    rows = []
    for scenario in scenarios:
        for factor in factors:
            override = resized(scenario, factor)
            n = load_scenario(scenario, override).orbit
            rows.append({"scenario": scenario, "factor": factor, "satellites": n.planes * n.sats_per_plane, "overrides": override,
                         "paired": paired(spec, scenario, seeds, heuristics, override)})  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.zero_shot", description=__doc__.split("\n\n")[0])
    p.add_argument("spec", help="policy.json of a universal-sets policy")
    p.add_argument("--scenarios", required=True, help="comma-separated walker scenarios")
    p.add_argument("--seeds", default="1000-1009", help="inclusive range (default: the first ten test seeds)")
    p.add_argument("--heuristics", default="edf-safe,balance")
    p.add_argument("--factors", default="0.5,2", help="comma-separated multipliers of the satellites per plane")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    factors = tuple(float(f) for f in args.factors.split(","))
    rows = zero_shot(args.spec, args.scenarios.split(","), seed_range(args.seeds), args.heuristics.split(","), factors)
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(rows, indent=1) + "\n").encode())
    names = args.heuristics.split(",")
    print(f"seeds {args.seeds}; delivered value (mean) and policy - heuristic per seed, mean [95% CI]")
    print("| scenario | satellites | policy | " + " | ".join(names) + " |\n|---|---:|---:|" + "---:|" * len(names))
    for r in rows:
        cells = [f"{r['paired'][h]['mean']:.1f}: {r['paired'][h]['diff']:+.1f} [{r['paired'][h]['lo']:+.1f}, {r['paired'][h]['hi']:+.1f}]" for h in names]
        print(f"| {r['scenario']} x{r['factor']:g} | {r['satellites']} | {r['paired']['policy']['mean']:.1f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
