"""Scenarios: the typed description of a constellation, its hardware, ground segment and workload.

A scenario is a TOML file (shipped ones live in ``orbit_env/scenarios/``) loaded into frozen
dataclasses. Every field declares its unit, allowed range or choices, so a bad value is rejected with
an error naming the file, the key, the value and what is allowed. Users pass a shipped name, a path to
their own TOML, dotted overrides (``{"orbit.altitude_km": 600}``) and optionally their own TLE file.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from orbit_env.accelerators import ACCELERATORS

SCENARIO_DIR = Path(__file__).parent / "scenarios"
# suite v2's scenarios live in their own folder; names are unique across folders, so both load by bare name
SCENARIO_DIRS = (SCENARIO_DIR, SCENARIO_DIR / "v2")


class ScenarioError(ValueError):
    """A scenario file or override is invalid; the message names file, key, value and what is allowed."""


def _f(default: Any, lo: float | None = None, hi: float | None = None, choices=None, doc: str = ""):
    """A dataclass field with validation metadata (range [lo, hi] or a set of choices)."""
    meta = {"lo": lo, "hi": hi, "choices": choices, "doc": doc}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Station:
    name: str = _f("", doc="station name")
    lat_deg: float = _f(0.0, -90.0, 90.0, doc="geodetic latitude")
    lon_deg: float = _f(0.0, -180.0, 180.0, doc="longitude, east positive")


@dataclass(frozen=True)
class OrbitConfig:
    kind: str = _f("walker", choices=("walker", "cluster", "tle"), doc="how satellites are generated")
    epoch: str = _f("2026-03-20T00:00:00", doc="UTC start of the ephemeris window, ISO 8601")
    altitude_km: float = _f(550.0, 150.0, 2000.0, doc="circular orbit altitude")
    sun_synchronous: bool = _f(False, doc="derive inclination from altitude for a sun-synchronous orbit")
    inclination_deg: float = _f(53.0, 0.0, 180.0, doc="used when sun_synchronous is false")
    ltan_hours: float = _f(6.0, 0.0, 24.0, doc="local time of ascending node (SSO); sets the first RAAN")
    raan_deg: float = _f(0.0, 0.0, 360.0, doc="first plane's RAAN when not sun-synchronous")
    planes: int = _f(1, 1, 100, doc="number of orbital planes (walker)")
    sats_per_plane: int = _f(1, 1, 2000, doc="satellites per plane (walker)")
    phasing: int = _f(0, 0, 99, doc="Walker phasing parameter F")
    raan_spread_deg: float = _f(360.0, 0.0, 360.0, doc="RAAN span of the planes (360 delta, 180 star)")
    cluster_size: int = _f(81, 1, 1000, doc="satellites in a tight cluster (kind = cluster)")
    cluster_radius_km: float = _f(1.0, 0.01, 100.0, doc="cluster radius (kind = cluster)")
    tle_file: str = _f("", doc="TLE file (kind = tle); relative paths are from the scenario file")

    @property
    def n_satellites(self) -> int:
        if self.kind == "walker":
            return self.planes * self.sats_per_plane
        if self.kind == "cluster":
            return self.cluster_size
        raise ScenarioError("n_satellites of a TLE scenario is known only after reading the file")

    @property
    def epoch_datetime(self) -> datetime:
        return datetime.fromisoformat(self.epoch).replace(tzinfo=timezone.utc)

    @property
    def inclination(self) -> float:
        """Inclination in degrees; for SSO from J2 nodal precession = 360 deg / tropical year [calc]."""
        if not self.sun_synchronous:
            return self.inclination_deg
        a = 6378.137 + self.altitude_km
        return math.degrees(math.acos(-((a / 12352.5) ** 3.5)))


@dataclass(frozen=True)
class HardwareConfig:
    accelerator: str = _f("h100-sxm", choices=tuple(ACCELERATORS), doc="accelerator profile")
    accelerators_per_sat: int = _f(1, 1, 64, doc="accelerators per satellite")
    power_caps_w: list = _f([300.0, 450.0, 700.0], 1.0, 5000.0, doc="selectable power caps per accelerator")
    solar_area_m2: float = _f(4.0, 0.0, 10000.0, doc="sun-tracking array area")
    solar_w_per_m2: float = _f(281.0, 0.0, 1361.0, doc="derated array output in sun (physics.md s5)")
    battery_wh: float = _f(1000.0, 1.0, 1e7, doc="battery capacity")
    charge_efficiency: float = _f(0.965, 0.5, 1.0, doc="fraction of charge power stored")
    discharge_efficiency: float = _f(0.965, 0.5, 1.0, doc="fraction of stored energy delivered")
    max_charge_w: float = _f(1000.0, 1.0, 1e7, doc="battery charge power limit")
    initial_soc: float = _f(0.9, 0.0, 1.0, doc="state of charge at reset")
    safe_mode_soc: float = _f(0.3, 0.0, 1.0, doc="enter safe mode below this state of charge")
    resume_soc: float = _f(0.6, 0.0, 1.0, doc="leave safe mode above this state of charge")
    bus_w: float = _f(150.0, 0.0, 1e6, doc="housekeeping + GPU host load, always on")
    isl_terminal_w: float = _f(40.0, 0.0, 1e4, doc="laser terminal power while transmitting")
    radio_w: float = _f(30.0, 0.0, 1e4, doc="ground radio power during a contact")
    heater_w: float = _f(50.0, 0.0, 1e5, doc="survival heater power below min_temp_c")
    min_temp_c: float = _f(-10.0, -100.0, 50.0, doc="heater set point")
    radiator_area_m2: float = _f(2.0, 0.01, 10000.0, doc="radiating area (both faces counted)")
    emissivity: float = _f(0.9, 0.01, 1.0, doc="radiator emissivity")
    sink_temp_k: float = _f(250.0, 0.0, 350.0, doc="effective sink temperature in sunlight (Earth IR + albedo folded in)")
    sink_temp_eclipse_k: float = _f(200.0, 0.0, 350.0, doc="effective sink temperature in eclipse (Earth IR only)")
    heat_capacity_j_per_k: float = _f(14000.0, 100.0, 1e9, doc="lumped payload + radiator heat capacity")
    gpu_k_per_w: float = _f(0.04, 0.0, 1.0, doc="GPU junction rise above the radiator node per watt")
    initial_temp_c: float = _f(20.0, -100.0, 90.0, doc="node temperature at reset")
    checkpoint_write_gbps: float = _f(16.0, 0.01, 1e4, doc="checkpoint write bandwidth to local storage")
    checkpoint_overhead_s: float = _f(5.0, 0.0, 3600.0, doc="fixed cost of a checkpoint")

    @property
    def accel(self):
        return ACCELERATORS[self.accelerator]


@dataclass(frozen=True)
class RadiationConfig:
    upsets_per_gpu_day: float = _f(0.01, 0.0, 1000.0, doc="job-crashing upsets per active GPU outside SAA")
    saa_multiplier: float = _f(30.0, 1.0, 1000.0, doc="rate multiplier inside the SAA polygon")
    saa_polygon: str = _f("proba-v", choices=("proba-v", "fermi-gbm", "box"), doc="SAA boundary")
    recovery_s: float = _f(90.0, 0.0, 86400.0, doc="GPU reset and restore time after an upset")


@dataclass(frozen=True)
class LinkConfig:
    isl_terminals: int = _f(0, 0, 16, doc="laser terminals per satellite (0 = no ISL)")
    isl_range_km: float = _f(5000.0, 0.001, 50000.0, doc="maximum ISL range")
    isl_rate_gbps: float = _f(100.0, 0.001, 1e5, doc="ISL data rate")
    acquisition_s: float = _f(60.0, 0.0, 3600.0, doc="pointing/acquisition delay before a new link carries data")
    grazing_altitude_km: float = _f(100.0, 0.0, 1000.0, doc="line of sight must clear Earth by this much")


@dataclass(frozen=True)
class GroundConfig:
    stations: list = _f([], doc="ground stations: names from orbit_env.stations or {name, lat_deg, lon_deg}")
    elevation_mask_deg: float = _f(10.0, 0.0, 90.0, doc="minimum elevation for a contact")
    uplink_gbps: float = _f(0.3, 0.0001, 1e4, doc="ground-to-satellite rate")
    downlink_gbps: float = _f(0.3, 0.0001, 1e4, doc="satellite-to-ground rate")


@dataclass(frozen=True)
class WorkloadConfig:
    generator: str = _f(
        "poisson", choices=("poisson", "long-training", "short-debug", "trace"), doc="arrival process"
    )
    models: list = _f(["gpt2-124m", "shakespeare-char"], doc="catalog models jobs are drawn from")
    model_weights: list = _f([], 0.0, 1e9, doc="relative weights of models (empty = equal)")
    arrival_rate_per_hour: float = _f(
        1.0,
        0.0,
        1e5,
        doc="poisson: jobs per hour; long-training / short-debug: batches (hyperparameter sweeps) per hour, "
        "published 2.8 (ElasticFlow cluster04) and 9.5 (Philly), workloads.md A3; unused by trace",
    )
    deadline_factor: list = _f(
        [1.5, 3.0], 0.0, 1000.0, doc="deadline = submit + slack + U(lo, hi) x runtime on a satellite (A4: lo >= 1)"
    )
    deadline_slack_h: float = _f(6.0, 0.0, 1e4, doc="deadline allowance for waiting on ground contacts")
    value_half_life_h: float = _f(6.0, 0.01, 1e4, doc="value halves every this long past the deadline")
    drop_after_h: float = _f(24.0, 0.0, 1e4, doc="a job still on the ground this long past its deadline is dropped")
    trace_file: str = _f("", doc="CSV trace to replay (generator = trace); layouts in docs/workloads.md")
    trace_offset_h: float = _f(0.0, 0.0, 1e6, doc="replay the trace from this many hours after its time zero")
    diurnal_amplitude: float = _f(
        0.5, 0.0, 1.0, doc="daily load cycle of fitted regimes: rate x (1 + a cos(...)); A4 suggests 0.5"
    )
    diurnal_peak_h: float = _f(14.0, 0.0, 24.0, doc="hours after episode start at which arrivals peak [est]")
    fail_prob: float = _f(0.0, 0.0, 1.0, doc="share of jobs that fail on their own; A2/A4 measure 0.16-0.43")
    cancel_prob: float = _f(0.0, 0.0, 1.0, doc="share of jobs cancelled by their user; A2/A4 measure 0.06-0.22")
    job_capacity: int = _f(256, 1, 100000, doc="rows in the job table (arrivals beyond are not generated)")


@dataclass(frozen=True)
class EpisodeConfig:
    dt_s: float = _f(60.0, 1.0, 3600.0, doc="step length")
    max_cycles: int = _f(1440, 1, 1000000, doc="steps per episode (truncation)")
    start_window_h: float = _f(24.0, 0.0, 24.0 * 365, doc="reset draws the start offset in [0, this)")
    queue_slots: int = _f(4, 1, 64, doc="K: jobs a satellite holds and observes")
    reward: str = _f("team", choices=("team", "individual"), doc="who is credited with delivered value: every agent, or the satellite that finished the job")
    dense_shaping: bool = _f(False, doc="add, each step, the value a delivery would earn now x the fraction of the job done (training only)")
    safe_mode_penalty: float = _f(1.0, 0.0, 1e6, doc="reward subtracted per safe-mode entry")
    thermal_shutdown_penalty: float = _f(1.0, 0.0, 1e6, doc="reward subtracted per thermal shutdown")


@dataclass(frozen=True)
class Scenario:
    name: str = _f("custom", doc="scenario name")
    description: str = _f("", doc="what it models")
    orbit: OrbitConfig = field(default_factory=OrbitConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    radiation: RadiationConfig = field(default_factory=RadiationConfig)
    links: LinkConfig = field(default_factory=LinkConfig)
    ground: GroundConfig = field(default_factory=GroundConfig)
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    episode: EpisodeConfig = field(default_factory=EpisodeConfig)
    source: str = field(default="", compare=False)  # file it came from, for error messages


# --------------------------------------------------------------------------------------------- loading


def _check_value(where: str, key: str, value: Any, f: dataclasses.Field, hint: type) -> Any:
    """Type- and range-check one value against its field; return it normalised (int -> float etc.)."""
    meta = f.metadata
    name = getattr(hint, "__name__", str(hint))

    def bad(allowed: str) -> ScenarioError:
        return ScenarioError(f"{where}: {key} = {value!r} is invalid: {allowed}")

    if hint is bool:
        if not isinstance(value, bool):
            raise bad("expected true or false")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad("expected a finite number")
        value = float(value)
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("expected a whole number")
    elif hint is str:
        if not isinstance(value, str):
            raise bad("expected a string")
    elif hint is list:
        if not isinstance(value, list):
            raise bad("expected a list")
        return [_check_item(where, f"{key}[{i}]", v, f) for i, v in enumerate(value)]
    else:
        raise TypeError(f"unsupported field type {name}")
    return _check_range(where, key, value, meta)


def _check_item(where: str, key: str, value: Any, f: dataclasses.Field) -> Any:
    if isinstance(value, dict):
        return _build(Station, value, where, key)
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(f"{where}: {key} = {value!r} is invalid: expected a finite number or a string")
    return _check_range(where, key, float(value), f.metadata)


def _check_range(where: str, key: str, value: Any, meta: Mapping) -> Any:
    lo, hi, choices = meta.get("lo"), meta.get("hi"), meta.get("choices")
    if choices is not None and value not in choices:
        raise ScenarioError(f"{where}: {key} = {value!r} is invalid: allowed values are {', '.join(choices)}")
    if isinstance(value, (int, float)) and lo is not None and not (lo <= value <= hi):
        raise ScenarioError(f"{where}: {key} = {value!r} is out of range: allowed {lo:g} to {hi:g}")
    return value


def _build(cls, table: Mapping, where: str, prefix: str = ""):
    """Build dataclass ``cls`` from a TOML table, rejecting unknown keys and checking every value."""
    if not isinstance(table, Mapping):
        raise ScenarioError(f"{where}: [{prefix}] must be a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        allowed = ", ".join(sorted(fields))
        raise ScenarioError(f"{where}: unknown key {key!r}; allowed keys{' in [' + prefix + ']' if prefix else ''}: {allowed}")
    kwargs = {}
    for name, value in table.items():
        key = f"{prefix}.{name}" if prefix else name
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, where, key)
        else:
            kwargs[name] = _check_value(where, key, value, fields[name], hint)
    return cls(**kwargs)


def _cross_checks(s: Scenario, where: str) -> None:
    """Constraints between fields, each reported with the keys involved."""
    hw = s.hardware
    if hw.resume_soc <= hw.safe_mode_soc:
        raise ScenarioError(
            f"{where}: hardware.resume_soc = {hw.resume_soc} must be above hardware.safe_mode_soc = {hw.safe_mode_soc}"
        )
    acc = hw.accel
    for i, cap in enumerate(hw.power_caps_w):
        if not acc.min_cap_w <= cap <= acc.max_w:
            raise ScenarioError(
                f"{where}: hardware.power_caps_w[{i}] = {cap} is out of range: {acc.name} allows "
                f"{acc.min_cap_w:g} to {acc.max_w:g} W"
            )
    if not hw.power_caps_w:
        raise ScenarioError(f"{where}: hardware.power_caps_w must list at least one power cap")
    lo_hi = s.workload.deadline_factor
    if len(lo_hi) != 2 or lo_hi[0] > lo_hi[1]:
        raise ScenarioError(f"{where}: workload.deadline_factor = {lo_hi} must be [low, high] with low <= high")
    if s.workload.model_weights and len(s.workload.model_weights) != len(s.workload.models):
        raise ScenarioError(
            f"{where}: workload.model_weights has {len(s.workload.model_weights)} entries but workload.models "
            f"has {len(s.workload.models)}"
        )
    if s.orbit.kind == "tle" and not s.orbit.tle_file:
        raise ScenarioError(f"{where}: orbit.kind = 'tle' needs orbit.tle_file")
    if s.workload.generator == "trace" and not s.workload.trace_file:
        raise ScenarioError(f"{where}: workload.generator = 'trace' needs workload.trace_file")
    try:
        s.orbit.epoch_datetime
    except ValueError:
        raise ScenarioError(f"{where}: orbit.epoch = {s.orbit.epoch!r} is not an ISO 8601 date-time") from None
    from orbit_env.stations import resolve_stations  # late import: stations imports Station from here

    resolve_stations(s.ground.stations, where)
    from orbit_env.workload.catalog import MODELS

    for i, m in enumerate(s.workload.models):
        if m not in MODELS:
            raise ScenarioError(
                f"{where}: workload.models[{i}] = {m!r} is not in the catalog; known: {', '.join(sorted(MODELS))}"
            )


def shipped_scenarios(folder: str | None = None) -> list[str]:
    """Names of the scenarios shipped with orbit-env; ``folder="v2"`` lists only suite v2's."""
    dirs = SCENARIO_DIRS if folder is None else (SCENARIO_DIR / folder,)
    return sorted(p.stem for d in dirs for p in d.glob("*.toml"))


