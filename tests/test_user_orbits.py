"""The user's own orbits (issue 11): a TLE file sets the epoch unless the user does, far-from-epoch
propagation warns, unusable satellites are named by line (or skipped with a count), epochs parse as
TOML date-times with UTC offsets converted, and damaged or odd files give clear errors."""

from __future__ import annotations

import math
import re
import tomllib
import warnings
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sgp4.api import WGS72, Satrec
from sgp4.exporter import export_tle
from sgp4.io import fix_checksum
from skyfield.api import EarthSatellite, load

from orbit_env import cli
from orbit_env import ephemeris as eph_mod
from orbit_env.ephemeris import build_ephemeris, cache_key, load_ephemeris
from orbit_env.orbits import (
    MAX_APOGEE_KM,
    STALE_DAYS,
    SkippedSatellitesWarning,
    StaleElementsWarning,
    element_epoch,
    mean_motion_rad_min,
    read_tle_file,
    sgp4_epoch_days,
)
from orbit_env.scenario import SCENARIO_DIR, Scenario, ScenarioError, load_scenario

UTC = timezone.utc
T0 = datetime(2026, 4, 30, 17, 11, 21, tzinfo=UTC)


def base(**overrides) -> Scenario:
    """A small validated scenario (no ISL, no start window, 30 steps) with dotted overrides ('__' for '.')."""
    table = {"episode.start_window_h": 0.0, "episode.max_cycles": 30}
    table.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_scenario(Scenario(), overrides=table)


def sat(num: int, epoch: datetime = T0, alt_km: float = 550.0, ecc: float = 1e-4, incl: float = 53.0,
        raan: float = 0.0, m: float | None = None, bstar: float = 0.0) -> tuple[str, str]:  # fmt: skip
    """The two TLE lines of a satellite built with sgp4init and written with sgp4's exporter; the mean
    anomaly defaults to 7 deg x its number, so satellites differ."""
    m = 7.0 * num % 360.0 if m is None else m
    s = Satrec()
    s.sgp4init(WGS72, "i", num, sgp4_epoch_days(epoch), bstar, 0.0, 0.0, ecc, 0.0, math.radians(incl),
               math.radians(m), mean_motion_rad_min(alt_km), math.radians(raan))  # fmt: skip
    return export_tle(s)


def edit(line: str, start: int, text: str) -> str:
    """``line`` with columns [start, start + len(text)) replaced and its checksum made right again."""
    return fix_checksum(line[:start] + text + line[start + len(text) : 68] + "0")


def write(tmp_path, sats: list[tuple[str, str]], newline: str = "\n", name: str = "sats.tle", names=None):
    """A 3-line TLE file: line 3k + 1 is the name of satellite k, 3k + 2 its line 1, 3k + 3 its line 2."""
    names = names or [f"SAT-{k}" for k in range(len(sats))]
    path = tmp_path / name
    path.write_bytes(newline.join(x for n, (a, b) in zip(names, sats) for x in (n, a, b)).encode() + newline.encode())
    return path


def snapshot(n: int, spread_days: float = 1.5, seed: int = 0) -> list[tuple[str, str]]:
    """A synthetic snapshot of a large shell: element epochs spread over the day and a half before T0."""
    rng = np.random.default_rng(seed)
    return [sat(40000 + k, T0 - timedelta(days=spread_days * rng.random()), 540.0 + 20.0 * rng.random(),
                1e-4 + 1e-3 * rng.random(), 53.0, 360.0 * rng.random(), 360.0 * rng.random(), 2e-4)
            for k in range(n)]  # fmt: skip


def decayed(num: int) -> tuple[str, str]:
    """300 km with heavy drag (bstar 0.005): SGP4 says it decays 9.25 days after its epoch, which is 12 days before T0."""
    return sat(num, T0 - timedelta(days=12), alt_km=300.0, ecc=1e-3, bstar=0.005)


# ------------------------------------------------------------------------------------------ the epoch

SHIPPED = (SCENARIO_DIR / "three-body-12.toml").read_text()
SHIPPED_ORBIT = re.search(r"\[orbit\]\n(.*?)\n\[", SHIPPED, re.S).group(1).replace('epoch = "2026-03-20T00:00:00"', "") + "\n"


