"""Conformance checks a user can run on any scenario: PettingZoo's API tests, determinism and invariants.

``orbit-env check SCENARIO`` runs ``run_checks`` and prints the table; the test suite runs the same
functions on every shipped scenario, so a user who edits a scenario or the physics can prove the env
still conforms.
"""

from __future__ import annotations

import contextlib
import io
import time
import traceback
import warnings
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from orbit_env import orbit_compute_v2
from orbit_env.env import OrbitComputeEnv
from orbit_env.sim import consistency_errors, job_census


@dataclass
class CheckResult:
    name: str
    passed: bool
    seconds: float
    detail: str = ""


def _pz_tests():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from pettingzoo import test as pz_test
    return pz_test


def random_legal_actions(env: OrbitComputeEnv, rng: np.random.Generator) -> dict[str, int]:
    """One uniformly random legal action per live agent, drawn from the action masks."""
    mask = env.action_masks[: len(env.agents)].astype(bool)
    scores = rng.random(mask.shape) * mask
    return dict(zip(env.agents, scores.argmax(axis=1).tolist()))


def check_determinism(make: Callable[[], OrbitComputeEnv], cycles: int) -> str:
    """Same seed: identical observations, rewards and infos over the episode; different seeds: different."""

    def trajectory(seed: int):
        env = make()
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        out = [env.observations.copy()]
        for _ in range(cycles):
            if not env.agents:
                break
            obs, rew, term, trunc, info = env.step(random_legal_actions(env, rng))
            out += [env.observations.copy(), np.array(list(rew.values())), repr(info)]
        return out

    a, b, c = trajectory(7), trajectory(7), trajectory(8)
    for i, (x, y) in enumerate(zip(a, b)):
        same = np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
        if not same:
            raise AssertionError(f"same seed diverged at element {i} of the trajectory")
    if all((np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y) for x, y in zip(a, c)):
        raise AssertionError("seeds 7 and 8 gave identical episodes")
    return f"{len(a)} records identical for seed 7; seed 8 differs"


def check_invariants(make: Callable[[], OrbitComputeEnv], episodes: int, cycles: int) -> str:
    """Random legal actions over seeded episodes: finite observations inside the space, battery within
    [0, capacity], energy balance each step, and every job in exactly one place."""
    steps = 0
    for ep in range(episodes):
        env = make()
        env.reset(seed=1000 + ep)
        rng = np.random.default_rng(ep)
        space = env.observation_space(env.possible_agents[0])
        cap = env.scenario.hardware.battery_wh
        for _ in range(cycles):
            if not env.agents:
                break
            e_before = env.sim.energy_wh.copy()
            obs, rew, *_ = env.step(random_legal_actions(env, rng))
            info = env.last_step
            steps += 1
            if not np.all(np.isfinite(env.observations)) or not all(np.isfinite(r) for r in rew.values()):
                raise AssertionError(f"episode {ep} step {int(env.sim.t[0])}: NaN or inf in observations or rewards")
            for agent, o in obs.items():
                if not space.contains(o):
                    raise AssertionError(f"episode {ep} step {int(env.sim.t[0])}: observation of {agent} is outside its space")
            if np.any(env.sim.energy_wh < 0) or np.any(env.sim.energy_wh > cap + 1e-9):
                raise AssertionError(f"episode {ep} step {int(env.sim.t[0])}: battery outside [0, {cap}] Wh")
            bat = info.battery
            de_w = (env.sim.energy_wh - e_before) * 3600.0 / env.params.dt
            resid = info.solar_w - (info.load_w - bat.unmet_w + de_w + bat.shunt_w + bat.loss_w)
            if np.max(np.abs(resid)) > 1e-6 * max(1.0, float(np.max(info.solar_w))):
                raise AssertionError(f"episode {ep} step {int(env.sim.t[0])}: energy balance off by {np.max(np.abs(resid)):.3g} W")
            census = {k: int(v[0]) for k, v in job_census(env.sim).items()}
            parts = sum(v for k, v in census.items() if k != "submitted")
            if parts != census["submitted"]:
                raise AssertionError(f"episode {ep} step {int(env.sim.t[0])}: job census {census} does not add up")
            errors = consistency_errors(env.sim, env.params)
            if errors:
                raise AssertionError(f"episode {ep} step {int(env.sim.t[0])}: {errors[0]}")
    return f"{episodes} episodes, {steps} steps"


def run_checks(scenario: Any = "three-body-12", max_cycles: int = 60, episodes: int = 3, **env_kwargs) -> list[CheckResult]:
    """Run every check on one scenario; returns one result per check (nothing raises)."""
    pz = _pz_tests()
    from pettingzoo.utils.conversions import parallel_to_aec

    kw = dict(scenario=scenario, **env_kwargs)
    par = partial(orbit_compute_v2.parallel_env, **kw)
    aec = partial(orbit_compute_v2.env, **kw)
    module = SimpleNamespace(parallel_env=par, env=aec)
    n_cyc = min(max_cycles, 30)
    checks: list[tuple[str, Callable[[], Any]]] = [
        ("api_test", lambda: pz.api_test(aec(max_cycles=max_cycles), num_cycles=n_cyc)),
        ("parallel_api_test", lambda: pz.parallel_api_test(par(max_cycles=max_cycles), num_cycles=n_cyc)),
        ("seed_test", lambda: pz.seed_test(lambda: parallel_to_aec(par(max_cycles=max_cycles)), num_cycles=n_cyc)),
        ("max_cycles_test", lambda: pz.max_cycles_test(module)),
        ("render_test", lambda: pz.render_test(lambda render_mode=None: aec(max_cycles=max_cycles, render_mode=render_mode))),
        ("state_test", lambda: pz.state_test(aec(max_cycles=max_cycles), par(max_cycles=max_cycles))),
        ("determinism", lambda: check_determinism(lambda: par(max_cycles=max_cycles), max_cycles)),
        ("invariants", lambda: check_invariants(lambda: par(max_cycles=max_cycles), episodes, max_cycles)),
    ]
    results = []
    for name, fn in checks:
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                detail = fn()
            results.append(CheckResult(name, True, time.perf_counter() - t0, detail if isinstance(detail, str) else ""))
        except Exception as e:  # a failed check is a row in the table, not a crash
            last = traceback.extract_tb(e.__traceback__)[-1]
            results.append(
                CheckResult(name, False, time.perf_counter() - t0, f"{type(e).__name__}: {e} ({last.filename.split('/')[-1]}:{last.lineno})")
            )
    return results


def format_table(scenario: str, results: list[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"orbit-env check: {scenario}", f"{'check':<{width}}  result  seconds  detail"]
    for r in results:
        lines.append(f"{r.name:<{width}}  {'PASS' if r.passed else 'FAIL':<6}  {r.seconds:7.2f}  {r.detail}")
    n_ok = sum(r.passed for r in results)
    lines.append(f"{n_ok} passed, {len(results) - n_ok} failed")
    return "\n".join(lines)
