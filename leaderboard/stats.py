"""Scores and their uncertainty, following rliable (Agarwal et al., 2021).

Scores are normalised per scenario (zero policy = 0, reference policy = 100) and aggregated over all
episodes of all scenarios with the interquartile mean (IQM). 95% confidence intervals come from the
stratified bootstrap: episodes are resampled with replacement within each scenario (the strata), so
every resample keeps the suite's mix of scenarios. The implementation is rliable's method, vectorised,
with a seeded generator and strata of unequal size; ``tests/test_leaderboard_stats.py`` checks it
against rliable itself.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

REPS = 10_000
SEED = 0  # the bootstrap is seeded so that the same results always give the same board


def normalise(values, zero: float, reference: float) -> np.ndarray:
    """100 x (values - zero) / (reference - zero)."""
    if not reference > zero:
        raise ValueError(f"cannot normalise: the reference mean {reference:g} is not above the zero mean {zero:g}")
    return 100.0 * (np.asarray(values, float) - zero) / (reference - zero)


def iqm(x, axis: int | None = None) -> np.ndarray:
    """Interquartile mean: the mean of the middle half, cutting int(n/4) values at each end
    (scipy.stats.trim_mean(x, 0.25), which rliable's aggregate_iqm uses)."""
    x = np.sort(np.asarray(x, float), axis=axis)
    if axis is None:
        x, axis = x.ravel(), 0
    n = x.shape[axis]
    cut = int(0.25 * n)
    return np.take(x, np.arange(cut, n - cut), axis=axis).mean(axis=axis)


def mean(x, axis: int | None = None) -> np.ndarray:
    return np.asarray(x, float).mean(axis=axis)


def stratified_bootstrap(
    strata: Sequence[np.ndarray], stat: Callable[..., np.ndarray] = iqm, reps: int = REPS, seed: int = SEED, size: float = 0.95
) -> tuple[float, float, float]:
    """(point estimate, CI low, CI high) of ``stat`` over all values, resampling within each stratum.

    ``stat`` must accept ``axis=1`` on a (reps, n) array. Percentile intervals, as rliable's default.
    """
    strata = [np.asarray(s, float).ravel() for s in strata]
    rng = np.random.default_rng(seed)
    resampled = np.concatenate([s[rng.integers(0, len(s), (reps, len(s)))] for s in strata], axis=1)
    dist = stat(resampled, axis=1)
    lo, hi = np.percentile(dist, [50 * (1 - size), 50 * (1 + size)])
    return float(stat(np.concatenate(strata))), float(lo), float(hi)


def performance_profile(scores, taus) -> np.ndarray:
    """Fraction of episodes scoring above each threshold (rliable's score distribution)."""
    scores = np.asarray(scores, float).ravel()
    return (scores[None, :] > np.asarray(taus, float)[:, None]).mean(axis=1)
