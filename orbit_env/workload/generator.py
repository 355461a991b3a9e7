"""Job arrivals for an episode, as a table of arrays (one row per job).

``generate_jobs`` is the one entry point the simulator uses; the ``generator`` key of the scenario's
[workload] section picks the process:

- ``poisson``: Poisson jobs of catalog-typical size (a simple baseline).
- ``long-training``: fitted to the ElasticFlow traces (reference/workloads.md A3): hours-long jobs.
- ``short-debug``: fitted to the Philly trace (A3; Acme, A2, is similar): many short jobs, heavy tails.
- ``trace``: replay a CSV trace (``traces.load_trace``).

The fitted regimes are a compound renewal process of batches (hyperparameter sweeps, A4): batch gaps
are gamma-distributed with the published coefficient of variation, their rate follows a daily cycle,
a batch's jobs share GPU count and model and have correlated lognormal durations by GPU bucket.
A trace job of g GPUs and duration d is g x d H100-seconds of its model: work = g x d x throughput.
Only published summary statistics live here; no trace data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from orbit_env.scenario import ScenarioError, WorkloadConfig
from orbit_env.workload.catalog import MODELS, TRACE_ALIASES
from orbit_env.workload.traces import load_trace

OUTCOME_COMPLETE, OUTCOME_FAIL, OUTCOME_CANCEL = 0, 1, 2
BATCH_GAP_S = 60.0  # jobs closer than this form one batch (the definition behind workloads.md A3)


@dataclass(frozen=True)
class JobBatch:
    """Jobs sorted by submit time. ``model`` indexes ``WorkloadConfig.models``.

    The last three fields have defaults (filled in ``__post_init__``), so code that builds a JobBatch from
    the first six alone keeps working.
    """

    submit_s: np.ndarray  # float64, seconds from episode start
    model: np.ndarray  # int32 index into the scenario's model list
    gpus: np.ndarray  # int32 GPUs the job asked for (work scales with it)
    work: np.ndarray  # float64 work in the model's unit
    deadline_s: np.ndarray  # float64, seconds from episode start
    value: np.ndarray  # float64, reference GPU-hours (work / H100 throughput / 3600)
    fail_at_fraction: np.ndarray | None = None  # float64: NaN = runs to completion; else the job ends on its
    # own (fails or is cancelled, see ``outcome``) once this fraction of its work is done
    outcome: np.ndarray | None = None  # int8: OUTCOME_COMPLETE, OUTCOME_FAIL or OUTCOME_CANCEL
    batch: np.ndarray | None = None  # int32: jobs of one sweep (submitted together) share the id

    def __post_init__(self) -> None:
        n = len(self.submit_s)
        if self.fail_at_fraction is None:
            object.__setattr__(self, "fail_at_fraction", np.full(n, np.nan))
        if self.outcome is None:
            object.__setattr__(self, "outcome", np.zeros(n, dtype=np.int8))
        if self.batch is None:
            object.__setattr__(self, "batch", np.arange(n, dtype=np.int32))

    def __len__(self) -> int:
        return len(self.submit_s)


@dataclass(frozen=True)
class Regime:
    """A trace-fitted arrival regime: every number from reference/workloads.md A2-A4 unless marked."""

    name: str
    gpu_counts: tuple[int, ...]
    gpu_probs: tuple[float, ...]  # share of jobs asking for each GPU count
    bucket_max_gpus: tuple[int, ...]  # duration buckets: GPU counts up to and including this bound
    bucket_mu: tuple[float, ...]  # lognormal mu (ln s) of the duration per bucket
    bucket_sigma: tuple[float, ...]  # lognormal sigma per bucket
    min_duration_s: float  # durations are clipped to [min, max]
    max_duration_s: float
    batch_p1: float  # P(batch of one job)
    batch_mu: float  # larger batches: 2 + floor(lognormal(mu, sigma)), clipped at batch_max
    batch_sigma: float
    batch_max: int
    batch_gap_cv: float  # coefficient of variation of gaps between batches
    within_batch_corr: float  # correlation of the log-durations of two jobs of one batch
    intra_batch_gap_s: float  # mean gap between consecutive jobs of a batch (exponential)
    published: dict = field(default_factory=dict)  # published statistics the fit is compared with
    source: str = ""


DAY_S = 86400.0
MAX_DURATION_S = 18 * DAY_S  # workloads.md A4: cap durations at about 18 days

REGIMES: dict[str, Regime] = {
    "long-training": Regime(
        name="long-training",
        # A3, ElasticFlow all 10 clusters: #GPU PMF (sums to 0.9996; normalised when drawn)
        gpu_counts=(1, 2, 4, 8, 16, 32, 64),
        gpu_probs=(0.832, 0.021, 0.034, 0.101, 0.0055, 0.0051, 0.001),
        # A3, ElasticFlow lognormal by #GPU bucket: 1 | 2-4 | 5-8 | >8
        bucket_max_gpus=(1, 4, 8, 1 << 30),
        bucket_mu=(8.92, 8.89, 9.80, 10.03),
        bucket_sigma=(1.09, 1.53, 1.53, 1.91),
        min_duration_s=600.0,  # the ElasticFlow release filtered out jobs shorter than 600 s (PROVENANCE.md)
        max_duration_s=MAX_DURATION_S,
        # A3, cluster04 batches (gap <= 60 s): P(1) = .48, mean 3.9, p99 32, max 393. Tail [fit]: mu solved so
        # the mean is exactly 3.9 with sigma 1.25, which gives p99 = 32.
        batch_p1=0.48,
        batch_mu=0.842,
        batch_sigma=1.25,
        batch_max=393,
        batch_gap_cv=2.2,  # A3, cluster04: batches arrive at 2.8/h with CV 2.2
        # [calc] on the shared cluster04 week-2 sample: log-duration intra-batch correlation 0.83, mean gap 10.7 s
        within_batch_corr=0.83,
        intra_batch_gap_s=10.7,
        published=dict(
            p10=1342.0, p50=10537.0, p90=28787.0, p99=210110.0,  # A3, all 10 clusters
            gpu_h_median=3.1, gpu_h_mean=23.5,
            batch_rate_h=2.8, batch_p1=0.48, batch_mean=3.9, batch_p99=32.0, batch_gap_cv=2.2, jobs_per_day=266.0,
        ),
        source="ElasticFlow (Gu et al., ASPLOS '23), github.com/microsoft/elasticflow-traces; workloads.md A3",
    ),
    "short-debug": Regime(
        name="short-debug",
        # A3, Philly: 1: .932, 2: .022, 4: .023, 8: .020, >=16: .0035 (max 128); the >=16 share is split
        # .002 / .001 / .0003 / .0002 over 16 / 32 / 64 / 128 [est]
        gpu_counts=(1, 2, 4, 8, 16, 32, 64, 128),
        gpu_probs=(0.932, 0.022, 0.023, 0.020, 0.002, 0.001, 0.0003, 0.0002),
        # A3, Philly lognormal by #GPU bucket: 1 | 2-4 | 5-8 | >8
        bucket_max_gpus=(1, 4, 8, 1 << 30),
        bucket_mu=(6.72, 6.85, 9.65, 8.94),
        bucket_sigma=(1.97, 3.80, 2.79, 3.21),
        min_duration_s=10.0,  # [est] below Philly's p10 of 61 s; shorter jobs are noise at dt = 60 s
        max_duration_s=MAX_DURATION_S,
        # A3, Philly batches: P(1) = .72, mean 5.0, p99 93, max 1,099. A lognormal tail cannot hit both mean and
        # p99 [fit]: mean matched exactly with sigma 2.0, giving p99 = 75.
        batch_p1=0.72,
        batch_mu=0.686,
        batch_sigma=2.0,
        batch_max=1099,
        batch_gap_cv=0.9,  # A3: batches arrive at 9.5/h with CV 0.9
        # [calc] on the shared Philly week sample: intra-batch log-duration correlation 0.64, mean gap 10.4 s
        within_batch_corr=0.64,
        intra_batch_gap_s=10.4,
        published=dict(
            p10=61.0, p50=1144.0, p90=11265.0, p99=254758.0,
            gpu_h_median=0.33, gpu_h_mean=11.9,
            batch_rate_h=9.5, batch_p1=0.72, batch_mean=5.0, batch_p99=93.0, batch_gap_cv=0.9, jobs_per_day=1145.0,
        ),
        source="Philly (Jeon et al., USENIX ATC '19) via Pollux/adaptdl; workloads.md A3 (Acme in A2 is similar)",
    ),
}


# ------------------------------------------------------------------------------------- fitted regimes


def _phi(z) -> np.ndarray:
    """Standard normal CDF (vectorised, no scipy)."""
    return 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(z, dtype=float) / math.sqrt(2.0)))


def _gpu_probs(r: Regime) -> np.ndarray:
    p = np.asarray(r.gpu_probs, dtype=float)
    return p / p.sum()


def _bucket(r: Regime, gpus) -> np.ndarray:
    return np.searchsorted(np.asarray(r.bucket_max_gpus), gpus, side="left")


def duration_cdf(r: Regime, x) -> np.ndarray:
    """P(duration <= x) of the regime's clipped lognormal mixture: the distribution the generator samples."""
    x = np.asarray(x, dtype=float)
    b = _bucket(r, np.asarray(r.gpu_counts))
    mu, sig = np.asarray(r.bucket_mu)[b], np.asarray(r.bucket_sigma)[b]
    z = (np.log(np.maximum(x, 1e-300))[..., None] - mu) / sig
    cdf = (_phi(z) * _gpu_probs(r)).sum(axis=-1)
    return np.where(x < r.min_duration_s, 0.0, np.where(x >= r.max_duration_s, 1.0, cdf))


