"""Ephemeris: everything about where satellites are, computed once per scenario and cached on disk.

``load_ephemeris(scenario)`` is what the simulator calls: it returns an ``Ephemeris`` of read-only
arrays, one row per time step of the whole start-offset window plus episode, from the on-disk cache
when a verified entry exists, else from ``build_ephemeris``.

How it is computed (all vectorised; the only Python loops run over time chunks, polygon edges and
ISL candidate pairs, never per satellite-time):

- Orbits: sgp4 ``SatrecArray`` over all satellites and times (``orbit_env.orbits``), in TEME.
- Frames: skyfield's own rotations, evaluated once for the whole time array: TEME -> GCRS with
  ``skyfield.sgp4lib.TEME.rotation_at(t)`` (transposed), GCRS -> ITRS with
  ``skyfield.framelib.itrs.rotation_at(t)`` (builtin timescale, UT1 from skyfield's bundled IERS
  table, no polar motion: <= 15 m). ``pos_km`` is GCRS; lat/lon are from ITRS.
- Latitude is geodetic on the WGS84 ellipsoid (Bowring's formula, sub-mm for LEO); longitude east
  in [-180, 180).
- Sun: astrometric Sun from JPL DE421 (the copy the skyfield-data package ships, opened offline),
  once for all times. Shadow is a cylinder of radius 6378.137 km behind the Earth (the model of
  physics.md s5's eclipse formula); a conical umbra would shorten eclipses by ~10 s.
- SAA: sub-satellite point inside the scenario's polygon (``orbit_env.saa``, physics.md s7).
- Ground contact: elevation above ``ground.elevation_mask_deg`` seen from each station on the WGS84
  ellipsoid (height 0); ``station`` is the highest-elevation visible one.
- ISL: fixed partners chosen once (``_choose_partners``); a link is up when the partner is within
  ``links.isl_range_km``, the segment between them clears ``R + grazing_altitude_km`` (sphere of
  6378.137 km), and that has held for ``links.acquisition_s``. Links already visible at the first
  time of the window count as acquired (the constellation was running before the window).
- Time-to-event arrays: seconds to the next flip of a boolean series, from a reversed
  ``np.minimum.accumulate`` over flip indices; capped at the time left in the window.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import warnings
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import skyfield_data
from sgp4.api import SatrecArray
from skyfield.api import load
from skyfield.framelib import itrs
from skyfield.jpllib import SpiceKernel
from skyfield.sgp4lib import TEME
from tqdm import tqdm

from orbit_env.atomic import atomic_write
from orbit_env.orbits import (
    JD_SGP4_DAY0,
    SkippedSatellitesWarning,
    TleSet,
    cluster_satrecs,
    first_raan_deg,
    read_tle_file,
    sgp4_epoch_days,
    sgp4_fault,
    skipped_summary,
    tle_file_bytes,
    walker_satrecs,
    warn_stale_elements,
)
from orbit_env.saa import SAA_POLYGONS, in_polygon
from orbit_env.scenario import Scenario, ScenarioError, to_table
from orbit_env.stations import resolve_stations

EPHEMERIS_VERSION = 2  # bump whenever the algorithm or the file layout changes
R_EARTH_KM = 6378.137  # WGS84 equatorial radius: shadow cylinder, ISL grazing sphere, ellipsoid
WGS84_F = 1.0 / 298.257223563
_ROWS_PER_CHUNK = 1 << 18  # satellite-times per chunk: bounds the float64 intermediates to ~10-30 MB
_PAIR_BLOCK = 1 << 22  # satellite pairs per block when choosing ISL partners
_ISL_SAMPLES = 32  # samples over the first orbit for the mean partner distance
_CANDIDATES_PER_TERMINAL = 4  # each satellite offers its 4*M nearest stable pairs to the greedy match
_DE421_YEARS = (1900, 2052)  # coverage of de421.bsp (1899-07-29 .. 2053-10-09)
# Spacing of the pass that finds TLE satellites SGP4 cannot propagate before the full propagation: its
# failures grow with time from the element epoch (drag's secular terms), so a satellite that fails inside
# the window fails at a window end, which is always sampled; the 10 min samples are a margin for the short-
# period wobble of a decaying orbit, at ~1/10 of the full propagation's SGP4 cost at dt = 60 s.
_CHECK_EVERY_S = 600.0

# name -> (dtype, axes); axes letters: T times, N satellites, M terminals, 3 xyz
FIELDS: dict[str, tuple[np.dtype, str]] = {
    "times_s": (np.dtype(np.float64), "T"),
    "pos_km": (np.dtype(np.float32), "TN3"),
    "lat_deg": (np.dtype(np.float32), "TN"),
    "lon_deg": (np.dtype(np.float32), "TN"),
    "sunlit": (np.dtype(bool), "TN"),
    "in_saa": (np.dtype(bool), "TN"),
    "contact": (np.dtype(bool), "TN"),
    "station": (np.dtype(np.int16), "TN"),
    "neighbours": (np.dtype(np.int32), "NM"),
    "isl_up": (np.dtype(bool), "TNM"),
    "isl_range_km": (np.dtype(np.float32), "TNM"),
    "t_light_change": (np.dtype(np.float32), "TN"),
    "t_saa_change": (np.dtype(np.float32), "TN"),
    "t_contact_next": (np.dtype(np.float32), "TN"),
    "t_contact_left": (np.dtype(np.float32), "TN"),
}


SKY_FIELDS = ("sunlit", "in_saa", "contact", "station", "lat_deg", "lon_deg", "t_light_change", "t_saa_change", "t_contact_next", "t_contact_left")


@dataclass(frozen=True, eq=False)
class Ephemeris:
    """Per-step geometry of every satellite over the window (arrays are read-only; see FIELDS)."""

    dt_s: float
    times_s: np.ndarray  # (T,) seconds from the scenario epoch
    pos_km: np.ndarray  # (T, N, 3) GCRS
    lat_deg: np.ndarray  # (T, N) geodetic (WGS84)
    lon_deg: np.ndarray  # (T, N) east, [-180, 180)
    sunlit: np.ndarray  # (T, N) outside the cylindrical shadow
    in_saa: np.ndarray  # (T, N)
    contact: np.ndarray  # (T, N) some station above the elevation mask
    station: np.ndarray  # (T, N) highest-elevation visible station, -1 if none
    neighbours: np.ndarray  # (N, M) fixed ISL partners, -1 if unused
    isl_up: np.ndarray  # (T, N, M) in range, line of sight clear, acquired
    isl_range_km: np.ndarray  # (T, N, M) 0 where no partner
    t_light_change: np.ndarray  # (T, N) s until sunlit flips
    t_saa_change: np.ndarray  # (T, N) s until in_saa flips
    t_contact_next: np.ndarray  # (T, N) s until the next contact begins, 0 in contact
    t_contact_left: np.ndarray  # (T, N) s of the current contact left, 0 out of contact
    station_names: tuple[str, ...]
    tle_lines: tuple[int, ...] = ()  # TLE file line of each satellite's line 1; empty for generated orbits
    skipped: tuple[tuple[str, str], ...] = ()  # TLE satellites dropped: (kind, sentence), see orbits.TleSet

    @property
    def n_sats(self) -> int:
        return self.pos_km.shape[1]

    @functools.cached_property
    def sky_table(self) -> np.ndarray:
        """(T * N, F) float32: the SKY_FIELDS, then isl_up and isl_range_km of each terminal, one row per
        (step, satellite), so that a batched step fetches a satellite's whole sky in one gather."""
        rows = self.n_steps * self.n_sats
        columns = [getattr(self, f).reshape(rows, 1) for f in SKY_FIELDS] + [self.isl_up.reshape(rows, -1), self.isl_range_km.reshape(rows, -1)]
        table = np.concatenate(columns, axis=1, dtype=np.float32)
        table.setflags(write=False)
        return table

    @property
    def n_steps(self) -> int:
        return self.pos_km.shape[0]


