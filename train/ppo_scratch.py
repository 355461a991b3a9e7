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
- mix (``[mix]``: scenario = episodes side by side, optional): one ``Stream`` per scenario, each with its
  own episodes, reward scale, discount and ``curve-<scenario>.csv``; every update rolls out all of them and
  trains the one network on minibatches of each in turn;
- advice (``advisors = [...]``, optional): the network also reads the actions of named heuristics and learns,
  from reward alone, how far to trust each (``agents.universal.Advice``: residual policy learning);
  ``advice_bias`` starts it trusting some of them (``[0, 0, 4]`` on edf-safe, edf-ckpt, balance plays
  exactly as balance before any update);
- replay (``replay = k``, optional): groups of k episodes share an arrival sequence and each advantage
  is taken relative to the others of its group (``replay_baseline``, Mao et al., ICLR 2019);
- export: the actor's weights to safetensors + a JSON spec of kind ``universal-sets``
  (``agents.universal.UniversalPolicy`` loads it).

Deterministic for a fixed seed on the CPU (one torch thread, seeded torch and env; ``--device cuda``
computes the network on a GPU but still samples actions on the CPU). Progress lines report wall time per
phase (rollout, update) and agent-steps/s.

    python -m train.ppo_scratch train --scenario radiation-saa-16 --agent-steps 3000000 --out runs/scratch-rad
    python -m train.ppo_scratch train --config train/configs/scratch/mix-v2-residual.toml --out runs/mix
    python -m train.ppo_scratch evaluate runs/scratch-rad/policy.json --scenario radiation-saa-16 --seeds 0-9
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import math
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
from train.device import pick_device
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
    mix: dict[str, int] = field(default_factory=dict)  # scenario -> episodes side by side; set, it replaces scenario and n_envs
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
    advisors: tuple[str, ...] = ()  # heuristics whose actions the network reads (agents.universal.Advice); none: pure
    advice_bias: float | tuple[float, ...] = 0.0  # initial logit bonus of each advisor's action (one number for all, or one
    # per advisor: a residual start); 0: a fresh network ignores its advisors
    replay: int = 1  # episodes per arrival sequence (Mao et al.'s input-dependent baseline when > 1; divides n_envs)
    device: str = "auto"  # auto | cpu | cuda (train.device); actions are sampled on the CPU either way
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
        if isinstance(self.advisors, str):
            raise ValueError(f"ppo-scratch config: advisors = {self.advisors!r} must be a list of names, e.g. [\"balance\"]")
        object.__setattr__(self, "advisors", tuple(self.advisors))
        if any(not isinstance(n, int) or isinstance(n, bool) or n <= 0 for n in self.mix.values()):
            raise ValueError(f"ppo-scratch config: mix = {self.mix!r}; each scenario needs a positive number of episodes")
        if not U.advisors_ok(self.advisors):
            raise ValueError(f"ppo-scratch config: advisors = {list(self.advisors)!r}; expected distinct names of {', '.join(U.ADVISORS)}")
        if self.replay <= 0 or any(n % self.replay for n in self.scenarios().values()):
            raise ValueError(f"ppo-scratch config: replay = {self.replay!r} must be positive and divide every scenario's episode count {self.scenarios()}")
        bias = self.advice_bias
        values = bias if isinstance(bias, (list, tuple)) else (bias,)
        if not all(isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b) for b in values):
            raise ValueError(f"ppo-scratch config: advice_bias = {bias!r} must be finite numbers")
        if isinstance(bias, (list, tuple)):
            object.__setattr__(self, "advice_bias", tuple(float(b) for b in bias))
            if len(bias) != len(self.advisors):
                raise ValueError(f"ppo-scratch config: advice_bias = {list(bias)!r} needs one number per advisor {list(self.advisors)!r}")
        elif bias and not self.advisors:
            raise ValueError("ppo-scratch config: advice_bias is the initial trust in advisors, but no advisors are named")
        if self.horizon_h <= 0:
            raise ValueError(f"ppo-scratch config: horizon_h = {self.horizon_h!r} must be positive")

    def scenarios(self) -> dict[str, int]:
        """Scenario -> episodes side by side: the mix, or the one scenario with n_envs."""
        return dict(self.mix) or {self.scenario: self.n_envs}


