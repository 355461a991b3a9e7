"""PPO from scratch on the array API: one file, parameter sharing, the set network of ``agents.universal``.

CleanRL-style (Huang et al., JMLR 2022): the whole algorithm is in this file, over ``BatchEnv``'s arrays
(obs (B, N, D), masks (B, N, A), rewards (B, N)) mapped into the universal layout, so one network plays
every scenario. What it does, in order:

- rollout: ``n_steps`` steps of ``n_envs`` episodes; every satellite samples from the masked categorical
  of the shared network; episodes end by truncation only, so the value of ``info["final_obs"]`` is
  bootstrapped there (same-step autoreset);
- rewards scaled by the running std of each agent's discounted return (as gymnasium's NormalizeReward);
- GAE with a discount set by a horizon in hours, not per step: ``gamma = 1 - dt / horizon``, so a 120 s
  suite-v2 step and a 60 s v1 step look equally far ahead (default 4.75 h: three orbits of 95 min);
- update: ``epochs`` passes of clipped PPO over minibatches of (step, episode) blocks, each with all the
  episode's satellites, so the centralised critic (``critic = "central"``, MAPPO, Yu et al., NeurIPS 2022:
  the value head sees its own context and the mean context of every satellite of the episode) can be
  trained on whole constellations; the actor only ever sees its own observation;
- curve: ``curve.csv`` has ``train.ppo``'s columns (one row per finished training episode), so
  ``python -m train.plot`` draws both trainers' runs;
- export: the actor's weights to safetensors + a JSON spec of kind ``universal-sets``
  (``agents.universal.UniversalPolicy`` loads it).

Deterministic for a fixed seed (one torch thread, seeded torch and env). Progress lines report wall time
per phase (rollout, update) and agent-steps/s.

    python -m train.ppo_scratch train --scenario radiation-saa-16 --agent-steps 3000000 --out runs/scratch-rad
    python -m train.ppo_scratch evaluate runs/scratch-rad/policy.json --scenario radiation-saa-16 --seeds 0-9
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from safetensors.numpy import save
from stable_baselines3.common.running_mean_std import RunningMeanStd
from torch import nn

from agents import universal as U
from agents.learned import FORMAT, FORMAT_VERSION
from orbit_env import ENV_VERSION, __version__
from orbit_env.batch import BatchEnv
from train.export import atomic_write_bytes
from train.ppo import CURVE_FIELDS
from train.vec_env import blend

ORBIT_H = 95 / 60  # a 550 km orbit lasts about 95 minutes
TRAIN_SEEDS = 10_000_000  # training episodes are seeded from here: apart from dev (0-...) and test (1000-...) seeds


@dataclass(frozen=True)
class ScratchConfig:
    scenario: str = "radiation-saa-16"
    agent_steps: int = 2_000_000  # one per satellite per env step
    n_envs: int = 8  # episodes side by side
    n_steps: int = 128  # rollout length; a rollout is n_steps x n_envs x satellites samples
    overrides: dict[str, Any] = field(default_factory=dict)  # training-only scenario overrides (reward, shaping)
    team_weight: float = 0.0  # with episode.reward = "individual": (1 - w) x own + w x the constellation's mean
    horizon_h: float = 3 * ORBIT_H  # gamma = 1 - dt / horizon: the discounted sum spans about three orbits
    gae_lambda: float = 0.95
    learning_rate: float = 3e-4
    epochs: int = 4
    minibatches: int = 8
    clip: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: int = 64
    critic: str = "local"  # local: per-agent value; central: MAPPO value over the episode's satellites
    seed: int = 0
    export_every: int = 20  # updates between exports of the policy so far (a stopped run still leaves one)
    max_wall_s: float = 0.0  # stop after the update that passes this wall time (0: no limit), then export

    def __post_init__(self):
        for name in ("agent_steps", "n_envs", "n_steps", "epochs", "minibatches", "hidden", "export_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ppo-scratch config: {name} = {getattr(self, name)!r} must be positive")
        if self.critic not in ("local", "central"):
            raise ValueError(f"ppo-scratch config: critic = {self.critic!r}; expected 'local' or 'central'")
        if not 0.0 <= self.team_weight <= 1.0:
            raise ValueError(f"ppo-scratch config: team_weight = {self.team_weight!r}; expected a number in [0, 1]")
        if self.horizon_h <= 0:
            raise ValueError(f"ppo-scratch config: horizon_h = {self.horizon_h!r} must be positive")


class SetActorCritic(nn.Module):
    """The set network (``agents.universal.forward``) and a value head on its context (local or central)."""

    def __init__(self, hidden: int, critic: str):
        super().__init__()
        self.critic = critic
        self.linears = nn.ModuleDict({name.replace(".", "_"): nn.Linear(i, o) for name, (o, i) in U.layer_shapes(hidden).items()})
        for name, lin in self.linears.items():
            if name.startswith("head_"):  # near-uniform first policy (CleanRL's 0.01 output scale)
                nn.init.orthogonal_(lin.weight, 0.01)
                nn.init.zeros_(lin.bias)
        width = 2 * hidden if critic == "central" else hidden
        self.value = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def params(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        return {name.replace("_", ".", 1): (lin.weight, lin.bias) for name, lin in self.linears.items()}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (..., N, n), values (..., N)) for universal observations (..., N, D) of whole constellations."""
        logits, ctx = U.forward(self.params(), x, torch)
        if self.critic == "central":
            ctx = torch.cat([ctx, ctx.mean(dim=-2, keepdim=True).expand_as(ctx)], dim=-1)
        return logits, self.value(ctx)[..., 0]


