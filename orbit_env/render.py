"""Renderings: ``ansi`` (one line per satellite) and ``rgb_array`` (ground track with links and contacts,
battery and temperature bars), drawn with matplotlib's Agg backend (no display needed). Both draw
episode 0 of the state (a single env's episode)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np

from orbit_env.ephemeris import Ephemeris
from orbit_env.physics import thermal
from orbit_env.saa import SAA_POLYGONS
from orbit_env.sim import Params, Place, SimState, live_in
from orbit_env.stations import resolve_stations
from orbit_env.timeline import Timeline

J2000 = datetime(2000, 1, 1, 12, tzinfo=timezone.utc)  # epoch of the solar coordinates (TT ~ UTC here)

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


R_EARTH_KM = 6371.0  # mean radius, for drawing coverage circles


def subsolar_point(when: datetime) -> tuple[float, float]:
    """(latitude, east longitude) in degrees of the point with the Sun overhead at ``when`` (UTC).

    The Astronomical Almanac's low-precision solar coordinates (about 0.01 deg, 1950-2050) and the mean
    sidereal time: enough to draw the day/night terminator."""
    n = (when - J2000).total_seconds() / 86400.0
    g = math.radians((357.528 + 0.9856003 * n) % 360.0)
    lam = math.radians((280.460 + 0.9856474 * n) % 360.0 + 1.915 * math.sin(g) + 0.020 * math.sin(2 * g))
    eps = math.radians(23.439 - 4e-7 * n)
    dec = math.asin(math.sin(eps) * math.sin(lam))
    ra = math.degrees(math.atan2(math.cos(eps) * math.sin(lam), math.cos(lam)))
    gmst = (280.46061837 + 360.98564736629 * n) % 360.0
    return math.degrees(dec), (ra - gmst + 540.0) % 360.0 - 180.0


def coverage_circle(lat_deg: float, lon_deg: float, altitude_km: float, mask_deg: float, n: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) of the ground footprint edge: where a satellite at ``altitude_km`` sees the station at
    ``mask_deg`` elevation (Earth central angle acos(R cos e / (R + h)) - e around the station)."""
    e = math.radians(mask_deg)
    lam = math.acos(R_EARTH_KM * math.cos(e) / (R_EARTH_KM + altitude_km)) - e
    az = np.linspace(0.0, 2.0 * np.pi, n)
    p0, l0 = math.radians(lat_deg), math.radians(lon_deg)
    lat = np.arcsin(math.sin(p0) * math.cos(lam) + math.cos(p0) * math.sin(lam) * np.cos(az))
    lon = l0 + np.arctan2(np.sin(az) * math.sin(lam) * math.cos(p0), math.cos(lam) - math.sin(p0) * np.sin(lat))
    return np.degrees(lat), (np.degrees(lon) + 540.0) % 360.0 - 180.0


