"""Workloads: the sourced model catalog and its DVFS runtime, the trace-fitted generators, trace replay."""

from __future__ import annotations

import csv
import math
import re
import statistics
from pathlib import Path

import numpy as np
import pytest

from orbit_env.accelerators import ACCELERATORS
from orbit_env.scenario import Scenario, ScenarioError, WorkloadConfig, load_scenario
from orbit_env.workload.catalog import MODELS, job_rate, runtime_s, throughput_factor
from orbit_env.workload.generator import (
    OUTCOME_CANCEL,
    OUTCOME_COMPLETE,
    OUTCOME_FAIL,
    REGIMES,
    batch_size_pmf,
    batch_times,
    duration_quantile,
    generate_jobs,
    operational_cv,
)
from orbit_env.workload.traces import load_trace

DAY = 86400.0
EF_FILE = "elasticflow_cluster04_week2.csv"
PHILLY_FILE = "philly_week_2017-10-09.csv"

# ------------------------------------------------------------------------------------------- catalog


def test_catalog_has_the_sourced_runs():
    for name in ("gpt2-124m", "shakespeare-char", "llama2-7b-lora", "resnet50-imagenet", "bert-base-squad",
                 "llama3.1-8b-inference"):
        m = MODELS[name]
        assert m.name == name and m.source
        for f in ("params", "flops_per_unit", "throughput", "memory_gb", "checkpoint_bytes", "dataset_bytes",
                  "result_bytes", "typical_work"):
            assert getattr(m, f) > 0, (name, f)
        assert 0 < m.dvfs_gamma <= 1
        assert m.memory_gb <= 80.0  # fits one H100
    # 6N FLOPs per token for transformer training (per 384-token sequence for BERT)
    assert MODELS["gpt2-124m"].flops_per_unit == 6 * MODELS["gpt2-124m"].params
    assert MODELS["bert-base-squad"].flops_per_unit == 6 * MODELS["bert-base-squad"].params * 384
    # the catalog's throughputs are physically possible: below the H100's 989 TFLOPS dense bf16 peak x 2 (FP8)
    for m in MODELS.values():
        assert m.flops_per_unit * m.throughput < 2 * 989e12, m.name


@pytest.mark.parametrize("name", sorted(MODELS))
def test_runtime_at_full_power_is_work_over_throughput(name):
    m = MODELS[name]
    work = 3.7 * m.typical_work
    assert runtime_s(name, work) == pytest.approx(work / m.throughput, rel=1e-12)
    assert runtime_s(m, work, "h100-sxm", cap_w=700.0) == pytest.approx(work / m.throughput, rel=1e-12)
    # the same job on 4 GPUs takes a quarter of the time
    assert runtime_s(m, work, n_gpus=4) == pytest.approx(work / m.throughput / 4, rel=1e-12)


def test_runtime_at_lower_cap_follows_the_dvfs_curve():
    # physics.md s4: throughput = ((cap - idle) / (work - idle)) ** gamma with idle 75 W, work 675 W (H100 SXM)
    m = MODELS["gpt2-124m"]
    work = 1e9
    for cap, factor in ((600.0, (525 / 600) ** 0.5), (450.0, (375 / 600) ** 0.5), (300.0, (225 / 600) ** 0.5)):
        assert throughput_factor(cap, "h100-sxm", 0.5) == pytest.approx(factor, rel=1e-12)
        assert runtime_s(m, work, cap_w=cap) == pytest.approx(work / (m.throughput * factor), rel=1e-12)
    # physics.md s4: ~9% / ~25% / ~42% loss at 600 / 450 / 300 W for compute-bound training, quoted for
    # P_work = 700 W; accelerators.py takes 675 W (the middle of s4's 650-700 W), which loses 2-4 points less
    losses = 1 - throughput_factor(np.array([600.0, 450.0, 300.0]), "h100-sxm", 0.5)
    assert np.allclose(losses, [0.09, 0.25, 0.42], atol=0.05)
    # memory-bound inference loses less at the same cap than training
    inf, train = MODELS["llama3.1-8b-inference"], MODELS["gpt2-124m"]
    assert throughput_factor(450.0, "h100-sxm", inf.dvfs_gamma) > throughput_factor(450.0, "h100-sxm", train.dvfs_gamma)
    # at or below idle power nothing runs; above the knee the factor is capped at 1
    assert throughput_factor(75.0, "h100-sxm", 0.5) == 0.0
    assert throughput_factor(700.0, "h100-sxm", 0.5) == 1.0
    # broadcasts over a per-job gamma array
    assert throughput_factor(450.0, "h100-sxm", np.array([0.25, 0.5])).shape == (2,)


