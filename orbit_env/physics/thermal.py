"""Thermal: one lumped radiative node per satellite, integrated implicitly, and the GPU junction.

C dT/dt = P - eps*sigma*A*(T^4 - T_sink^4). The effective sink temperature folds in Earth IR and
albedo (physics.md s6: 200-250 K for an Earth-viewing radiator). Backward Euler solved by Newton is
unconditionally stable, so dt may exceed the node's time constant (about 11 min, s6).
"""

from __future__ import annotations

import numpy as np

SIGMA = 5.670374419e-8  # W m^-2 K^-4, CODATA (physics.md s6)
KELVIN = 273.15


def radiated_w(temp_k, emissivity: float, area_m2: float, sink_k: float):
    """Net power radiated to the sink."""
    return emissivity * SIGMA * area_m2 * (temp_k**4 - sink_k**4)


def equilibrium_temp_k(power_w, emissivity: float, area_m2: float, sink_k: float):
    """Temperature at which radiation balances a constant dissipation."""
    return (np.asarray(power_w) / (emissivity * SIGMA * area_m2) + sink_k**4) ** 0.25


def node_step(temp_k, power_w, dt_s: float, heat_capacity: float, emissivity: float, area_m2: float, sink_k: float, newton_iters: int = 4):
    """Backward-Euler step of the lumped node: solve C (T' - T)/dt = P - k (T'^4 - Ts^4) for T'.

    The residual is convex and increasing in T', so Newton from max(T, T_eq-bound) converges
    monotonically; four iterations reach ~1e-9 K for the ranges used here.
    """
    k = emissivity * SIGMA * area_m2
    c_dt = heat_capacity / dt_s
    rhs = c_dt * temp_k + power_w + k * sink_k**4
    # start above the root (residual positive there) so Newton converges from above without overshoot
    t = np.maximum(temp_k, equilibrium_temp_k(np.maximum(power_w, 0.0), emissivity, area_m2, sink_k))
    for _ in range(newton_iters):
        t = t - (c_dt * t + k * t**4 - rhs) / (c_dt + 4.0 * k * t**3)
    return t


def gpu_temp_c(node_k, gpu_w, k_per_w: float):
    """GPU junction temperature: the node plus a rise proportional to the GPU's own power [est]."""
    return node_k - KELVIN + k_per_w * gpu_w