def user_toml(tmp_path, orbit: str):
    """A complete user scenario file: three-body-12's with its [orbit] table replaced by ``orbit``."""
    toml = tmp_path / "mine.toml"
    toml.write_text(re.sub(r"\[orbit\]\n.*?\n\[", lambda _: f"[orbit]\n{orbit}\n[", SHIPPED, count=1, flags=re.S))
    return toml


def test_epoch_is_the_median_element_epoch_of_the_file(tmp_path):
    epochs = [T0 - timedelta(days=2), T0 - timedelta(hours=30), T0, T0 - timedelta(days=200), T0 - timedelta(hours=1)]
    path = write(tmp_path, [sat(k, e) for k, e in enumerate(epochs)])
    assert element_epoch(read_tle_file(path)) == T0 - timedelta(hours=30)  # median of the five; the stale one does not move it
    from_cli = load_scenario("three-body-12", tle_file=path)  # the shipped file sets 2026-03-20: --tle replaces it
    assert from_cli.orbit.epoch == "2026-04-29T11:11:21"
    toml = user_toml(tmp_path, 'kind = "tle"\ntle_file = "sats.tle"\n')
    assert load_scenario(toml).orbit.epoch == "2026-04-29T11:11:21"
    toml = user_toml(tmp_path, 'kind = "tle"\ntle_file = "sats.tle"\nepoch = 2026-05-01T00:00:00\n')
    assert load_scenario(toml).orbit.epoch == "2026-05-01T00:00:00"  # set in the user's own file: kept
    explicit = load_scenario("three-body-12", {"orbit.epoch": "2026-05-02T00:00:00"}, tle_file=path)
    assert explicit.orbit.epoch == "2026-05-02T00:00:00"  # set by an override: kept
    again = load_scenario(from_cli, {"episode.max_cycles": 10})  # a loaded scenario keeps its derived epoch
    assert again.orbit.epoch == from_cli.orbit.epoch


def test_window_starts_at_the_element_epoch(tmp_path):
    """One satellite: the ephemeris at time 0 is where skyfield puts it at its own element epoch."""
    l1, l2 = sat(7, T0, alt_km=600.0, ecc=0.002, raan=40.0, m=10.0)
    path = write(tmp_path, [(l1, l2)])
    s = load_scenario(base(), tle_file=path)
    assert s.orbit.epoch_datetime == T0
    eph = build_ephemeris(s)
    ts = load.timescale(builtin=True)
    want = EarthSatellite(l1, l2, ts=ts).at(ts.from_datetime(T0)).position.km
    assert np.linalg.norm(eph.pos_km[0, 0] - want) < 0.01