def test_same_job_runs_faster_on_a_bigger_gpu():
    m = MODELS["resnet50-imagenet"]
    sxm, pcie = ACCELERATORS["h100-sxm"], ACCELERATORS["h100-pcie"]
    ratio = runtime_s(m, 1e7, "h100-pcie") / runtime_s(m, 1e7, "h100-sxm")
    assert ratio == pytest.approx(sxm.peak_tflops / pcie.peak_tflops, rel=1e-12)
    assert job_rate(m, "three-body-744tops") < job_rate(m, "h100-sxm")


# ----------------------------------------------------------------------------------------- generator


def _pooled(regime: str, rate: float, days: float, seeds: range, **kw):
    cfg = WorkloadConfig(generator=regime, arrival_rate_per_hour=rate, job_capacity=100_000, **kw)
    return cfg, [generate_jobs(cfg, days * DAY, 1.0, np.random.default_rng(s)) for s in seeds]


# regime, published batch rate (A3), days per sample, samples, tolerances for median and p90 (about 4 standard
# errors of the pooled estimate; per-sample sd measured over 40 seeds: 2.2% / 2.9% for 300 days long-training,
# 7.9% / 10.7% for 80 days short-debug; big sweeps with correlated durations make the samples lumpy)
FIT_CASES = [("long-training", 2.8, 300, 10, 0.03, 0.04), ("short-debug", 9.5, 60, 25, 0.08, 0.10)]


@pytest.mark.parametrize("regime,rate,days,n,tol50,tol90", FIT_CASES)
def test_fitted_regime_matches_its_statistics(regime, rate, days, n, tol50, tol90):
    r = REGIMES[regime]
    cfg, batches = _pooled(regime, rate, days, range(n))
    assert all(len(b) < cfg.job_capacity for b in batches)  # the sample was not cut by the capacity
    dur = np.concatenate([b.value * 3600.0 / b.gpus for b in batches])  # trace duration = GPU-s / GPUs
    gpus = np.concatenate([b.gpus for b in batches])
    # durations: median and p90 of the fitted clipped lognormal mixture
    assert np.median(dur) == pytest.approx(duration_quantile(r, 0.5), rel=tol50)
    assert np.percentile(dur, 90) == pytest.approx(duration_quantile(r, 0.9), rel=tol90)
    assert dur.min() >= r.min_duration_s and dur.max() <= r.max_duration_s
    # GPU-count shares: the published PMF (A3)
    probs = np.asarray(r.gpu_probs) / sum(r.gpu_probs)
    for g, p in zip(r.gpu_counts, probs):
        share = float(np.mean(gpus == g))
        assert abs(share - p) < 0.01 + 0.1 * p, (g, share, p)
    assert set(np.unique(gpus)) <= set(r.gpu_counts)
    # arrival rate: batches per hour = the configured rate; jobs per hour = rate x mean batch size
    hours = days * 24.0 * n
    n_batches = sum(len(np.unique(b.batch)) for b in batches)
    assert n_batches / hours == pytest.approx(rate, rel=0.02)
    sizes, pmf = batch_size_pmf(r)
    assert len(dur) / hours == pytest.approx(rate * float(sizes @ pmf), rel=0.05)
    per_batch = np.concatenate([np.unique(b.batch, return_counts=True)[1] for b in batches])
    assert np.mean(per_batch == 1) == pytest.approx(r.batch_p1, abs=0.01)
    assert per_batch.mean() == pytest.approx(r.published["batch_mean"], rel=0.05)