def _broken(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A line with NaN gaps where it crosses the date line, so it is not drawn across the map."""
    jump = np.flatnonzero(np.abs(np.diff(x)) > 180.0) + 1
    return np.insert(x.astype(float), jump, np.nan), np.insert(y.astype(float), jump, np.nan)


def render_rgb(params: Params, state: SimState, eph: Ephemeris, timeline: Timeline | None = None) -> np.ndarray:
    """(H, W, 3) uint8 image of episode 0. Map: night side shaded (the terminator from the Sun's position),
    the SAA polygon, stations with the footprint of their elevation mask and the antennas in use, laser links
    coloured by the transfers they carry, satellites (yellow sunlit, grey eclipse, red in the SAA, large in
    contact, white edge in safe mode). Below: with a ``timeline``, every satellite's activity so far;
    otherwise battery and temperature bars."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if "fig" not in _FIG:
        _FIG["fig"] = plt.figure(figsize=(8, 5.5), dpi=80)
    fig = _FIG["fig"]
    fig.clf()
    ax, lower = fig.add_axes((0.06, 0.35, 0.9, 0.6)), fig.add_axes((0.06, 0.07, 0.84, 0.2))
    sc, N = params.scenario, params.n_sats
    e, t = int(state.e0[0] + state.t[0]), int(state.t[0])
    lat, lon = eph.lat_deg[e], eph.lon_deg[e]
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_facecolor("#0b1d3a")
    when = sc.orbit.epoch_datetime + timedelta(seconds=float(eph.times_s[e]))
    ax.set_title(f"{sc.name}  t = {t * params.dt / 3600:.2f} h  ({when:%Y-%m-%d %H:%M} UTC)", fontsize=9)
    s_lat, s_lon = subsolar_point(when)
    g_lat, g_lon = np.meshgrid(np.linspace(-90, 90, 91), np.linspace(-180, 180, 181), indexing="ij")
    p, sp = np.radians(g_lat), math.radians(s_lat)
    night = np.sin(p) * math.sin(sp) + np.cos(p) * math.cos(sp) * np.cos(np.radians(g_lon - s_lon)) < 0
    ax.imshow(night, extent=(-180, 180, -90, 90), origin="lower", cmap="Greys", vmin=0, vmax=1.6, alpha=0.45, aspect="auto")
    saa = SAA_POLYGONS[sc.radiation.saa_polygon]
    ax.fill(saa[:, 1], saa[:, 0], facecolor="none", edgecolor="#ff6f61", lw=0.8, ls="--")
    altitude = float(np.linalg.norm(eph.pos_km[e], axis=1).mean()) - R_EARTH_KM
    in_use = np.bincount(np.maximum(state.antenna[:N], 0), weights=state.antenna[:N] >= 0, minlength=len(eph.station_names))
    for k, st in enumerate(resolve_stations(sc.ground.stations)):
        c_lat, c_lon = _broken(*coverage_circle(st.lat_deg, st.lon_deg, altitude, sc.ground.elevation_mask_deg)[::-1])
        ax.plot(c_lat, c_lon, color="#7CFC00", lw=0.4, alpha=0.6)
        ax.plot(st.lon_deg, st.lat_deg, marker="^", color="#7CFC00", ms=5)
        limit = f"/{params.antennas}" if params.antennas else ""
        if in_use[k]:
            ax.annotate(f"{int(in_use[k])}{limit}", (st.lon_deg, st.lat_deg), xytext=(3, 3), textcoords="offset points", color="#7CFC00", fontsize=6)
    if params.M:
        sending = live_in(state, Place.SENDING)
        sending = sending[state.sat[sending] < N]
        load = np.bincount(state.sat[sending] * params.M + state.term[sending], minlength=N * params.M).reshape(N, params.M)
        i, m = np.nonzero(eph.isl_up[e] & (eph.neighbours >= 0))
        j = eph.neighbours[i, m]
        short = np.abs(lon[i] - lon[j]) < 180  # do not draw links across the date line
        colour = np.array(["#3fa7ff", "#ffb000", "#ff3030"])[np.minimum(load[i, m], 2)]
        for a, b, c, k in zip(i[short], j[short], colour[short], load[i, m][short]):
            ax.plot([lon[a], lon[b]], [lat[a], lat[b]], color=c, lw=0.5 + 0.7 * min(k, 2))
    colour = np.where(eph.in_saa[e], "red", np.where(eph.sunlit[e], "gold", "grey"))
    ax.scatter(lon, lat, c=colour, s=np.where(eph.contact[e], 30, 10), edgecolors=np.where(state.safe[:N], "white", "none"), zorder=3)
    if timeline is not None and len(timeline):
        timeline.draw([lower])
        lower.set_xlabel("")
    else:
        x = np.arange(N)
        hw = sc.hardware
        lower.bar(x, state.energy_wh[:N] / hw.battery_wh, color="#2ca02c", width=0.8, label="battery SoC")
        lower.plot(x, (state.temp_k[:N] - thermal.KELVIN) / 100.0, "r.", ms=3, label="temperature / 100 C")
        lower.set_ylim(0, 1.05)
        lower.legend(loc="upper right", fontsize=7)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def close() -> None:
    """Release the shared figure."""
    if "fig" in _FIG:
        import matplotlib.pyplot as plt

        plt.close(_FIG.pop("fig"))
