"""The baselines on the real suite scenarios (full days, a sample of the public dev seeds): every heuristic
beats random except where physics forbids what it does (running flat out), and the energy- and
thermal-aware ones cause significantly fewer safe-mode entries and thermal shutdowns than greedy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wilcoxon

from agents.datasheet import Datasheet
from agents.heuristics import HEURISTICS
from leaderboard.entries import resolve
from leaderboard.evaluate import evaluate
from leaderboard.store import Key, Store
from leaderboard.suite import V1, Suite, Task, env_hash
from orbit_env.env import OrbitComputeEnv
from orbit_env.physics import thermal

SEEDS = {"starcloud-1": 3}  # others: 1 seed (a starcloud-1 day is the cheapest episode, the shell the dearest)
SAMPLE = Suite(
    "v1-dev-sample",
    "suite v1's scenarios and horizons on its first dev seeds",
    tuple(Task(t.scenario, t.max_cycles, t.dev_seeds[: SEEDS.get(t.scenario, 1)], ()) for t in V1.tasks),
)
FULL_POWER = ("greedy", "edf")  # run at the top power level whatever the battery or the temperature
AWARE = ("edf-safe", "edf-ckpt", "balance")
# Where running flat out is physically impossible (test_flat_out_physics), and what then happens
UNSUSTAINABLE = {"starcloud-1": "safe_mode_entries", "walker-160": "thermal_shutdowns", "starcloud-shell-1000": "thermal_shutdowns"}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """{policy: {scenario: {metric: per-seed values}}}, from the evaluator (workers in parallel)."""
    for task in SAMPLE.tasks:  # build each ephemeris once here, not in both workers at the same time
        OrbitComputeEnv(task.scenario, max_cycles=2)
    store = Store(tmp_path_factory.mktemp("baselines") / "results.sqlite")
    summary = evaluate([resolve(n) for n in HEURISTICS], SAMPLE, "dev", store, progress=False)
    assert summary.failed == 0
    rows = store.rows(Key(SAMPLE.name, SAMPLE.hash, env_hash(), "dev"))
    store.close()
    out: dict = {}
    for r in rows:
        per = out.setdefault(r.entry, {}).setdefault(r.scenario, {})
        for k, v in r.metrics.items():
            per.setdefault(k, []).append(v)
        per.setdefault("events", []).append(r.metrics["safe_mode_entries"] + r.metrics["thermal_shutdowns"])
    return out


def flat_out(scenario: str) -> tuple[float, float, float]:
    """Running flat out: (GPU temperature when the radiator reaches equilibrium in sunlight, its shutdown
    temperature, orbit-average array output / load)."""
    env = OrbitComputeEnv(scenario, max_cycles=2)
    hw, sheet = env.scenario.hardware, Datasheet.from_scenario(env.scenario)
    load = float(sheet.load_w(sheet.caps_w[-1], 0.0))
    node_k = thermal.equilibrium_temp_k(load, hw.emissivity, hw.radiator_area_m2, hw.sink_temp_k)
    gpu_c = float(thermal.gpu_temp_c(node_k, sheet.caps_w[-1], hw.gpu_k_per_w))
    return gpu_c, hw.accel.shutdown_c, sheet.solar_w * float(env.ephemeris.sunlit.mean()) / load


def test_flat_out_physics():
    """starcloud-1's array, lit 60% of the time, gives two thirds of what 850 W flat out needs; the 700 W
    GPUs of walker-160 and the shell settle above their 92 C shutdown; the other two can run flat out."""
    for scenario in V1.scenarios:
        gpu_c, shutdown_c, supply = flat_out(scenario)
        if UNSUSTAINABLE.get(scenario) == "thermal_shutdowns":
            assert gpu_c > shutdown_c, scenario
        elif UNSUSTAINABLE.get(scenario) == "safe_mode_entries":
            assert supply < 0.7, scenario
        else:
            assert gpu_c < shutdown_c and supply > 0.95, (scenario, gpu_c, supply)


@pytest.mark.parametrize("scenario", V1.scenarios)
def test_every_heuristic_beats_random_where_physics_allows(results, scenario):
    random = np.mean(results["random"][scenario]["delivered_value"])
    for name in HEURISTICS:
        if name == "random":
            continue
        got = results[name][scenario]
        mean = np.mean(got["delivered_value"])
        if name in FULL_POWER and scenario in UNSUSTAINABLE:
            # safe mode or thermal shutdowns throw the running job away again and again; random, which
            # often picks lower caps, does better
            assert mean < random and min(got[UNSUSTAINABLE[scenario]]) > 0, (name, scenario, mean, random)
        else:
            assert mean > random, f"{name} on {scenario}: {mean:.1f} vs random {random:.1f}"


@pytest.mark.parametrize("name", AWARE)
def test_aware_heuristics_have_significantly_fewer_safe_mode_entries_and_thermal_shutdowns(results, name):
    greedy = np.concatenate([results["greedy"][s]["events"] for s in V1.scenarios])
    aware = np.concatenate([results[name][s]["events"] for s in V1.scenarios])
    assert aware.sum() < greedy.sum()
    # paired by (scenario, seed): one-sided Wilcoxon signed-rank test over the episodes that differ
    assert wilcoxon(greedy, aware, alternative="greater").pvalue < 0.05