def _resolve_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise ScenarioError(f"scenario file {str(p)!r} does not exist")
        return p
    found = [d / f"{name_or_path}.toml" for d in SCENARIO_DIRS if (d / f"{name_or_path}.toml").is_file()]
    shipped = found[0] if found else SCENARIO_DIR / f"{name_or_path}.toml"
    if not shipped.is_file():
        raise ScenarioError(
            f"unknown scenario {str(name_or_path)!r}: give a path to a .toml file or one of {', '.join(shipped_scenarios())}"
        )
    return shipped


def _set_dotted(table: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node = table
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ScenarioError(f"override {key!r}: {part!r} is not a section")
    node[parts[-1]] = value


def load_scenario(
    name_or_path: str | Path | Scenario = "starcloud-1",
    overrides: Mapping[str, Any] | None = None,
    tle_file: str | Path | None = None,
) -> Scenario:
    """Load and validate a scenario.

    ``name_or_path``: a shipped name (see ``shipped_scenarios()``), a path to a TOML file, or a Scenario.
    ``overrides``: dotted keys, e.g. ``{"orbit.altitude_km": 600, "episode.max_cycles": 200}``.
    ``tle_file``: use this TLE file for the orbits (sets ``orbit.kind = "tle"``).
    """
    if isinstance(name_or_path, Scenario):
        if not overrides and tle_file is None:
            return name_or_path
        table, where, base_dir = to_table(name_or_path), name_or_path.source or name_or_path.name, None
    else:
        path = _resolve_path(name_or_path)
        where, base_dir = str(path), path.parent
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ScenarioError(f"{where}: not valid TOML: {e}") from None
        except UnicodeDecodeError:
            raise ScenarioError(f"{where}: not a UTF-8 text file") from None
    for key, value in (overrides or {}).items():
        _set_dotted(table, key, value)
        where_o = f"{where} (override {key})"
    if overrides:
        where = where_o if len(overrides) == 1 else f"{where} (with overrides)"
    if tle_file is not None:
        _set_dotted(table, "orbit.kind", "tle")
        _set_dotted(table, "orbit.tle_file", str(Path(tle_file).resolve()))
    orbit = table.get("orbit", {})
    if base_dir is not None and isinstance(orbit, dict) and orbit.get("tle_file") and isinstance(orbit["tle_file"], str):
        orbit["tle_file"] = str((base_dir / orbit["tle_file"]).resolve())
    wl = table.get("workload", {})
    if base_dir is not None and isinstance(wl, dict) and wl.get("trace_file") and isinstance(wl["trace_file"], str):
        wl["trace_file"] = str((base_dir / Path(wl["trace_file"]).expanduser()).resolve())
    scenario = _build(Scenario, table, where)
    _cross_checks(scenario, where)
    return dataclasses.replace(scenario, source=where)


def to_table(s: Any) -> Any:
    """A scenario (or part) as a plain TOML-like table; the inverse of loading. Used for hashing and overrides."""
    if dataclasses.is_dataclass(s):
        return {f.name: to_table(getattr(s, f.name)) for f in dataclasses.fields(s) if f.name != "source"}
    if isinstance(s, list):
        return [to_table(v) for v in s]
    return s