# tolerance on the 1-GPU median (ln s): ~4 standard errors (0.007 long, 0.023 short, over 30 repeats)
@pytest.mark.parametrize(
    "regime,rate,days,n,tol", [("long-training", 2.8, 300, 4, 0.03), ("short-debug", 9.5, 60, 8, 0.1)]
)
def test_durations_by_gpu_bucket_and_within_a_batch(regime, rate, days, n, tol):
    r = REGIMES[regime]
    _, batches = _pooled(regime, rate, days, range(n))
    z_first, z_second, one_gpu_log_d, one_gpu_z, span, gaps = [], [], [], [], 0.0, 0
    for b in batches:
        order = np.lexsort((b.submit_s, b.batch))
        bid, t, g = b.batch[order], b.submit_s[order], b.gpus[order]
        log_d = np.log((b.value * 3600.0 / b.gpus)[order])
        # A3's lognormal for the 1-GPU bucket (index 0) and the 5-8-GPU bucket (index 2), written out by hand
        bucket = np.where(g == 1, 0, np.where(g <= 4, 1, np.where(g <= 8, 2, 3)))
        z = (log_d - np.asarray(r.bucket_mu)[bucket]) / np.asarray(r.bucket_sigma)[bucket]
        one_gpu_log_d.append(log_d[g == 1])
        one_gpu_z.append(z[g == 1])
        first = np.flatnonzero(np.r_[True, np.diff(bid) != 0])
        size = np.diff(np.r_[first, len(bid)])
        pairs = first[size >= 2]
        z_first.append(z[pairs])
        z_second.append(z[pairs + 1])
        last = first + size - 1
        span += float((t[last] - t[first]).sum())
        gaps += int((size - 1).sum())
    assert np.median(np.concatenate(one_gpu_log_d)) == pytest.approx(r.bucket_mu[0], abs=tol)
    assert np.concatenate(one_gpu_z).std() == pytest.approx(1.0, abs=0.1)
    # durations of one sweep are correlated as measured on the sample windows; jobs follow 10-s gaps
    corr = np.corrcoef(np.concatenate(z_first), np.concatenate(z_second))[0, 1]
    assert corr == pytest.approx(r.within_batch_corr, abs=0.03)
    assert span / gaps == pytest.approx(r.intra_batch_gap_s, rel=0.05)


def test_batch_gaps_have_the_published_burstiness():
    for regime in REGIMES.values():
        for a in (0.0, 0.5):  # the published CV includes the traces' daily cycle; the generator matches it
            cv = operational_cv(regime.batch_gap_cv, a)
            assert (cv == regime.batch_gap_cv) if a == 0 else (cv < regime.batch_gap_cv)
            t = batch_times(3.0, cv, a, 14.0, 2000 * DAY, np.random.default_rng(1))
            gaps = np.diff(t)
            assert len(t) / (2000 * 24) == pytest.approx(3.0, rel=0.05)
            assert gaps.std() / gaps.mean() == pytest.approx(regime.batch_gap_cv, rel=0.06), (regime.name, a)


def test_daily_load_cycle():
    a, peak = 0.5, 14.0
    t = batch_times(10.0, 1.0, a, peak, 400 * DAY, np.random.default_rng(2))
    hour = (t / 3600.0) % 24.0
    near_peak = np.abs((hour - peak + 12.0) % 24.0 - 12.0) < 3.0
    # share of arrivals within +-3 h of the peak: (6 + a (24 / pi) sin(pi / 4)) / 24 = 0.3625 (0.25 if flat)
    expected = (6 + a * 24 / math.pi * math.sin(math.pi / 4)) / 24
    assert near_peak.mean() == pytest.approx(expected, abs=0.01)
    flat = batch_times(10.0, 1.0, 0.0, peak, 400 * DAY, np.random.default_rng(2))
    assert np.mean(np.abs(((flat / 3600) % 24 - peak + 12) % 24 - 12) < 3) == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize("generator", ["poisson", "long-training", "short-debug"])