def masked(logits: torch.Tensor, mask: torch.Tensor) -> torch.distributions.Categorical:
    return torch.distributions.Categorical(logits=torch.where(mask, logits, torch.finfo(logits.dtype).min))


def gae(rewards, values, ended, boot, last_value, gamma: float, lam: float) -> torch.Tensor:
    """(T, B, N) advantages. ``ended[t]`` (T, B): the episode was truncated after step t, and ``boot[t]``
    holds the value of its final observation (bootstrapped, as a time limit is not a terminal state)."""
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(last_value)
    for t in reversed(range(len(rewards))):
        nxt = last_value if t == len(rewards) - 1 else values[t + 1]
        cut = ended[t][..., None]
        nxt = torch.where(cut, boot[t], nxt)
        delta = rewards[t] + gamma * nxt - values[t]
        last = delta + gamma * lam * (~cut) * last
        adv[t] = last
    return adv


@dataclass
class ScratchResult:
    out: Path
    agent_steps: int
    rollout_s: float
    update_s: float
    agent_steps_per_s: float
    spec: Path


def train(cfg: ScratchConfig, out: str | Path, progress: bool = True) -> ScratchResult:
    """Train from scratch, write ``curve.csv`` (one row per finished training episode), ``summary.json`` and
    the exported ``policy.safetensors`` / ``policy.json`` into ``out`` (refused if it holds a run)."""
    out = Path(out)
    if (out / "curve.csv").exists():
        raise FileExistsError(f"{out} already holds a run; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(cfg.seed)
    env = BatchEnv(cfg.scenario, cfg.n_envs, overrides=cfg.overrides, autoreset_mode="same_step")
    ul = U.UniversalLayout.for_env(env)
    gamma = 1.0 - env.params.dt / (cfg.horizon_h * 3600.0)
    model = SetActorCritic(cfg.hidden, cfg.critic)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, eps=1e-5)
    T, B, N = cfg.n_steps, cfg.n_envs, env.n_agents
    updates = max(1, -(-cfg.agent_steps // (T * B * N)))
    ret_rms, ret = RunningMeanStd(shape=()), np.zeros((B, N))
    obs, mask, _ = env.reset(seed=TRAIN_SEEDS + cfg.seed * cfg.n_envs)
    x, m = torch.from_numpy(ul.obs(obs)), torch.from_numpy(ul.mask(mask))
    buf = {k: torch.zeros((T, B, N, *s), dtype=d) for k, s, d in (("x", (U.UNIVERSAL_SIZE,), torch.float32), ("m", (U.UNIVERSAL_ACTIONS.n,), torch.bool),
           ("a", (), torch.int64), ("logp", (), torch.float32), ("v", (), torch.float32), ("r", (), torch.float32), ("boot", (), torch.float32))}  # fmt: skip
    ended_buf = torch.zeros((T, B), dtype=torch.bool)
    curve = (out / "curve.csv").open("w", newline="")
    rows = csv.writer(curve)
    rows.writerow(CURVE_FIELDS)
    ep_return = np.zeros((B, N))
    steps = episodes = 0
    rollout_s = update_s = 0.0
    recent: list[float] = []
    t_start = time.time()
    for update in range(1, updates + 1):
        t0 = time.time()
        for t in range(T):
            with torch.no_grad():
                logits, value = model(x)
                dist = masked(logits, m)
                a = dist.sample()
            buf["x"][t], buf["m"][t], buf["a"][t], buf["logp"][t], buf["v"][t] = x, m, a, dist.log_prob(a), value
            obs, mask, rewards, terms, truncs, info = env.step(ul.to_native(a.numpy()))
            rewards = blend(rewards, cfg.team_weight)
            ep_return += rewards
            ended = terms | truncs
            ret = ret * gamma + rewards
            ret_rms.update(ret.reshape(-1))
            buf["r"][t] = torch.from_numpy((rewards / np.sqrt(ret_rms.var + 1e-8)).astype(np.float32))
            ended_buf[t] = torch.from_numpy(ended)
            if ended.any():
                with torch.no_grad():
                    final = model(torch.from_numpy(ul.obs(info["final_obs"])))[1]
                buf["boot"][t] = torch.where(torch.from_numpy(truncs & ~terms)[:, None], final, 0.0)
                for v, r in zip(info["episode_metrics"]["delivered_value"][ended], ep_return[ended].mean(axis=-1)):
                    episodes += 1
                    recent = (recent + [float(v)])[-2 * B :]
                    rows.writerow([steps + (t + 1) * B * N, episodes, f"{r:.6g}", f"{v:.6g}", env.max_cycles, f"{time.time() - t_start:.1f}"])
                ret[ended] = ep_return[ended] = 0.0
                curve.flush()
            x, m = torch.from_numpy(ul.obs(obs)), torch.from_numpy(ul.mask(mask))
        steps += T * B * N
        with torch.no_grad():
            last_value = model(x)[1]
        adv = gae(buf["r"], buf["v"], ended_buf, buf["boot"], last_value, gamma, cfg.gae_lambda)
        target = adv + buf["v"]
        t1 = time.time()
        rollout_s += t1 - t0
        stats = _update(model, opt, cfg, {k: v.reshape(T * B, N, *v.shape[3:]) for k, v in buf.items()}, adv.reshape(T * B, N), target.reshape(T * B, N))
        update_s += time.time() - t1
        if progress:
            wall = time.time() - t_start
            done = f"delivered {np.mean(recent):.1f} ({episodes} ep)" if recent else "no episode finished yet"
            print(f"update {update}/{updates} agent-steps {steps:,} | rollout {rollout_s:.0f} s, update {update_s:.0f} s, "
                  f"{steps / wall:,.0f} agent-steps/s | {done} | entropy {stats['entropy']:.3f} kl {stats['kl']:.4f} "
                  f"value loss {stats['value_loss']:.3f}", flush=True)  # fmt: skip
        if cfg.max_wall_s and time.time() - t_start >= cfg.max_wall_s:
            break
        if update % cfg.export_every == 0:
            export(model, cfg, out / "policy.safetensors", steps)
    curve.close()
    spec = export(model, cfg, out / "policy.safetensors", steps)
    wall = time.time() - t_start
    summary = {"agent_steps": steps, "episodes": episodes, "wall_s": wall, "rollout_s": rollout_s, "update_s": update_s,
               "agent_steps_per_s": steps / wall, "gamma": gamma, "config": dataclasses.asdict(cfg)}  # fmt: skip
    atomic_write_bytes(out / "summary.json", (json.dumps(summary, indent=1) + "\n").encode())
    return ScratchResult(out, steps, rollout_s, update_s, steps / wall, spec)


def _update(model: SetActorCritic, opt, cfg: ScratchConfig, buf: dict[str, torch.Tensor], adv: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """``cfg.epochs`` passes of clipped PPO over minibatches of (step, episode) blocks of all satellites."""
    n = len(adv)
    size = max(1, n // cfg.minibatches)
    for _ in range(cfg.epochs):
        order = torch.randperm(n)
        for start in range(0, n, size):
            idx = order[start : start + size]
            logits, value = model(buf["x"][idx])
            dist = masked(logits, buf["m"][idx])
            logp = dist.log_prob(buf["a"][idx])
            ratio = (logp - buf["logp"][idx]).exp()
            a = adv[idx]
            a = (a - a.mean()) / (a.std() + 1e-8)
            pg = torch.max(-a * ratio, -a * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)).mean()
            value_loss = 0.5 * ((value - target[idx]) ** 2).mean()
            entropy = dist.entropy().mean()
            loss = pg + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            opt.step()
    with torch.no_grad():
        kl = ((ratio - 1) - (logp - buf["logp"][idx])).mean()  # of the last minibatch (Schulman's k3 estimator)
    return {"entropy": entropy.item(), "kl": kl.item(), "value_loss": value_loss.item()}


def export(model: SetActorCritic, cfg: ScratchConfig, path: str | Path, steps: int) -> Path:
    """Write the actor's weights and a ``universal-sets`` spec beside them (checked as the loader checks); the spec's path."""
    path = Path(path).with_suffix(".safetensors")
    tensors = {f"{n}.{p}": t.detach().numpy().astype(np.float32) for n, wb in model.params().items() for p, t in zip(("weight", "bias"), wb)}
    blob = save(tensors)
    spec = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": U.KIND,
        "name": "ppo-sets",
        "env": {"id": ENV_VERSION, "package_version": __version__},
        "trained_on": {"scenario": cfg.scenario, "overrides": cfg.overrides, "agent_steps": steps, "seed": cfg.seed},
        "observation": {"size": U.UNIVERSAL_SIZE, "K": U.K_MAX, "M": U.M_MAX, "G": U.G_MAX, "names": list(U.universal_names())},
        "action": {"n": U.UNIVERSAL_ACTIONS.n, "K": U.K_MAX, "P": U.P_MAX, "M": U.M_MAX, "G": U.G_MAX},
        "network": {"hidden": cfg.hidden},
        "act": {"deterministic": True},
        "weights": {"file": path.name, "sha256": hashlib.sha256(blob).hexdigest()},
    }
    U.check_universal(spec, tensors, path)
    atomic_write_bytes(path, blob)
    atomic_write_bytes(path.with_suffix(".json"), (json.dumps(spec, indent=1) + "\n").encode())
    return path.with_suffix(".json")


def paired(spec: str | Path, scenario: str, seeds: Sequence[int], heuristics: Sequence[str], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Delivered value per seed of the policy and each heuristic, and the paired difference (policy - heuristic)
    with its 95% bootstrap interval (leaderboard.stats.paired_bootstrap)."""
    from agents.heuristics import make_policy
    from agents.learned import load_policy
    from leaderboard.stats import paired_bootstrap
    from train.evaluate import delivered

    overrides = overrides or {}
    own = delivered(scenario, overrides, lambda e: load_policy(spec, e), seeds)
    rows = {"policy": {"mean": float(own.mean()), "values": own.tolist()}}
    for name in heuristics:
        theirs = delivered(scenario, overrides, lambda e, n=name: make_policy(n, e), seeds)
        diff, lo, hi = paired_bootstrap([own], [theirs])
        rows[name] = {"mean": float(theirs.mean()), "diff": diff, "lo": lo, "hi": hi, "values": theirs.tolist()}
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    from train.evaluate import seed_range

    p = argparse.ArgumentParser(prog="python -m train.ppo_scratch", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train from scratch and export")
    t.add_argument("--config", type=Path, help="TOML file with ScratchConfig keys (command-line flags win)")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--quiet", action="store_true")
    for f in dataclasses.fields(ScratchConfig):
        if f.type in ("int", "float", "str"):  # the scalar keys; overrides come from --set
            t.add_argument(f"--{f.name.replace('_', '-')}", type={"int": int, "float": float, "str": str}[f.type])
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="training-only scenario override")
    e = sub.add_parser("evaluate", help="paired comparison against heuristics on seeded episodes")
    e.add_argument("spec")
    e.add_argument("--scenario", required=True)
    e.add_argument("--seeds", default="0-9", help="inclusive range (dev seeds by default; the board's test seeds are apart)")
    e.add_argument("--heuristics", default="random,greedy,edf-safe,balance")
    e.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="scenario override, e.g. orbit.sats_per_plane=8")
    e.add_argument("--json", type=Path, help="also write the values here ({\"delivered_value\": means} is what python -m train.plot --baselines reads)")
    args = p.parse_args(argv)
    overrides = {k: tomllib.loads(f"v = {v}")["v"] for k, _, v in (s.partition("=") for s in args.set)}
    if args.cmd == "train":
        data = tomllib.loads(args.config.read_text()) if args.config else {}
        data |= {f.name: getattr(args, f.name) for f in dataclasses.fields(ScratchConfig) if getattr(args, f.name, None) is not None}
        data["overrides"] = {**data.get("overrides", {}), **overrides}
        known = {f.name for f in dataclasses.fields(ScratchConfig)}
        if set(data) - known:
            p.error(f"unknown config keys {sorted(set(data) - known)}; known: {', '.join(sorted(known))}")
        r = train(ScratchConfig(**data), args.out, progress=not args.quiet)
        print(f"trained {r.agent_steps:,} agent-steps: rollout {r.rollout_s:.0f} s, update {r.update_s:.0f} s, "
              f"{r.agent_steps_per_s:,.0f} agent-steps/s; policy {r.spec}")  # fmt: skip
        return 0
    rows = paired(args.spec, args.scenario, seed_range(args.seeds), args.heuristics.split(","), overrides)
    if args.json:
        means = {("ppo (exported)" if k == "policy" else k): r["mean"] for k, r in rows.items()}
        record = {"scenario": args.scenario, "overrides": overrides, "seeds": seed_range(args.seeds), "delivered_value": means, "paired": rows}
        atomic_write_bytes(args.json, (json.dumps(record, indent=1) + "\n").encode())
    print(f"{args.scenario} {' '.join(args.set)} seeds {args.seeds}: policy delivers {rows['policy']['mean']:.1f}")
    print("| heuristic | delivered | policy - heuristic, mean [95% CI] |\n|---|---:|---:|")
    for name, r in rows.items():
        if name != "policy":
            print(f"| {name} | {r['mean']:.1f} | {r['diff']:+.1f} [{r['lo']:+.1f}, {r['hi']:+.1f}] |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
