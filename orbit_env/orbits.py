"""Satellite orbits as sgp4 ``Satrec`` objects: Walker-delta shells, tight clusters, and TLE files.

Generated orbits use ``sgp4init`` with WGS72 constants (those SGP4 is defined with) and no drag
(bstar = 0), at the scenario epoch. Angles in degrees unless a name says otherwise.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sgp4.api import WGS72, Satrec
from sgp4.earth_gravity import wgs72
from sgp4.io import compute_checksum, twoline2rv

from orbit_env.scenario import OrbitConfig, ScenarioError

MU_KM3_S2 = wgs72.mu  # 398600.8, SGP4's WGS72 value
R_EARTH_KM = wgs72.radiusearthkm  # 6378.135
_SGP4_EPOCH0 = datetime(1949, 12, 31, tzinfo=timezone.utc)  # sgp4init counts days from here
JD_SGP4_DAY0 = 2433281.5  # Julian date of _SGP4_EPOCH0
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


# ------------------------------------------------------------------------------------------ TLE files

# Plausibility range of a user's elements: orbit-env's eclipse, SAA, ground-contact and thermal-sink models
# are near-Earth models, so it accepts LEO and MEO orbits.
MIN_PERIGEE_KM = 100.0  # the Karman line (FAI's edge of space): a lower perigee re-enters within its first passes
MAX_APOGEE_KM = 35786.0  # geostationary altitude, the conventional upper edge of MEO
# SGP4 elements are "accurate to about a kilometer or so at epoch and [accuracy] quickly degrades" (Vallado et
# al. 2006, Revisiting Spacetrack Report #3) and "generally only accurate for a week or two around the epoch"
# (skyfield's EarthSatellite docs): warn at the short end of that.
STALE_DAYS = 7.0
_MAX_NAME_CHARS = 69  # a longer "name" line is not a TLE title (24 characters, 26 with Space-Track's "0 ")
_REV_DAY_PER_RAD_MIN = 1440.0 / (2.0 * math.pi)
_SKIP_HINT = "set orbit.skip_bad_satellites = true (CLI: --skip-bad-tles) to drop such satellites and run with the rest"
_SGP4_FAULTS = {  # sgp4's error codes (sgp4.api.SGP4_ERRORS) in words a user can act on
    1: "its eccentricity left the range 0 to 1, the orbit is no longer an ellipse (drag has collapsed it)",
    2: "its mean motion became negative (drag has collapsed the orbit)",
    3: "its eccentricity, with lunar and solar perturbations, left the range 0 to 1 (the orbit is degenerate)",
    4: "its orbit collapsed (negative semi-latus rectum: perigee far below the surface)",
    5: "it is below the Earth's surface (sub-orbital elements)",
    6: "the satellite has decayed (its orbit is below the Earth's surface)",
}


class TleWarning(UserWarning):
    """Something about a user's TLE file that changes results without stopping the run."""


class StaleElementsWarning(TleWarning):
    """Satellites are propagated further from their element epochs than SGP4 is accurate for."""


class SkippedSatellitesWarning(TleWarning):
    """Satellites of a TLE file were dropped (``orbit.skip_bad_satellites``)."""


@dataclass(frozen=True)
class TleSet:
    """The satellites of a TLE file, where each came from, and the ones dropped with the reason."""

    path: str
    sats: tuple  # sgp4 Satrec, in file order
    lines: tuple[int, ...]  # file line number of each satellite's line 1
    names: tuple[str, ...]  # "" in a 2-line file
    skipped: tuple[tuple[str, str], ...] = ()  # (kind, sentence) of each satellite dropped

    def __len__(self) -> int:
        return len(self.sats)

    def label(self, i: int) -> str:
        name = f" ({self.names[i]})" if self.names[i] else ""
        return f"catalogue number {self.sats[i].satnum}{name}"

    def epoch_days(self) -> np.ndarray:
        """Element epochs in days since 1949-12-31 00:00 UTC (sgp4's day 0)."""
        return np.array([s.jdsatepoch - JD_SGP4_DAY0 + s.jdsatepochF for s in self.sats], np.float64)

    def drop(self, faults: dict[int, tuple[str, str]], skip: bool) -> TleSet:
        """Without the satellites in ``faults`` (index -> (kind, reason)) when ``skip``, else a ScenarioError
        naming the first of them, its line and the reason."""
        if not faults:
            return self
        first = min(faults)
        if not skip:
            more = f" ({len(faults)} satellites in the file have faults; the first is shown)" if len(faults) > 1 else ""
            raise ScenarioError(
                f"TLE file {self.path!r}, line {self.lines[first]}: {self.label(first)}: {faults[first][1]}{more}. "
                f"Fix or remove it, or {_SKIP_HINT}"
            )
        if len(faults) == len(self.sats):
            raise ScenarioError(
                f"TLE file {self.path!r}: all {len(faults)} satellites were skipped; the first, line "
                f"{self.lines[first]}, {self.label(first)}: {faults[first][1]}"
            )
        dropped = tuple((kind, f"{self.label(i)}, line {self.lines[i]}: {why}")
                        for i, (kind, why) in sorted(faults.items()))  # fmt: skip
        return self.select([i for i in range(len(self.sats)) if i not in faults], dropped)

    def select(self, keep, dropped: tuple[tuple[str, str], ...] = ()) -> TleSet:
        """The satellites at indices ``keep``; ``dropped`` adds to the skipped ones."""
        return TleSet(self.path, tuple(self.sats[i] for i in keep), tuple(self.lines[i] for i in keep),
                      tuple(self.names[i] for i in keep), self.skipped + dropped)  # fmt: skip


