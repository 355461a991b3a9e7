"""The learning-curve plot: delivered value and training return per episode against agent-steps."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def _rolling(y: np.ndarray, window: int) -> np.ndarray:
    c = np.cumsum(np.insert(y, 0, 0.0))
    n = np.minimum(np.arange(1, len(y) + 1), window)
    return (c[1:] - c[np.arange(len(y)) + 1 - n]) / n


def plot_curve(curve_csv: Path, png: Path, baselines: dict[str, float] | None = None, title: str = "", window: int = 16) -> None:
    """Write ``png``: per-episode points and a rolling mean, with horizontal baseline lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(curve_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.array([float(r["timesteps"]) for r in rows])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], "delivered_value", "delivered value per episode (GPU-h)"), (axes[1], "return", "training return per episode")):
        y = np.array([float(r[key]) for r in rows])
        ax.plot(x, y, ".", alpha=0.25, color="tab:blue", markersize=3)
        if len(y):
            ax.plot(x, _rolling(y, window), color="tab:blue", label=f"PPO (mean of {window})")
        ax.set_xlabel("agent-steps")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    for (name, value), color in zip((baselines or {}).items(), ("tab:gray", "tab:orange", "tab:green", "tab:red")):
        axes[0].axhline(value, ls="--", color=color, label=name)
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
