"""Learning curves: delivered value and training return per episode against agent-steps.

``train`` draws one run; ``python -m train.plot OUT.png LABEL=RUN_DIR ... --baselines FILE`` draws several
runs on the same axes, with the heuristics of a run's ``baselines.json`` as reference lines.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Sequence

import numpy as np

COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:brown")
LINE_COLORS = ("tab:gray", "tab:orange", "tab:olive", "tab:cyan", "tab:pink", "black")


def _rolling(y: np.ndarray, window: int) -> np.ndarray:
    c = np.cumsum(np.insert(y, 0, 0.0))
    n = np.minimum(np.arange(1, len(y) + 1), window)
    return (c[1:] - c[np.arange(len(y)) + 1 - n]) / n


def plot_curves(curves: dict[str, Path], png: Path, baselines: dict[str, float] | None = None, title: str = "", window: int = 16) -> None:
    """Write ``png``: per-episode points and a rolling mean for each run, and horizontal baseline lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {}
    for label, path in curves.items():
        with open(path, newline="") as f:
            runs[label] = list(csv.DictReader(f))
    returns = all(not rows or "return" in rows[0] for rows in runs.values())  # a curve may lack training returns
    fig, axes = plt.subplots(1, 2 if returns else 1, figsize=(11 if returns else 6, 4), squeeze=False)
    axes = axes[0]
    for (label, rows), color in zip(runs.items(), COLORS):
        x = np.array([float(r["timesteps"]) for r in rows])
        for ax, key in zip(axes, ("delivered_value", "return")):
            y = np.array([float(r[key]) for r in rows])
            ax.plot(x, y, ".", alpha=0.2, color=color, markersize=3)
            if len(y):
                ax.plot(x, _rolling(y, window), color=color, label=f"{label} (mean of {window} episodes)")
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


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.plot", description=__doc__.split("\n\n")[0])
    p.add_argument("png")
    p.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    p.add_argument("--baselines", help="a run's baselines.json: its heuristics are drawn as reference lines")
    p.add_argument("--title", default="")
    args = p.parse_args(argv)
    runs = {label: Path(d) for label, _, d in (r.partition("=") for r in args.runs)}
    baselines = json.loads(Path(args.baselines).read_text())["delivered_value"] if args.baselines else {}
    baselines = {k: v for k, v in baselines.items() if k != "ppo (exported)"}
    plot_curves({label: d / "curve.csv" for label, d in runs.items()}, Path(args.png), baselines, args.title)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