def sgp4_fault(code: int, when_days: float, epoch_days: float) -> str:
    """SGP4 error ``code`` met at ``when_days`` (sgp4 day numbers) by elements of ``epoch_days``, in words."""
    when, epoch, days = _from_sgp4_days(when_days), _from_sgp4_days(epoch_days), when_days - epoch_days
    far = (f"; elements are accurate for a week or two around their epoch: set orbit.epoch near it, or leave it "
           "unset to take it from the file") if abs(days) > STALE_DAYS else ""  # fmt: skip
    return (f"{_sgp4_words(code)} at {when:%Y-%m-%d %H:%M:%S} UTC, {days:+.1f} days from its element epoch "
            f"{epoch:%Y-%m-%d %H:%M:%S} UTC (SGP4 error {int(code)}){far}")  # fmt: skip


def _from_sgp4_days(days: float) -> datetime:
    """The UTC instant, to the second, of an sgp4 day number (the inverse of ``sgp4_epoch_days``)."""
    return _SGP4_EPOCH0 + timedelta(seconds=round(float(days) * 86400.0))


def _sgp4_words(code: int) -> str:
    return _SGP4_FAULTS.get(int(code), "SGP4 cannot propagate it")


def tle_file_bytes(path: str | Path) -> bytes:
    """The raw bytes of a TLE file; a missing or unreadable file is a ScenarioError naming it."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"TLE file {str(path)!r}: file not found") from None
    except OSError as e:
        raise ScenarioError(f"TLE file {str(path)!r}: cannot be read: {e.strerror}") from None


def read_tle_file(path: str | Path, skip_bad: bool = False) -> TleSet:
    """Parse a 2- or 3-line TLE file strictly and check its elements; raise ScenarioError naming the file,
    line and fault.

    Format faults (line length, checksum, columns, line order, encoding) are always errors: the file is
    damaged. Element faults (``element_faults``) drop the satellite when ``skip_bad``, else are errors.
    """
    return _checked_tles(str(path), tle_file_bytes(path), skip_bad)


@functools.lru_cache(maxsize=4)
def _checked_tles(path: str, raw: bytes, skip_bad: bool) -> TleSet:
    """read_tle_file's work, memoised on the file's bytes: loading a scenario, warning about element ages
    and building the ephemeris each read the file (10,000 satellites take ~0.7 s to parse and check)."""
    tles = _parse_tle(path, raw)
    return tles.drop(element_faults(tles), skip_bad)


def _split_lines(text: str) -> list[str]:
    """Lines as an editor numbers them: split at LF (a CR before it, even doubled, is trailing space),
    or at CR in a file without LF (classic Mac)."""
    return text.split("\n" if "\n" in text else "\r")


def _parse_tle(path: str, raw: bytes) -> TleSet:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line_no = len(_split_lines(raw[: e.start].decode("utf-8", "replace")))
        raise ScenarioError(f"TLE file {path!r}, line {line_no}: not UTF-8 or ASCII text") from None
    lines = [(n, ln.rstrip()) for n, ln in enumerate(_split_lines(text), start=1) if ln.strip()]
    if not lines:
        raise ScenarioError(f"TLE file {path!r}, line 1: file is empty, no TLE found")

    def fail(line_no: int, what: str) -> ScenarioError:
        return ScenarioError(f"TLE file {path!r}, line {line_no}: {what}")

    head = lines[0][1].lstrip()
    if head[:1] in "<{[" or "OBJECT_NAME" in head.upper():
        raise fail(lines[0][0], "this looks like an OMM file (XML, JSON or CSV); orbit-env reads TLE text, "
                                "2 or 3 lines per satellite")  # fmt: skip
    sats, numbers, names = [], [], []
    name = ""
    k = 0
    while k < len(lines):
        n1, l1 = lines[k]
        if not l1.startswith("1 "):
            if l1.startswith("2 "):
                raise fail(n1, "TLE line 2 without a line 1 before it")
            if len(l1) > _MAX_NAME_CHARS:
                raise fail(n1, f"a name line of {len(l1)} characters (at most {_MAX_NAME_CHARS}): not TLE text?")
            name = l1[2:].strip() if l1.startswith("0 ") else l1.strip()  # Space-Track's 3LE prefixes names with "0 "
            k += 1
            if k == len(lines) or not lines[k][1].startswith("1 "):
                raise fail(lines[k][0] if k < len(lines) else n1, "expected TLE line 1 (starting '1 ') after the name line")
            continue
        if k + 1 == len(lines) or not lines[k + 1][1].startswith("2 "):
            raise fail(lines[k + 1][0] if k + 1 < len(lines) else n1, "expected TLE line 2 (starting '2 ') after line 1")
        n2, l2 = lines[k + 1]
        for n, ln in ((n1, l1), (n2, l2)):
            if not ln.isascii():
                raise fail(n, "non-ASCII character in a TLE line")
            if len(ln) != 69:
                raise fail(n, f"TLE line has {len(ln)} characters, expected 69")
            if not ln[68].isdigit() or int(ln[68]) != compute_checksum(ln):
                raise fail(n, f"bad checksum: the line gives {ln[68]!r} but its digits sum to {compute_checksum(ln)}")
        try:
            twoline2rv(l1, l2, wgs72)  # strict column-by-column check; the C++ parser is lenient
        except ValueError as e:
            raise fail(*_locate_tle_error(l1, l2, n1, n2, e)) from None
        except ZeroDivisionError:
            pass  # mean motion 0, read after every column was checked: element_faults reports it
        sats.append(Satrec.twoline2rv(l1, l2, WGS72))
        numbers.append(n1)
        names.append(name)
        name = ""
        k += 2
    return TleSet(path, tuple(sats), tuple(numbers), tuple(names))


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


def element_faults(tles: TleSet) -> dict[int, tuple[str, str]]:
    """Satellites whose elements orbit-env cannot use, index -> (kind, reason); the first fault of each.

    Checked from the parsed elements alone, before any propagation: mean motion > 0, inclination in
    [0, 180], the other angles in [0, 360), perigee and apogee inside [MIN_PERIGEE_KM, MAX_APOGEE_KM],
    SGP4's own initialisation, and duplicates (a repeated catalogue number or identical elements would be
    co-located agents linked at 0 km; the first one in the file is kept).
    """
    if not tles.sats:
        return {}
    s = tles.sats
    n = np.array([x.no_kozai for x in s]) * _REV_DAY_PER_RAD_MIN
    ecc = np.array([x.ecco for x in s])
    angles = {a: np.degrees([getattr(x, a) for x in s]) for a in ("inclo", "nodeo", "argpo", "mo")}
    perigee = np.array([x.altp for x in s]) * R_EARTH_KM
    apogee = np.array([x.alta for x in s]) * R_EARTH_KM
    error = np.array([x.error for x in s])

    def orbit(i: int) -> str:
        return f"(eccentricity {ecc[i]:.7f}, mean motion {n[i]:.8f} rev/day)"

    checks = [
        (n <= 0.0, "zero mean motion", lambda i: f"mean motion {n[i]:g} rev/day: an orbiting satellite has a positive mean motion"),
        (~((angles["inclo"] >= 0.0) & (angles["inclo"] <= 180.0)), "inclination outside 0-180",
         lambda i: f"inclination {angles['inclo'][i]:g} deg is outside 0 to 180"),
        *[(~((angles[a] >= 0.0) & (angles[a] < 360.0)), "angle outside 0-360",
           lambda i, a=a, what=what: f"{what} {angles[a][i]:g} deg is outside 0 to 360")
          for a, what in (("nodeo", "right ascension of the ascending node"), ("argpo", "argument of perigee"), ("mo", "mean anomaly"))],
        (perigee < MIN_PERIGEE_KM, f"perigee below {MIN_PERIGEE_KM:g} km",
         lambda i: f"perigee altitude {perigee[i]:,.0f} km {orbit(i)} is below {MIN_PERIGEE_KM:g} km: sub-orbital or re-entering"),
        (apogee > MAX_APOGEE_KM, f"apogee beyond {MAX_APOGEE_KM:,.0f} km",
         lambda i: f"apogee altitude {apogee[i]:,.0f} km {orbit(i)} is beyond {MAX_APOGEE_KM:,.0f} km (geostationary): "
                   "orbit-env models LEO and MEO satellites"),
        (error != 0, "rejected by SGP4", lambda i: f"{_sgp4_words(error[i])} at its element epoch (SGP4 error {error[i]})"),
    ]  # fmt: skip
    faults: dict[int, tuple[str, str]] = {}
    for bad, kind, why in checks:
        for i in np.flatnonzero(bad).tolist():
            faults.setdefault(i, (kind, why(i)))
    rows = np.column_stack([np.array([x.jdsatepoch + x.jdsatepochF for x in s]), n, ecc, *angles.values()])
    first_same_number = _first_of_equal(np.array([x.satnum for x in s]))
    first_same_elements = _first_of_equal(rows)
    index = np.arange(len(s))
    for i in np.flatnonzero((first_same_number < index) | (first_same_elements < index)).tolist():
        j = int(min(first_same_number[i], first_same_elements[i]))
        same = "catalogue number" if first_same_number[i] == j else "elements"
        faults.setdefault(i, ("duplicate", f"the same {same} as {tles.label(j)} at line {tles.lines[j]}: "
                                           "two co-located satellites would be linked at 0 km"))  # fmt: skip
    return faults


def _first_of_equal(keys: np.ndarray) -> np.ndarray:
    """For each row of ``keys``, the index of the first row equal to it."""
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)]


def element_epoch(tles: TleSet) -> datetime:
    """The scenario epoch a TLE file implies: the median of its element epochs, to the second (UTC).

    The median, not the latest or the mean: a snapshot's element sets span a day or two, and the median
    keeps the window inside that span, while one stale set (months old) would drag the mean back and one
    mistyped future epoch would move the latest; ``warn_stale_elements`` names such outliers.
    """
    return _from_sgp4_days(np.median(tles.epoch_days()))


def warn_stale_elements(tles: TleSet, start: datetime, end: datetime) -> None:
    """Warn (StaleElementsWarning) when the window [start, end] takes satellites more than STALE_DAYS
    from their element epochs, with how many, how far, and the farthest ones by name and line."""
    epochs = tles.epoch_days()
    far = np.maximum(np.abs(sgp4_epoch_days(start) - epochs), np.abs(sgp4_epoch_days(end) - epochs))
    stale = np.flatnonzero(far > STALE_DAYS)
    if len(stale) == 0:
        return
    worst = stale[np.argsort(-far[stale], kind="stable")][:5]
    listed = ", ".join(f"{tles.label(i)} at line {tles.lines[i]} ({far[i]:.1f} days)" for i in worst)
    median = _from_sgp4_days(np.median(epochs))
    warnings.warn(
        f"TLE file {tles.path!r}: {len(stale)} of {len(tles)} satellites are propagated more than {STALE_DAYS:g} days "
        f"from their element epochs, up to {far.max():.1f} days (window {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} "
        f"UTC, median element epoch of the file {median:%Y-%m-%d %H:%M} UTC): {listed}"
        f"{f' and {len(stale) - len(worst)} more' if len(stale) > len(worst) else ''}. SGP4 elements are accurate "
        "for about a week or two around their epoch: use elements from near the window, or leave orbit.epoch unset "
        "to take it from the file",
        StaleElementsWarning,
        stacklevel=3,
    )


def skipped_summary(path: str, skipped: tuple[tuple[str, str], ...], kept: int) -> str:
    """One paragraph: how many satellites were skipped, how many for each reason, and the first few."""
    kinds: dict[str, int] = {}
    for kind, _ in skipped:
        kinds[kind] = kinds.get(kind, 0) + 1
    counts = ", ".join(f"{c} {kind}" for kind, c in kinds.items())
    first = "; ".join(text for _, text in skipped[:5])
    return (f"TLE file {path!r}: skipped {len(skipped)} of {len(skipped) + kept} satellites "
            f"(orbit.skip_bad_satellites): {counts}. {first}{'; ...' if len(skipped) > 5 else ''}")  # fmt: skip
