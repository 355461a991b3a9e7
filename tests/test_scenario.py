"""Scenario loading and validation: every kind of bad input names the file, the key, the value and what is allowed."""

from __future__ import annotations

import pytest

from orbit_env.scenario import ScenarioError, load_scenario, shipped_scenarios

SHIPPED = ["starcloud-1", "three-body-12", "suncatcher-81", "walker-160", "starcloud-shell-1000"]


def test_all_design_scenarios_are_shipped_and_valid():
    assert sorted(set(shipped_scenarios()) - set(shipped_scenarios("v2"))) == sorted(SHIPPED)
    for name in SHIPPED:
        s = load_scenario(name)
        assert s.name == name
        assert s.source.endswith(f"{name}.toml")


def test_sun_synchronous_inclination_matches_physics_md():
    # physics.md s2: SSO inclination at 650 km is 97.99 deg
    s = load_scenario("suncatcher-81")
    assert s.orbit.inclination == pytest.approx(97.99, abs=0.01)


def _write(tmp_path, text, name="mine.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "body, expect",
    [
        ("[orbit]\naltitude_km = -5\n", ["altitude_km", "-5", "150", "2000"]),
        ("[orbit]\naltitude_km = 'high'\n", ["altitude_km", "'high'", "number"]),
        ("[orbit]\nplanes = 2.5\n", ["orbit.planes", "whole number"]),
        ("[orbit]\nsun_synchronous = 1\n", ["sun_synchronous", "true or false"]),
        ("[orbit]\nkind = 'ring'\n", ["orbit.kind", "'ring'", "walker", "cluster", "tle"]),
        ("[orbit]\naltitude = 500\n", ["unknown key", "orbit.altitude", "altitude_km"]),
        ("colour = 'red'\n", ["unknown key", "colour"]),
        ("[hardware]\naccelerator = 'a100'\n", ["hardware.accelerator", "h100-sxm"]),
        ("[hardware]\npower_caps_w = [100.0, 800.0]\n", ["power_caps_w[0]", "200", "700"]),
        ("[hardware]\nsafe_mode_soc = 0.7\nresume_soc = 0.5\n", ["resume_soc", "safe_mode_soc"]),
        ("[ground]\nstations = ['Atlantis']\n", ["ground.stations[0]", "Atlantis", "SvalSat"]),
        ("[ground]\nstations = [{name = 'x', lat_deg = 95.0, lon_deg = 0.0}]\n", ["lat_deg", "95", "-90", "90"]),
        ("[workload]\nmodels = ['gpt5']\n", ["workload.models[0]", "gpt5", "catalog"]),
        ("[workload]\ndeadline_factor = [3.0, 1.0]\n", ["deadline_factor", "low <= high"]),
        ("[orbit]\nepoch = 'yesterday'\n", ["orbit.epoch", "ISO 8601"]),
        ("[orbit]\nkind = 'tle'\n", ["tle_file"]),
        ("[episode]\ndt_s = 0\n", ["episode.dt_s", "out of range"]),
        ("[episode\n", ["not valid TOML"]),
        ("orbit = 3\n", ["[orbit] must be a table"]),
    ],
)
def test_bad_values_are_clear_errors(tmp_path, body, expect):
    path = _write(tmp_path, body)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert str(path) in msg
    for fragment in expect:
        assert fragment in msg, f"{fragment!r} missing from: {msg}"


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'.*starcloud-1"):
        load_scenario("nope")


def test_overrides_are_validated_and_applied():
    s = load_scenario("walker-160", overrides={"orbit.altitude_km": 600, "episode.max_cycles": 100})
    assert s.orbit.altitude_km == 600.0 and s.episode.max_cycles == 100
    with pytest.raises(ScenarioError, match="override orbit.altitude_km.*out of range"):
        load_scenario("walker-160", overrides={"orbit.altitude_km": 1e6})
    with pytest.raises(ScenarioError, match="unknown key 'orbit.altitud'"):
        load_scenario("walker-160", overrides={"orbit.altitud": 600})


def test_user_file_copied_from_shipped_one_loads(tmp_path):
    from orbit_env.scenario import SCENARIO_DIR

    text = (SCENARIO_DIR / "starcloud-1.toml").read_text().replace("altitude_km = 325.0", "altitude_km = 400.0")
    s = load_scenario(_write(tmp_path, text))
    assert s.orbit.altitude_km == 400.0
