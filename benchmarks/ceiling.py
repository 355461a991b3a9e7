"""How close is the board's best heuristic to the best schedulers we know, and what must a policy score
to beat it with non-overlapping 95% confidence intervals (the leaderboard's per-scenario statistics)?

Runs, on one scenario and its seeds (the suite's test seeds by default):

- the board's normalisers (random = 0, edf-safe = 100) and its best heuristic, ``balance``;
- ``balance`` with other parameters (the old 15-minute relay margin; more eager load balancing);
- ``balance`` with privileged load balancing: each step, a satellite with a job waiting behind its running
  one sends it to the linked neighbour with the least work on board, if that leaves the neighbour with less
  than the sender. It reads every satellite's exact work on board from the simulator (a policy sees its
  neighbours' only as ``neigh[m].work``, log-scaled and clipped at 100 h), so it is a reference point,
  not a baseline;
- optionally a trained policy (``--spec``);

and prints each one's mean delivered value and mean score [95% CI], then the bar: the upper end of
balance's interval, and the mean a policy with balance's spread would need to clear it.

    python benchmarks/ceiling.py [--scenario three-body-12] [--seeds 1000-1009] [--spec policy.json]
"""

from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

from agents.heuristics import REFERENCE, make_policy
from agents.learned import load_policy
from leaderboard.stats import mean, normalise, stratified_bootstrap
from orbit_env.env import OrbitComputeEnv
from orbit_env.sim import Place
from train.evaluate import delivered, seed_range


def privileged_balancing(env: OrbitComputeEnv, actions: np.ndarray) -> np.ndarray:
    """``actions`` with sends that move a waiting job to the least loaded linked neighbour, by true loads."""
    s, p, A = env.sim, env.params, env.actions
    jobs, nb = s.jobs, np.maximum(env.ephemeris.neighbours, 0)
    hours = (jobs.work - s.done_work) / p.model_thr[jobs.model] / 3600.0
    on_board = s.place == Place.ONBOARD
    load = np.bincount(np.maximum(s.sat, 0), weights=np.where(on_board, hours, 0.0), minlength=p.n_sats)[: p.n_sats]
    j = s.slots  # (N, K), -1 gathers the sentinel job, which is never ONBOARD
    waiting = on_board[j] & (j != s.active[:, None])
    legal = env.action_masks[:, A.send(np.arange(A.K)[:, None], np.arange(A.M))] > 0  # (N, K, M)
    after = load[nb][:, None, :] + hours[j][:, :, None]  # the neighbour's load with the job
    ok = legal & waiting[:, :, None] & (after < load[:, None, None])
    gain = np.where(ok, load[:, None, None] - load[nb][:, None, :], -np.inf).reshape(p.n_sats, -1)
    k, m = np.divmod(gain.argmax(axis=1), A.M)
    return np.where(np.isfinite(gain.max(axis=1)), A.send(k, m), actions)


class PrivilegedBalance:
    """balance, with its sends of waiting jobs replaced by ``privileged_balancing`` (reads the simulator)."""

    def __init__(self, env: OrbitComputeEnv):
        self.env, self.base = env, make_policy("balance", env)

    def reset(self, seed: int | None = None) -> None:
        self.base.reset(seed)

    def act_arrays(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return privileged_balancing(self.env, self.base.act_arrays(obs, mask))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/ceiling.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="three-body-12")
    ap.add_argument("--seeds", default="1000-1009", help="seed range (the suite's test seeds by default)")
    ap.add_argument("--spec", help="a trained policy's .json spec, shown beside the others")
    args = ap.parse_args(argv)
    seeds = seed_range(args.seeds)
    env = OrbitComputeEnv(args.scenario)
    policies = {
        "random": lambda e: make_policy("random", e),
        REFERENCE: lambda e: make_policy(REFERENCE, e),
        "balance": lambda e: make_policy("balance", e),
        "balance, relay_margin_min = 15 (the old default)": lambda e: make_policy("balance", e, relay_margin_min=15.0),
        "balance, min_free_gap = 1": lambda e: make_policy("balance", e, min_free_gap=1),
        "balance + privileged load balancing": PrivilegedBalance,
    }
    if args.spec:
        policies[f"trained: {args.spec}"] = lambda e: load_policy(args.spec, e)
    values = {name: delivered(env, make, seeds) for name, make in tqdm(policies.items(), desc=args.scenario, unit="policy")}
    zero, ref = values["random"].mean(), values[REFERENCE].mean()
    rows = {name: (v.mean(), *stratified_bootstrap([normalise(v, zero, ref)], mean)) for name, v in values.items()}
    print(f"{args.scenario}, seeds {args.seeds}: score = 100 x (value - random) / (edf-safe - random), mean [95% CI]")
    print("| policy | delivered value | score |\n|---|---:|---:|")
    for name, (v, s, lo, hi) in rows.items():
        print(f"| {name} | {v:.2f} | {s:.1f} [{lo:.1f}, {hi:.1f}] |")
    _, s, lo, hi = rows["balance"]
    need = hi + (s - lo)  # a policy whose interval is as wide below its mean as balance's
    print(f"\nto beat balance with non-overlapping intervals a policy's lower bound must exceed {hi:.1f}: with balance's "
          f"spread, a mean score of {need:.1f} = {zero + need / 100 * (ref - zero):.2f} delivered")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
