"""Satellite-steps/s of the batched env (orbit_env.batch.BatchEnv) on one core, against the single env.

For each scenario, in one run: the single env through PettingZoo's dictionaries (the B = 1 path users
step), then BatchEnv at each batch size, both with a policy-free step (every satellite idles: action 0 is
always legal, so this measures the env alone) and with edf-safe deciding from the observations (the
leaderboard's case). Prints satellite-steps/s and the ratio to the single env; the state's size and the
peak memory traced (tracemalloc: reset and a few steps) at the largest batch; and, for one large batch,
where a step's time goes: exclusive CPU time of each named phase of ``orbit_env.sim.step`` (arrivals,
decode, compute, upsets, isl, ground, power_balance, thermal_balance), of the ground link and admission
window it fixes at the start, and of ``observe`` and ``action_mask``, then cProfile's top functions.
Times are CPU seconds of this process (time.process_time), so a busy second core disturbs them less.

    PYTHONPATH=$PWD python benchmarks/step_throughput.py
    PYTHONPATH=$PWD python benchmarks/step_throughput.py --scenarios walker-160 --batches 1 64 --profile walker-160:64
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import functools
import io
import pstats
import time
import tracemalloc

import numpy as np

import orbit_env.batch
import orbit_env.observe
import orbit_env.sim
from agents.heuristics import make_policy
from orbit_env.batch import BatchEnv
from orbit_env.env import OrbitComputeEnv

SCENARIOS = ("three-body-12", "walker-160", "energy-eclipse-24")
BATCHES = (1, 16, 64, 256, 1024)
SAT_STEPS = 2_000_000  # satellite-steps timed per measurement (fewer steps at larger batches)
MIN_STEPS, MAX_STEPS = 5, 200
PHASES = ("arrivals", "decode", "compute", "upsets", "isl", "ground", "power_balance", "thermal_balance")
STEP_SETUP = ("ground_link", "admission_window", "action_mask")  # called by step, observe and action_mask alike
GOAL = 5e6  # satellite-steps/s on one core (issue 12)


def cpu_timed(fn):
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def n_steps(n_sats: int, batch: int, max_cycles: int) -> int:
    return int(np.clip(SAT_STEPS // (n_sats * batch), MIN_STEPS, min(MAX_STEPS, max_cycles)))


def single_env(name: str, policy: str | None, seed: int = 0) -> float:
    """Satellite-steps/s of the PettingZoo env stepped with dictionaries."""
    env = OrbitComputeEnv(name)
    obs, _ = env.reset(seed=seed)
    pol = make_policy(policy, env, seed=seed) if policy else None
    steps = n_steps(env.params.n_sats, 1, env.max_cycles)

    def run():
        nonlocal obs
        for _ in range(steps):
            obs, *_ = env.step(pol.act(obs) if pol else {a: 0 for a in env.agents})

    _, cpu = cpu_timed(run)
    return steps * env.params.n_sats / cpu


def batch_env(name: str, batch: int, policy: str | None, seed: int = 0) -> tuple[float, float]:
    """(satellite-steps/s of BatchEnv stepped with (B, N) arrays, reset CPU seconds)."""
    env = BatchEnv(name, batch, autoreset_mode="disabled")
    (obs, mask, _), reset_s = cpu_timed(lambda: env.reset(seed=seed))
    pol = make_policy(policy, env, seed=seed) if policy else None
    idle = np.zeros((batch, env.n_agents), np.int64)
    steps = n_steps(env.n_agents, batch, env.max_cycles)

    def run():
        nonlocal obs, mask
        for _ in range(steps):
            obs, mask, *_ = env.step(pol.act_arrays(obs, mask) if pol else idle)

    _, cpu = cpu_timed(run)
    return steps * env.n_agents * batch / cpu, reset_s


def state_bytes(state) -> int:
    """Bytes of every array in a SimState, the job table's included."""
    arrays = [getattr(state, f.name) for f in dataclasses.fields(state)]
    arrays += [getattr(state.jobs, f.name) for f in dataclasses.fields(state.jobs)] + list(state.totals.values())
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def memory(name: str, batch: int) -> tuple[int, int]:
    """(state bytes, peak bytes traced over building, reset and 5 idle steps) of a batch."""
    tracemalloc.start()
    env = BatchEnv(name, batch, autoreset_mode="disabled")
    env.reset(seed=0)
    for _ in range(5):
        env.step(np.zeros((batch, env.n_agents), np.int64))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return state_bytes(env.sim), peak


