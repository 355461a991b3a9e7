"""Renderings, timelines and videos: the drawn geometry against skyfield and trigonometry, the files written."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from orbit_env.cli import main
from orbit_env.env import OrbitComputeEnv
from orbit_env.render import R_EARTH_KM, coverage_circle, subsolar_point
from orbit_env.timeline import ACTIVITIES, Timeline
from orbit_env.video import frame_every, write_video


@pytest.mark.parametrize("when", ["2026-03-20T14:46", "2026-06-21T08:30", "2026-12-03T23:59", "2031-09-01T00:00"])
def test_subsolar_point_matches_skyfield(when):
    from orbit_env.ephemeris import _sky

    ts, kernel = _sky()
    t = datetime.fromisoformat(when).replace(tzinfo=timezone.utc)
    sun = (kernel["earth"].at(ts.from_datetime(t)).observe(kernel["sun"])).apparent()
    from skyfield.api import wgs84

    lat, lon = wgs84.subpoint_of(sun).latitude.degrees, wgs84.subpoint_of(sun).longitude.degrees
    got = subsolar_point(t)
    assert got[0] == pytest.approx(lat, abs=0.05) and (got[1] - lon + 180) % 360 - 180 == pytest.approx(0, abs=0.1)


@pytest.mark.parametrize("altitude, mask", [(550.0, 10.0), (325.0, 5.0), (1200.0, 25.0)])
def test_coverage_circle_is_where_the_satellite_sits_at_the_elevation_mask(altitude, mask):
    lat, lon = coverage_circle(0.0, 0.0, altitude, mask)
    station = np.array([R_EARTH_KM, 0.0, 0.0])
    p, la = np.radians(lat), np.radians(lon)
    sat = (R_EARTH_KM + altitude) * np.stack([np.cos(p) * np.cos(la), np.cos(p) * np.sin(la), np.sin(p)], axis=1)
    look = sat - station
    elevation = np.degrees(np.arcsin(look[:, 0] / np.linalg.norm(look, axis=1)))  # the station's up is +x
    np.testing.assert_allclose(elevation, mask, atol=1e-6)


def test_timeline_records_what_the_satellites_did():
    env = OrbitComputeEnv("contacts-relay-24", max_cycles=60, render_mode="rgb_array")
    from agents import make_policy

    policy = make_policy("balance", env)
    obs, _ = env.reset(seed=4)
    while env.agents:
        obs, *_ = env.step(policy.act(obs))
    seen = {ACTIVITIES[c] for c in np.unique(np.array(env.timeline.activity))}
    assert {"run", "uplink", "send"} <= seen and len(env.timeline) == 60
    assert np.array(env.timeline.activity).shape == (60, 24)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape[2] == 3 and frame.std() > 10


def test_an_empty_timeline_is_refused(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        Timeline(OrbitComputeEnv("starcloud-1", max_cycles=5).params).plot(str(tmp_path / "t.png"))


def test_frame_budget():
    assert frame_every(1440) == 6 and frame_every(100) == 1 and frame_every(241) == 2


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_videos_are_written(tmp_path, suffix):
    if suffix == ".mp4":
        pytest.importorskip("imageio_ffmpeg")
    frames = [np.full((40, 64, 3), 20 * i, np.uint8) for i in range(5)]
    path = tmp_path / f"v{suffix}"
    write_video(frames, str(path))
    assert path.stat().st_size > 100
    if suffix == ".gif":
        from PIL import Image

        assert Image.open(path).n_frames == 5


def test_run_writes_a_video_and_a_timeline(tmp_path, capsys):
    video, timeline = tmp_path / "ep.gif", tmp_path / "tl.png"
    assert main(["run", "heat-radiator-16", "--policy", "edf-safe", "--steps", "12", "--quiet",
                 "--video", str(video), "--timeline", str(timeline)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "12 frames (one every 1 steps)" in out and video.stat().st_size > 0 and timeline.stat().st_size > 0


@pytest.mark.parametrize("args, expect", [(["--video", "x.avi"], "a .gif or .mp4 file"), (["--timeline", "t.jpg"], "expected a .png"),
                                          (["--video", "/nonexistent/dir/x.gif"], "does not exist")])  # fmt: skip
def test_bad_video_paths_are_usage_errors_before_running(args, expect, capsys):
    assert main(["run", "starcloud-1", "--steps", "5", "--quiet", *args]) == 2
    assert expect in capsys.readouterr().err


def test_gymnasium_record_video_records_an_episode(tmp_path):
    """Gymnasium's own RecordVideo wrapper (moviepy) films the Gymnasium face's rgb_array frames."""
    pytest.importorskip("moviepy")
    import gymnasium
    from gymnasium.wrappers import RecordVideo

    env = gymnasium.make("orbit_env/OrbitCompute-v2", scenario="starcloud-1", max_cycles=6, render_mode="rgb_array")
    env = RecordVideo(env, str(tmp_path), episode_trigger=lambda episode: True, name_prefix="ep")
    env.reset(seed=3)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.std() > 0  # a drawn frame, not a blank one
    truncated = False
    while not truncated:
        _, _, _, truncated, _ = env.step(env.action_space.sample())
    env.close()
    videos = list(tmp_path.glob("ep-episode-0.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000
