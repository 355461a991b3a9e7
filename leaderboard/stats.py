"""Scores and their uncertainty, following rliable (Agarwal et al., 2021).

Scores are normalised per scenario (suite v1: zero policy = 0, reference policy = 100, by their means;
suite v2: per seed, zero policy on the same seed = 0, the episode's upper bound = 100) and aggregated over
all episodes of all scenarios with the interquartile mean (IQM). 95% confidence intervals come from the
stratified bootstrap: episodes are resampled with replacement within each scenario (the strata), so
every resample keeps the suite's mix of scenarios. The implementation is rliable's method, vectorised,
with a seeded generator and strata of unequal size; ``tests/test_leaderboard_stats.py`` checks it
against rliable itself.

Suite v2 also compares policies paired by seed: per-seed differences, their mean with a stratified
bootstrap that resamples seeds (the same seeds for both policies), rliable's probability of improvement,
a sign-flip permutation p-value, and the number of seeds a paired comparison needs (``seeds_for_power``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import stats as sps

REPS = 10_000
SEED = 0  # the bootstrap is seeded so that the same results always give the same board
# A per-seed score divides by (bound - zero). Where that span is under this share of the bound, random comes
# within 10% of the bound and a policy delivering nothing would score below -900: the seed is reported and
# left out of the scores instead (a v2 scenario must leave far more headroom than this, issue 10).
MIN_SPAN = 0.1
ALPHA = 0.05  # two-sided significance level of the power calculation
POWER = 0.8
MIN_EFFECT = 0.02  # the difference the seed count must detect: 2% of the best baseline's mean


def normalise(values, zero: float, reference: float) -> np.ndarray:
    """100 x (values - zero) / (reference - zero)."""
    if not reference > zero:
        raise ValueError(f"cannot normalise: the reference mean {reference:g} is not above the zero mean {zero:g}")
    return 100.0 * (np.asarray(values, float) - zero) / (reference - zero)


def clear_span(zero, bound) -> np.ndarray:
    """Per seed: is bound - zero clearly positive (at least MIN_SPAN of the bound, and above 0)?"""
    zero, bound = np.asarray(zero, float), np.asarray(bound, float)
    span = bound - zero
    return (span > 0) & (span >= MIN_SPAN * np.abs(bound))


def paired_normalise(values, zero, bound) -> np.ndarray:
    """100 x (values - zero) / (bound - zero), element-wise per seed: 0 = zero policy on the same seed, 100 =
    the seed's upper bound. Raises if a span is not clearly positive (filter with ``clear_span`` first)."""
    values, zero, bound = (np.asarray(a, float) for a in (values, zero, bound))
    bad = ~clear_span(zero, bound)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"cannot normalise: the bound {bound[i]:g} is not clearly above the zero value {zero[i]:g} (entry {i})")
    return 100.0 * (values - zero) / (bound - zero)


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


def paired_bootstrap(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], reps: int = REPS, seed: int = SEED) -> tuple[float, float, float]:
    """Mean per-seed difference x - y over all scenarios, with a stratified-bootstrap 95% CI.

    ``xs[i]`` and ``ys[i]`` are two policies' values on the seeds of scenario i, in the same order. Each
    resample draws seed indices within each scenario and uses the same indices for both policies, which
    is resampling the per-seed differences.
    """
    diffs = []
    for x, y in zip(xs, ys, strict=True):
        x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
        if x.shape != y.shape:
            raise ValueError(f"paired values need the same seeds: {x.size} against {y.size}")
        diffs.append(x - y)
    return stratified_bootstrap(diffs, mean, reps, seed)


def probability_of_improvement(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]) -> float:
    """P(X > Y) + 0.5 P(X = Y) over all pairs of an X episode and a Y episode of the same scenario,
    averaged over scenarios (rliable's probability of improvement, the Mann-Whitney U statistic / n m)."""
    per = []
    for x, y in zip(xs, ys, strict=True):
        x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
        per.append(((x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])).mean())
    return float(np.mean(per))


def sign_flip_p(diffs, reps: int = REPS, seed: int = SEED) -> float:
    """Two-sided p-value of a zero mean paired difference: the sign of each seed's difference is flipped at
    random under the null (exact over all 2^n flips when 2^n <= reps)."""
    d = np.asarray(diffs, float).ravel()
    if not np.any(d):
        return 1.0
    res = sps.permutation_test((d,), mean, permutation_type="samples", vectorized=True, n_resamples=reps, rng=seed)
    return float(res.pvalue)


def paired_t_power(n: int, sd: float, delta: float, alpha: float = ALPHA) -> float:
    """Power of a two-sided paired t-test with n seeds to detect a mean difference delta (exact, noncentral t)."""
    df, nc = n - 1, delta * np.sqrt(n) / sd
    crit = sps.t.ppf(1 - alpha / 2, df)
    return float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))


def seeds_for_power(sd: float, level: float, effect: float = MIN_EFFECT, power: float = POWER, alpha: float = ALPHA, t_test: bool = True) -> int:
    """Paired seeds needed to detect a difference of ``effect`` x ``level`` with the given power.

    ``sd`` is the standard deviation of the per-seed differences (measured on dev seeds), ``level`` the
    mean it is a share of (the best baseline's). The normal approximation is the closed form
    n = ((z_{1-alpha/2} + z_{power}) sd / delta)^2, rounded up; with ``t_test`` (the default) n grows from
    there to the smallest n whose two-sided paired t-test reaches the power exactly (noncentral t), which
    corrects for estimating the sd from the same n seeds (usually +1 or +2). Never fewer than 2 seeds
    (a t-test needs one degree of freedom), which is also the answer when the differences do not vary.
    """
    if not level > 0:
        raise ValueError(f"the mean level must be positive to take {effect:.0%} of it, got {level:g}")
    if not sd >= 0:
        raise ValueError(f"the sd of the paired differences must be >= 0, got {sd:g}")
    if sd == 0:
        return 2
    delta = effect * level
    n = max(2, int(np.ceil(((sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)) * sd / delta) ** 2)))
    while t_test and paired_t_power(n, sd, delta, alpha) < power:
        n += 1
    return n
