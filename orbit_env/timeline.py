"""Episode timelines: what each satellite did at every step, its battery and its temperature, as a plot.

    timeline = Timeline(env.params)
    ...  after every step of a single env:  timeline.record(env.sim, env.last_step)
    timeline.plot("episode.png")

One activity per satellite and step, the most eventful of what happened (``ACTIVITIES``, later wins): a
crash (upset or thermal shutdown), safe mode, a checkpoint written, a send over a laser link, a result
downlinked, a dataset uplinked, a job running, or idle. Episode 0 of the state is recorded (a single env).
"""

from __future__ import annotations

import numpy as np

from orbit_env.physics import thermal
from orbit_env.sim import Params, SimState, StepInfo

ACTIVITIES = ("idle", "run", "uplink", "downlink", "send", "checkpoint", "safe mode", "crash")
COLOURS = ("#f2f2f2", "#4c9be8", "#7fc97f", "#2ca02c", "#b07aa1", "#f0a202", "#555555", "#d62728")


class Timeline:
    """Per-step records of one episode (episode 0 of the state)."""

    def __init__(self, params: Params):
        self.params = params
        self.activity: list[np.ndarray] = []
        self.soc: list[np.ndarray] = []
        self.temp_c: list[np.ndarray] = []

    def record(self, state: SimState, info: StepInfo) -> None:
        """Add the step that ``info`` describes (call right after it, with the state it left)."""
        N = self.params.n_sats
        code = np.zeros(N, np.int8)
        flags = (
            state.active[:N] >= 0,
            info.uplinking[:N],
            info.downlinking[:N],
            info.sending[:N],
            info.checkpointed[:N],
            state.safe[:N],
            (info.upset | info.thermal_shutdown)[:N],
        )
        for level, flag in enumerate(flags, start=1):
            code[flag] = level
        self.activity.append(code)
        self.soc.append(state.energy_wh[:N] / self.params.scenario.hardware.battery_wh)
        self.temp_c.append(state.temp_k[:N] - thermal.KELVIN)

    def __len__(self) -> int:
        return len(self.activity)

    def draw(self, axes) -> None:
        """Draw activity, state of charge and node temperature (satellites x hours) on three matplotlib axes."""
        from matplotlib.colors import ListedColormap

        hours = len(self) * self.params.dt / 3600.0
        extent = (0.0, hours, self.params.n_sats - 0.5, -0.5)
        panels = (
            (np.array(self.activity).T, dict(cmap=ListedColormap(COLOURS), vmin=-0.5, vmax=len(ACTIVITIES) - 0.5), "activity"),
            (np.array(self.soc).T, dict(cmap="RdYlGn", vmin=0.0, vmax=1.0), "battery state of charge"),
            (np.array(self.temp_c).T, dict(cmap="inferno"), "node temperature (C)"),
        )
        for ax, (data, style, title) in zip(axes, panels):
            image = ax.imshow(data, aspect="auto", interpolation="nearest", extent=extent, **style)
            ax.set_title(title, fontsize=8, loc="left")
            ax.set_ylabel("satellite", fontsize=7)
            ax.tick_params(labelsize=6)
            bar = ax.figure.colorbar(image, ax=ax, pad=0.01, fraction=0.03)
            bar.ax.tick_params(labelsize=6)
            if title == "activity":
                bar.set_ticks(range(len(ACTIVITIES)), labels=ACTIVITIES)
        axes[-1].set_xlabel("hours since step 0", fontsize=7)

    def plot(self, path: str) -> None:
        """Write the three panels to an image file (PNG, SVG, PDF: by its suffix)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        if not len(self):
            raise ValueError("the timeline is empty: record at least one step before plotting")
        fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True, dpi=100)
        self.draw(axes)
        fig.suptitle(f"{self.params.scenario.name}: {len(self)} steps of {self.params.dt:g} s", fontsize=9)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
