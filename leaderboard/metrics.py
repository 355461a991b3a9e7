"""Per-episode metrics of the leaderboard, computed from a BatchEnv at the end of its episodes.

Delivered value is what suite v1 ranks by, the value delivered in the measurement window what suite v2
ranks by; the rest explain them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    fmt: str  # format spec for the board
    higher_is_better: bool
    doc: str


METRICS: tuple[Metric, ...] = (
    Metric("delivered_value", "delivered value", ".1f", True, "value delivered to the ground (reference GPU-hours, discounted after the deadline)"),
    Metric("jobs_delivered", "jobs delivered", ".1f", True, "jobs whose result reached the ground"),
    Metric("deadline_hit_rate", "deadline hit rate", ".1%", True, "jobs delivered by their deadline / jobs whose deadline fell in the episode or that were delivered on time"),
    Metric("useful_gpu_hours", "useful GPU-h", ".1f", True, "work of the delivered jobs, in reference (H100) GPU-hours"),
    Metric("goodput", "goodput", ".1%", True, "useful GPU-hours / GPU-hours the accelerators were busy (in H100 equivalents)"),
    Metric("energy_per_useful_gpu_hour", "Wh / useful GPU-h", ".0f", False, "accelerator energy per useful GPU-hour"),
    Metric("safe_mode_entries", "safe-mode entries", ".1f", False, "times a satellite's battery fell into safe mode"),
    Metric("thermal_shutdowns", "thermal shutdowns", ".1f", False, "times an accelerator overheated and shut down"),
    Metric("mean_completion_h", "mean JCT (h)", ".2f", False, "mean time from submission to delivery of the delivered jobs"),
)  # fmt: skip
KEYS = tuple(m.key for m in METRICS)
# Suite v2's metric, recorded for every episode (it equals delivered value when the window is the whole episode)
# but shown only on boards that score it, so that v1's board keeps its columns.
WINDOW_VALUE = Metric("window_value", "window value", ".1f", True, "value delivered during the measurement window (reference GPU-hours, discounted after the deadline)")
RECORDED = (*KEYS, WINDOW_VALUE.key)


def ratio(num, den):
    """num / den elementwise, NaN where there is nothing to divide by."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, math.nan)


def episode_metrics(env) -> list[dict[str, float]]:
    """The leaderboard metrics of each episode a BatchEnv has just finished, in episode order."""
    m, sim, B = env.metrics(), env.sim, env.num_envs
    end_s = sim.t * env.params.dt  # (B,)
    jobs, J = sim.jobs, sim.J
    deadline = jobs.deadline_s.reshape(B, J)
    arrived = np.arange(J) < sim.n_arrived[:, None]  # job rows b * J + j: (B, J)
    on_time = np.nan_to_num(sim.delivered_s.reshape(B, J), nan=np.inf) <= deadline
    decided = arrived & ((deadline <= end_s[:, None]) | on_time)
    useful_h = m["useful_gpu_s"] / 3600.0
    busy_h = m["busy_gpu_s"] * env.scenario.hardware.accel.relative_speed / 3600.0
    columns = {
        "delivered_value": m["delivered_value"],
        # until the env's measurement window is merged (contract, issue 10) the window is the whole episode
        "window_value": m.get("window_value", m["delivered_value"]),
        "jobs_delivered": m["jobs_delivered"],
        "deadline_hit_rate": ratio(np.count_nonzero(decided & on_time, axis=1), np.count_nonzero(decided, axis=1)),
        "useful_gpu_hours": useful_h,
        "goodput": ratio(useful_h, busy_h),
        "energy_per_useful_gpu_hour": ratio(m["energy_gpu_wh"], useful_h),
        "safe_mode_entries": m["safe_mode_entries"],
        "thermal_shutdowns": m["thermal_shutdowns"],
        "mean_completion_h": ratio(m["completion_s"] / 3600.0, m["jobs_delivered"]),
    }
    return [{k: float(v[b]) for k, v in columns.items()} for b in range(B)]
