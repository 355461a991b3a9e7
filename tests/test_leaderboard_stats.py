"""The leaderboard's statistics: hand-computed cases, and agreement with rliable itself."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from leaderboard import stats


@pytest.fixture
def rliable(monkeypatch):
    """rliable's library and metrics modules. arch < 8 (rliable's bootstrap) fails to import with
    pandas >= 3, whose deprecate_kwarg gained a leading warning-class argument: shim it for the import."""
    pytest.importorskip("rliable")
    try:
        import rliable.library as library
    except TypeError:
        import pandas.util._decorators as dec

        original = dec.deprecate_kwarg
        monkeypatch.setattr(dec, "deprecate_kwarg", lambda old, new=None, *a, **k: original(FutureWarning, old, new, *a, **k))
        for name in [m for m in sys.modules if m == "arch" or m.startswith(("arch.", "rliable"))]:
            monkeypatch.delitem(sys.modules, name)
        import rliable.library as library
    import rliable.metrics as metrics

    return library, metrics


def test_iqm_hand_computed():
    # 8 values: cut int(8/4) = 2 at each end, mean of the middle four (3, 4, 5, 6)
    assert stats.iqm([8, 1, 7, 2, 6, 3, 5, 4]) == pytest.approx(4.5)
    # 10 values: cut 2 at each end, mean of 3..8 with an outlier at the top ignored
    assert stats.iqm([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000]) == pytest.approx(5.5)


def test_normalise_hand_computed():
    assert stats.normalise([10, 20, 40], zero=10, reference=30).tolist() == [0.0, 50.0, 150.0]
    with pytest.raises(ValueError, match="reference mean 5 is not above the zero mean 10"):
        stats.normalise([1], zero=10, reference=5)


def test_performance_profile_hand_computed():
    assert stats.performance_profile([0, 50, 100, 150], [-1, 0, 99, 150]).tolist() == [1.0, 0.75, 0.5, 0.0]


def test_bootstrap_of_identical_values_is_a_point():
    assert stats.stratified_bootstrap([np.full(5, 7.0), np.full(3, 7.0)]) == (7.0, 7.0, 7.0)


def test_bootstrap_is_deterministic_and_stays_within_each_stratum():
    a, b = np.arange(10.0), 100 + np.arange(10.0)
    assert stats.stratified_bootstrap([a, b]) == stats.stratified_bootstrap([a, b])
    # every resample keeps 10 values from each stratum, so the mean stays between the strata means
    point, lo, hi = stats.stratified_bootstrap([a, b], stats.mean)
    assert point == pytest.approx(54.5) and 50 < lo < point < hi < 59


def test_iqm_and_ci_agree_with_rliable(rliable):
    rliable_lib, rliable_metrics = rliable
    rng = np.random.default_rng(1)
    scores = rng.normal(50.0, 30.0, (10, 5)) + np.arange(5) * 20.0  # 10 runs x 5 tasks
    assert stats.iqm(scores) == pytest.approx(rliable_metrics.aggregate_iqm(scores))

    np.random.seed(0)  # rliable's bootstrap draws from numpy's global generator
    point, ci = rliable_lib.get_interval_estimates(
        {"x": scores}, lambda x: np.array([rliable_metrics.aggregate_iqm(x)]), reps=10_000
    )
    ours = stats.stratified_bootstrap([scores[:, t] for t in range(5)], stats.iqm, reps=10_000)
    assert ours[0] == pytest.approx(point["x"][0])
    # two Monte Carlo estimates of the same percentiles: equal within a small fraction of the CI width
    width = ci["x"][1, 0] - ci["x"][0, 0]
    assert ours[1] == pytest.approx(ci["x"][0, 0], abs=0.05 * width)
    assert ours[2] == pytest.approx(ci["x"][1, 0], abs=0.05 * width)
