"""End-to-end: the orbit-env command as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def orbit_env(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "orbit_env.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_help_everywhere():
    for args in ([], ["run"], ["check"], ["scenarios"]):
        out = orbit_env(*args, "--help")
        assert out.returncode == 0 and "usage: orbit-env" in out.stdout


def test_scenarios_lists_the_shipped_ones():
    out = orbit_env("scenarios")
    assert out.returncode == 0
    for name, sats in [("starcloud-1", 1), ("three-body-12", 12), ("suncatcher-81", 81), ("walker-160", 160)]:
        assert name in out.stdout and f"{sats} sats" in out.stdout


def test_run_prints_an_episode_summary():
    out = orbit_env("run", "three-body-12", "--steps", "300", "--quiet", "--render", "ansi", "--render-every", "150")
    assert out.returncode == 0, out.stderr
    assert "scenario three-body-12, policy greedy, seed 0, 300 steps" in out.stdout
    assert "delivered value" in out.stdout and "safe-mode entries" in out.stdout
    assert "sat_11" in out.stdout  # the ansi frame: one line per satellite


def test_run_plays_an_exported_policy_and_refuses_a_mismatched_one():
    pytest.importorskip("safetensors")
    spec = str(Path(__file__).resolve().parents[1] / "leaderboard" / "submissions" / "ppo-bc" / "three-body-12.json")
    out = orbit_env("run", "three-body-12", "--steps", "120", "--quiet", "--policy", spec)
    assert out.returncode == 0, out.stderr
    assert f"policy {spec}, seed 0, 120 steps" in out.stdout
    out = orbit_env("run", "walker-160", "--steps", "5", "--quiet", "--policy", spec)
    assert out.returncode == 2 and "trained with K=4 queue slots and M=2" in out.stderr and "Traceback" not in out.stderr
    out = orbit_env("run", "--steps", "5", "--policy", "nosuch")
    assert out.returncode == 2 and "unknown policy 'nosuch'" in out.stderr


def test_check_prints_a_passing_table():
    out = orbit_env("check", "starcloud-1", "--steps", "20", "--episodes", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "8 passed, 0 failed" in out.stdout and "seed_test" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "nowhere"], "unknown scenario 'nowhere'"),
        (["run", "starcloud-1", "--set", "orbit.altitude_km=5"], "orbit.altitude_km = 5.0 is out of range: allowed 150 to 2000"),
        (["run", "starcloud-1", "--set", "altitude"], "--set expects KEY=VALUE"),
        (["check", "starcloud-1", "--tle", "/nonexistent.tle"], "/nonexistent.tle"),
    ],
)
def test_bad_input_is_a_clear_error(args, message):
    out = orbit_env(*args)
    assert out.returncode != 0
    assert message in out.stderr + out.stdout
    assert "Traceback" not in out.stderr