class CacheCorrupt(Exception):
    """A cache file failed validation (wrong inputs, shapes, dtypes or checksum)."""


def warmup_steps(scenario: Scenario) -> int:
    """Steps of the warm start that run before step 0 (``episode.warmup_h``)."""
    ep = scenario.episode
    return math.ceil(ep.warmup_h * 3600.0 / ep.dt_s)


def window_steps(scenario: Scenario) -> int:
    """Steps the ephemeris must cover: every start offset reset can draw, the warm start and one episode."""
    ep = scenario.episode
    return math.ceil(ep.start_window_h * 3600.0 / ep.dt_s) + warmup_steps(scenario) + ep.max_cycles


# Peak memory of a build, measured with tracemalloc on starcloud-1 (11k and 41k steps), walker-160 and
# starcloud-shell-1000: skyfield's per-time arrays (Sun, frame rotations) take ~22.1 kB per step, and are
# freed before the stored arrays (FIELDS) are filled chunk by chunk with ~515 bytes of float64 temporaries per
# satellite-time of a chunk (135 MB for a full chunk of _ROWS_PER_CHUNK).
_SKY_BYTES_PER_STEP = 22_500
_CHUNK_BYTES_PER_ROW = 540
MEMORY_LIMIT_GB = 8.0  # refuse scenarios estimated above this; $ORBIT_ENV_MEMORY_LIMIT_GB changes it


