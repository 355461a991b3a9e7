"""Thermal: one lumped radiative node per satellite, integrated implicitly, and the GPU junction.

C dT/dt = P - eps*sigma*A*(T^4 - T_sink^4). The effective sink temperature folds in Earth IR and
albedo (physics.md s6: 200-250 K for an Earth-viewing radiator). Backward Euler solved by Newton is
unconditionally stable, so dt may exceed the node's time constant (about 11 min, s6).
"""

from __future__ import annotations

import math

import numpy as np

SIGMA = 5.670374419e-8  # W m^-2 K^-4, CODATA (physics.md s6)
KELVIN = 273.15


def radiated_w(temp_k, emissivity: float, area_m2: float, sink_k: float):
    """Net power radiated to the sink."""
    return emissivity * SIGMA * area_m2 * (temp_k**4 - sink_k**4)


def equilibrium_temp_k(power_w, emissivity: float, area_m2: float, sink_k: float):
    """Temperature at which radiation balances a constant dissipation."""
    return (np.asarray(power_w) / (emissivity * SIGMA * area_m2) + sink_k**4) ** 0.25


NEWTON_TOL_K = 1e-9  # temperature accuracy of the implicit step
_CONTRACTION = 0.75  # Newton from above shrinks the error at least by this factor per iteration (node_step)


def node_step(temp_k, power_w, dt_s: float, heat_capacity: float, emissivity: float, area_m2: float, sink_k, tol_k: float = NEWTON_TOL_K):
    """Backward-Euler step of the lumped node: solve C (T' - T)/dt = P - k (T'^4 - Ts^4) for T' to ``tol_k``.

    Newton on f(T') = (C/dt) T' + k T'^4 - rhs (convex, increasing for T' > 0) from a start above the
    root converges monotonically from above. Its error e shrinks by at least 3/4 per iteration, since
    f(T) - f(T*) >= (T - T*)(C/dt + k T^3) and f'(T) = C/dt + 4 k T^3. Hence a step s = e - e_next
    satisfies e_next <= 3 s: iterating until every step is below tol/3 leaves every error below tol, and
    ceil(log(e_0 / tol) / log(4/3)) iterations bound the loop (with e_0 <= the start temperature).
    Quadratic convergence near the root makes the usual count 2-6. Each element stops on its own, so its
    result does not depend on the other elements of the array (a batch of episodes equals each alone).
    """
    k = emissivity * SIGMA * area_m2
    c_dt = heat_capacity / dt_s
    rhs = c_dt * temp_k + power_w + k * sink_k**4
    # start above the root (residual positive there) so Newton converges from above without overshoot
    t = np.maximum(temp_k, equilibrium_temp_k(np.maximum(power_w, 0.0), emissivity, area_m2, sink_k))
    t0 = float(np.max(t)) if np.size(t) else 0.0
    cap = max(1, math.ceil(math.log(max(t0, tol_k) / tol_k) / -math.log(_CONTRACTION)))
    going = np.ones(np.shape(t), bool)
    for _ in range(cap):
        change = (c_dt * t + k * t**4 - rhs) / (c_dt + 4.0 * k * t**3)
        t = np.where(going, t - change, t)
        going &= np.abs(change) >= tol_k / 3.0
        if not going.any():
            break
    return t


def gpu_temp_c(node_k, gpu_w, k_per_w: float):
    """GPU junction temperature: the node plus a rise proportional to the GPU's own power [est]."""
    return node_k - KELVIN + k_per_w * gpu_w
