"""Satellite orbits as sgp4 ``Satrec`` objects: Walker-delta shells, tight clusters, and TLE files.

Generated orbits use ``sgp4init`` with WGS72 constants (those SGP4 is defined with) and no drag
(bstar = 0), at the scenario epoch. Angles in degrees unless a name says otherwise.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sgp4.api import WGS72, Satrec
from sgp4.earth_gravity import wgs72
from sgp4.io import compute_checksum, twoline2rv

from orbit_env.scenario import OrbitConfig, ScenarioError

MU_KM3_S2 = wgs72.mu  # 398600.8, SGP4's WGS72 value
R_EARTH_KM = wgs72.radiusearthkm  # 6378.135
_SGP4_EPOCH0 = datetime(1949, 12, 31, tzinfo=timezone.utc)  # sgp4init counts days from here
_CLUSTER_E0 = 1e-4  # base eccentricity of a cluster; keeps every member above SGP4's 1e-6 floor


def mean_motion_rad_min(altitude_km: float) -> float:
    """Keplerian mean motion of a circular orbit at this altitude, in rad/min (sgp4init's unit).

    Passing it as SGP4's Kozai mean motion puts the mean radius ~4 km below R + h (Kozai vs Brouwer
    mean motion; measured at 550 km) and J2 short-period terms add a ~5 km radial wobble: small
    against every use here (eclipse fraction and pass counts move by < 0.1%).
    """
    a = R_EARTH_KM + altitude_km
    return math.sqrt(MU_KM3_S2 / a**3) * 60.0


def sgp4_epoch_days(when: datetime) -> float:
    """Days since 1949-12-31 00:00 UTC, the epoch convention of ``Satrec.sgp4init``."""
    return (when - _SGP4_EPOCH0).total_seconds() / 86400.0


def first_raan_deg(orbit: OrbitConfig, sun_ra_deg: float) -> float:
    """RAAN of the first plane: from LTAN for a sun-synchronous orbit (RAAN = RA_sun + (LTAN - 12 h) * 15),
    else ``orbit.raan_deg``. ``sun_ra_deg`` is the Sun's right ascension at the epoch in SGP4's TEME frame."""
    if orbit.sun_synchronous:
        return (sun_ra_deg + (orbit.ltan_hours - 12.0) * 15.0) % 360.0
    return orbit.raan_deg


def _satrec(satnum: int, orbit: OrbitConfig, ecc: float, argp_deg: float, raan_deg: float, m_deg: float) -> Satrec:
    sat = Satrec()
    sat.sgp4init(
        WGS72, "i", satnum, sgp4_epoch_days(orbit.epoch_datetime), 0.0, 0.0, 0.0, ecc,
        math.radians(argp_deg), math.radians(orbit.inclination), math.radians(m_deg % 360.0),
        mean_motion_rad_min(orbit.altitude_km), math.radians(raan_deg % 360.0),
    )  # fmt: skip
    return sat


def walker_satrecs(orbit: OrbitConfig, raan0_deg: float) -> list[Satrec]:
    """Walker i:T/P/F, circular: plane p has RAAN raan0 + p * spread / P (360 = delta, 180 = star);
    satellite k of plane p has mean anomaly 360 k / S + 360 F p / T. Index = p * S + k."""
    n_planes, per_plane = orbit.planes, orbit.sats_per_plane
    total = n_planes * per_plane
    return [
        _satrec(
            p * per_plane + k, orbit, 0.0, 0.0,
            raan0_deg + p * orbit.raan_spread_deg / n_planes,
            360.0 * k / per_plane + 360.0 * orbit.phasing * p / total,
        )  # fmt: skip
        for p in range(n_planes)
        for k in range(per_plane)
    ]


def cluster_lattice(size: int) -> np.ndarray:
    """The ``size`` integer points (i, j) nearest the origin, ordered by radius then angle.

    81 points are exactly the disc of radius 5 of Suncatcher's lattice (physics.md s2)."""
    r = math.isqrt(size) + 1
    i, j = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1), indexing="ij")
    i, j = i.ravel(), j.ravel()
    order = np.lexsort((np.arctan2(j, i), i * i + j * j))[:size]
    return np.column_stack([i[order], j[order]])


