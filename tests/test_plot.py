"""train.plot: learning curves over several training seeds with a Student-t band, checked on synthetic curves."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from train.plot import curve_path, final_values, main, read_curve, rolling_by_step, seed_band, t_band

FIELDS = ("timesteps", "episode", "return", "delivered_value", "length", "wall_s")
# t(0.975, df) in closed form, independent of scipy: df = 1 is Cauchy, t = tan(pi (p - 1/2)); df = 2 has
# t = (2p - 1) / sqrt(2 p (1 - p)). Tables give 12.706 and 4.303.
T975 = {1: np.tan(np.pi * 0.475), 2: 0.95 / np.sqrt(2 * 0.975 * 0.025)}


def write_curve(path: Path, steps, values, returns=None) -> Path:
    """A curve CSV with train.ppo's columns: one row per episode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    returns = values if returns is None else returns
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for i, (x, y, r) in enumerate(zip(steps, values, returns)):
            w.writerow((x, i + 1, r, y, 1440, 1.0))
    return path


def test_constant_seeds_give_the_hand_computed_t_band():
    """Seeds at 10, 12, 14: mean 12, sd 2, band 12 +- t(0.975, 2) * 2 / sqrt(3) at every step."""
    steps = np.arange(100, 1100, 100)
    grid, mean, lo, hi = seed_band([(steps, np.full(10, v)) for v in (10.0, 12.0, 14.0)])
    half = T975[2] * 2 / np.sqrt(3)
    np.testing.assert_array_equal(grid, steps)
    np.testing.assert_allclose(mean, 12.0, rtol=1e-12)
    np.testing.assert_allclose(lo, 12.0 - half, rtol=1e-12)
    np.testing.assert_allclose(hi, 12.0 + half, rtol=1e-12)
    assert half == pytest.approx(4.968, abs=1e-3)


def test_band_interpolates_linearly_and_spans_only_the_common_range():
    """Seed A (value = steps / 100) covers 0..300 at its own steps, B (constant 5) covers 50..250 at others:
    the grid is every step either reports inside 50..250, and A is interpolated there."""
    a = (np.array([0, 100, 200, 300]), np.array([0.0, 1.0, 2.0, 3.0]))
    b = (np.array([50, 150, 250]), np.array([5.0, 5.0, 5.0]))
    grid, mean, lo, hi = seed_band([a, b], window=1)
    np.testing.assert_array_equal(grid, [50, 100, 150, 200, 250])
    a_on_grid = grid / 100.0
    np.testing.assert_allclose(mean, (a_on_grid + 5.0) / 2)
    half = T975[1] * np.abs(a_on_grid - 5.0) / np.sqrt(2) / np.sqrt(2)  # sd of two values = |a - b| / sqrt(2)
    np.testing.assert_allclose(hi - mean, half)
    np.testing.assert_allclose(mean - lo, half)


def test_episodes_of_one_rollout_share_a_step_and_keep_the_last_rolling_mean():
    x, v = rolling_by_step(np.array([10, 10, 20, 20, 20]), np.array([1.0, 3.0, 5.0, 7.0, 9.0]), window=2)
    np.testing.assert_array_equal(x, [10, 20])
    np.testing.assert_allclose(v, [2.0, 8.0])  # rolling means 1, 2, 4, 6, 8: the last of each step


def test_band_uses_the_rolling_mean_of_each_seed():
    steps = np.arange(1, 9) * 10
    alternating = np.array([0.0, 4.0] * 4)  # rolling mean of 2 episodes: 0, then 2 from the second episode on
    grid, mean, _, _ = seed_band([(steps, alternating), (steps, alternating + 2)], window=2)
    np.testing.assert_allclose(mean, [1.0] + [3.0] * 7)


def test_band_errors_name_the_problem():
    with pytest.raises(ValueError, match="at least 2 seeds"):
        t_band(np.ones((1, 4)))
    with pytest.raises(ValueError, match="share no agent-steps"):
        seed_band([(np.array([0, 10]), np.ones(2)), (np.array([20, 30]), np.ones(2))])
    with pytest.raises(ValueError, match=r"seed\(s\) \[1\]"):
        seed_band([(np.array([0, 10]), np.ones(2)), (np.array([]), np.array([]))])