def test_same_seed_same_jobs(generator):
    cfg = WorkloadConfig(generator=generator, arrival_rate_per_hour=5.0, job_capacity=5000,
                         models=["gpt2-124m", "shakespeare-char", "resnet50-imagenet"], fail_prob=0.2)
    a, b = (generate_jobs(cfg, 30 * DAY, 1.0, np.random.default_rng(7)) for _ in range(2))
    c = generate_jobs(cfg, 30 * DAY, 1.0, np.random.default_rng(8))
    fields = ("submit_s", "model", "gpus", "work", "deadline_s", "value", "fail_at_fraction", "outcome", "batch")
    for f in fields:
        assert np.array_equal(getattr(a, f), getattr(b, f), equal_nan=f == "fail_at_fraction"), f
    assert len(a) > 50 and not (len(a) == len(c) and np.array_equal(a.work, c.work))


@pytest.mark.parametrize("generator", ["long-training", "short-debug"])
def test_fitted_jobs_contract(generator):
    models = ["gpt2-124m", "llama2-7b-lora", "bert-base-squad"]
    cfg = WorkloadConfig(generator=generator, arrival_rate_per_hour=20.0, job_capacity=300, models=models,
                         model_weights=[1.0, 0.0, 3.0], deadline_factor=[1.2, 3.0], deadline_slack_h=2.0)
    horizon, speed = 2 * DAY, 2.5
    jobs = generate_jobs(cfg, horizon, speed, np.random.default_rng(3))
    assert len(jobs) == cfg.job_capacity  # 20 batches/h x 48 h x ~4 jobs: the capacity cuts
    assert np.all(np.diff(jobs.submit_s) >= 0) and jobs.submit_s.min() >= 0 and jobs.submit_s.max() < horizon
    assert jobs.model.dtype == np.int32 and jobs.gpus.dtype == np.int32 and jobs.batch.dtype == np.int32
    assert set(np.unique(jobs.model)) == {0, 2}  # weight 0 is never drawn
    thr = np.array([MODELS[m].throughput for m in models])[jobs.model]
    ref_s = jobs.work / thr
    assert np.allclose(jobs.value, ref_s / 3600.0)  # value: reference GPU-hours
    # work = GPUs x trace duration x throughput: the duration (ref_s / gpus) lies in the regime's range
    dur = ref_s / jobs.gpus
    assert dur.min() >= REGIMES[generator].min_duration_s * (1 - 1e-12)
    # deadline = submit + slack + U(1.2, 3) x runtime on the satellite
    lam = (jobs.deadline_s - jobs.submit_s - 2.0 * 3600.0) / (ref_s / speed)
    assert lam.min() >= 1.2 - 1e-9 and lam.max() <= 3.0 + 1e-9 and lam.max() - lam.min() > 1.0
    # a batch is one sweep: one model, one GPU count
    for bid in np.unique(jobs.batch):
        k = jobs.batch == bid
        assert len(np.unique(jobs.gpus[k])) == 1 and len(np.unique(jobs.model[k])) == 1
    assert (np.unique(jobs.batch, return_counts=True)[1] > 1).any()
    assert np.isnan(jobs.fail_at_fraction).all() and (jobs.outcome == OUTCOME_COMPLETE).all()  # off by default


def test_failures_and_cancellations():
    base = dict(generator="long-training", arrival_rate_per_hour=10.0, job_capacity=100_000)
    plain = generate_jobs(WorkloadConfig(**base), 200 * DAY, 1.0, np.random.default_rng(4))
    cfg = WorkloadConfig(**base, fail_prob=0.3, cancel_prob=0.1)
    jobs = generate_jobs(cfg, 200 * DAY, 1.0, np.random.default_rng(4))
    # outcomes are drawn last: the jobs themselves are the same with failures on
    for f in ("submit_s", "model", "gpus", "work", "deadline_s"):
        assert np.array_equal(getattr(plain, f), getattr(jobs, f))
    fail, cancel, ok = (jobs.outcome == OUTCOME_FAIL), (jobs.outcome == OUTCOME_CANCEL), (jobs.outcome == 0)
    assert fail.mean() == pytest.approx(0.3, abs=0.01) and cancel.mean() == pytest.approx(0.1, abs=0.01)
    assert np.isnan(jobs.fail_at_fraction[ok]).all()
    assert np.all((jobs.fail_at_fraction[~ok] >= 0) & (jobs.fail_at_fraction[~ok] <= 1))
    assert jobs.fail_at_fraction[fail].mean() == pytest.approx(1 / 3, abs=0.02)  # failures come early
    assert jobs.fail_at_fraction[cancel].mean() == pytest.approx(1 / 2, abs=0.02)
    with pytest.raises(ScenarioError, match="fail_prob"):
        generate_jobs(WorkloadConfig(**{**base, "fail_prob": 0.7, "cancel_prob": 0.5}), DAY, 1.0,
                      np.random.default_rng(0))