def cluster_satrecs(orbit: OrbitConfig, raan0_deg: float) -> list[Satrec]:
    """A Suncatcher-like formation (physics.md s2) as an eccentricity-vector lattice.

    All members share a, i, RAAN and mean argument of latitude; member (i, j) has eccentricity vector
    e0 + de * (i, j). To first order (Hill / Clohessy-Wiltshire) a difference de in the eccentricity
    vector moves a member on a 2:1 ellipse, radial a|de| by along-track 2a|de|, so the lattice becomes
    a grid with radial pitch a*de and along-track pitch 2a*de that rotates once per orbit; de is set
    so the outermost member stays within ``cluster_radius_km`` (81 members, R = 1 km: 100 m x 200 m).
    Because the members share a, i and RAAN, J2 moves them together: over a day at 650 km the 81
    members stay within 1.001 R of the centre member and neighbours 99.6-200.2 m apart (measured;
    the residue is second order in e and SGP4's short-period terms). The base e0 keeps every |e|
    above SGP4's 1e-6 floor. No station-keeping is modelled.
    """
    a = R_EARTH_KM + orbit.altitude_km
    lattice = cluster_lattice(orbit.cluster_size).astype(np.float64)
    rho_max = max(float(np.hypot(lattice[:, 0], lattice[:, 1]).max()), 1.0)
    de = orbit.cluster_radius_km / (2.0 * a * rho_max)
    ex = _CLUSTER_E0 + orbit.cluster_radius_km / (2.0 * a) + de * lattice[:, 0]
    ey = de * lattice[:, 1]
    sats = []
    for n, (x, y) in enumerate(zip(ex, ey)):
        argp = math.degrees(math.atan2(y, x))
        sats.append(_satrec(n, orbit, math.hypot(x, y), argp, raan0_deg, -argp))
    return sats


def tle_file_bytes(path: str | Path) -> bytes:
    """The raw bytes of a TLE file; a missing or unreadable file is a ScenarioError naming it."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"TLE file {str(path)!r}: file not found") from None
    except OSError as e:
        raise ScenarioError(f"TLE file {str(path)!r}: cannot be read: {e.strerror}") from None


def read_tle_file(path: str | Path) -> list[Satrec]:
    """Parse a 2- or 3-line TLE file strictly; raise ScenarioError naming the file, line and fault."""
    path = Path(path)
    raw = tle_file_bytes(path)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        line_no = raw[: e.start].count(b"\n") + 1
        raise ScenarioError(f"TLE file {str(path)!r}, line {line_no}: non-ASCII character") from None
    lines = [(n, ln.rstrip()) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not lines:
        raise ScenarioError(f"TLE file {str(path)!r}, line 1: file is empty, no TLE found")

    def fail(line_no: int, what: str) -> ScenarioError:
        return ScenarioError(f"TLE file {str(path)!r}, line {line_no}: {what}")

    sats: list[Satrec] = []
    k = 0
    while k < len(lines):
        n1, l1 = lines[k]
        if not l1.startswith("1 "):
            if l1.startswith("2 "):
                raise fail(n1, "TLE line 2 without a line 1 before it")
            k += 1  # a name line (3-line format)
            if k == len(lines) or not lines[k][1].startswith("1 "):
                raise fail(lines[k][0] if k < len(lines) else n1, "expected TLE line 1 (starting '1 ') after the name line")
            continue
        if k + 1 == len(lines) or not lines[k + 1][1].startswith("2 "):
            raise fail(lines[k + 1][0] if k + 1 < len(lines) else n1, "expected TLE line 2 (starting '2 ') after line 1")
        n2, l2 = lines[k + 1]
        for n, ln in ((n1, l1), (n2, l2)):
            if len(ln) != 69:
                raise fail(n, f"TLE line has {len(ln)} characters, expected 69")
            if not ln[68].isdigit() or int(ln[68]) != compute_checksum(ln):
                raise fail(n, f"bad checksum: the line gives {ln[68]!r} but its digits sum to {compute_checksum(ln)}")
        try:
            twoline2rv(l1, l2, wgs72)  # strict column-by-column check; the C++ parser is lenient
        except ValueError as e:
            raise fail(*_locate_tle_error(l1, l2, n1, n2, e)) from None
        sat = Satrec.twoline2rv(l1, l2, WGS72)
        if sat.error:
            raise fail(n1, f"SGP4 rejects these elements (error {sat.error})")
        sats.append(sat)
        k += 2
    return sats


def _locate_tle_error(l1: str, l2: str, n1: int, n2: int, err: ValueError) -> tuple[int, str]:
    """Which of the two lines a strict-parser error belongs to, and a one-line description."""
    try:
        twoline2rv(l1, "", wgs72)  # always fails; the question is whether line 1 was read first
    except ValueError as e:
        line1_ok = "format for line 2" in str(e)
    bad_line, which = (n2, 2) if line1_ok else (n1, 1)
    if "TLE format error" in str(err):
        return bad_line, f"columns do not match the TLE line-{which} layout"
    return bad_line, f"malformed TLE line {which}: {err}"