def test_curve_paths_and_bad_curves(tmp_path):
    run = tmp_path / "run"
    write_curve(run / "curve.csv", [1, 2], [1.0, 2.0])
    mixed = write_curve(tmp_path / "mixed" / "curve-three-body-12.csv", [1], [1.0])
    assert curve_path(run) == run / "curve.csv"
    assert curve_path(mixed) == mixed
    with pytest.raises(FileNotFoundError, match="nowhere"):
        curve_path(tmp_path / "nowhere")
    back = write_curve(tmp_path / "back.csv", [10, 20, 15], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="decreases at episode 3"):
        read_curve(back)
    (tmp_path / "cols.csv").write_text("timesteps,return\n1,2\n")
    with pytest.raises(ValueError, match="'delivered_value'"):
        read_curve(tmp_path / "cols.csv")


def test_cli_draws_bands_and_prints_final_values(tmp_path, capsys):
    """Three seeds (two run dirs and a mixed-scenario CSV) beside a single run: the PNG is written and the
    table gives each seed's last-16-episode mean and the across-seed mean with its t-interval."""
    steps = np.repeat(np.arange(1, 11) * 1000, 2)  # two episodes per rollout
    seeds = [
        write_curve(tmp_path / "s1" / "curve.csv", steps, np.full(20, 10.0), np.full(20, -1.0)),
        write_curve(tmp_path / "s2" / "curve.csv", steps, np.full(20, 12.0), np.full(20, 0.0)),
        write_curve(tmp_path / "s3" / "curve-three-body-12.csv", steps, np.full(20, 14.0), np.full(20, 1.0)),
    ]
    single = write_curve(tmp_path / "one" / "curve.csv", steps[:5], np.arange(5.0))
    png = tmp_path / "bands.png"
    runs = f"{tmp_path / 's1'},{tmp_path / 's2'},{seeds[2]}"
    assert main([str(png), f"scratch={runs}", f"single={tmp_path / 'one'}", "--title", "t", "--window", "16"]) == 0
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out.splitlines()
    half = T975[2] * 2 / np.sqrt(3)
    assert out[1].split() == ["scratch", str(seeds[0]), "10000", "10.00"]
    assert out[3].split() == ["scratch", str(seeds[2]), "10000", "14.00"]
    assert out[4].split() == ["scratch", "mean", "of", "3", "seeds", "10000", "12.00", f"[{12 - half:.2f},", f"{12 + half:.2f}]"]
    assert out[5].split() == ["single", str(single), "3000", "2.00"]  # mean of episodes 0..4, the fifth ends at 3000 steps


def test_final_values_of_unequal_seeds_are_taken_where_all_seeds_are(tmp_path):
    """A seed still training ends earlier: the across-seed summary is at its last step, not the others'."""
    a = write_curve(tmp_path / "a.csv", [100, 200, 300], [1.0, 2.0, 3.0])
    b = write_curve(tmp_path / "b.csv", [100, 200], [3.0, 4.0])
    rows = final_values({"x": [a, b]}, window=1)
    assert [r[2:4] for r in rows] == [(300, 3.0), (200, 4.0), (200, 3.0)]


def test_cli_rejects_bad_runs(tmp_path, capsys):
    write_curve(tmp_path / "a" / "curve.csv", [1], [1.0])
    for argv, msg in (
        ([str(tmp_path / "a")], "expected LABEL=RUN"),
        ([f"x={tmp_path / 'a'},"], "expected LABEL=RUN"),
        ([f"x={tmp_path / 'a'}", f"x={tmp_path / 'a'}"], "given twice"),
        ([f"x={tmp_path / 'missing'}"], "label 'x'.*missing"),
    ):
        with pytest.raises(SystemExit):
            main([str(tmp_path / "o.png"), *argv])
        assert re.search(msg, capsys.readouterr().err)
    assert not (tmp_path / "o.png").exists()


def test_plot_curves_takes_one_path_per_label_as_train_does(tmp_path):
    """train.ppo passes {"PPO": run / "curve.csv"}; a curve without training returns draws one panel."""
    from train.plot import plot_curves

    one = write_curve(tmp_path / "curve.csv", [10, 20], [1.0, 2.0])
    (tmp_path / "noreturn.csv").write_text("timesteps,delivered_value\n10,1\n20,2\n")
    plot_curves({"PPO": one}, tmp_path / "a.png", {"edf": 1.5}, title="run")
    plot_curves({"a": tmp_path / "noreturn.csv", "b": [one, tmp_path / "noreturn.csv"]}, tmp_path / "b.png")
    assert (tmp_path / "a.png").stat().st_size > 10_000 and (tmp_path / "b.png").stat().st_size > 10_000