class PhaseTimer:
    """Exclusive CPU time of named functions, by wrapping the module attributes the step looks them up in."""

    def __init__(self):
        self.spent: dict[str, float] = {}
        self.stack: list[float] = []  # time already charged to the callees of each open call
        self.saved: list[tuple[object, str, object]] = []

    def wrap(self, module, name: str) -> None:
        fn = getattr(module, name)

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            self.stack.append(0.0)
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                total = time.process_time() - t0
                inner = self.stack.pop()
                self.spent[name] = self.spent.get(name, 0.0) + total - inner
                if self.stack:
                    self.stack[-1] += total

        self.saved.append((module, name, fn))
        setattr(module, name, timed)

    def __enter__(self):
        for name in PHASES:
            self.wrap(orbit_env.sim, name)
        for name in STEP_SETUP:
            self.wrap(orbit_env.sim, name)
            self.wrap(orbit_env.observe, name)
        self.wrap(orbit_env.batch, "observe")
        return self

    def __exit__(self, *exc):
        for module, name, fn in reversed(self.saved):
            setattr(module, name, fn)


def profile(name: str, batch: int, policy: str | None, steps: int = 20) -> None:
    """Where the time of ``steps`` steps of a batch goes: phases, then cProfile's top functions."""
    env = BatchEnv(name, batch, autoreset_mode="disabled")
    obs, mask, _ = env.reset(seed=0)
    pol = make_policy(policy, env, seed=0) if policy else None
    idle = np.zeros((batch, env.n_agents), np.int64)

    def run():
        nonlocal obs, mask
        for _ in range(steps):
            obs, mask, *_ = env.step(pol.act_arrays(obs, mask) if pol else idle)

    with PhaseTimer() as timer:
        _, total = cpu_timed(run)
    sat_steps = steps * batch * env.n_agents
    print(f"\nprofile: {name}, B = {batch} ({batch * env.n_agents} satellites), {policy or 'idle'}, {steps} steps: "
          f"{total / steps * 1e3:.1f} ms/step, {sat_steps / total:,.0f} satellite-steps/s")  # fmt: skip
    rest = total - sum(timer.spent.values())
    rows = sorted([*timer.spent.items(), ("rest (BatchEnv.step, rewards, policy, the step's glue)", rest)], key=lambda kv: -kv[1])
    for phase, s in rows:
        print(f"  {phase:<58}{s / steps * 1e3:>9.2f} ms/step {s / total:>7.1%}")
    prof = cProfile.Profile()
    prof.runcall(run)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
    lines = out.getvalue().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    print("  cProfile, top functions by own time (same steps again):")
    print("\n".join("  " + ln for ln in lines[start:] if ln.strip()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    p.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    p.add_argument("--profile", default="walker-160:256", help="SCENARIO:B to profile (phases and cProfile), or 'none'")
    args = p.parse_args()
    largest = max(args.batches)
    print(f"satellite-steps/s on one core (CPU time); ratio: against the single env (PettingZoo dicts), same policy; goal {GOAL:,.0f}")
    print(f"{'scenario':<20}{'policy':<10}{'B':>6}{'sat-steps/s':>14}{'vs single':>11}{'reset s':>9}")
    for name in args.scenarios:
        for policy in (None, "edf-safe"):
            label = policy or "idle"
            base = single_env(name, policy)
            print(f"{name:<20}{label:<10}{'dict':>6}{base:>14,.0f}{1.0:>10.1f}x{'':>9}", flush=True)
            for b in args.batches:
                rate, reset_s = batch_env(name, b, policy)
                print(f"{name:<20}{label:<10}{b:>6}{rate:>14,.0f}{rate / base:>10.1f}x{reset_s:>9.2f}", flush=True)
        state, peak = memory(name, largest)
        print(f"{name:<20}memory at B = {largest}: state {state / 2**20:,.1f} MiB ({state / largest / 1024:,.0f} KiB per episode), "
              f"peak traced over build + reset + 5 steps {peak / 2**20:,.1f} MiB", flush=True)  # fmt: skip
    if args.profile != "none":
        name, b = args.profile.rsplit(":", 1)
        profile(name, int(b), None)
        profile(name, int(b), "edf-safe")


if __name__ == "__main__":
    main()
