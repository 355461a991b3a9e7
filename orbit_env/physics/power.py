"""Electrical power: solar array, accelerator DVFS, battery with efficiencies, safe mode with hysteresis.

Units: watts, watt-hours, seconds. Sources: reference/physics.md sections 4 and 5.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def solar_power_w(sunlit, area_m2: float, w_per_m2: float):
    """Array output: a sun-tracking array gives area x derated output in sun, nothing in shadow (s5)."""
    return np.where(sunlit, area_m2 * w_per_m2, 0.0)


def dvfs_speed(cap_w, idle_w: float, work_w: float, gamma):
    """Throughput fraction at a power cap: min(1, ((cap - idle) / (work - idle)) ** gamma) (s4 [est]).

    gamma 0.5 fits the compute-bound points of s4 (~9% loss at 600 W, ~25% at 450 W, ~42% at 300 W).
    """
    frac = np.clip((np.asarray(cap_w, dtype=float) - idle_w) / (work_w - idle_w), 0.0, 1.0)
    return frac**gamma


class BatteryStep(NamedTuple):
    energy_wh: np.ndarray  # stored energy after the step
    charge_w: np.ndarray  # power drawn into the battery (before charge losses)
    discharge_w: np.ndarray  # power delivered by the battery to the loads (after discharge losses)
    shunt_w: np.ndarray  # surplus solar the battery could not take
    unmet_w: np.ndarray  # load the battery could not supply (brown-out)
    loss_w: np.ndarray  # charge + discharge conversion losses


def battery_step(
    energy_wh, solar_w, load_w, dt_s: float, capacity_wh: float, max_charge_w: float, eta_charge: float, eta_discharge: float
) -> BatteryStep:
    """One step of the battery bus. Balance: solar = (load - unmet) + dE/dt + shunt + losses."""
    dt_h = dt_s / 3600.0
    net = solar_w - load_w
    room_w = (capacity_wh - energy_wh) / (eta_charge * dt_h)
    charge = np.clip(net, 0.0, np.minimum(max_charge_w, room_w))
    shunt = np.maximum(net, 0.0) - charge
    want = np.maximum(-net, 0.0)
    discharge = np.minimum(want, energy_wh * eta_discharge / dt_h)
    unmet = want - discharge
    energy = np.clip(energy_wh + (eta_charge * charge - discharge / eta_discharge) * dt_h, 0.0, capacity_wh)
    loss = (1.0 - eta_charge) * charge + discharge * (1.0 / eta_discharge - 1.0)
    return BatteryStep(energy, charge, discharge, shunt, unmet, loss)


def safe_mode_update(safe, soc, enter_soc: float, resume_soc: float, brownout):
    """Hysteresis: enter below ``enter_soc`` (or on a brown-out), leave only above ``resume_soc``.

    Returns (new_safe, entered_this_step).
    """
    entered = ~safe & ((soc < enter_soc) | brownout)
    return (safe & (soc < resume_soc)) | entered, entered
