"""Compare the trace-fitted job generators with the published statistics they were fitted to.

Prints a Markdown table per regime (generated vs published, reference/workloads.md A2-A3) and writes
docs/workload_fit.png. Uses only orbit-env and published numbers; no trace data.

    python benchmarks/workload_fit.py [--out docs/workload_fit.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from orbit_env.scenario import WorkloadConfig  # noqa: E402
from orbit_env.workload.generator import (  # noqa: E402
    REGIMES,
    batch_size_pmf,
    diurnal_factor,
    duration_cdf,
    duration_quantile,
    generate_jobs,
)

DAY = 86400.0
# regime -> (published batch rate per hour (A3), days per sample, samples): ~1-2 million jobs each
RUNS = {"long-training": (2.8, 300.0, 20), "short-debug": (9.5, 60.0, 25)}


def first_submit(jobs) -> np.ndarray:
    """Submit time of each batch's first job (batches can interleave once sorted by submit time)."""
    order = np.lexsort((jobs.submit_s, jobs.batch))
    return np.sort(jobs.submit_s[order][np.r_[True, np.diff(jobs.batch[order]) != 0]])


def sample(regime: str) -> dict:
    rate, days, n = RUNS[regime]
    cfg = WorkloadConfig(generator=regime, arrival_rate_per_hour=rate, job_capacity=100_000)
    jobs = [generate_jobs(cfg, days * DAY, 1.0, np.random.default_rng(seed)) for seed in range(n)]
    sizes = np.concatenate([np.unique(j.batch, return_counts=True)[1] for j in jobs])
    gaps = np.concatenate([np.diff(first_submit(j)) for j in jobs])
    return dict(
        cfg=cfg,
        hours=days * 24.0 * n,
        duration=np.concatenate([j.value * 3600.0 / j.gpus for j in jobs]),
        gpus=np.concatenate([j.gpus for j in jobs]),
        gpu_h=np.concatenate([j.value for j in jobs]),
        submit_h=np.concatenate([(j.submit_s / 3600.0) % 24.0 for j in jobs]),
        sizes=sizes,
        gaps=gaps,
    )


def table(regime: str, s: dict) -> str:
    r, pub = REGIMES[regime], REGIMES[regime].published
    ks, pmf = batch_size_pmf(r)
    sizes, gaps, hours = s["sizes"], s["gaps"], s["hours"]
    rows = [("statistic", "generated", "fitted model", "published (A3)")]
    for q in (10, 50, 90, 99):
        gen, fit = np.percentile(s["duration"], q), duration_quantile(r, q / 100)
        rows.append((f"duration p{q} (s)", f"{gen:,.0f}", f"{fit:,.0f}", f"{pub[f'p{q}']:,.0f}"))
    for g, p in zip(r.gpu_counts, r.gpu_probs):
        gen, fit = np.mean(s["gpus"] == g), p / sum(r.gpu_probs)
        rows.append((f"share of jobs with {g} GPU", f"{gen:.4f}", f"{fit:.4f}", f"{p:.4f}"))
    p99 = ks[np.searchsorted(np.cumsum(pmf), 0.99)]
    rows += [
        ("GPU-hours per job, median", f"{np.median(s['gpu_h']):.2f}", "", f"{pub['gpu_h_median']:.2f}"),
        ("GPU-hours per job, mean", f"{s['gpu_h'].mean():.1f}", "", f"{pub['gpu_h_mean']:.1f}"),
        ("batches per hour", f"{len(sizes) / hours:.2f}", f"{s['cfg'].arrival_rate_per_hour:.2f}",
         f"{pub['batch_rate_h']:.1f}"),
        ("batch gap CV", f"{gaps.std() / gaps.mean():.2f}", f"{r.batch_gap_cv:.1f}", f"{pub['batch_gap_cv']:.1f}"),
        ("batch size P(1)", f"{np.mean(sizes == 1):.3f}", f"{r.batch_p1:.3f}", f"{pub['batch_p1']:.2f}"),
        ("batch size mean", f"{sizes.mean():.2f}", f"{ks @ pmf:.2f}", f"{pub['batch_mean']:.1f}"),
        ("batch size p99", f"{np.percentile(sizes, 99):.0f}", f"{p99}", f"{pub['batch_p99']:.0f}"),
        ("jobs per day", f"{len(s['duration']) / hours * 24:.0f}", "", f"{pub['jobs_per_day']:.0f}"),
    ]
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|---|---:|---:|---:|")
    return "\n".join(lines)