def test_propagating_far_from_the_element_epochs_warns(tmp_path):
    path = write(tmp_path, [sat(k, T0 - timedelta(hours=k)) for k in range(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", StaleElementsWarning)
        load_ephemeris(load_scenario(base(), tle_file=path), cache_dir=tmp_path / "c")  # epoch from the file: silent
    early = load_scenario(base(), {"orbit.epoch": "2026-04-10T00:00:00"}, tle_file=path)
    for _ in range(2):  # built, then read from the cache: both warn
        with pytest.warns(StaleElementsWarning, match=r"3 of 3 satellites .* more than 7 days .* up to 20\.\d days"):
            load_ephemeris(early, cache_dir=tmp_path / "c")


def test_elements_far_older_than_the_rest_of_the_file_are_named(tmp_path):
    sats = [sat(k, T0 - timedelta(hours=k)) for k in range(4)]
    sats.insert(2, sat(99, T0 - timedelta(days=200)))
    path = write(tmp_path, sats)
    with pytest.warns(StaleElementsWarning, match=r"1 of 5 satellites .* catalogue number 99 \(SAT-2\) at line 8 \(199\.9 days\)"):
        load_ephemeris(load_scenario(base(), tle_file=path), cache_dir=tmp_path / "c")
    assert STALE_DAYS == 7.0


# ------------------------------------------------------------------------------------------ epoch values


@pytest.mark.parametrize(
    "raw, want",
    [
        ("2026-04-30T17:11:21", "2026-04-30T17:11:21"),  # --set: TOML parses it into a datetime
        ("2026-04-30T22:11:21+05:00", "2026-04-30T17:11:21"),  # an offset is converted, not dropped
        ("2026-04-30T17:11:21Z", "2026-04-30T17:11:21"),
        ("2026-04-30", "2026-04-30T00:00:00"),  # a TOML date: midnight UTC
        ('"2026-04-30T12:11:21-05:00"', "2026-04-30T17:11:21"),  # a string with an offset
    ],
)
def test_epoch_overrides_and_toml_datetimes(tmp_path, raw, want):
    args = cli.build_parser().parse_args(["run", "--set", f"orbit.epoch={raw}"])
    overrides = cli._env_kwargs(args)["overrides"]
    assert load_scenario(Scenario(), overrides).orbit.epoch == want
    s = load_scenario(user_toml(tmp_path, SHIPPED_ORBIT + f"epoch = {raw}\n"))
    assert s.orbit.epoch == want and s.orbit.epoch_datetime == datetime.fromisoformat(want).replace(tzinfo=UTC)


def test_epoch_spellings_of_one_instant_share_a_cache_key_and_bad_ones_are_named(tmp_path):
    keys = {cache_key(base(orbit__epoch=e)) for e in ("2026-04-30T17:11:21", "2026-04-30T22:11:21+05:00")}
    keys.add(cache_key(base(orbit__epoch=tomllib.loads("v = 2026-04-30T17:11:21Z")["v"])))
    assert len(keys) == 1
    for bad in ("yesterday", tomllib.loads("v = 17:11:21")["v"], 5, "2026-13-01T00:00:00"):
        with pytest.raises(ScenarioError, match=r"orbit\.epoch = .* is not an ISO 8601 date-time"):
            base(orbit__epoch=bad)


# ------------------------------------------------------------------------------------------ bad elements


def _bad(case: str) -> tuple[str, str]:
    a, b = sat(5, alt_km=550.0, ecc=1e-4)
    if case == "mean motion 0":
        return a, edit(b, 52, " 0.00000000")
    if case == "eccentricity 0.999":  # the orbit: semi-major axis ~1 million km, 2 million km out
        return a, edit(edit(b, 26, "9990000"), 52, " 0.00630000")
    if case == "perigee below the surface":
        return sat(5, alt_km=550.0, ecc=0.1)
    if case == "apogee beyond GEO":
        return a, edit(b, 52, " 0.50000000")
    if case == "inclination 200":
        return a, edit(b, 8, "200.0000")
    if case == "RAAN 400":
        return a, edit(b, 17, "400.0000")
    raise AssertionError(case)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r\r\n"])
@pytest.mark.parametrize(
    "case, message",
    [
        ("mean motion 0", r"mean motion 0 rev/day"),
        ("eccentricity 0.999", r"perigee altitude -[\d,]+ km \(eccentricity 0\.9990000, mean motion 0\.00630000 rev/day\)"),
        ("perigee below the surface", r"perigee altitude -\d+ km .* below 100 km"),
        ("apogee beyond GEO", r"apogee altitude [\d,]+ km .*beyond 35,786 km \(geostationary\)"),
        ("inclination 200", r"inclination 200 deg is outside 0 to 180"),
        ("RAAN 400", r"right ascension of the ascending node 400 deg is outside 0 to 360"),
    ],
)
def test_bad_elements_name_the_satellite_and_its_line(tmp_path, case, message, newline):
    path = write(tmp_path, [sat(1), sat(2), _bad(case)], newline=newline)
    with pytest.raises(ScenarioError, match=message) as err:
        load_ephemeris(load_scenario(base(), tle_file=path), cache_dir=tmp_path / "c")
    assert f"{path}', line 8: catalogue number 5 (SAT-2): " in str(err.value)
    assert "--skip-bad-tles" in str(err.value)
    assert MAX_APOGEE_KM == 35786.0


@pytest.mark.parametrize("newline", ["\n", "\r\r\n"])
@pytest.mark.parametrize("how", ["catalogue number", "elements"])
def test_duplicated_satellites_are_named_not_linked_at_0_km(tmp_path, how, newline):
    a, b = sat(3, T0, raan=10.0, m=0.0)
    twin = sat(3, T0 - timedelta(hours=1), raan=20.0) if how == "catalogue number" else sat(8, T0, raan=10.0, m=0.0)
    path = write(tmp_path, [sat(1), (a, b), sat(2), twin], newline=newline)
    with pytest.raises(ScenarioError, match=rf"line 11: catalogue number \d \(SAT-3\): the same {how} as catalogue number 3 \(SAT-1\) at line 5"):
        load_scenario(base(), tle_file=path)
    s = load_scenario(base(), {"orbit.skip_bad_satellites": True}, tle_file=path)
    with pytest.warns(SkippedSatellitesWarning, match=r"skipped 1 of 4 satellites .*: 1 duplicate\. catalogue number \d \(SAT-3\), line 11"):
        eph = load_ephemeris(s, cache_dir=tmp_path / "c")
    assert eph.n_sats == 3


# ------------------------------------------------------------------------------------------ skipping


def test_satellites_that_cannot_be_propagated_are_caught_before_the_propagation(tmp_path, monkeypatch):
    path = write(tmp_path, [sat(1, T0), decayed(2), sat(3, T0)])
    s = load_scenario(base(), {"orbit.epoch": T0.isoformat()}, tle_file=path)

    def no_full_propagation(*args):
        raise AssertionError("the full propagation ran")

    monkeypatch.setattr(eph_mod, "_propagate", no_full_propagation)
    with pytest.raises(ScenarioError) as err:
        build_ephemeris(s)
    assert (
        f"line 5: catalogue number 2 (SAT-1): the satellite has decayed (its orbit is below the Earth's surface) at "
        f"2026-04-30 17:11:21 UTC, +12.0 days from its element epoch 2026-04-18 17:11:21 UTC (SGP4 error 6)"
    ) in str(err.value)


def test_skip_bad_satellites_drops_them_with_a_count_and_reasons(tmp_path):
    good = snapshot(40)
    bad = [decayed(90001), _bad("mean motion 0"), good[3]]  # good[3] again: a duplicate
    sats = good[:10] + bad[:1] + good[10:25] + bad[1:] + good[25:]  # bad ones are entries 10, 26, 27
    path = write(tmp_path, sats, newline="\r\n")
    with pytest.raises(ScenarioError, match=r"line 80: catalogue number 5 \(SAT-26\): mean motion 0 .* \(2 satellites in the file have faults"):
        load_scenario(base(), tle_file=path)  # two element faults; the decayed one is found when propagating
    s = load_scenario(base(), {"orbit.epoch": T0.isoformat(), "orbit.skip_bad_satellites": True}, tle_file=path)
    for _ in range(2):  # built, then from the cache
        with pytest.warns(SkippedSatellitesWarning) as record:
            eph = load_ephemeris(s, cache_dir=tmp_path / "c")
        assert eph.n_sats == 40
        (text,) = [str(w.message) for w in record if w.category is SkippedSatellitesWarning]
        assert "skipped 3 of 43 satellites" in text
        assert "1 zero mean motion, 1 duplicate, 1 cannot be propagated over the window" in text
        assert "catalogue number 90001 (SAT-10), line 32: the satellite has decayed" in text
        assert "catalogue number 40003 (SAT-27), line 83: the same catalogue number as catalogue number 40003 (SAT-3)" in text
        assert not [w for w in record if w.category is StaleElementsWarning]  # the 12-day-old one was skipped
        assert len(eph.tle_lines) == 40 and eph.tle_lines[9:11] == (29, 35)  # agent -> file line, 32 skipped
    kept = build_ephemeris(load_scenario(base(), {"orbit.epoch": T0.isoformat()}, tle_file=write(tmp_path, good, name="good.tle")))
    np.testing.assert_array_equal(eph.pos_km, kept.pos_km)  # the same 40 satellites, in file order
    assert cache_key(s) != cache_key(load_scenario(s, {"orbit.skip_bad_satellites": False}))
    assert cache_key(base()) == cache_key(base(orbit__skip_bad_satellites=True))  # irrelevant without a TLE file


def test_cli_skip_bad_tles_runs_and_prints_the_count(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ORBIT_ENV_CACHE", str(tmp_path / "c"))
    path = write(tmp_path, snapshot(5) + [decayed(90001)])
    argv = ["run", "starcloud-1", "--tle", str(path), "--set", f"orbit.epoch={T0.isoformat()}", "--steps", "3", "--quiet"]
    assert cli.main(argv) == 2
    assert "line 17: catalogue number 90001 (SAT-5): the satellite has decayed" in capsys.readouterr().err
    assert cli.main([*argv, "--skip-bad-tles"]) == 0
    err = capsys.readouterr().err
    assert "orbit-env: warning: TLE file" in err and "skipped 1 of 6 satellites" in err


def test_derived_epoch_is_in_the_cache_key(tmp_path):
    path = write(tmp_path, [sat(1, T0)])
    derived = load_scenario(base(), tle_file=path)
    assert cache_key(derived) == cache_key(load_scenario(base(), {"orbit.epoch": T0.isoformat()}, tle_file=path))
    later = write(tmp_path, [sat(1, T0 + timedelta(days=1))], name="later.tle")
    assert load_scenario(base(), tle_file=later).orbit.epoch == "2026-05-01T17:11:21"
    assert cache_key(load_scenario(base(), tle_file=later)) != cache_key(derived)


# ------------------------------------------------------------------------------------------ odd files


@pytest.mark.parametrize(
    "content, line_no, message",
    [
        (b"", 1, "file is empty"),
        (b"\r\n\r\n  \r\n", 1, "file is empty"),
        ("LINE1\n", 1, "expected TLE line 2 .* after line 1"),  # only line 1
        (b"JUST A NAME\n", 1, "expected TLE line 1 .* after the name line"),
        ("X" * 80 + "\nLINE1\nLINE2\n", 1, "a name line of 80 characters"),
        (b'[{"OBJECT_NAME": "ISS (ZARYA)", "EPOCH": "2026-04-30T17:11:21"}]\n', 1, "looks like an OMM file"),
        (b"OBJECT_NAME,OBJECT_ID,EPOCH\nISS,1998-067A,2026-04-30\n", 1, "looks like an OMM file"),
        (b"SAT\xff\nLINE1\nLINE2\n", 1, "not UTF-8 or ASCII text"),
        ("ÉCLAIR\nLINE1\nLINE2\n".replace("LINE2", "LINE2X"), 3, "non-ASCII character in a TLE line"),
    ],
)
def test_odd_files_give_clear_errors(tmp_path, content, line_no, message):
    a, b = sat(1)
    if isinstance(content, str):
        content = content.replace("LINE1", a).replace("LINE2X", b[:30] + "é" + b[31:]).replace("LINE2", b).encode()
    path = tmp_path / "odd.tle"
    path.write_bytes(content)
    with pytest.raises(ScenarioError, match=message) as err:
        load_scenario(base(), tle_file=path)
    assert f"'{path}', line {line_no}:" in str(err.value)


def test_unusual_but_valid_files_load(tmp_path):
    """Classic Mac CR line ends, Space-Track's '0 ' name prefix, a non-ASCII name, a long name, 2-line entries."""
    (a1, b1), (a2, b2), (a3, b3) = sat(1), sat(2, raan=30.0), sat(3, raan=60.0)
    long_name = "A SATELLITE NAME OF 46 CHARACTERS, NOT THE USUAL 24"[:46]
    path = tmp_path / "ok.tle"
    path.write_bytes("\r".join(["0 ÉCLAIR-1", a1, b1, long_name, a2, b2, a3, b3, ""]).encode())
    tles = read_tle_file(path)
    assert tles.names == ("ÉCLAIR-1", long_name, "") and tles.lines == (2, 5, 7)
    assert tles.label(0) == "catalogue number 1 (ÉCLAIR-1)" and tles.label(2) == "catalogue number 3"
