"""Renderings: ``ansi`` (one line per satellite) and ``rgb_array`` (ground track with links and contacts,
battery and temperature bars), drawn with matplotlib's Agg backend (no display needed). Both draw
episode 0 of the state (a single env's episode)."""

from __future__ import annotations

import numpy as np

from orbit_env.ephemeris import Ephemeris
from orbit_env.physics import thermal
from orbit_env.sim import Params, Place, SimState
from orbit_env.stations import resolve_stations

_FIG = {}  # one reusable figure per process: creating figures is the slow part of matplotlib


def render_ansi(params: Params, state: SimState, eph: Ephemeris, max_lines: int = 50) -> str:
    """A header line, then one line per satellite (the first ``max_lines``)."""
    e, t = int(state.e0[0] + state.t[0]), int(state.t[0])
    hw = params.scenario.hardware
    soc = state.energy_wh / hw.battery_wh
    temp = state.temp_k - thermal.KELVIN
    census = np.bincount(state.place, minlength=len(Place.NAMES))
    lines = [
        f"{params.scenario.name} t={t}/{params.scenario.episode.max_cycles} "
        f"ground={census[Place.GROUND]} done={census[Place.DONE]} dropped={census[Place.DROPPED]} "
        f"value={state.totals['delivered_value'][0]:.2f}"
    ]
    for i in range(min(params.n_sats, max_lines)):
        gpu = "SAFE" if state.safe[i] else "HOT " if state.thermal_off[i] else "RCVR" if state.recover_s[i] > 0 else (
            f"j{state.active[i]}@{params.caps_w[state.level[i]]:.0f}W" if state.active[i] >= 0 else "idle"
        )
        lines.append(
            f"sat_{i:<4d} {'SUN' if eph.sunlit[e, i] else 'ECL'} {'SAA' if eph.in_saa[e, i] else '   '} "
            f"{'GND' if eph.contact[e, i] else '   '} soc {soc[i]:4.0%} T {temp[i]:5.1f}C {gpu:<12s} "
            f"slots {(state.slots[i] >= 0).sum()}/{params.K}"
        )
    if params.n_sats > max_lines:
        lines.append(f"... {params.n_sats - max_lines} more satellites")
    return "\n".join(lines)


def render_rgb(params: Params, state: SimState, eph: Ephemeris) -> np.ndarray:
    """(H, W, 3) uint8 image: map of satellites (yellow sunlit, grey eclipse, red in SAA), ISLs, stations
    and contacts, with battery and temperature bars below."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if "fig" not in _FIG:
        _FIG["fig"] = plt.figure(figsize=(8, 5.5), dpi=80)
    fig = _FIG["fig"]
    fig.clf()
    ax, bars = fig.add_axes((0.06, 0.35, 0.9, 0.6)), fig.add_axes((0.06, 0.07, 0.9, 0.2))
    e, t = int(state.e0[0] + state.t[0]), int(state.t[0])
    lat, lon = eph.lat_deg[e], eph.lon_deg[e]
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_facecolor("#0b1d3a")
    ax.set_title(f"{params.scenario.name}  t = {t * params.dt / 3600:.2f} h", fontsize=9)
    if params.M:
        i, m = np.nonzero(eph.isl_up[e] & (eph.neighbours >= 0))
        j = eph.neighbours[i, m]
        short = np.abs(lon[i] - lon[j]) < 180  # do not draw links across the date line
        ax.plot(np.stack([lon[i], lon[j]])[:, short], np.stack([lat[i], lat[j]])[:, short], color="#3fa7ff", lw=0.5)
    for s in resolve_stations(params.scenario.ground.stations):
        ax.plot(s.lon_deg, s.lat_deg, marker="^", color="#7CFC00", ms=5)
    colour = np.where(eph.in_saa[e], "red", np.where(eph.sunlit[e], "gold", "grey"))
    ax.scatter(lon, lat, c=colour, s=np.where(eph.contact[e], 30, 10), edgecolors=np.where(state.safe, "white", "none"))
    x = np.arange(params.n_sats)
    hw = params.scenario.hardware
    bars.bar(x, state.energy_wh / hw.battery_wh, color="#2ca02c", width=0.8, label="battery SoC")
    bars.plot(x, (state.temp_k - thermal.KELVIN) / 100.0, "r.", ms=3, label="temperature / 100 C")
    bars.set_ylim(0, 1.05)
    bars.legend(loc="upper right", fontsize=7)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def close() -> None:
    """Release the shared figure."""
    if "fig" in _FIG:
        import matplotlib.pyplot as plt

        plt.close(_FIG.pop("fig"))