def duration_quantile(r: Regime, q: float) -> float:
    """The q-quantile of ``duration_cdf`` (bisection on log duration)."""
    lo, hi = math.log(r.min_duration_s), math.log(r.max_duration_s)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if float(duration_cdf(r, math.exp(mid))) < q else (lo, mid)
    return math.exp(hi)


def batch_size_pmf(r: Regime) -> tuple[np.ndarray, np.ndarray]:
    """(sizes, probabilities) of the batch-size distribution the generator samples."""
    k = np.arange(2, r.batch_max + 1, dtype=float)
    lo = _phi((np.log(np.maximum(k - 2, 1e-300)) - r.batch_mu) / r.batch_sigma) * (k > 2)
    hi = _phi((np.log(k - 1) - r.batch_mu) / r.batch_sigma)
    hi[-1] = 1.0  # the clip at batch_max
    return np.arange(1, r.batch_max + 1), np.concatenate([[r.batch_p1], (1 - r.batch_p1) * (hi - lo)])


def diurnal_factor(t_s, amplitude: float, peak_h: float) -> np.ndarray:
    """Arrival-rate multiplier at time t: 1 + a cos(2 pi (t - peak) / 1 day); averages 1 over a day."""
    return 1.0 + amplitude * np.cos(2 * np.pi * (np.asarray(t_s, dtype=float) / 3600.0 - peak_h) / 24.0)


