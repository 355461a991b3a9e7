"""Careless and hostile input (issue 11): scenario files, the command line and actions. Each bad input is a
clear error naming what is wrong and what is allowed, raised before any work or any change of state."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from orbit_env.cli import main
from orbit_env.env import OrbitComputeEnv, OrbitComputeGymEnv
from orbit_env.scenario import SCENARIO_DIR, ScenarioError, load_scenario, shipped_scenarios

BASE = (SCENARIO_DIR / "three-body-12.toml").read_text()


def _write(tmp_path, text, name="mine.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _error(path_or_name, overrides=None) -> str:
    with pytest.raises(ScenarioError) as err:
        load_scenario(path_or_name, overrides)
    return str(err.value)


# ------------------------------------------------------------------------------------ scenario files


def test_shipped_scenarios_give_everything_required():
    for name in shipped_scenarios():
        assert load_scenario(name).name == name


@pytest.mark.parametrize(
    "text, missing",
    [
        ("", ["name", "[orbit]", "[hardware]", "[ground]", "[workload]"]),
        (BASE.replace("[orbit]", "[nothing]").replace('kind = "walker"', ""), ["unknown key 'nothing'"]),
        (BASE[: BASE.index("[orbit]")] + BASE[BASE.index("[hardware]") :], ["missing [orbit]"]),
        (BASE.replace("altitude_km = 500.0", ""), ["missing orbit.altitude_km"]),
        (BASE.replace("sun_synchronous = true", ""), ["orbit.inclination_deg (or orbit.sun_synchronous = true)"]),
        (BASE.replace('name = "three-body-12"', ""), ["missing name"]),
        (BASE.replace('stations = ["Kashi", "Sanya", "Miyun", "Jiamusi"]', 'stations = [{name = "x"}]'),
         ["ground.stations[0].lat_deg", "ground.stations[0].lon_deg"]),
        (BASE.replace('stations = ["Kashi", "Sanya", "Miyun", "Jiamusi"]', 'stations = [{lat_deg = 1.0, lon_deg = 2.0}]'),
         ["ground.stations[0].name"]),
    ],
)
def test_required_sections_and_keys_are_required(tmp_path, text, missing):
    path = _write(tmp_path, text)
    msg = _error(path)
    assert str(path) in msg
    for fragment in missing:
        assert fragment in msg, msg


@pytest.mark.parametrize(
    "key, value, expect",
    [
        ("hardware.power_caps_w", ["high"], "expected a finite number"),
        ("hardware.power_caps_w", [True], "expected a finite number"),
        ("hardware.power_caps_w", 300.0, "expected a list"),
        ("workload.model_weights", ["a", "b"], "expected a finite number"),
        ("workload.deadline_factor", [1.5, float("nan")], "expected a finite number"),
        ("workload.models", [3], "expected a string"),
        ("workload.models", [{"name": "gpt2-124m"}], "expected a string"),
        ("ground.stations", [3.5], "station name or a table"),
        ("ground.stations", "Kashi", "expected a list"),
        ("orbit.altitude_km", "high", "expected a finite number"),
        ("orbit.planes", True, "expected a whole number"),
        ("hardware.battery_wh", [1000.0], "expected a finite number"),
        ("episode.dense_shaping", "yes", "expected true or false"),
        ("episode.reward", 1, "expected a string"),
    ],
)
def test_wrong_types_in_every_kind_of_field_are_clear_errors(key, value, expect):
    msg = _error("three-body-12", {key: value})
    assert f"(override {key})" in msg and expect in msg, msg


def test_a_file_error_is_blamed_on_the_file_and_key_not_on_an_override(tmp_path):
    path = _write(tmp_path, BASE.replace("power_caps_w = [100.0, 150.0, 200.0]", 'power_caps_w = ["high"]'))
    msg = _error(path, {"episode.max_cycles": 100})
    assert msg.startswith(f"{path}: hardware.power_caps_w[0] = 'high'"), msg
    assert "override" not in msg
    msg = _error(path, {"hardware.power_caps_w": [100.0, 99999.0]})  # the override replaces the bad list
    assert msg.startswith(f"{path} (override hardware.power_caps_w): hardware.power_caps_w[1] = 99999.0"), msg


@pytest.mark.parametrize(
    "overrides, expect",
    [
        ({"hardware.heater_w": 1e5, "hardware.heat_capacity_j_per_k": 100.0},
         ["impossible heat balance", "hardware.heater_w 100000 W", "hardware.radiator_area_m2 = 1.2", "above 200 C"]),
        ({"hardware.radiator_area_m2": 0.01}, ["impossible heat balance", "hardware.radiator_area_m2 = 0.01"]),
        ({"hardware.accelerators_per_sat": 64, "links.isl_terminals": 4},
         ["64 x max(hardware.power_caps_w) 12800 W", "4 x hardware.isl_terminal_w 160 W", "hardware.radiator_area_m2 = 1.2"]),
        ({"hardware.safe_mode_soc": 0.7, "hardware.resume_soc": 0.5}, ["resume_soc", "safe_mode_soc"]),
    ],
)
def test_impossible_hardware_combinations_are_named(overrides, expect):
    msg = _error("three-body-12", overrides)
    for fragment in expect:
        assert fragment in msg, msg


def test_the_heat_balance_bound_holds_for_every_shipped_scenario():
    """The worst case the check computes really bounds the node: full load from the initial temperature."""
    from orbit_env.physics.thermal import KELVIN, node_step
    from orbit_env.scenario import NODE_MAX_C

    for name in shipped_scenarios():
        s = load_scenario(name)
        hw = s.hardware
        load = hw.bus_w + hw.accelerators_per_sat * max(hw.power_caps_w) + s.links.isl_terminals * hw.isl_terminal_w
        t = np.array([hw.initial_temp_c + KELVIN])
        for _ in range(2000):
            t = node_step(t, load + hw.radio_w + hw.heater_w, 60.0, hw.heat_capacity_j_per_k, hw.emissivity,
                          hw.radiator_area_m2, max(hw.sink_temp_k, hw.sink_temp_eclipse_k))  # fmt: skip
        assert t[0] - KELVIN < NODE_MAX_C


def test_memory_is_estimated_and_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.delenv("ORBIT_ENV_MEMORY_LIMIT_GB", raising=False)
    with pytest.raises(ScenarioError) as err:
        OrbitComputeEnv("walker-160", max_cycles=1_000_000, cache_dir=str(tmp_path))
    msg = str(err.value)
    assert "needs about 22.7 GB" in msg and "1,001,441 steps" in msg and "160 satellites" in msg and "8 GB limit" in msg
    assert not list(tmp_path.iterdir())  # nothing was built or cached
    monkeypatch.setenv("ORBIT_ENV_MEMORY_LIMIT_GB", "0.01")
    with pytest.raises(ScenarioError, match="needs about 0.0 GB .* above the 0.01 GB limit"):
        OrbitComputeEnv("starcloud-1", max_cycles=10, cache_dir=str(tmp_path))
    monkeypatch.setenv("ORBIT_ENV_MEMORY_LIMIT_GB", "lots")
    with pytest.raises(ScenarioError, match="'lots' is not a number"):
        OrbitComputeEnv("starcloud-1", max_cycles=10, cache_dir=str(tmp_path))


def test_memory_estimate_covers_the_measured_peak():
    import tracemalloc

    from orbit_env.ephemeris import _sky, build_ephemeris, memory_estimate_bytes

    s = load_scenario("three-body-12", {"episode.max_cycles": 3000})
    _sky()  # the kernel and timescale are loaded once per process, not per build
    tracemalloc.start()
    try:
        build_ephemeris(s)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = memory_estimate_bytes(s, 12)
    assert peak <= estimate <= 2 * peak, (peak, estimate)


def test_env_refuses_the_episode_length_twice():
    with pytest.raises(ValueError, match="given twice"):
        OrbitComputeEnv("starcloud-1", max_cycles=10, overrides={"episode.max_cycles": 20})


# --------------------------------------------------------------------------------------- command line


def _cli(capsys, *argv) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse usage errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize(
    "argv, expect",
    [
        (["run", "starcloud-1", "--render-every", "0"], "--render-every: 0 is not above 0"),
        (["run", "starcloud-1", "--steps", "-3"], "--steps: -3 is not above 0"),
        (["run", "starcloud-1", "--seed", "-1"], "--seed: -1 is not at least 0"),
        (["run", "starcloud-1", "--steps", "2.5"], "'2.5' is not a whole number"),
        (["run", "starcloud-1", "--render", "rgb_array", "--out", "/nonexistent/x.png"], "'/nonexistent' does not exist"),
        (["run", "starcloud-1", "--render", "rgb_array", "--out", "/tmp"], "expected a .png file name"),
        (["run", "starcloud-1", "--out", "frame.png"], "add --render rgb_array"),
        (["run", "starcloud-1", "--steps", "5", "--set", "episode.max_cycles=7"], "episode length is given twice"),
        (["check", "starcloud-1", "--episodes", "0"], "--episodes: 0 is not above 0"),
        (["check", "starcloud-1", "--steps", "0"], "--steps: 0 is not above 0"),
        (["check", "starcloud-1", "--steps", "5", "--set", "episode.max_cycles=7"], "episode length is given twice"),
        (["check", "starcloud-1", "--set", "episode.max_cycles=0"], "(override episode.max_cycles): episode.max_cycles = 0"),
        (["train", "--timesteps", "0"], "--timesteps: 0 is not above 0"),
        (["evaluate", "greedy", "--workers", "0"], "--workers: 0 is not above 0"),
        (["evaluate", "greedy", "--timeout", "-1"], "--timeout: -1 is not above 0"),
    ],
)
def test_cli_usage_errors_come_before_any_work(capsys, argv, expect):
    code, out = _cli(capsys, *argv)
    assert code == 2, out
    assert expect in out, out
    assert "Traceback" not in out


def test_cli_blames_a_bad_file_not_the_steps_option(capsys, tmp_path):
    path = _write(tmp_path, BASE.replace("power_caps_w = [100.0, 150.0, 200.0]", 'power_caps_w = ["high"]'))
    code, out = _cli(capsys, "run", str(path), "--steps", "5", "--quiet")
    assert code == 2 and f"{path}: hardware.power_caps_w[0] = 'high' is invalid" in out and "override" not in out
    code, out = _cli(capsys, "run", str(_write(tmp_path, "", "empty.toml")), "--quiet")
    assert code == 2 and "missing name, [orbit]" in out


def test_cli_writes_the_last_frame(capsys, tmp_path):
    out_png = tmp_path / "last.png"
    code, out = _cli(capsys, "run", "starcloud-1", "--steps", "3", "--quiet", "--render", "rgb_array", "--out", str(out_png))
    assert code == 0, out
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_check_takes_its_length_from_set(capsys):
    code, out = _cli(capsys, "check", "starcloud-1", "--set", "episode.max_cycles=7", "--episodes", "1")
    assert code == 0, out
    assert "1 episodes, 7 steps" in out


# -------------------------------------------------------------------------------------------- actions


@pytest.fixture(scope="module")
def par():
    return OrbitComputeEnv("three-body-12", max_cycles=20)


def _idle(env) -> dict:
    return dict.fromkeys(env.agents, 0)


def _bad_dicts(env):
    idle = _idle(env)
    n = env.params.n_actions
    yield "all bools", dict.fromkeys(env.agents, True), "is True (bool)"
    yield "numpy bool", {**idle, "sat_3": np.bool_(False)}, "False_ (bool)"
    yield "2**70", {**idle, "sat_2": 2**70}, f"action {2**70} for 'sat_2' is outside Discrete({n})"
    yield "True among ints", {**idle, "sat_5": True}, "action for 'sat_5' is True (bool)"
    yield "negative", {**idle, "sat_0": -1}, "action -1 for 'sat_0' is outside"
    yield "one past the end", {**idle, "sat_1": n}, f"action {n} for 'sat_1' is outside Discrete({n}): expected 0 to {n - 1}"
    yield "uint64 beside int64", {**idle, "sat_1": np.uint64(2**63)}, "is outside"
    yield "float", {**idle, "sat_4": 1.0}, "is 1.0 (float)"
    yield "string", {**idle, "sat_4": "3"}, "is '3' (str)"
    yield "array", {**idle, "sat_4": np.array([1])}, "(ndarray)"
    yield "extra agent", {**idle, "sat_99": 0}, "unknown agents 'sat_99'"
    yield "extra key", {**idle, "foo": 0}, "unknown agents 'foo'"
    yield "missing agent", {a: 0 for a in env.agents[1:]}, "no action for agent 'sat_0'"
    yield "list", [0] * len(env.agents), "expects a dict {agent: action}, got list"


def test_bad_pettingzoo_actions_are_clear_errors_and_change_nothing(par):
    par.reset(seed=3)
    par.step(_idle(par))
    before = copy.deepcopy((par.sim, [g.bit_generator.state for g in par.batch.rngs]))
    for label, actions, expect in _bad_dicts(par):
        with pytest.raises(ValueError) as err:
            par.step(actions)
        assert expect in str(err.value), (label, str(err.value))
    after = (par.sim, [g.bit_generator.state for g in par.batch.rngs])
    assert after[1] == before[1] and np.array_equal(after[0].t, before[0].t) and all(np.array_equal(after[0].totals[k], v) for k, v in before[0].totals.items())
    assert all(np.array_equal(getattr(after[0], f), getattr(before[0], f)) for f in ("place", "slots", "energy_wh", "temp_k"))


def test_numpy_and_python_integers_are_actions(par):
    par.reset(seed=0)
    acts = {a: v for a, v in zip(par.agents, [0, np.int64(0), np.int32(1), np.uint8(0), np.array(0)] + [0] * 7)}
    _, _, _, _, infos = par.step(acts)
    assert infos["sat_2"]["invalid_action"]  # checkpoint with nothing loaded: in the space, illegal, a counted no-op
    assert not infos["sat_0"]["invalid_action"]


@pytest.mark.parametrize("bad, expect", [(1.9, "(float)"), ("3", "(str)"), (True, "(bool)"), (np.float32(2.99), "(float32)"),
                                         (np.bool_(True), "(bool"), (np.array([2]), "(ndarray)"), (None, "(NoneType)"),
                                         (-1, "outside"), (10**30, "outside")])  # fmt: skip
def test_single_satellite_gym_face_takes_only_integers(bad, expect):
    env = OrbitComputeGymEnv("starcloud-1", max_cycles=5)
    env.reset(seed=0)
    with pytest.raises(ValueError) as err:
        env.step(bad)
    assert expect in str(err.value)
    for good in (0, np.int64(0), np.array(0)):
        env.step(good)


def _rejected_step_is_invisible(make, bad, good):
    """A rejected step leaves state and random stream untouched: the next valid step equals a fresh env's."""
    a, b = make(), make()
    a.reset(seed=11)
    b.reset(seed=11)
    with pytest.raises(ValueError):
        a.step(bad)
    oa, ra, *_ = a.step(good)
    ob, rb, *_ = b.step(good)
    assert ra == rb
    assert np.array_equal(oa["observation"], ob["observation"]) and np.array_equal(oa["action_mask"], ob["action_mask"])
    assert all(np.array_equal(a.par.sim.totals[k], v) for k, v in b.par.sim.totals.items())
    assert [g.bit_generator.state for g in a.par.batch.rngs] == [g.bit_generator.state for g in b.par.batch.rngs]


def test_centralised_gym_face_validates_before_it_mutates():
    make = lambda: OrbitComputeGymEnv("three-body-12", max_cycles=5)  # noqa: E731
    env = make()
    n, A = env.par.params.n_sats, env.par.params.n_actions
    env.reset(seed=0)
    for bad, expect in [
        (np.array([0, 5]), f"expected {n} actions"),
        (np.array([0] * (n - 1) + [A]), f"action {A} for 'sat_{n - 1}' is outside"),
        (np.zeros(n, bool), "array of bool"),
        (np.zeros(n, np.float32), "array of float32"),
        ([0] * (n - 1) + [True], "is True (bool)"),
        ([0] * (n - 1) + [2**70], "is outside"),
        (7, "not a sequence"),
    ]:
        with pytest.raises(ValueError) as err:
            env.step(bad)
        assert expect in str(err.value), str(err.value)
    _rejected_step_is_invisible(make, np.array([0] * (n - 1) + [A]), np.zeros(n, np.int64))
    env.step([0] * n)  # a list of ints is an action too


def test_single_gym_face_rejected_step_is_invisible():
    _rejected_step_is_invisible(lambda: OrbitComputeGymEnv("starcloud-1", max_cycles=5), 1.9, 0)

