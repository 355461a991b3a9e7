"""Ray against one machine's path: RLlib training against ``orbit-env train`` (SB3), and a leaderboard run
sharded over Ray against the local evaluator, on the same work.

Training: the same TrainConfig (defaults, or ``--config``) on the same scenario, trained for
``--timesteps`` agent-steps by train.ppo.train (MaskablePPO) and by train.rllib.train (RLlib PPO on a
local Ray instance of ``--cpus`` CPUs, ``--env-runners`` remote env runners, default one per CPU but the
driver's). Reported: the wall time of the training loop (rollouts and updates; each run's
``summary.json`` ``session_wall_s``) per 100k agent-steps, and the set-up before it (Ray start, module
build), which a long run pays once. Both runs then export and score their policy; that is not timed.

Leaderboard: the same entries and seeds (``--entries``, ``--seeds`` test seeds of ``--scenario`` for
``--cycles`` steps) evaluated by leaderboard.evaluate with ``--workers`` local worker processes, then with
as many Ray workers (leaderboard.ray_pool.RayWorker) on the same Ray instance; the rows are checked
equal and both wall times printed. On one machine Ray can only add overhead (actors, a relay per worker,
the submission folders shipped); the point of it is more machines.

Wall-clock times: on a shared machine a busy neighbour slows both sides; run it on an idle one.

    python benchmarks/ray_throughput.py                                  # three-body-12, 24,576 agent-steps
    python benchmarks/ray_throughput.py --timesteps 12288 --seeds 4 --skip-train
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

from leaderboard.entries import resolve
from leaderboard.evaluate import evaluate
from leaderboard.ray_pool import RayWorker, connect
from leaderboard.store import Key, Store
from leaderboard.suite import Suite, Task, env_hash
from train.config import RunConfig, TrainConfig, load_config

PER = 100_000  # agent-steps


def train_both(cfg: TrainConfig, env_runners: int | None, root: Path) -> dict[str, dict]:
    from train import ppo, rllib

    out = {}
    for name, run in (("sb3", lambda d: ppo.train(cfg, d, seed=0, progress=False)),
                      ("rllib", lambda d: rllib.train(cfg, d, seed=0, progress=False, env_runners=env_runners))):  # fmt: skip
        t0 = time.time()
        result = run(root / name)
        total = time.time() - t0
        summary = json.loads((root / name / "summary.json").read_text())
        out[name] = {"timesteps": result.timesteps, "loop_s": summary["session_wall_s"], "total_s": total}
    return out


def rows(store: Store, suite: Suite) -> list[tuple]:
    return [(r.entry, r.scenario, r.seed, r.status, json.dumps(r.metrics, sort_keys=True)) for r in store.rows(Key(suite.name, suite.hash, env_hash(), "test"))]


def leaderboard_both(suite: Suite, names: list[str], workers: int, root: Path) -> dict[str, float]:
    entries = [resolve(n) for n in names]
    out, found = {}, {}
    for name, pool in (("local", {}), ("ray", {"spawn_worker": RayWorker})):
        store = Store(root / f"{name}.sqlite")
        t0 = time.time()
        evaluate(entries, suite, "test", store, workers=workers, progress=False, **pool)
        out[name] = time.time() - t0
        found[name] = rows(store, suite)
        store.close()
    if found["local"] != found["ray"]:
        raise SystemExit("the sharded rows differ from the local ones")
    out["episodes"] = len(found["ray"])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default="three-body-12")
    p.add_argument("--config", help="a training config TOML (default: the defaults of train/config.py on --scenario)")
    p.add_argument("--timesteps", type=int, default=24_576, help="agent-steps of each training run (default 2 rollouts of the defaults)")
    p.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance (default 2)")
    p.add_argument("--env-runners", type=int, help="RLlib remote env runners (default: --cpus - 1)")
    p.add_argument("--workers", type=int, default=2, help="leaderboard workers, local and on Ray (default 2)")
    p.add_argument("--entries", default="random,greedy,edf-safe,balance", help="comma-separated baselines for the leaderboard run")
    p.add_argument("--seeds", type=int, default=4, help="test seeds of the leaderboard run (default 4)")
    p.add_argument("--cycles", type=int, default=360, help="steps per leaderboard episode (default 360: six hours)")
    p.add_argument("--skip-train", action="store_true")
    p.add_argument("--skip-leaderboard", action="store_true")
    args = p.parse_args()

    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    t0 = time.time()
    connect(num_cpus=args.cpus)
    print(f"Ray: a local instance of {args.cpus} CPUs started in {time.time() - t0:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if not args.skip_train:
            cfg = load_config(args.scenario, args.config) if args.config else TrainConfig(scenario=args.scenario)
            cfg = dataclasses.replace(cfg, timesteps=args.timesteps, run=RunConfig(checkpoint_every=10**9, baseline_episodes=1, baselines=["random"]))
            res = train_both(cfg, args.env_runners, root)
            print(f"\ntraining {cfg.scenario}: {args.timesteps:,} agent-steps, rollouts of {cfg.ppo.n_steps} x {cfg.env.n_envs} episodes, "
                  f"minibatch {cfg.ppo.batch_size}, {cfg.ppo.n_epochs} epochs, MLP {cfg.ppo.net_arch}")  # fmt: skip
            print(f"{'backend':8} {'agent-steps':>11} {'loop s':>8} {'s / 100k':>9} {'set-up+export s':>16}")
            for name, r in res.items():
                print(f"{name:8} {r['timesteps']:>11,} {r['loop_s']:>8.1f} {r['loop_s'] / r['timesteps'] * PER:>9.1f} {r['total_s'] - r['loop_s']:>16.1f}")
            ratio = (res["rllib"]["loop_s"] / res["rllib"]["timesteps"]) / (res["sb3"]["loop_s"] / res["sb3"]["timesteps"])
            print(f"RLlib / SB3 wall time per agent-step: {ratio:.2f}")
        if not args.skip_leaderboard:
            suite = Suite("ray-bench", "a small subset", (Task(args.scenario, args.cycles, (0,), tuple(range(1000, 1000 + args.seeds))),))
            names = args.entries.split(",")
            res = leaderboard_both(suite, names, args.workers, root)
            print(f"\nleaderboard: {res['episodes']} episodes ({len(names)} entries x {args.seeds} seeds of {args.scenario}, {args.cycles} steps), "
                  f"{args.workers} workers; rows identical")  # fmt: skip
            print(f"local {res['local']:.1f} s, Ray {res['ray']:.1f} s, Ray / local {res['ray'] / res['local']:.2f}")


if __name__ == "__main__":
    main()
