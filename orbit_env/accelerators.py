"""Accelerator hardware profiles: peak throughput, power range, DVFS exponent and temperature limits.

A job's speed on an accelerator is its reference throughput (measured on one H100 SXM) scaled by the
ratio of peak throughputs. This is a documented approximation: real speed-ups depend on memory
bandwidth and kernels, but peak ratio is what public data allows for every chip here.
Sources: reference/physics.md sections 2, 3, 4 and 10.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Accelerator:
    name: str
    peak_tflops: float  # dense bf16 (int8 TOPS for inference-only chips), the unit of relative speed
    memory_gb: float
    idle_w: float  # powered, no work
    min_cap_w: float  # lowest settable power cap
    max_w: float  # TDP / highest power cap
    work_w: float  # power at which a compute-bound job reaches full speed (DVFS knee)
    dvfs_gamma: float  # throughput = ((P_cap - idle) / (work - idle)) ** gamma, capped at 1
    throttle_c: float  # hardware slowdown above this temperature
    shutdown_c: float  # hardware shutdown above this temperature
    max_operating_c: float  # restart allowed again below this temperature

    @property
    def relative_speed(self) -> float:
        """Speed relative to the reference H100 SXM, by peak throughput."""
        return self.peak_tflops / ACCELERATORS["h100-sxm"].peak_tflops


ACCELERATORS: dict[str, Accelerator] = {
    # physics.md s4: 989 TFLOPS dense bf16, 80 GB, idle ~75 W, cap 200-700 W, DVFS gamma ~0.5 with
    # P_work ~650-700 W; nvidia-smi thresholds: max operating 87 C, slowdown 89 C, shutdown 92 C.
    "h100-sxm": Accelerator("h100-sxm", 989.0, 80.0, 75.0, 200.0, 700.0, 675.0, 0.5, 89.0, 92.0, 87.0),
    # physics.md s4: PCIe 756 TFLOPS, 350 W TDP (300-350 by SKU), idle ~45-60 W [est]; cap floor [est].
    "h100-pcie": Accelerator("h100-pcie", 756.0, 80.0, 55.0, 150.0, 350.0, 340.0, 0.5, 89.0, 92.0, 87.0),
    # physics.md s2: TPU v6e 918 TFLOPS bf16, 32 GB; power ~300 W per chip from Suncatcher's
    # "4 TPUs ~1.2 kW" (s10) [est]; temperature limits and DVFS assumed H100-like [est].
    "tpu-v6e": Accelerator("tpu-v6e", 918.0, 32.0, 60.0, 120.0, 300.0, 290.0, 0.5, 89.0, 92.0, 87.0),
    # physics.md s3/s10: Three-Body 744 TOPS int8 computer (~0.38x H100 int8 of 1979 TOPS), ~300 W per
    # satellite in all. Peak is given in bf16-equivalent units: 0.376 x 989 = 372 [calc]. Power split,
    # memory and limits [est].
    "three-body-744tops": Accelerator(
        "three-body-744tops", 372.0, 32.0, 40.0, 80.0, 200.0, 195.0, 0.5, 89.0, 92.0, 87.0
    ),
}
