"""How much better than a heuristic could any scheduler do on a scenario? Where does its value go?

Runs a heuristic (default ``balance``) on a scenario's seeds and prints:

- hour by hour, the jobs waiting on the ground, the satellites with no job to run and the ground
  contacts: when the day's contact windows leave the constellation idle, no scheduler can help;
- idle satellite-steps while a linked neighbour (or any satellite) holds a job waiting behind a running
  one: the work better load balancing could still do;
- a relaxed upper bound on delivered value: every job is uplinked as early as the ground allows (a
  rerun with ``--bound-slots`` queue slots, so no queue is ever full), runs alone at full speed and is
  delivered at the first contact of *any* satellite after it finishes. It ignores that jobs compete for
  accelerators, so it over-estimates what any policy can deliver.

and draws the first three episodes hour by hour to ``--out`` (default ``docs/headroom-<scenario>.png``).

    python benchmarks/headroom.py [--scenario three-body-12] [--policy balance] [--seeds 0-4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from agents.heuristics import make_policy  # noqa: E402
from orbit_env.env import OrbitComputeEnv  # noqa: E402
from orbit_env.sim import Place, value_at  # noqa: E402
from train.evaluate import seed_range  # noqa: E402


def profile(scenario: str, policy: str, seed: int) -> dict:
    """One episode of ``policy``: per-step ground backlog, idle satellites, contacts, balancing chances."""
    env = OrbitComputeEnv(scenario)
    env.batch.reset(seed)
    pol = make_policy(policy, env, seed=seed)
    eph, N = env.ephemeris, env.params.n_sats
    rows = {"ground": [], "idle": [], "contacts": [], "idle_nb_waiting": 0, "idle_any_waiting": 0, "idle_total": 0}
    while not env.truncated:
        e = int(env.sim.e0[0] + env.sim.t[0])
        rows["contacts"].append(int(eph.contact[e].sum()))
        env.batch.step(pol.act_arrays(env.observations, env.action_masks)[None])
        s = env.sim
        onboard = np.bincount(np.maximum(s.sat, 0), weights=s.place == Place.ONBOARD, minlength=N + 1)[:N]
        idle = (s.active < 0) & ~s.safe & ~s.thermal_off
        linked = (eph.neighbours >= 0) & eph.isl_up[e]
        nb_waiting = np.where(linked, onboard[np.maximum(eph.neighbours, 0)] >= 2, False).any(axis=1)
        rows["ground"].append(int((s.place == Place.GROUND).sum()))
        rows["idle"].append(int(idle.sum()))
        rows["idle_total"] += int(idle.sum())
        rows["idle_nb_waiting"] += int((idle & nb_waiting).sum())
        rows["idle_any_waiting"] += int(idle.sum()) * bool((onboard >= 2).any())
    rows["delivered"] = env.metrics()["delivered_value"]
    rows["arrived_value"] = float(s.jobs.value[: s.n_arrived[0]].sum())
    rows["sat_speed"], rows["dt"] = env.params.sat_speed, env.params.dt
    return rows


def relaxed_bound(scenario: str, policy: str, seed: int, slots: int) -> float:
    """Delivered value if every job ran alone at full speed from its earliest uplink and reached the ground
    at the next contact of any satellite (see the module docstring): an over-estimate for any policy."""
    env = OrbitComputeEnv(scenario, overrides={"episode.queue_slots": slots})
    env.batch.reset(seed)
    pol = make_policy(policy, env, seed=seed)
    uplinked_at = np.full(len(env.sim.place), np.nan)
    while not env.truncated:
        t_s = int(env.sim.t[0]) * env.params.dt
        env.batch.step(pol.act_arrays(env.observations, env.action_masks)[None])
        aboard = np.isin(env.sim.place, (Place.ONBOARD, Place.SENDING, Place.RESULT, Place.DONE))
        uplinked_at[aboard & np.isnan(uplinked_at)] = t_s
    s, p, T = env.sim, env.params, env.max_cycles
    j = np.flatnonzero(~np.isnan(uplinked_at))
    finish_step = np.ceil((uplinked_at[j] + s.jobs.work[j] / p.model_thr[s.jobs.model[j]]) / p.dt).astype(int)
    e0 = int(s.e0[0])
    contact = env.ephemeris.contact[e0 : e0 + T].any(axis=1)
    contact_steps = np.flatnonzero(contact)
    k = np.searchsorted(contact_steps, finish_step)
    ok = k < len(contact_steps)
    at = contact_steps[k[ok]]
    return float(value_at(s.jobs, j[ok], (at + 1) * p.dt, env.scenario.workload.value_half_life_h).sum())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/headroom.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="three-body-12")
    ap.add_argument("--policy", default="balance")
    ap.add_argument("--seeds", default="0-4", help="seed range (the suite's dev seeds by default)")
    ap.add_argument("--bound-slots", type=int, default=16, help="queue slots of the rerun that times the earliest uplinks")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    seeds = seed_range(args.seeds)
    runs, bounds = [], []
    for seed in tqdm(seeds, desc=f"{args.policy} on {args.scenario}", unit="episode"):
        runs.append(profile(args.scenario, args.policy, seed))
        bounds.append(relaxed_bound(args.scenario, args.policy, seed, args.bound_slots))
    delivered = np.array([r["delivered"] for r in runs])
    hours_per_step = runs[0]["dt"] / 3600.0
    print(f"{args.policy} on {args.scenario}, seeds {args.seeds}: per episode, mean over {len(seeds)}")
    print("| quantity | value |\n|---|---:|")
    print(f"| value arrived on the ground | {np.mean([r['arrived_value'] for r in runs]):.1f} |")
    print(f"| value delivered by {args.policy} | {delivered.mean():.1f} |")
    print(f"| relaxed upper bound (no contention) | {np.mean(bounds):.1f} |")
    for key, what in (("idle_total", "idle"), ("idle_nb_waiting", "idle while a linked neighbour has a job waiting"),
                      ("idle_any_waiting", "idle while any satellite has a job waiting")):  # fmt: skip
        sat_h = np.mean([r[key] for r in runs]) * hours_per_step
        print(f"| satellite-hours {what} | {sat_h:.1f} (= {sat_h * runs[0]['sat_speed']:.1f} reference GPU-h) |")
    T = len(runs[0]["ground"])
    hour = np.arange(T) * hours_per_step
    mean = lambda key: np.mean([r[key] for r in runs], axis=0)  # noqa: E731
    bins = np.arange(0, T, int(round(2 / hours_per_step)))
    print("\n| hours | jobs on the ground | satellites idle | contact satellite-minutes |\n|---|---:|---:|---:|")
    for b in bins:
        sl = slice(b, b + int(round(2 / hours_per_step)))
        print(f"| {hour[b]:.0f}-{hour[b] + 2:.0f} | {mean('ground')[sl].mean():.1f} | {mean('idle')[sl].mean():.1f} "
              f"| {mean('contacts')[sl].sum() * runs[0]['dt'] / 60:.0f} |")  # fmt: skip

    out = args.out or Path(__file__).resolve().parents[1] / "docs" / f"headroom-{args.scenario}.png"
    shown = runs[:3]  # one panel per episode: each starts at its own time of day, so means would blur the windows
    fig, axes = plt.subplots(len(shown), 1, figsize=(8, 2.4 * len(shown)), sharex=True, squeeze=False)
    for ax, run, seed in zip(axes[:, 0], shown, seeds):
        in_contact = np.asarray(run["contacts"]) > 0
        top = max(max(run["ground"]), 12) * 1.05
        ax.fill_between(hour, 0, np.where(in_contact, top, 0), color="0.85", step="mid", label="some satellite in contact")
        ax.plot(hour, run["ground"], label="jobs waiting on the ground")
        ax.plot(hour, run["idle"], label="satellites with nothing to run")
        ax.set_ylim(0, top)
        ax.set_title(f"{args.policy} on {args.scenario}, seed {seed}: delivered {run['delivered']:.1f}", fontsize=9)
    axes[0, 0].legend(loc="upper left", fontsize=7)
    axes[-1, 0].set_xlabel("hour of the episode")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