def test_poisson_rate_and_unknown_generator():
    cfg = WorkloadConfig(arrival_rate_per_hour=3.0, job_capacity=100_000)
    jobs = generate_jobs(cfg, 1000 * DAY, 1.0, np.random.default_rng(5))
    assert len(jobs) / (1000 * 24) == pytest.approx(3.0, rel=0.03)
    assert (jobs.gpus == 1).all() and len(np.unique(jobs.batch)) == len(jobs)
    with pytest.raises(ScenarioError, match="generator"):
        generate_jobs(WorkloadConfig(generator="bursty"), DAY, 1.0, np.random.default_rng(0))
    for bad in (dict(models=[]), dict(model_weights=[0.0, 0.0])):
        with pytest.raises(ScenarioError, match="positive weight"):
            generate_jobs(WorkloadConfig(**bad), DAY, 1.0, np.random.default_rng(0))


def test_scenario_accepts_and_checks_the_new_fields():
    s = load_scenario(Scenario(), overrides={"workload.generator": "short-debug", "workload.fail_prob": 0.4,
                                             "workload.diurnal_amplitude": 0.3})
    assert s.workload.generator == "short-debug" and s.workload.fail_prob == 0.4
    for key, bad in (("workload.fail_prob", 1.5), ("workload.diurnal_amplitude", -0.1),
                     ("workload.trace_offset_h", -1.0)):
        with pytest.raises(ScenarioError, match=key):
            load_scenario(Scenario(), overrides={key: bad})


# ------------------------------------------------------------------------------------------- traces


