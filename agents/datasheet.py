"""A satellite's static data sheet, and the predictions a heuristic makes from it.

Heuristics read the dynamic state only from the observations. What they add is what an operator knows
before launch: the numbers in the scenario file (battery, power caps, radiator, upset rate). Learned
policies absorb the same numbers by training on the scenario, so using them keeps comparisons fair.
Predictions reuse the simulator's own physics functions rather than copies of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from orbit_env.physics import power
from orbit_env.scenario import Scenario

R_EARTH_KM = 6371.0
MU_KM3_S2 = 398600.4418


def orbit_period_s(altitude_km: float) -> float:
    """Period of a circular orbit (Kepler's third law)."""
    return 2.0 * math.pi * math.sqrt((R_EARTH_KM + altitude_km) ** 3 / MU_KM3_S2)


def worst_eclipse_s(altitude_km: float) -> float:
    """Longest eclipse of a circular orbit (Sun in the orbit plane): period x asin(R / (R + h)) / pi."""
    return orbit_period_s(altitude_km) * math.asin(R_EARTH_KM / (R_EARTH_KM + altitude_km)) / math.pi


@dataclass(frozen=True)
class Datasheet:
    """Static numbers of one satellite type, from a scenario."""

    dt_s: float
    n_accel: int
    caps_w: np.ndarray  # (P,) power cap per accelerator at each level
    speeds: np.ndarray  # (P,) throughput fraction at each level (DVFS of a compute-bound job)
    idle_w: float  # per accelerator
    bus_w: float
    radio_w: float
    solar_w: float  # array output in sunlight
    battery_wh: float
    max_charge_w: float
    eta_charge: float
    eta_discharge: float
    safe_soc: float
    k_per_w: float  # GPU rise above the radiator node per watt
    throttle_c: float
    upsets_per_s: float  # per active accelerator outside the SAA
    saa_multiplier: float
    checkpoint_overhead_s: float
    checkpoint_write_bps: float  # bytes/s
    eclipse_s: float  # longest possible eclipse at this altitude
    orbit_s: float  # orbital period
    heat_capacity_j_per_k: float  # radiator node
    emissivity: float
    radiator_area_m2: float
    sink_k: tuple[float, float]  # effective sink temperature (in eclipse, in sunlight)
    value_half_life_h: float  # a late job's value halves every half-life (the workload's service contract)

    @classmethod
    def from_scenario(cls, sc: Scenario) -> Datasheet:
        hw, acc = sc.hardware, sc.hardware.accel
        return cls(
            dt_s=sc.episode.dt_s,
            n_accel=hw.accelerators_per_sat,
            caps_w=np.asarray(hw.power_caps_w, float),
            speeds=power.dvfs_speed(np.asarray(hw.power_caps_w, float), acc.idle_w, acc.work_w, acc.dvfs_gamma),
            idle_w=acc.idle_w,
            bus_w=hw.bus_w,
            radio_w=hw.radio_w,
            solar_w=float(power.solar_power_w(True, hw.solar_area_m2, hw.solar_w_per_m2)),
            battery_wh=hw.battery_wh,
            max_charge_w=hw.max_charge_w,
            eta_charge=hw.charge_efficiency,
            eta_discharge=hw.discharge_efficiency,
            safe_soc=hw.safe_mode_soc,
            k_per_w=hw.gpu_k_per_w,
            throttle_c=acc.throttle_c,
            upsets_per_s=sc.radiation.upsets_per_gpu_day / 86400.0,
            saa_multiplier=sc.radiation.saa_multiplier,
            checkpoint_overhead_s=hw.checkpoint_overhead_s,
            checkpoint_write_bps=hw.checkpoint_write_gbps * 1e9 / 8.0,
            eclipse_s=worst_eclipse_s(sc.orbit.altitude_km),
            orbit_s=orbit_period_s(sc.orbit.altitude_km),
            heat_capacity_j_per_k=hw.heat_capacity_j_per_k,
            emissivity=hw.emissivity,
            radiator_area_m2=hw.radiator_area_m2,
            sink_k=(hw.sink_temp_eclipse_k, hw.sink_temp_k),
            value_half_life_h=sc.workload.value_half_life_h,
        )

    def load_w(self, gpu_w, contact) -> np.ndarray:
        """Satellite load with each accelerator drawing ``gpu_w`` (the radio on during a contact)."""
        return self.bus_w + self.n_accel * np.asarray(gpu_w) + self.radio_w * np.asarray(contact)

    def energy_after(self, energy_wh, sunlit, load_w, seconds) -> np.ndarray:
        """Stored energy after ``seconds`` at a constant load, in sun or shadow (the simulator's battery)."""
        solar = np.where(sunlit, self.solar_w, 0.0)
        return power.battery_step(
            energy_wh, solar, load_w, np.maximum(seconds, 1.0), self.battery_wh, self.max_charge_w,
            self.eta_charge, self.eta_discharge,
        ).energy_wh  # fmt: skip

    def drain_wh_per_s(self, load_w) -> np.ndarray:
        """Energy a load takes from the battery per second in shadow (discharge losses included)."""
        return (self.battery_wh - self.energy_after(self.battery_wh, False, load_w, self.dt_s)) / self.dt_s

    def checkpoint_s(self, checkpoint_bytes) -> np.ndarray:
        """Seconds a checkpoint of this size costs the accelerators."""
        return self.checkpoint_overhead_s + np.asarray(checkpoint_bytes) / self.checkpoint_write_bps

    def upset_rate_per_s(self, in_saa) -> np.ndarray:
        """Job-crashing upsets per second of a satellite computing with all its accelerators."""
        return self.n_accel * self.upsets_per_s * np.where(in_saa, self.saa_multiplier, 1.0)
