"""Training throughput: the batch VecEnv (train.vec_env.BatchVecEnv) against the SuperSuit bridge, same run.

Two measurements per bridge and number of parallel episodes (``n_envs``), in agent-steps/s (one agent-step
= one satellite's decision, the unit of ``timesteps``):

- raw: the VecEnv under VecNormalize stepped with random legal actions (what a rollout costs without
  the network);
- train: ``model.learn`` of MaskablePPO as ``orbit-env train`` builds it (train.ppo.build_env and
  build_model, the scenario's shipped config with ``n_envs`` and ``n_steps`` from the command line),
  rollouts and updates, for ``--updates`` PPO updates; and ``rollout``, the share of it spent collecting
  rollouts (env steps and the policy's forward pass: what the bridge changes; the gradient steps are the same).

Times are CPU seconds of this process (time.process_time; torch runs one thread, as in training), so a busy
second core disturbs them less. The ratio column divides the batch bridge's rate by SuperSuit's at the
same ``n_envs``.

    python benchmarks/train_throughput.py                       # three-body-12, n_envs 8 and 32
    python benchmarks/train_throughput.py --n-envs 8 --updates 1 --raw-steps 200 walker-160
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import time

import numpy as np
import torch

from stable_baselines3.common.callbacks import BaseCallback

from train.config import VEC_ENVS, TrainConfig, load_config
from train.ppo import build_env, build_model


def cpu_timed(fn):
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def raw_rate(cfg, steps: int) -> float:
    """Agent-steps/s of the VecEnv (under VecNormalize) with random legal actions."""
    venv = build_env(cfg)
    venv.seed(0)
    venv.reset()
    rng = np.random.default_rng(0)

    def run():
        for _ in range(steps):
            mask = venv.venv.action_masks()
            venv.step((rng.random(mask.shape) * mask).argmax(axis=1))

    _, s = cpu_timed(run)
    venv.close()
    return steps * venv.num_envs / s


class RolloutClock(BaseCallback):
    """CPU seconds spent collecting rollouts (env steps, the policy's forward pass, the rollout buffer)."""

    def __init__(self):
        super().__init__()
        self.seconds = 0.0

    def _on_rollout_start(self) -> None:
        self.t0 = time.process_time()

    def _on_rollout_end(self) -> None:
        self.seconds += time.process_time() - self.t0

    def _on_step(self) -> bool:
        return True


def train_rates(cfg, updates: int) -> tuple[float, float]:
    """Agent-steps/s of ``updates`` MaskablePPO updates as orbit-env train runs them: end to end (rollouts +
    gradient steps) and of the rollouts alone."""
    venv = build_env(cfg)
    model = build_model(cfg, venv, seed=0)
    timesteps = updates * cfg.ppo.n_steps * venv.num_envs
    clock = RolloutClock()
    _, s = cpu_timed(lambda: model.learn(timesteps, callback=clock))
    venv.close()
    return timesteps / s, timesteps / clock.seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", nargs="?", default="three-body-12")
    p.add_argument("--n-envs", default="8,32", help="parallel episodes, comma-separated")
    p.add_argument("--n-steps", type=int, default=64, help="rollout length per slot (PPO's n_steps)")
    p.add_argument("--updates", type=int, default=2, help="PPO updates per training measurement")
    p.add_argument("--raw-steps", type=int, default=300, help="VecEnv steps per raw measurement")
    p.add_argument("--ppo", choices=("shipped", "default"), default="shipped",
                   help="PPO settings: the scenario's train/configs file, or train/config.py's defaults")  # fmt: skip
    args = p.parse_args()
    torch.set_num_threads(1)
    base = load_config(args.scenario) if args.ppo == "shipped" else TrainConfig(scenario=args.scenario)
    print(f"{args.scenario}: PPO of the {args.ppo} config ({base.ppo.net_arch}, critic {base.ppo.critic}, batch {base.ppo.batch_size}, "
          f"{base.ppo.n_epochs} epochs), n_steps {args.n_steps}, {args.updates} updates; raw: {args.raw_steps} VecEnv steps")  # fmt: skip
    print(f"{'n_envs':>6} {'bridge':<10}{'raw agent-steps/s':>19}{'ratio':>7}{'rollout agent-steps/s':>23}{'ratio':>7}"
          f"{'train agent-steps/s':>21}{'ratio':>7}")  # fmt: skip
    for n_envs in map(int, args.n_envs.split(",")):
        rates = {}
        for vec_env in VEC_ENVS:
            cfg = dataclasses.replace(base, env=dataclasses.replace(base.env, n_envs=n_envs, vec_env=vec_env),
                                      ppo=dataclasses.replace(base.ppo, n_steps=args.n_steps))  # fmt: skip
            trained, rollout = train_rates(cfg, args.updates)
            rates[vec_env] = raw_rate(cfg, args.raw_steps), rollout, trained
        for vec_env, rate in rates.items():
            cells = "".join(f"{r:>{w},.0f}{r / s:>6.1f}x" for r, s, w in zip(rate, rates["supersuit"], (19, 23, 21)))
            print(f"{n_envs:>6} {vec_env:<10}{cells}", flush=True)
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