class SetActorCritic(nn.Module):
    """The set network (``agents.universal.forward``) and a value head on its context (local or central)."""

    def __init__(self, hidden: int, critic: str, advisors: int = 0, advice_bias: float | Sequence[float] = 0.0):
        super().__init__()
        self.critic = critic
        shapes = U.layer_shapes(hidden, advisors)
        self.linears = nn.ModuleDict({name.replace(".", "_"): nn.Linear(i, o) for name, (o, i) in shapes.items()})
        for name, lin in self.linears.items():
            if name.startswith("head_"):  # near-uniform first policy (CleanRL's 0.01 output scale)
                nn.init.orthogonal_(lin.weight, 0.01)
                nn.init.zeros_(lin.bias)
        if advisors:
            with torch.no_grad():
                self.linears["head_advice"].bias[:] = torch.as_tensor(advice_bias, dtype=torch.float32)
        width = 2 * hidden if critic == "central" else hidden
        self.value = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def params(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        return {name.replace("_", ".", 1): (lin.weight, lin.bias) for name, lin in self.linears.items()}

    def forward(self, x: torch.Tensor, advice: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (..., N, n), values (..., N)) for universal observations (..., N, D) of whole constellations
        (and their advice (..., N, advisors, n); the values never depend on it)."""
        logits, ctx = U.forward(self.params(), x, torch, advice)
        if self.critic == "central":
            ctx = torch.cat([ctx, ctx.mean(dim=-2, keepdim=True).expand_as(ctx)], dim=-1)
        return logits, self.value(ctx)[..., 0]


def on_cpu(model: SetActorCritic, x: torch.Tensor, advice: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's (logits, values) for CPU inputs, computed on the model's device and returned on the CPU, so
    that actions are drawn from the CPU's generator and a GPU run plays the episodes a CPU run plays."""
    device = next(model.parameters()).device
    logits, values = model(x.to(device), None if advice is None else advice.to(device))
    return logits.cpu(), values.cpu()


def replay_baseline(adv: torch.Tensor, replay: int) -> torch.Tensor:
    """(T, B, N) advantages minus, for each episode, the mean advantage of the other ``replay - 1`` episodes
    that share its arrival sequence (episodes b // replay alike), at the same step and satellite.

    Mao et al. (ICLR 2019, "Variance reduction for reinforcement learning in input-driven environments"): the
    return also depends on the exogenous input (job arrivals, upsets), which no action changes; comparing
    episodes that replay the same input removes that part of the variance. Leaving the episode itself out
    keeps the baseline independent of its own actions, so the gradient stays unbiased."""
    if replay == 1:
        return adv
    T, B, N = adv.shape
    groups = adv.reshape(T, B // replay, replay, N)
    others = (groups.sum(dim=2, keepdim=True) - groups) / (replay - 1)
    return (groups - others).reshape(T, B, N)


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


class Stream:
    """One scenario of a run: its episodes side by side, layouts, advisors, reward scale, discount, rollout
    buffers and curve. A mixed run holds one per scenario; their rollouts train one network."""

    def __init__(self, scenario: str, n_envs: int, cfg: ScratchConfig, out: Path, curve_name: str):
        self.scenario = scenario
        self.env = BatchEnv(scenario, n_envs, overrides=cfg.overrides, autoreset_mode="same_step")
        self.ul = U.UniversalLayout.for_env(self.env)
        self.advise = U.Advice(cfg.advisors, self.env, self.ul)
        self.gamma = 1.0 - self.env.params.dt / (cfg.horizon_h * 3600.0)
        T, B, N = cfg.n_steps, n_envs, self.env.n_agents
        self.size = T * B * N  # agent-steps of one rollout
        self.ret_rms, self.ret, self.ep_return = RunningMeanStd(shape=()), np.zeros((B, N)), np.zeros((B, N))
        # with replay k, episodes b and b' share an arrival sequence when b // k == b' // k (the env's random draws
        # do not depend on the actions, so they keep sharing them across autoresets)
        self.replay = cfg.replay
        obs, mask, _ = self.env.reset(seed=[TRAIN_SEEDS + cfg.seed * n_envs + b // cfg.replay for b in range(n_envs)])
        self.inputs = _inputs(self.ul, self.advise, obs, mask)
        self.buf = {k: torch.zeros((T, B, N, *s), dtype=d) for k, s, d in (("x", (U.UNIVERSAL_SIZE,), torch.float32), ("m", (U.UNIVERSAL_ACTIONS.n,), torch.bool),
                    ("a", (), torch.int64), ("logp", (), torch.float32), ("v", (), torch.float32), ("r", (), torch.float32), ("boot", (), torch.float32))}  # fmt: skip
        if self.advise.names:
            self.buf["h"] = torch.zeros((T, B, N, len(self.advise.names), U.UNIVERSAL_ACTIONS.n))
        self.ended = torch.zeros((T, B), dtype=torch.bool)
        self.episodes, self.recent = 0, []
        self.curve_file = (out / curve_name).open("w", newline="")
        self.rows = csv.writer(self.curve_file)
        self.rows.writerow(CURVE_FIELDS)

    def rollout(self, model: SetActorCritic, cfg: ScratchConfig, steps: int, t_start: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``n_steps`` steps of every episode, sampled from ``model``; (advantages, value targets), each (T x B, N).
        ``steps``: the run's agent-steps before this rollout (the curve's x axis)."""
        buf, env, ul = self.buf, self.env, self.ul
        B, N = self.ret.shape
        for t in range(cfg.n_steps):
            x, m, h = self.inputs
            with torch.no_grad():
                logits, value = on_cpu(model, x, h)
                dist = masked(logits, m)
                a = dist.sample()
            buf["x"][t], buf["m"][t], buf["a"][t], buf["logp"][t], buf["v"][t] = x, m, a, dist.log_prob(a), value
            if h is not None:
                buf["h"][t] = h
            obs, mask, rewards, terms, truncs, info = env.step(ul.to_native(a.numpy()))
            rewards = blend(rewards, cfg.team_weight)
            self.ep_return += rewards
            ended = terms | truncs
            self.ret = self.ret * self.gamma + rewards
            self.ret_rms.update(self.ret.reshape(-1))
            buf["r"][t] = torch.from_numpy((rewards / np.sqrt(self.ret_rms.var + 1e-8)).astype(np.float32))
            self.ended[t] = torch.from_numpy(ended)
            if ended.any():
                with torch.no_grad():
                    final = on_cpu(model, torch.from_numpy(ul.obs(info["final_obs"])))[1]
                buf["boot"][t] = torch.where(torch.from_numpy(truncs & ~terms)[:, None], final, 0.0)
                for v, r in zip(info["episode_metrics"]["delivered_value"][ended], self.ep_return[ended].mean(axis=-1)):
                    self.episodes += 1
                    self.recent = (self.recent + [float(v)])[-2 * B :]
                    self.rows.writerow([steps + (t + 1) * B * N, self.episodes, f"{r:.6g}", f"{v:.6g}", env.max_cycles, f"{time.time() - t_start:.1f}"])
                self.ret[ended] = self.ep_return[ended] = 0.0
                self.curve_file.flush()
            self.inputs = _inputs(ul, self.advise, obs, mask)
        with torch.no_grad():
            last_value = on_cpu(model, self.inputs[0])[1]
        adv = gae(buf["r"], buf["v"], self.ended, buf["boot"], last_value, self.gamma, cfg.gae_lambda)
        target = adv + buf["v"]
        return replay_baseline(adv, self.replay).reshape(-1, N), target.reshape(-1, N)

    def flat(self) -> dict[str, torch.Tensor]:
        """The rollout buffers as (T x B, N, ...) blocks of whole constellations."""
        return {k: v.reshape(-1, *v.shape[2:]) for k, v in self.buf.items()}

    def progress(self) -> str:
        return f"{self.scenario} {np.mean(self.recent):.1f} ({self.episodes} ep)" if self.recent else f"{self.scenario}: no episode yet"


def train(cfg: ScratchConfig, out: str | Path, progress: bool = True) -> ScratchResult:
    """Train from scratch, write the curves (``curve.csv``, or ``curve-<scenario>.csv`` per scenario of a mix;
    one row per finished training episode), ``summary.json`` and the exported ``policy.safetensors`` /
    ``policy.json`` into ``out`` (refused if it holds a run)."""
    out = Path(out)
    if any(out.glob("curve*.csv")):
        raise FileExistsError(f"{out} already holds a run; choose another --out")
    device = pick_device(cfg.device)  # before anything is written: a missing GPU leaves no run behind
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(cfg.seed)
    mix = cfg.scenarios()
    streams = [Stream(name, n, cfg, out, "curve.csv" if len(mix) == 1 else f"curve-{name}.csv") for name, n in mix.items()]
    model = SetActorCritic(cfg.hidden, cfg.critic, len(cfg.advisors), cfg.advice_bias).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, eps=1e-5)
    per_update = sum(st.size for st in streams)
    updates = max(1, -(-cfg.agent_steps // per_update))
    steps = 0
    rollout_s = update_s = 0.0
    t_start = time.time()
    for update in range(1, updates + 1):
        t0 = time.time()
        batches = []
        for st in streams:
            adv, target = st.rollout(model, cfg, steps, t_start)
            batches.append((st.flat(), adv, target))
            steps += st.size
        t1 = time.time()
        rollout_s += t1 - t0
        stats = _update(model, opt, cfg, batches)
        update_s += time.time() - t1
        if progress:
            wall = time.time() - t_start
            print(f"update {update}/{updates} agent-steps {steps:,} | rollout {rollout_s:.0f} s, update {update_s:.0f} s, "
                  f"{steps / wall:,.0f} agent-steps/s | delivered {'; '.join(st.progress() for st in streams)} | "
                  f"entropy {stats['entropy']:.3f} kl {stats['kl']:.4f} value loss {stats['value_loss']:.3f}", flush=True)  # fmt: skip
        if cfg.max_wall_s and time.time() - t_start >= cfg.max_wall_s:
            break
        if update % cfg.export_every == 0:
            export(model, cfg, out / "policy.safetensors", steps)
    for st in streams:
        st.curve_file.close()
    spec = export(model, cfg, out / "policy.safetensors", steps)
    wall = time.time() - t_start
    summary = {"agent_steps": steps, "episodes": {st.scenario: st.episodes for st in streams}, "wall_s": wall, "rollout_s": rollout_s,
               "update_s": update_s, "agent_steps_per_s": steps / wall, "gamma": {st.scenario: st.gamma for st in streams},
               "config": dataclasses.asdict(cfg)}  # fmt: skip
    atomic_write_bytes(out / "summary.json", (json.dumps(summary, indent=1) + "\n").encode())
    return ScratchResult(out, steps, rollout_s, update_s, steps / wall, spec)


def _inputs(ul: U.UniversalLayout, advise: U.Advice, obs: np.ndarray, mask: np.ndarray):
    """The network's inputs for native observations and masks: universal observations, mask and advice (or None)."""
    h = advise(obs, mask)
    return torch.from_numpy(ul.obs(obs)), torch.from_numpy(ul.mask(mask)), None if h is None else torch.from_numpy(h)


def _update(model: SetActorCritic, opt, cfg: ScratchConfig, batches: list[tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """``cfg.epochs`` passes of clipped PPO over minibatches of (step, episode) blocks of all satellites, for
    each scenario's rollout in turn (``batches``: (buffers, advantages, targets) per scenario, on the CPU;
    each minibatch moves to the model's device)."""
    device = next(model.parameters()).device
    for _ in range(cfg.epochs):
        for buf, adv, target in batches:
            n = len(adv)
            size = max(1, n // cfg.minibatches)
            order = torch.randperm(n)
            for start in range(0, n, size):
                idx = order[start : start + size]
                mb = {k: v[idx].to(device) for k, v in buf.items()}
                logits, value = model(mb["x"], mb.get("h"))
                dist = masked(logits, mb["m"])
                logp = dist.log_prob(mb["a"])
                ratio = (logp - mb["logp"]).exp()
                a = adv[idx].to(device)
                a = (a - a.mean()) / (a.std() + 1e-8)
                pg = torch.max(-a * ratio, -a * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)).mean()
                value_loss = 0.5 * ((value - target[idx].to(device)) ** 2).mean()
                entropy = dist.entropy().mean()
                loss = pg + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                opt.step()
    with torch.no_grad():
        kl = ((ratio - 1) - (logp - mb["logp"])).mean()  # of the last minibatch (Schulman's k3 estimator)
    return {"entropy": entropy.item(), "kl": kl.item(), "value_loss": value_loss.item()}


def export(model: SetActorCritic, cfg: ScratchConfig, path: str | Path, steps: int) -> Path:
    """Write the actor's weights and a ``universal-sets`` spec beside them (checked as the loader checks); the spec's path."""
    path = Path(path).with_suffix(".safetensors")
    tensors = {f"{n}.{p}": t.detach().cpu().numpy().astype(np.float32) for n, wb in model.params().items() for p, t in zip(("weight", "bias"), wb)}
    blob = save(tensors)
    spec = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": U.KIND,
        "name": "ppo-sets",
        "env": {"id": ENV_VERSION, "package_version": __version__},
        "trained_on": ({"scenarios": cfg.mix} if cfg.mix else {"scenario": cfg.scenario}) | {"overrides": cfg.overrides, "agent_steps": steps, "seed": cfg.seed},
        "observation": {"size": U.UNIVERSAL_SIZE, "K": U.K_MAX, "M": U.M_MAX, "G": U.G_MAX, "names": list(U.universal_names())},
        "action": {"n": U.UNIVERSAL_ACTIONS.n, "K": U.K_MAX, "P": U.P_MAX, "M": U.M_MAX, "G": U.G_MAX},
        "network": {"hidden": cfg.hidden} | ({"advisors": list(cfg.advisors)} if cfg.advisors else {}),
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


def _floats(text: str) -> float | tuple[float, ...]:
    """``4`` -> 4.0, ``0,4,0`` -> (0.0, 4.0, 0.0): a command-line advice bias."""
    values = tuple(float(v) for v in text.split(","))
    return values[0] if len(values) == 1 else values


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
    t.add_argument("--advisors", type=lambda v: tuple(filter(None, v.split(","))), help=f"comma-separated heuristics to take advice from ({', '.join(U.ADVISORS)})")
    t.add_argument("--advice-bias", type=_floats, metavar="B[,B...]", help="initial trust: one number for every advisor, or one per advisor (e.g. 0,4,0)")
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
        if data.get("mix") and ("scenario" in data or "n_envs" in data):
            p.error("a [mix] config names its scenarios and episodes itself: drop scenario / n_envs (or --scenario / --n-envs)")
        try:
            cfg = ScratchConfig(**data)
            pick_device(cfg.device)
        except ValueError as e:  # DeviceError is one
            p.error(str(e))
        r = train(cfg, args.out, progress=not args.quiet)
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