def plot(samples: dict, out: Path) -> None:
    fig, axes = plt.subplots(len(samples), 4, figsize=(17, 4.2 * len(samples)))
    for ax_row, (regime, s) in zip(axes, samples.items()):
        r, pub = REGIMES[regime], REGIMES[regime].published
        ax = ax_row[0]
        x = np.sort(s["duration"])
        ax.plot(x, np.arange(1, len(x) + 1) / len(x), label="generated")
        grid = np.logspace(np.log10(r.min_duration_s), np.log10(r.max_duration_s), 200)
        ax.plot(grid, duration_cdf(r, grid), "--", label="fitted lognormal mixture")
        quantiles = [pub[k] for k in ("p10", "p50", "p90", "p99")]
        ax.plot(quantiles, [0.1, 0.5, 0.9, 0.99], "ko", label="published p10/50/90/99")
        ax.set(xscale="log", xlabel="job duration (s)", ylabel="CDF", title=f"{regime}: durations")
        ax.legend(fontsize=8)
        ax = ax_row[1]
        idx = np.arange(len(r.gpu_counts))
        gen = [np.mean(s["gpus"] == g) for g in r.gpu_counts]
        ax.bar(idx - 0.2, gen, 0.4, label="generated")
        ax.bar(idx + 0.2, r.gpu_probs, 0.4, label="published PMF")
        ax.set(yscale="log", xticks=idx, xticklabels=r.gpu_counts, xlabel="GPUs per job", ylabel="share of jobs",
               title=f"{regime}: GPU counts")
        ax.legend(fontsize=8)
        ax = ax_row[2]
        k = np.sort(s["sizes"])
        ax.step(k, 1 - np.arange(len(k)) / len(k), where="post", label="generated")
        ax.plot([2, pub["batch_p99"]], [1 - pub["batch_p1"], 0.01], "ko", label="published P(size >= 2), p99")
        ax.set(xscale="log", yscale="log", xlabel="jobs per batch (sweep)", ylabel="P(size >= k)",
               title=f"{regime}: batch sizes (mean {k.mean():.1f} vs {pub['batch_mean']})")
        ax.legend(fontsize=8)
        ax = ax_row[3]
        counts = np.bincount(s["submit_h"].astype(int), minlength=24)
        ax.bar(np.arange(24) + 0.5, counts / counts.mean(), 1.0, alpha=0.6, label="generated jobs")
        h = np.linspace(0, 24, 200)
        cfg = s["cfg"]
        ax.plot(h, diurnal_factor(h * 3600.0, cfg.diurnal_amplitude, cfg.diurnal_peak_h), "k-", label="1 + a cos")
        ax.set(xlim=(0, 24), xlabel="hour after episode start (mod 24)", ylabel="relative rate",
               title=f"{regime}: daily cycle (a = {cfg.diurnal_amplitude})")
        ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "workload_fit.png")
    args = ap.parse_args()
    samples = {regime: sample(regime) for regime in RUNS}
    for regime, s in samples.items():
        rate = RUNS[regime][0]
        print(f"\n### {regime} ({len(s['duration']):,} jobs at {rate} batches/h, {s['hours'] / 24:,.0f} days)\n")
        print(table(regime, s))
    plot(samples, args.out)


if __name__ == "__main__":
    main()