def test_loader_reproduces_the_elasticflow_sample(shared_traces):
    path = shared_traces / EF_FILE
    table = load_trace(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(table) == len(rows) == 2746  # PROVENANCE.md
    assert table.layout == "elasticflow"
    assert table.gpu_hours.sum() == pytest.approx(sum(float(r["gpu_hours"]) for r in rows), rel=1e-6)
    assert table.gpu_hours.sum() == pytest.approx(76035.4, abs=0.1)
    assert np.median(table.duration_s) == statistics.median(float(r["duration"]) for r in rows) == 7923.5
    assert set(table.model) == {"resnet50", "vgg16", "deepspeech2", "inception3", "gpt2", "bert"}
    assert np.all(table.deadline_s >= table.submit_s)


def test_loader_reads_the_philly_sample(shared_traces):
    table = load_trace(shared_traces / PHILLY_FILE)
    assert len(table) == 12751 and table.layout == "philly"  # PROVENANCE.md
    assert (table.model == "").all() and np.isnan(table.deadline_s).all()
    assert table.gpus.max() <= 128


def test_trace_replay_of_the_elasticflow_sample(shared_traces):
    path = shared_traces / EF_FILE
    table = load_trace(path)
    models = ["gpt2-124m", "resnet50-imagenet", "shakespeare-char"]
    cfg = WorkloadConfig(generator="trace", trace_file=str(path), models=models, job_capacity=5000)
    jobs = generate_jobs(cfg, 7 * DAY, 1.0, np.random.default_rng(0))
    assert len(jobs) == 2746
    assert jobs.value.sum() == pytest.approx(table.gpu_hours.sum(), rel=1e-9)  # one trace GPU-s = one H100-s
    order = np.argsort(table.submit_s, kind="stable")
    names = table.model[order]
    assert (jobs.model[names == "gpt2"] == 0).all() and (jobs.model[names == "resnet50"] == 1).all()
    others = jobs.model[(names != "gpt2") & (names != "resnet50")]
    assert set(np.unique(others)) == {0, 1, 2}  # models not in the scenario are drawn from its list
    assert np.array_equal(jobs.gpus, table.gpus[order])
    again = generate_jobs(cfg, 7 * DAY, 1.0, np.random.default_rng(0))
    assert np.array_equal(jobs.model, again.model) and np.array_equal(jobs.deadline_s, again.deadline_s)
    # an offset replays a later window, shifted to start at 0
    day2 = generate_jobs(WorkloadConfig(generator="trace", trace_file=str(path), trace_offset_h=24.0,
                                        job_capacity=5000), DAY, 1.0, np.random.default_rng(0))
    in_day2 = (table.submit_s >= DAY) & (table.submit_s < 2 * DAY)
    assert len(day2) == in_day2.sum() > 0
    assert np.allclose(np.sort(table.submit_s[in_day2]) - DAY, day2.submit_s)
    with pytest.raises(ScenarioError, match="trace_offset_h"):
        generate_jobs(WorkloadConfig(generator="trace", trace_file=str(path), trace_offset_h=500.0), DAY, 1.0,
                      np.random.default_rng(0))


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "trace.csv"
    p.write_text(text)
    return p


def test_minimal_layout(tmp_path):
    p = _write(tmp_path, "submit_s,duration_s,gpus,model\n0,3600,1,gpt2-124m\n10,7200,2,mystery\n5000,60,1,\n")
    table = load_trace(p)
    assert table.layout == "minimal" and len(table) == 3
    assert np.isnan(table.deadline_s).all()
    cfg = WorkloadConfig(generator="trace", trace_file=str(p), models=["shakespeare-char", "gpt2-124m"])
    jobs = generate_jobs(cfg, DAY, 1.0, np.random.default_rng(0))
    assert jobs.model[0] == 1  # named in the trace and in the scenario
    assert jobs.work[1] == pytest.approx(2 * 7200 * MODELS[cfg.models[jobs.model[1]]].throughput)
    assert list(jobs.batch) == [0, 0, 1]  # gap <= 60 s: one batch


@pytest.mark.parametrize(
    "body,row,column,value",
    [
        ("0,3600,1\n10,3600,two\n", 2, "gpus", "two"),
        ("0,3600,1\n10,3600,1\n20,3600,1.5\n", 3, "gpus", "1.5"),
        ("0,3600,0\n", 1, "gpus", "0"),
        ("0,3600,1\n10,-5,1\n", 2, "duration_s", "-5"),
        ("0,nan,1\n", 1, "duration_s", "nan"),
        ("0,,1\n", 1, "duration_s", ""),
        ("abc,3600,1\n", 1, "submit_s", "abc"),
        ("-10,3600,1\n", 1, "submit_s", "-10"),
    ],
)
def test_malformed_value_names_file_row_column_and_value(tmp_path, body, row, column, value):
    p = _write(tmp_path, "submit_s,duration_s,gpus\n" + body)
    with pytest.raises(ScenarioError) as e:
        load_trace(p)
    msg = str(e.value)
    assert str(p) in msg and f"row {row} " in msg and f"line {row + 1}" in msg
    assert f"column {column!r}" in msg and f"value {value!r}" in msg


def test_malformed_files(tmp_path):
    cases = [
        ("", "empty"),
        ("submit_s,gpus\n0,1\n", "duration"),  # missing column: says which names are accepted
        ("submit_s,duration_s,gpus\n", "no job rows"),
        ("submit_s,duration_s,gpus\n0,3600\n", "row 1 (line 2) has 2 columns"),
    ]
    for text, needle in cases:
        with pytest.raises(ScenarioError, match=re.escape(needle)):
            load_trace(_write(tmp_path, text))
    with pytest.raises(ScenarioError, match="does not exist"):
        load_trace(tmp_path / "nope.csv")
    bad = tmp_path / "bin.csv"
    bad.write_bytes(b"submit_s,duration_s,gpus\n0,\xff\xfe,1\n")
    with pytest.raises(ScenarioError, match="UTF-8"):
        load_trace(bad)
