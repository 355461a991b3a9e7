"""Shared fixtures: a per-session ephemeris cache so tests build each constellation once."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session", autouse=True)
def _ephemeris_cache(tmp_path_factory):
    """Point the ephemeris cache at a temporary folder for the whole test session."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ORBIT_ENV_CACHE", str(tmp_path_factory.mktemp("orbit-env-cache")))
    yield
    mp.undo()


@pytest.fixture
def shared_traces() -> Path:
    """../shared/traces beside the checkout; skips the test when it is absent (a user's fresh clone)."""
    path = SHARED / "traces"
    if not path.is_dir():
        pytest.skip("../shared/traces is not present")
    return path
