"""Learning curves: delivered value and training return per episode against agent-steps.

``train`` draws one run. ``python -m train.plot OUT.png LABEL=RUN ... [--baselines FILE] [--title T]
[--window W]`` draws several labels on the same axes, with the heuristics of a run's ``baselines.json`` as
reference lines. A RUN is a run directory (its ``curve.csv``) or a curve CSV file itself (mixed-scenario
runs write ``curve-<scenario>.csv``).

A label that names one run draws its per-episode points and their rolling mean of ``W`` episodes. A label
that names several runs, ``LABEL=RUN1,RUN2,RUN3`` (training seeds), draws the across-seed mean of the
seeds' rolling means and a 95% band: the Student-t interval of that mean, mean +- t(0.975, n-1) sd/sqrt(n)
over the n seeds (``seed_band``). The seeds' rolling means are linearly interpolated onto a common grid of
agent-steps that only spans the range every seed has reached, so a band never extrapolates a seed.

The command also prints each run's final delivered value (the mean of its last ``W`` episodes) and, for a
multi-run label, the across-seed mean with its 95% t-interval at the last agent-step all seeds reached.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from scipy import stats as sps

COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:brown")
LINE_COLORS = ("tab:gray", "tab:orange", "tab:olive", "tab:cyan", "tab:pink", "black")
WINDOW = 16  # episodes in a rolling mean
LEVEL = 0.95  # coverage of the across-seed band
REQUIRED = ("timesteps", "delivered_value")  # "return" is optional: a curve may lack training returns


def _rolling(y: np.ndarray, window: int) -> np.ndarray:
    c = np.cumsum(np.insert(y, 0, 0.0))
    n = np.minimum(np.arange(1, len(y) + 1), window)
    return (c[1:] - c[np.arange(len(y)) + 1 - n]) / n


def curve_path(run: str | Path) -> Path:
    """The curve CSV of ``run``: the file itself if it is a ``.csv``, else the run directory's ``curve.csv``."""
    run = Path(run)
    path = run if run.suffix == ".csv" else run / "curve.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{run}: no curve here (a run is a directory with curve.csv, or a .csv file); no {path}")
    return path


def read_curve(path: Path) -> dict[str, np.ndarray]:
    """The columns of a curve CSV as float arrays; agent-steps must not decrease from one episode to the next."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        fields = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in fields]
    if missing:
        raise ValueError(f"{path}: no column {missing[0]!r}; a curve needs {REQUIRED} (found {fields})")
    cols = {c: np.array([float(r[c]) for r in rows]) for c in fields}
    back = np.flatnonzero(np.diff(cols["timesteps"]) < 0)
    if len(back):
        raise ValueError(f"{path}: 'timesteps' decreases at episode {back[0] + 2}; a curve's agent-steps never go back")
    return cols


def rolling_by_step(x: np.ndarray, y: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The rolling mean of ``y`` at each distinct agent-step of ``x`` (non-decreasing): the episodes that end
    in one rollout share its agent-step, and the step's value is the rolling mean after the last of them."""
    last = np.r_[np.flatnonzero(np.diff(x)), len(x) - 1] if len(x) else np.zeros(0, int)
    return x[last], _rolling(y, window)[last]