def memory_estimate_bytes(scenario: Scenario, n_sats: int) -> int:
    """Peak bytes of building and holding the ephemeris of ``scenario`` with ``n_sats`` satellites.

    The job table (at most workload.job_capacity = 100,000 rows of ~200 bytes) is small beside it.
    """
    n_t, m = window_steps(scenario) + 1, scenario.links.isl_terminals
    stored = sum(dtype.itemsize * math.prod(_shape(axes, n_t, n_sats, m)) for dtype, axes in FIELDS.values())
    return max(_SKY_BYTES_PER_STEP * n_t, stored) + _CHUNK_BYTES_PER_ROW * min(n_t * n_sats, _ROWS_PER_CHUNK)


def check_memory(scenario: Scenario, n_sats: int) -> None:
    """Refuse, before any work, a scenario whose ephemeris would not fit the memory limit, with the numbers."""
    raw = os.environ.get("ORBIT_ENV_MEMORY_LIMIT_GB", "")
    try:
        limit_gb = float(raw) if raw else MEMORY_LIMIT_GB
    except ValueError:
        raise ScenarioError(f"$ORBIT_ENV_MEMORY_LIMIT_GB = {raw!r} is not a number of gigabytes") from None
    need = memory_estimate_bytes(scenario, n_sats)
    if need > limit_gb * 1e9:
        ep = scenario.episode
        raise ScenarioError(
            f"{scenario.source or scenario.name}: needs about {need / 1e9:,.1f} GB of memory for the ephemeris "
            f"({window_steps(scenario) + 1:,} steps of episode.start_window_h = {ep.start_window_h:g} h + episode.max_cycles = "
            f"{ep.max_cycles:,} at dt {ep.dt_s:g} s, {n_sats:,} satellites, {scenario.links.isl_terminals} terminals), above the "
            f"{limit_gb:g} GB limit: shorten the episode or the start window, or raise $ORBIT_ENV_MEMORY_LIMIT_GB"
        )


def satellite_count(scenario: Scenario) -> int:
    """Number of satellites; for a TLE scenario this reads (and validates) the file. With
    ``orbit.skip_bad_satellites`` this is before the propagation check, which may drop more."""
    if scenario.orbit.kind == "tle":
        return len(read_tle_file(scenario.orbit.tle_file, scenario.orbit.skip_bad_satellites))
    return scenario.orbit.n_satellites