def operational_cv(cv: float, amplitude: float) -> float:
    """Gap CV on the operational clock that yields gap CV ``cv`` in real time under the daily cycle.

    Time-changing a renewal process by rate(t) scales each gap by 1 / rate at its phase; for rates well above
    one per day, 1 + CV_real^2 = (1 + CV_op^2) / sqrt(1 - a^2) [calc: E[1 / (1 + a cos)] = 1 / sqrt(1 - a^2)].
    The published CVs (A3) were measured on traces that have a daily cycle, so this undoes its share.
    """
    return math.sqrt(max((1.0 + cv * cv) * math.sqrt(1.0 - amplitude * amplitude) - 1.0, 1e-4))


def batch_times(
    rate_per_h: float, gap_cv: float, amplitude: float, peak_h: float, horizon_s: float, rng: np.random.Generator
) -> np.ndarray:
    """Batch submit times in [0, horizon_s): a stationary gamma renewal process with gap CV ``gap_cv`` on the
    operational clock Lambda(t) = integral of rate x diurnal_factor, so the rate follows the day."""
    if rate_per_h <= 0.0 or horizon_s <= 0.0:
        return np.zeros(0)
    grid = np.linspace(0.0, horizon_s, int(horizon_s // 60.0) + 2)  # 1-minute grid for inverting Lambda
    w = 2 * np.pi / DAY_S
    phase = peak_h * 3600.0 * w
    lam = rate_per_h / 3600.0 * (grid + amplitude / w * (np.sin(w * grid - phase) - math.sin(-phase)))
    shape = 1.0 / gap_cv**2  # gamma gaps with mean 1 (operational units) and CV gap_cv
    burn = 50.0  # start 50 mean gaps before 0 so the process is stationary at t = 0
    need = lam[-1] + burn
    gaps = rng.gamma(shape, 1.0 / shape, int(need * 1.2) + 64)
    while gaps.sum() < need:  # rare: draw more in fixed-size chunks (deterministic for a seed)
        gaps = np.concatenate([gaps, rng.gamma(shape, 1.0 / shape, int(need * 0.2) + 64)])
    u = np.cumsum(gaps) - burn
    u = u[(u >= 0.0) & (u < lam[-1])]
    return np.interp(u, lam, grid)


def batch_sizes(r: Regime, n: int, rng: np.random.Generator) -> np.ndarray:
    """Jobs per batch: 1 with probability batch_p1, else 2 + floor(lognormal), clipped at batch_max."""
    single = rng.random(n) < r.batch_p1
    tail = 2 + np.floor(np.exp(r.batch_mu + r.batch_sigma * rng.standard_normal(n)))
    return np.where(single, 1, np.minimum(tail, r.batch_max)).astype(np.int64)


def _model_draw(cfg: WorkloadConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    weights = np.asarray(cfg.model_weights or [1.0] * len(cfg.models), dtype=float)
    return rng.choice(len(cfg.models), size=n, p=weights / weights.sum()).astype(np.int32)


def _fitted(cfg: WorkloadConfig, r: Regime, horizon_s: float, rng: np.random.Generator):
    """Trace-fitted jobs: (submit, model, gpus, duration_s, batch) before the capacity cut."""
    cv = operational_cv(r.batch_gap_cv, cfg.diurnal_amplitude)
    t_b = batch_times(cfg.arrival_rate_per_hour, cv, cfg.diurnal_amplitude, cfg.diurnal_peak_h, horizon_s, rng)
    nb = len(t_b)
    size = batch_sizes(r, nb, rng)
    g_b = rng.choice(np.asarray(r.gpu_counts), size=nb, p=_gpu_probs(r)).astype(np.int32)
    m_b = _model_draw(cfg, nb, rng)
    z_b = rng.standard_normal(nb)
    rep = np.repeat(np.arange(nb), size)
    n = len(rep)
    first = np.cumsum(size) - size  # index of each batch's first job
    gaps = rng.exponential(r.intra_batch_gap_s, n)
    gaps[first] = 0.0
    c = np.cumsum(gaps)
    submit = t_b[rep] + c - c[first][rep]
    rho = math.sqrt(r.within_batch_corr)  # corr(z_i, z_j) = rho^2 within a batch; each z stays N(0, 1)
    z = rho * z_b[rep] + math.sqrt(1.0 - rho * rho) * rng.standard_normal(n)
    b = _bucket(r, g_b[rep])
    dur = np.exp(np.asarray(r.bucket_mu)[b] + np.asarray(r.bucket_sigma)[b] * z)
    dur = np.clip(dur, r.min_duration_s, r.max_duration_s)
    return submit, m_b[rep], g_b[rep], dur, rep.astype(np.int32)


def _trace(cfg: WorkloadConfig, horizon_s: float, rng: np.random.Generator):
    """Replayed jobs of cfg.trace_file submitted in [offset, offset + horizon), times shifted to 0."""
    table = load_trace(cfg.trace_file)
    t0 = cfg.trace_offset_h * 3600.0
    if t0 > table.submit_s.max():
        raise ScenarioError(
            f"workload.trace_offset_h = {cfg.trace_offset_h} is past the last submission of {table.path} "
            f"({table.submit_s.max() / 3600.0:.1f} h)"
        )
    order = np.argsort(table.submit_s, kind="stable")
    ts = table.submit_s[order]
    sel = order[(ts >= t0) & (ts < t0 + horizon_s)][: cfg.job_capacity]
    submit = table.submit_s[sel] - t0
    model = _model_draw(cfg, len(sel), rng)
    index = {name: i for i, name in enumerate(cfg.models)}
    named = np.array([index.get(TRACE_ALIASES.get(name, ""), -1) for name in table.model[sel]], dtype=np.int32)
    model = np.where(named >= 0, named, model).astype(np.int32)
    batch = np.concatenate([[0], np.cumsum(np.diff(submit) > BATCH_GAP_S)]).astype(np.int32)[: len(sel)]
    return submit, model, table.gpus[sel].astype(np.int32), table.duration_s[sel].copy(), batch


def _outcomes(cfg: WorkloadConfig, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Failures and cancellations (off by default). Drawn last, so turning them on leaves the jobs unchanged.

    A failing job stops at a fraction U^2 of its work (mean 1/3): failures happen early (A2: failed jobs'
    share of GPU time is 0.2-1.3x their share of jobs) [est]. A cancelled job stops at U(0, 1) [est].
    """
    outcome, frac = np.zeros(n, dtype=np.int8), np.full(n, np.nan)
    if cfg.fail_prob == 0.0 and cfg.cancel_prob == 0.0:
        return outcome, frac
    if cfg.fail_prob + cfg.cancel_prob > 1.0:
        raise ScenarioError(
            f"workload.fail_prob + workload.cancel_prob = {cfg.fail_prob + cfg.cancel_prob:g} must be at most 1"
        )
    u, f = rng.random(n), rng.random(n)
    outcome[u < cfg.fail_prob + cfg.cancel_prob] = OUTCOME_CANCEL
    outcome[u < cfg.fail_prob] = OUTCOME_FAIL
    frac = np.where(outcome == OUTCOME_FAIL, f**2, np.where(outcome == OUTCOME_CANCEL, f, np.nan))
    return outcome, frac


def generate_jobs(cfg: WorkloadConfig, horizon_s: float, sat_speed: float, rng: np.random.Generator) -> JobBatch:
    """Jobs submitted in [0, horizon_s), sorted by submit time, at most ``cfg.job_capacity`` of them.

    ``sat_speed`` is a satellite's speed in reference H100s: deadline = submit + slack + U(deadline_factor) x
    (reference runtime / sat_speed).
    """
    if not cfg.models or (cfg.model_weights and sum(cfg.model_weights) <= 0.0):
        raise ScenarioError(
            f"workload.models = {cfg.models} with model_weights = {cfg.model_weights}: at least one catalog model "
            "needs a positive weight"
        )
    thr = np.array([MODELS[m].throughput for m in cfg.models])
    if cfg.generator == "poisson":
        n = min(rng.poisson(cfg.arrival_rate_per_hour * horizon_s / 3600.0), cfg.job_capacity)
        submit = np.sort(rng.uniform(0.0, horizon_s, n))
        model = _model_draw(cfg, n, rng)
        typical = np.array([MODELS[m].typical_work for m in cfg.models])[model]
        work = typical * rng.lognormal(0.0, 0.5, n)  # [est] sizes spread +-50% around the catalog's typical job
        gpus, batch = np.ones(n, dtype=np.int32), np.arange(n, dtype=np.int32)
    else:
        if cfg.generator == "trace":
            submit, model, gpus, dur, batch = _trace(cfg, horizon_s, rng)
        elif cfg.generator in REGIMES:
            submit, model, gpus, dur, batch = _fitted(cfg, REGIMES[cfg.generator], horizon_s, rng)
        else:
            raise ScenarioError(
                f"workload.generator = {cfg.generator!r} is invalid: allowed values are poisson, "
                f"{', '.join(REGIMES)}, trace"
            )
        keep = np.argsort(submit, kind="stable")
        keep = keep[submit[keep] < horizon_s][: cfg.job_capacity]
        submit, model, gpus, dur, batch = submit[keep], model[keep], gpus[keep], dur[keep], batch[keep]
        work = gpus * dur * thr[model]  # one GPU-second of the trace = one H100-second of the model
    ref_s = work / thr[model]
    lo, hi = cfg.deadline_factor
    deadline = submit + cfg.deadline_slack_h * 3600.0 + rng.uniform(lo, hi, len(submit)) * ref_s / sat_speed
    outcome, frac = _outcomes(cfg, len(submit), rng)
    return JobBatch(
        submit_s=submit,
        model=model.astype(np.int32),
        gpus=gpus.astype(np.int32),
        work=work,
        deadline_s=deadline,
        value=ref_s / 3600.0,
        fail_at_fraction=frac,
        outcome=outcome,
        batch=batch.astype(np.int32),
    )