def t_band(values: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over axis 0 (the seeds) and the Student-t interval of that mean: mean +- t((1+level)/2, n-1) sd/sqrt(n)."""
    values = np.asarray(values, float)
    n = len(values)
    if n < 2:
        raise ValueError(f"a band needs at least 2 seeds, got {n}")
    mean = values.mean(axis=0)
    half = sps.t.ppf((1 + level) / 2, n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


def seed_band(curves: Sequence[tuple[np.ndarray, np.ndarray]], window: int = WINDOW, level: float = LEVEL) -> tuple[np.ndarray, ...]:
    """``(grid, mean, lo, hi)`` of several seeds' curves ``(agent-steps, per-episode values)``.

    Each seed's rolling mean (``rolling_by_step``) is linearly interpolated onto ``grid``: every agent-step
    any seed reports, within the range all seeds cover. ``t_band`` gives the mean and interval at each.
    """
    steps = [rolling_by_step(np.asarray(x, float), np.asarray(y, float), window) for x, y in curves]
    empty = [i for i, (s, _) in enumerate(steps) if not len(s)]
    if empty:
        raise ValueError(f"a band needs every seed's episodes; seed(s) {empty} have none yet")
    start, stop = max(s[0] for s, _ in steps), min(s[-1] for s, _ in steps)
    if start > stop:
        raise ValueError(f"the seeds share no agent-steps: one starts at {start:g}, another ends at {stop:g}")
    grid = np.unique(np.concatenate([s for s, _ in steps]))
    grid = grid[(grid >= start) & (grid <= stop)]
    return (grid, *t_band([np.interp(grid, s, v) for s, v in steps], level))


def _runs(runs: Path | str | Sequence[Path | str]) -> list[Path]:
    return [Path(runs)] if isinstance(runs, (str, Path)) else [Path(r) for r in runs]


def plot_curves(
    curves: Mapping[str, Path | Sequence[Path]], png: Path, baselines: dict[str, float] | None = None, title: str = "", window: int = WINDOW
) -> None:
    """Write ``png``: for each label, one run's per-episode points and rolling mean, or several runs' (seeds')
    mean with its 95% t-band (``seed_band``); and horizontal baseline lines. Values are curve CSV paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len(curves) > len(COLORS):
        raise ValueError(f"{len(curves)} labels, at most {len(COLORS)} can be told apart in one plot")
    runs = {label: [read_curve(Path(p)) for p in _runs(paths)] for label, paths in curves.items()}
    returns = all("return" in c for cs in runs.values() for c in cs)
    fig, axes = plt.subplots(1, 2 if returns else 1, figsize=(11 if returns else 6, 4), squeeze=False)
    axes = axes[0]
    for (label, cs), color in zip(runs.items(), COLORS):
        for ax, key in zip(axes, ("delivered_value", "return")):
            if len(cs) == 1:
                x, y = cs[0]["timesteps"], cs[0][key]
                ax.plot(x, y, ".", alpha=0.2, color=color, markersize=3)
                if len(y):
                    ax.plot(x, _rolling(y, window), color=color, label=f"{label} (mean of {window} episodes)")
                continue
            grid, mean, lo, hi = seed_band([(c["timesteps"], c[key]) for c in cs], window)
            ax.fill_between(grid, lo, hi, color=color, alpha=0.25, lw=0)
            ax.plot(grid, mean, color=color, label=f"{label} (mean of {len(cs)} seeds, {LEVEL:.0%} t-band; rolling {window} episodes)")
    for (name, value), color in zip((baselines or {}).items(), LINE_COLORS):
        axes[0].axhline(value, ls="--", lw=1, color=color, label=name)
    axes[0].set_ylabel("delivered value per episode (reference GPU-h)")
    if returns:
        axes[1].set_ylabel("training return per episode (per satellite)")
    for ax in axes:
        ax.set_xlabel("agent-steps")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def final_values(curves: Mapping[str, Path | Sequence[Path]], window: int = WINDOW) -> list[tuple[str, str, float, float, str]]:
    """Rows ``(label, run, agent-steps, delivered value, interval)``: each run's mean over its last ``window``
    episodes at its last agent-step; after a multi-run label's runs, the across-seed mean and its 95%
    t-interval at the last agent-step all of them reached (the right end of ``seed_band``)."""
    rows = []
    for label, paths in curves.items():
        paths = _runs(paths)
        cs = [read_curve(p) for p in paths]
        for p, c in zip(paths, cs):
            x, y = c["timesteps"], c["delivered_value"]
            final = _rolling(y, window)[-1] if len(y) else float("nan")
            rows.append((label, str(p), x[-1] if len(x) else 0.0, final, ""))
        if len(cs) > 1:
            grid, mean, lo, hi = seed_band([(c["timesteps"], c["delivered_value"]) for c in cs], window)
            rows.append((label, f"mean of {len(cs)} seeds", grid[-1], mean[-1], f"[{lo[-1]:.2f}, {hi[-1]:.2f}]"))
    return rows


def format_table(rows: Sequence[tuple[str, str, float, float, str]], window: int = WINDOW) -> str:
    """``final_values`` as aligned text columns."""
    head = ("label", "run", "agent-steps", f"delivered value (last {window} episodes)", f"{LEVEL:.0%} t-interval")
    cells = [head] + [(label, run, f"{steps:.0f}", f"{value:.2f}", interval) for label, run, steps, value, interval in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.plot", description=__doc__.split("\n\n")[0])
    p.add_argument("png")
    p.add_argument("runs", nargs="+", metavar="LABEL=RUN[,RUN...]", help="a run directory or a curve .csv; several (seeds) draw a band")
    p.add_argument("--baselines", help="a run's baselines.json: its heuristics are drawn as reference lines")
    p.add_argument("--title", default="")
    p.add_argument("--window", type=int, default=WINDOW, help=f"episodes in a rolling mean (default {WINDOW})")
    args = p.parse_args(argv)
    if args.window < 1:
        p.error(f"--window {args.window}: must be at least 1 episode")
    curves: dict[str, list[Path]] = {}
    for r in args.runs:
        label, eq, dirs = r.partition("=")
        if not (label and eq and all(dirs.split(","))):
            p.error(f"{r!r}: expected LABEL=RUN or LABEL=RUN1,RUN2,... (a RUN is a run directory or a .csv file)")
        if label in curves:
            p.error(f"label {label!r} given twice: put its runs in one LABEL=RUN1,RUN2,...")
        try:
            curves[label] = [curve_path(d) for d in dirs.split(",")]
        except FileNotFoundError as e:
            p.error(f"label {label!r}: {e}")
    baselines = json.loads(Path(args.baselines).read_text())["delivered_value"] if args.baselines else {}
    baselines = {k: v for k, v in baselines.items() if k != "ppo (exported)"}
    try:
        plot_curves(curves, Path(args.png), baselines, args.title, args.window)
        print(format_table(final_values(curves, args.window), args.window))
    except ValueError as e:
        p.error(str(e))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