def cache_dir_default() -> Path:
    """$ORBIT_ENV_CACHE, else $XDG_CACHE_HOME/orbit-env, else ~/.cache/orbit-env."""
    if os.environ.get("ORBIT_ENV_CACHE"):
        return Path(os.environ["ORBIT_ENV_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "orbit-env"
    return Path.home() / ".cache" / "orbit-env"


def cache_key(scenario: Scenario) -> str:
    """sha256 of every input the ephemeris depends on (and of nothing else, so unrelated edits keep the cache)."""
    orbit = to_table(scenario.orbit)
    tle_path = orbit.pop("tle_file")
    if orbit["kind"] != "tle":
        orbit.pop("skip_bad_satellites")
    links = scenario.links
    inputs = {
        "version": EPHEMERIS_VERSION,
        "orbit": orbit,
        "tle_sha256": hashlib.sha256(tle_file_bytes(tle_path)).hexdigest() if orbit["kind"] == "tle" else "",
        "stations": [[s.name, s.lat_deg, s.lon_deg] for s in resolve_stations(scenario.ground.stations)],
        "elevation_mask_deg": scenario.ground.elevation_mask_deg,
        "links": [links.isl_terminals, links.isl_range_km, links.acquisition_s, links.grazing_altitude_km],
        "saa_polygon": scenario.radiation.saa_polygon,
        "dt_s": scenario.episode.dt_s,
        "n_steps": window_steps(scenario) + 1,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------------------------- building


@functools.cache
def _sky() -> tuple:
    """Offline timescale and DE421 kernel (SpiceKernel on the packaged file: no download, no expiry check)."""
    return load.timescale(builtin=True), SpiceKernel(str(Path(skyfield_data.__file__).parent / "data" / "de421.bsp"))


def build_ephemeris(scenario: Scenario, progress: bool = False) -> Ephemeris:
    """Compute the ephemeris of ``scenario`` (no cache). ``progress`` shows a tqdm bar over time chunks."""
    dt = scenario.episode.dt_s
    n_t = window_steps(scenario) + 1
    times_s = np.arange(n_t, dtype=np.float64) * dt
    epoch = scenario.orbit.epoch_datetime
    end = epoch + timedelta(seconds=float(times_s[-1]))
    if not (_DE421_YEARS[0] <= epoch.year and end.year <= _DE421_YEARS[1]):
        raise ScenarioError(
            f"{scenario.source or scenario.name}: orbit.epoch = {scenario.orbit.epoch!r}: the window must lie in "
            f"{_DE421_YEARS[0]}..{_DE421_YEARS[1]} (coverage of the DE421 Sun ephemeris)"
        )

    ts, kernel = _sky()
    earth, sun = kernel["earth"], kernel["sun"]
    t = ts.utc(epoch.year, epoch.month, epoch.day, epoch.hour, epoch.minute,
               epoch.second + epoch.microsecond * 1e-6 + times_s)  # fmt: skip
    teme_from_gcrs = TEME.rotation_at(t)  # (3, 3, T)
    sun_gcrs = earth.at(t).observe(sun).position.km.T  # (T, 3)
    sun_unit = sun_gcrs / np.linalg.norm(sun_gcrs, axis=1, keepdims=True)
    to_gcrs = teme_from_gcrs.transpose(2, 0, 1)  # row vectors: r_gcrs = r_teme @ to_gcrs[t]
    to_itrs = to_gcrs @ itrs.rotation_at(t).transpose(2, 1, 0)  # r_itrs = r_teme @ to_itrs[t]

    sun_teme = teme_from_gcrs[:, :, 0] @ sun_unit[0]
    jd0 = sgp4_epoch_days(epoch) + JD_SGP4_DAY0
    sats, tle_lines, skipped = _satrecs(scenario, math.degrees(math.atan2(sun_teme[1], sun_teme[0])), jd0, times_s)
    sat_array = SatrecArray(sats)

    n_sat, links = len(sats), scenario.links
    period_s = max(2.0 * math.pi / s.no_kozai for s in sats) * 60.0  # no_kozai is in rad/min
    first_orbit = _propagate(sat_array, sats, jd0, np.linspace(0.0, period_s, _ISL_SAMPLES, endpoint=False))
    neighbours, edges = _choose_partners(first_orbit, links.isl_terminals, links.isl_range_km,
                                         R_EARTH_KM + links.grazing_altitude_km)  # fmt: skip
    stations = resolve_stations(scenario.ground.stations)
    st_pos, st_up = _station_vectors(stations)
    polygon = SAA_POLYGONS[scenario.radiation.saa_polygon]
    sin_mask = math.sin(math.radians(scenario.ground.elevation_mask_deg))
    los_r2 = (R_EARTH_KM + links.grazing_altitude_km) ** 2

    out = {name: np.empty(_shape(FIELDS[name][1], n_t, n_sat, 0), FIELDS[name][0])
           for name in ("pos_km", "lat_deg", "lon_deg", "sunlit", "in_saa", "contact", "station")}  # fmt: skip
    edge_visible = np.empty((n_t, len(edges)), bool)
    edge_range = np.empty((n_t, len(edges)), np.float32)
    chunk = max(1, _ROWS_PER_CHUNK // n_sat)
    with tqdm(total=n_t, desc="ephemeris", unit="step", disable=not progress) as bar:
        for c0 in range(0, n_t, chunk):
            c = slice(c0, min(c0 + chunk, n_t))
            r_teme = _propagate(sat_array, sats, jd0, times_s[c])  # (Tc, N, 3) float64
            r_gcrs = r_teme @ to_gcrs[c]
            r_itrs = r_teme @ to_itrs[c]
            out["pos_km"][c] = r_gcrs
            lat, lon = _geodetic(r_itrs)
            out["lat_deg"][c], out["lon_deg"][c] = lat, lon
            out["sunlit"][c] = _sunlit(r_gcrs, sun_unit[c])
            out["in_saa"][c] = in_polygon(lat, lon, polygon)
            out["contact"][c], out["station"][c] = _best_station(r_itrs, st_pos, st_up, sin_mask)
            ri, rj = r_gcrs[:, edges[:, 0]], r_gcrs[:, edges[:, 1]]
            d2, clear = _segment(np.einsum("...i,...i", ri, ri), np.einsum("...i,...i", rj, rj),
                                 np.einsum("...i,...i", ri, rj), los_r2)  # fmt: skip
            dist = np.sqrt(d2)
            edge_range[c] = dist
            edge_visible[c] = clear & (dist <= links.isl_range_km)
            bar.update(c.stop - c.start)

    lon32 = out["lon_deg"]
    lon32[lon32 >= 180.0] -= 360.0  # float32 rounding can land exactly on +180
    isl_up, isl_range = _scatter_links(_acquired(edge_visible, dt, links.acquisition_s), edge_range,
                                       edges, n_sat, links.isl_terminals)  # fmt: skip
    light = _seconds_to_next_change(out["sunlit"], dt)
    saa = _seconds_to_next_change(out["in_saa"], dt)
    contact_change = _seconds_to_next_change(out["contact"], dt)
    zero = np.float32(0.0)
    arrays = dict(
        out, times_s=times_s, neighbours=neighbours, isl_up=isl_up, isl_range_km=isl_range,
        t_light_change=light, t_saa_change=saa,
        t_contact_next=np.where(out["contact"], zero, contact_change),
        t_contact_left=np.where(out["contact"], contact_change, zero),
    )  # fmt: skip
    return _freeze(dt, tuple(s.name for s in stations), arrays, tle_lines, skipped)


def _satrecs(scenario: Scenario, sun_ra_deg: float, jd0: float, times_s: np.ndarray) -> tuple[list, tuple, tuple]:
    """The satellites, for a TLE file also the file line of each and the satellites skipped
    (``orbit.skip_bad_satellites``)."""
    orbit = scenario.orbit
    if orbit.kind == "tle":
        tles = read_tle_file(orbit.tle_file, orbit.skip_bad_satellites)
        tles = _propagatable(tles, orbit.skip_bad_satellites, jd0, times_s)
        return list(tles.sats), tles.lines, tles.skipped
    raan0 = first_raan_deg(orbit, sun_ra_deg)
    return (walker_satrecs(orbit, raan0) if orbit.kind == "walker" else cluster_satrecs(orbit, raan0)), (), ()


def _propagatable(tles: TleSet, skip: bool, jd0: float, times_s: np.ndarray) -> TleSet:
    """``tles`` without the satellites SGP4 cannot propagate over the window (``skip``), else a ScenarioError
    naming the first; a cheap pass on a coarse grid (``_CHECK_EVERY_S``) before the full propagation."""
    t = np.union1d(np.arange(0.0, times_s[-1], _CHECK_EVERY_S), times_s[[0, -1]])
    whole = math.floor(jd0)
    err, _, _ = SatrecArray(list(tles.sats)).sgp4(np.full(len(t), float(whole)), (jd0 - whole) + t / 86400.0)
    bad = np.flatnonzero(err.any(axis=1))
    if len(bad) == 0:
        return tles
    first = (err[bad] != 0).argmax(axis=1)
    epochs, t0 = tles.epoch_days(), jd0 - JD_SGP4_DAY0
    faults = {int(i): ("cannot be propagated over the window", sgp4_fault(err[i, k], t0 + t[k] / 86400.0, epochs[i]))
              for i, k in zip(bad, first)}  # fmt: skip
    return tles.drop(faults, skip)


def _propagate(sat_array: SatrecArray, sats: list, jd0: float, t_s: np.ndarray) -> np.ndarray:
    """TEME positions (len(t_s), N, 3) in km at t_s seconds after the UTC Julian date jd0; an SGP4
    failure (one ``_propagatable`` did not sample) is a ScenarioError naming the satellite."""
    whole = math.floor(jd0)
    err, r, _ = sat_array.sgp4(np.full(len(t_s), float(whole)), (jd0 - whole) + t_s / 86400.0)
    if err.any():
        n, k = np.argwhere(err)[0]
        sat, day0 = sats[n], jd0 - JD_SGP4_DAY0
        raise ScenarioError(
            f"satellite {n} (catalogue number {sat.satnum}) cannot be propagated to {t_s[k]:.0f} s after orbit.epoch: "
            + sgp4_fault(err[n, k], day0 + t_s[k] / 86400.0, sat.jdsatepoch - JD_SGP4_DAY0 + sat.jdsatepochF)
        )
    return r.transpose(1, 0, 2)


def _segment(ni2: np.ndarray, nj2: np.ndarray, g: np.ndarray, min_r2: float) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance between r_i and r_j, and whether the segment stays outside radius sqrt(min_r2),
    from |r_i|^2, |r_j|^2 and r_i.r_j (so it works for pair blocks via a Gram matrix and for edge lists)."""
    d2 = np.maximum(ni2 + nj2 - 2.0 * g, 0.0)
    ri_d = g - ni2  # r_i . (r_j - r_i)
    s = np.clip(np.divide(-ri_d, d2, out=np.zeros_like(d2), where=d2 > 0.0), 0.0, 1.0)
    closest2 = ni2 + 2.0 * s * ri_d + s * s * d2
    return d2, closest2 >= min_r2


def _choose_partners(r: np.ndarray, m: int, range_km: float, min_r: float) -> tuple[np.ndarray, np.ndarray]:
    """Fixed ISL partners: (N, M) table and (E, 4) edges (i, j, slot of j in i, slot of i in j).

    A pair is a candidate when it is in range with a clear line of sight for at least half of the
    first orbit (``r``: (K, N, 3), K samples), so partners are mostly usable yet links can still come
    and go. Each satellite offers its 4*M candidates of smallest mean distance; a greedy match in
    order of mean distance then links pairs while both ends have a free terminal. The result is
    symmetric, fixed for the window, and on a Walker shell gives intra-plane fore/aft plus
    cross-plane partners. Slots are ordered by increasing mean distance.
    """
    n = r.shape[1]
    neighbours = np.full((n, m), -1, np.int32)
    if m == 0 or n < 2:
        return neighbours, np.zeros((0, 4), np.int64)
    n_cand = min(n - 1, _CANDIDATES_PER_TERMINAL * m)
    norms2 = np.einsum("kni,kni->kn", r, r)
    cand_i, cand_j, cand_d = [], [], []
    block = max(1, _PAIR_BLOCK // n)
    for b0 in range(0, n, block):
        rows = np.arange(b0, min(b0 + block, n))
        mean_d = np.zeros((len(rows), n))
        visible = np.zeros((len(rows), n), np.int32)
        for k in range(r.shape[0]):
            ni2, nj2, g = norms2[k, rows, None], norms2[k, None, :], r[k, rows] @ r[k].T
            d2 = np.maximum(ni2 + nj2 - 2.0 * g, 0.0)
            mean_d += np.sqrt(d2) / r.shape[0]
            a, b = np.nonzero(d2 <= range_km**2)  # line of sight only for pairs in range: few in a big shell
            _, clear = _segment(ni2[a, 0], nj2[0, b], g[a, b], min_r**2)
            visible[a[clear], b[clear]] += 1
        mean_d[2 * visible < r.shape[0]] = np.inf
        mean_d[np.arange(len(rows)), rows] = np.inf
        nearest = np.argpartition(mean_d, n_cand - 1, axis=1)[:, :n_cand]
        d = np.take_along_axis(mean_d, nearest, axis=1)
        keep = np.isfinite(d)
        cand_i.append(np.broadcast_to(rows[:, None], nearest.shape)[keep])
        cand_j.append(nearest[keep])
        cand_d.append(d[keep])
    i, j, d = np.concatenate(cand_i), np.concatenate(cand_j), np.concatenate(cand_d)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    order = np.lexsort((hi, lo, d))
    degree = [0] * n
    edges = []
    seen = set()
    for a, b in zip(lo[order].tolist(), hi[order].tolist()):
        if (a, b) in seen or degree[a] == m or degree[b] == m:
            continue
        seen.add((a, b))
        neighbours[a, degree[a]], neighbours[b, degree[b]] = b, a
        edges.append((a, b, degree[a], degree[b]))
        degree[a] += 1
        degree[b] += 1
    return neighbours, np.array(edges, np.int64).reshape(-1, 4)


def _station_vectors(stations: list) -> tuple[np.ndarray, np.ndarray]:
    """ITRS position (km) and local vertical (unit) of each station on the WGS84 ellipsoid, (S, 3) each."""
    lat = np.radians([s.lat_deg for s in stations]).reshape(-1)
    lon = np.radians([s.lon_deg for s in stations]).reshape(-1)
    e2 = WGS84_F * (2.0 - WGS84_F)
    n = R_EARTH_KM / np.sqrt(1.0 - e2 * np.sin(lat) ** 2)
    up = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    pos = np.column_stack([n * up[:, 0], n * up[:, 1], n * (1.0 - e2) * up[:, 2]])
    return pos, up


def _best_station(r_itrs: np.ndarray, st_pos: np.ndarray, st_up: np.ndarray, sin_mask: float):
    """(contact, station index or -1) from sin(elevation) = (r - s).up / |r - s| for all stations at once."""
    if len(st_pos) == 0:
        return False, -1
    r2 = np.einsum("...i,...i", r_itrs, r_itrs)[..., None]
    rs = r_itrs @ st_pos.T
    d2 = r2 - 2.0 * rs + np.einsum("si,si->s", st_pos, st_pos)
    sin_el = (r_itrs @ st_up.T - np.einsum("si,si->s", st_pos, st_up)) / np.sqrt(d2)
    best = sin_el.argmax(axis=-1)
    contact = np.take_along_axis(sin_el, best[..., None], axis=-1)[..., 0] > sin_mask
    return contact, np.where(contact, best, -1)


def _geodetic(r_itrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geodetic latitude and east longitude (degrees) on WGS84, Bowring's one-step formula."""
    x, y, z = r_itrs[..., 0], r_itrs[..., 1], r_itrs[..., 2]
    a = R_EARTH_KM
    b = a * (1.0 - WGS84_F)
    e2 = WGS84_F * (2.0 - WGS84_F)
    p = np.hypot(x, y)
    theta = np.arctan2(z * a, p * b)
    lat = np.arctan2(z + e2 / (1.0 - e2) * b * np.sin(theta) ** 3, p - e2 * a * np.cos(theta) ** 3)
    return np.degrees(lat), np.degrees(np.arctan2(y, x))


def _sunlit(r_gcrs: np.ndarray, sun_unit: np.ndarray) -> np.ndarray:
    """False inside the cylinder of radius R_EARTH_KM behind the Earth (anti-Sun side)."""
    along = np.einsum("tni,ti->tn", r_gcrs, sun_unit)
    across2 = np.einsum("tni,tni->tn", r_gcrs, r_gcrs) - along**2
    return (along >= 0.0) | (across2 >= R_EARTH_KM**2)


def _acquired(visible: np.ndarray, dt: float, acquisition_s: float) -> np.ndarray:
    """Visible and visible without a gap for >= acquisition_s (time since the first visible sample).
    A series visible from index 0 counts as already acquired."""
    idx = np.arange(visible.shape[0], dtype=np.int64).reshape((-1,) + (1,) * (visible.ndim - 1))
    last_gap = np.maximum.accumulate(np.where(visible, np.int64(-(2**40)), idx), axis=0)
    return visible & ((idx - last_gap - 1) * dt >= acquisition_s)


def _scatter_links(up: np.ndarray, dist: np.ndarray, edges: np.ndarray, n: int, m: int):
    """Edge-major (T, E) arrays to the symmetric per-terminal (T, N, M) layout."""
    n_t = up.shape[0]
    isl_up = np.zeros((n_t, n * m), bool)
    isl_range = np.zeros((n_t, n * m), np.float32)
    for end, slot in ((0, 2), (1, 3)):
        flat = edges[:, end] * m + edges[:, slot]
        isl_up[:, flat] = up
        isl_range[:, flat] = dist
    return isl_up.reshape(n_t, n, m), isl_range.reshape(n_t, n, m)


def _seconds_to_next_change(x: np.ndarray, dt: float) -> np.ndarray:
    """Seconds from each time until x (T, ...) next differs from its value there; time left if never."""
    n_t = x.shape[0]
    idx = np.arange(n_t, dtype=np.int32).reshape((-1,) + (1,) * (x.ndim - 1))
    flip_at = np.where(np.diff(x, axis=0), idx[1:], np.int32(n_t - 1))  # flip_at[u-1] = u if x flips at u
    first_after = np.minimum.accumulate(flip_at[::-1], axis=0)[::-1]  # first flip at u >= t + 1
    out = np.zeros(x.shape, np.float32)
    out[:-1] = (first_after - idx[:-1]) * dt
    return out


def _shape(axes: str, n_t: int, n: int, m: int) -> tuple[int, ...]:
    return tuple({"T": n_t, "N": n, "M": m, "3": 3}[a] for a in axes)


def _freeze(dt: float, station_names: tuple[str, ...], arrays: dict[str, np.ndarray], tle_lines=(), skipped=()) -> Ephemeris:
    for a in arrays.values():
        a.setflags(write=False)
    return Ephemeris(dt_s=float(dt), station_names=station_names, tle_lines=tuple(tle_lines),
                     skipped=tuple(map(tuple, skipped)), **arrays)  # fmt: skip


# --------------------------------------------------------------------------------------------- cache


def load_ephemeris(scenario: Scenario, cache_dir: str | Path | None = None, progress: bool = False) -> Ephemeris:
    """The scenario's ephemeris from the cache (verified) or built and cached. The function the sim calls.

    A cache file that cannot be read or fails validation is reported with ``warnings.warn`` and rebuilt;
    a cache directory that cannot be written is reported and the built ephemeris returned anyway. For a
    TLE file, elements far from the window (``StaleElementsWarning``) and skipped satellites
    (``SkippedSatellitesWarning``) are reported whether the ephemeris is built or read from the cache.
    """
    check_memory(scenario, satellite_count(scenario))
    eph = _load(scenario, cache_dir, progress)
    orbit = scenario.orbit
    if orbit.kind == "tle":
        tles = read_tle_file(orbit.tle_file, orbit.skip_bad_satellites)
        end = orbit.epoch_datetime + timedelta(seconds=window_steps(scenario) * scenario.episode.dt_s)
        warn_stale_elements(tles.select(np.flatnonzero(np.isin(tles.lines, eph.tle_lines))), orbit.epoch_datetime, end)
    if eph.skipped:
        warnings.warn(skipped_summary(orbit.tle_file, eph.skipped, eph.n_sats), SkippedSatellitesWarning, stacklevel=2)
    return eph


def _load(scenario: Scenario, cache_dir: str | Path | None, progress: bool) -> Ephemeris:
    key = cache_key(scenario)
    path = Path(cache_dir if cache_dir is not None else cache_dir_default()) / f"ephemeris-{key[:32]}.npz"
    if path.exists():
        stamp = _stamp(path)
        if path in _MEMO and _MEMO[path][0] == stamp:
            return _MEMO[path][1]
        try:
            return _remember(path, stamp, _read(path, key))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, CacheCorrupt) as e:
            warnings.warn(f"ephemeris cache {path} is corrupt ({type(e).__name__}: {e}); rebuilding", stacklevel=3)
    eph = build_ephemeris(scenario, progress=progress)
    try:
        _write(path, key, eph)
        _remember(path, _stamp(path), eph)
    except OSError as e:
        warnings.warn(f"could not write ephemeris cache {path}: {e}", stacklevel=3)
    return eph


# Ephemerides already loaded in this process, keyed by cache file and its (mtime, size): the arrays are
# read-only, so env instances of one scenario share one copy (the 1,000-satellite one is ~176 MB).
_MEMO: dict[Path, tuple[tuple[int, int], Ephemeris]] = {}
_MEMO_SIZE = 4


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _remember(path: Path, stamp: tuple[int, int], eph: Ephemeris) -> Ephemeris:
    _MEMO.pop(path, None)
    _MEMO[path] = (stamp, eph)
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))
    return eph


def _checksum(meta: dict, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name in FIELDS:
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a)  # C-contiguous arrays are bytes-like, empty ones included
    return h.hexdigest()


def _write(path: Path, key: str, eph: Ephemeris) -> None:
    """Atomic write: a temporary file in the same directory, then os.replace."""
    arrays = {name: getattr(eph, name) for name in FIELDS}
    meta = {"version": EPHEMERIS_VERSION, "key": key, "dt_s": eph.dt_s, "station_names": list(eph.station_names),
            "tle_lines": list(eph.tle_lines), "skipped": [list(s) for s in eph.skipped]}  # fmt: skip
    meta["checksum"] = _checksum(meta, arrays)
    atomic_write(path, lambda f: np.savez(f, meta=np.array(json.dumps(meta)), **arrays))


def _read(path: Path, key: str) -> Ephemeris:
    """Load a cache file and verify inputs key, shapes, dtypes and checksum before trusting it."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {name: z[name] for name in FIELDS}
    if not isinstance(meta, dict) or meta.get("version") != EPHEMERIS_VERSION or meta.get("key") != key:
        raise CacheCorrupt("written for other inputs")
    n_t, n = arrays["pos_km"].shape[:2]
    m = arrays["neighbours"].shape[1] if arrays["neighbours"].ndim == 2 else -1
    for name, (dtype, axes) in FIELDS.items():
        a = arrays[name]
        if a.dtype != dtype or a.shape != _shape(axes, n_t, n, m):
            raise CacheCorrupt(f"{name} has {a.dtype}{a.shape}, expected {dtype}{_shape(axes, n_t, n, m)}")
    checksum = meta.pop("checksum", None)
    if checksum != _checksum(meta, arrays):
        raise CacheCorrupt("checksum mismatch")
    return _freeze(meta["dt_s"], tuple(meta["station_names"]), arrays, meta["tle_lines"], meta["skipped"])
