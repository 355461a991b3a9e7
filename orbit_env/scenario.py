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
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from orbit_env.accelerators import ACCELERATORS

SCENARIO_DIR = Path(__file__).parent / "scenarios"
ADMISSION = ("auto", "agent")
# suite v2's scenarios live in their own folder; names are unique across folders, so both load by bare name
SCENARIO_DIRS = (SCENARIO_DIR, SCENARIO_DIR / "v2")


class ScenarioError(ValueError):
    """A scenario file or override is invalid; the message names file, key, value and what is allowed."""


def _f(default: Any, lo: float | None = None, hi: float | None = None, choices=None, doc: str = "", required: bool = False):
    """A dataclass field with validation metadata (range [lo, hi] or a set of choices).

    ``required``: a scenario file must give it (the default serves only scenarios built in code).
    """
    meta = {"lo": lo, "hi": hi, "choices": choices, "doc": doc, "required": required}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def parse_epoch(value: str | date | datetime) -> datetime:
    """An aware UTC datetime from ISO 8601 text, a TOML date-time or a TOML date (midnight).

    A UTC offset (``+05:00``, ``Z``) is converted to UTC; a value without one is taken as UTC. Raises
    ValueError for text that is not ISO 8601 and TypeError for other types.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    elif not isinstance(value, datetime):
        raise TypeError(f"expected a date-time, got {type(value).__name__}")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _epoch_text(value: Any, where: str) -> str:
    """``orbit.epoch`` as naive ISO 8601 UTC text, so equal instants are one value (and one cache key)."""
    try:
        return parse_epoch(value).replace(tzinfo=None).isoformat()
    except (ValueError, TypeError, OverflowError):
        raise ScenarioError(
            f"{where}: orbit.epoch = {value!r} is not an ISO 8601 date-time: give e.g. 2026-03-20T00:00:00 "
            "(UTC) or 2026-03-20T05:00:00+05:00"
        ) from None


@dataclass(frozen=True)
class Station:
    name: str = _f("", doc="station name", required=True)
    lat_deg: float = _f(0.0, -90.0, 90.0, doc="geodetic latitude", required=True)
    lon_deg: float = _f(0.0, -180.0, 180.0, doc="longitude, east positive", required=True)


@dataclass(frozen=True)
class OrbitConfig:
    kind: str = _f("walker", choices=("walker", "cluster", "tle"), doc="how satellites are generated", required=True)
    epoch: str = _f("2026-03-20T00:00:00", doc="start of the ephemeris window, ISO 8601, UTC unless it has an "
                    "offset; kind = tle without one: the median element epoch of the file")
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
    skip_bad_satellites: bool = _f(False, doc="kind = tle: drop satellites with unusable elements or that SGP4 "
                                   "cannot propagate over the window (counted in a warning) instead of stopping")

    @property
    def n_satellites(self) -> int:
        if self.kind == "walker":
            return self.planes * self.sats_per_plane
        if self.kind == "cluster":
            return self.cluster_size
        raise ScenarioError("n_satellites of a TLE scenario is known only after reading the file")

    @property
    def epoch_datetime(self) -> datetime:
        return parse_epoch(self.epoch)

    @property
    def inclination(self) -> float:
        """Inclination in degrees; for SSO from J2 nodal precession = 360 deg / tropical year [calc]."""
        if not self.sun_synchronous:
            return self.inclination_deg
        a = 6378.137 + self.altitude_km
        return math.degrees(math.acos(-((a / 12352.5) ** 3.5)))


@dataclass(frozen=True)
class HardwareConfig:
    accelerator: str = _f("h100-sxm", choices=tuple(ACCELERATORS), doc="accelerator profile", required=True)
    accelerators_per_sat: int = _f(1, 1, 64, doc="accelerators per satellite")
    power_caps_w: list[float] = _f([300.0, 450.0, 700.0], 1.0, 5000.0, doc="selectable power caps per accelerator")
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
    storage_gb: float = _f(
        0.0, 0.0, 1e6, doc="on-board storage for datasets, checkpoints and results (0 = no byte limit, v1); "
        "three-body: 30 TB over 12 satellites, about 2.5 TB each (physics.md s3); sets K (see sim.queue_slots)"
    )

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
    isl_rate_gbps: float = _f(100.0, 0.001, 1e5, doc="data rate of one laser terminal (transfers on a terminal share it)")
    acquisition_s: float = _f(60.0, 0.0, 3600.0, doc="pointing/acquisition delay before a new link carries data")
    grazing_altitude_km: float = _f(100.0, 0.0, 1000.0, doc="line of sight must clear Earth by this much")


@dataclass(frozen=True)
class GroundConfig:
    stations: list[str | Station] = _f(
        [], doc="ground stations: names from orbit_env.stations or {name, lat_deg, lon_deg}", required=True
    )
    elevation_mask_deg: float = _f(10.0, 0.0, 90.0, doc="minimum elevation for a contact")
    uplink_gbps: float = _f(0.3, 0.0001, 1e4, doc="ground-to-satellite rate")
    downlink_gbps: float = _f(0.3, 0.0001, 1e4, doc="satellite-to-ground rate")
    admission: str = _f(
        "auto", choices=ADMISSION, doc="auto: the earliest-deadline waiting job is uplinked to any satellite in "
        "contact with room (v1); agent: the satellite chooses with admit(g) from a window of the ground queue"
    )
    queue_window: int = _f(0, 0, 64, doc="G: ground-queue entries offered to a satellite in contact (admission = agent; ignored by auto)")
    antennas_per_station: int = _f(0, 0, 1000, doc="satellites a station serves at once (0 = unlimited, v1)")


@dataclass(frozen=True)
class WorkloadConfig:
    generator: str = _f(
        "poisson", choices=("poisson", "long-training", "short-debug", "trace"), doc="arrival process", required=True
    )
    models: list[str] = _f(["gpt2-124m", "shakespeare-char"], doc="catalog models jobs are drawn from", required=True)
    model_weights: list[float] = _f([], 0.0, 1e9, doc="relative weights of models (empty = equal)")
    arrival_rate_per_hour: float = _f(
        1.0,
        0.0,
        1e5,
        doc="poisson: jobs per hour; long-training / short-debug: batches (hyperparameter sweeps) per hour, "
        "published 2.8 (ElasticFlow cluster04) and 9.5 (Philly), workloads.md A3; unused by trace",
    )
    deadline_factor: list[float] = _f(
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
    queue_slots: int = _f(4, 1, 64, doc="K: jobs a satellite holds and observes (when hardware.storage_gb is 0; "
                          "with storage, K follows from it)")
    reward: str = _f("team", choices=("team", "individual"), doc="who is credited with delivered value: every agent, or the satellite that finished the job")
    dense_shaping: bool = _f(False, doc="add, each step, the value a delivery would earn now x the fraction of the job done (training only)")
    safe_mode_penalty: float = _f(1.0, 0.0, 1e6, doc="reward subtracted per safe-mode entry")
    thermal_shutdown_penalty: float = _f(1.0, 0.0, 1e6, doc="reward subtracted per thermal shutdown")
    warmup_h: float = _f(0.0, 0.0, 24.0 * 30, doc="warm start: hours of built-in operation before step 0 (0 = cold start, v1)")
    measure_start_h: float = _f(0.0, 0.0, 1e6, doc="window_value counts value delivered from this many hours after step 0 (a window past the episode counts nothing)")
    measure_end_h: float = _f(0.0, 0.0, 1e6, doc="... until this many hours (0 or beyond the episode = its end)")


@dataclass(frozen=True)
class Scenario:
    name: str = _f("custom", doc="scenario name", required=True)
    description: str = _f("", doc="what it models")
    orbit: OrbitConfig = field(default_factory=OrbitConfig, metadata={"required": True, "doc": "the satellites' orbits"})
    hardware: HardwareConfig = field(default_factory=HardwareConfig, metadata={"required": True, "doc": "the satellite bus and accelerators"})
    radiation: RadiationConfig = field(default_factory=RadiationConfig)
    links: LinkConfig = field(default_factory=LinkConfig)
    ground: GroundConfig = field(default_factory=GroundConfig, metadata={"required": True, "doc": "ground stations and radio links"})
    workload: WorkloadConfig = field(default_factory=WorkloadConfig, metadata={"required": True, "doc": "the jobs"})
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
    elif typing.get_origin(hint) is list:
        if not isinstance(value, list):
            raise bad("expected a list")
        (item,) = typing.get_args(hint)
        return [_check_item(where, f"{key}[{i}]", v, f, item) for i, v in enumerate(value)]
    else:
        raise TypeError(f"unsupported field type {name}")
    return _check_range(where, key, value, meta)


def _check_item(where: str, key: str, value: Any, f: dataclasses.Field, item: Any) -> Any:
    """Check one list entry against the list's item type: float, str, or ``str | Station``."""
    if item is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ScenarioError(f"{where}: {key} = {value!r} is invalid: expected a finite number")
        return _check_range(where, key, float(value), f.metadata)
    if isinstance(value, str) and (item is str or str in typing.get_args(item)):
        return value
    if isinstance(value, dict) and Station in typing.get_args(item):
        return _build(Station, value, where, key)
    allowed = "a string" if item is str else "a station name or a table {name, lat_deg, lon_deg}"
    raise ScenarioError(f"{where}: {key} = {value!r} is invalid: expected {allowed}")


def _check_range(where: str, key: str, value: Any, meta: Mapping) -> Any:
    lo, hi, choices = meta.get("lo"), meta.get("hi"), meta.get("choices")
    if choices is not None and value not in choices:
        raise ScenarioError(f"{where}: {key} = {value!r} is invalid: allowed values are {', '.join(choices)}")
    if isinstance(value, (int, float)) and lo is not None and not (lo <= value <= hi):
        raise ScenarioError(f"{where}: {key} = {value!r} is out of range: allowed {lo:g} to {hi:g}")
    return value


def _blame(where: str, key: str, overridden: tuple[str, ...]) -> str:
    """Where a value at ``key`` came from: the file, or the override that set it (or its section)."""
    for k in overridden:
        if key == k or key.startswith(k + ".") or k.startswith(key + "."):
            return f"{where} (override {k})"
    return where


def _build(cls, table: Mapping, where: str, prefix: str = "", overridden: tuple[str, ...] = ()):
    """Build dataclass ``cls`` from a TOML table, rejecting unknown keys and checking every value.

    ``overridden``: dotted keys set by overrides; an error at one of them is blamed on the override.
    """
    if not isinstance(table, Mapping):
        raise ScenarioError(f"{_blame(where, prefix, overridden)}: [{prefix}] must be a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        allowed = ", ".join(sorted(fields))
        raise ScenarioError(
            f"{_blame(where, key, overridden)}: unknown key {key!r}; allowed keys{' in [' + prefix + ']' if prefix else ''}: {allowed}"
        )
    kwargs = {}
    for name, value in table.items():
        key = f"{prefix}.{name}" if prefix else name
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, where, key, overridden)
        else:
            kwargs[name] = _check_value(_blame(where, key, overridden), key, value, fields[name], hint)
    return cls(**kwargs)


# Orbit keys a file must give for each kind (besides inclination_deg, unless sun_synchronous = true).
_ORBIT_REQUIRED = {"walker": ("altitude_km", "planes", "sats_per_plane"), "cluster": ("altitude_km", "cluster_size"), "tle": ()}


def _missing(cls, table: Mapping, prefix: str = "") -> list[str]:
    """Required sections and keys (``_f(required=True)``, required section fields) absent from ``table``."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        hint = hints[f.name]
        if f.name not in table:
            if f.metadata.get("required"):
                out.append(f"[{key}]" if dataclasses.is_dataclass(hint) else key)
        elif dataclasses.is_dataclass(hint):
            out += _missing(hint, table[f.name], key)
        elif typing.get_origin(hint) is list and Station in typing.get_args(typing.get_args(hint)[0]):
            out += [m for i, v in enumerate(table[f.name]) if isinstance(v, Mapping) for m in _missing(Station, v, f"{key}[{i}]")]
    return out


def _check_required(table: Mapping, where: str) -> None:
    """A scenario file must say what it models: the sections and keys without a sensible default."""
    missing = _missing(Scenario, table)
    orbit = table.get("orbit", {})
    kind = orbit.get("kind")
    if kind in _ORBIT_REQUIRED:
        missing += [f"orbit.{k}" for k in _ORBIT_REQUIRED[kind] if k not in orbit]
        if kind != "tle" and "inclination_deg" not in orbit and orbit.get("sun_synchronous") is not True:
            missing.append("orbit.inclination_deg (or orbit.sun_synchronous = true)")
    if missing:
        raise ScenarioError(
            f"{where}: missing {', '.join(missing)}; a scenario file must give these (copy a shipped scenario from "
            f"{SCENARIO_DIR} to start from a complete one)"
        )


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
    _check_thermal(s, where)
    lo_hi = s.workload.deadline_factor
    if len(lo_hi) != 2 or lo_hi[0] > lo_hi[1]:
        raise ScenarioError(f"{where}: workload.deadline_factor = {lo_hi} must be [low, high] with low <= high")
    if s.workload.model_weights and len(s.workload.model_weights) != len(s.workload.models):
        raise ScenarioError(
            f"{where}: workload.model_weights has {len(s.workload.model_weights)} entries but workload.models "
            f"has {len(s.workload.models)}"
        )
    _v2_checks(s, where)
    if s.orbit.kind == "tle" and not s.orbit.tle_file:
        raise ScenarioError(f"{where}: orbit.kind = 'tle' needs orbit.tle_file")
    if s.workload.generator == "trace" and not s.workload.trace_file:
        raise ScenarioError(f"{where}: workload.generator = 'trace' needs workload.trace_file")
    from orbit_env.stations import resolve_stations  # late import: stations imports Station from here

    resolve_stations(s.ground.stations, where)
    from orbit_env.workload.catalog import MODELS

    for i, m in enumerate(s.workload.models):
        if m not in MODELS:
            raise ScenarioError(
                f"{where}: workload.models[{i}] = {m!r} is not in the catalog; known: {', '.join(sorted(MODELS))}"
            )


# Hottest steady state a node may reach under its worst-case load: above this the lumped model describes no
# satellite (solder melts at ~217 C, electronics qualify to ~125 C) [est]; the accelerators shut down at ~92 C.
NODE_MAX_C = 200.0


def _check_thermal(s: Scenario, where: str) -> None:
    """Reject hardware whose heat balance is impossible, naming the combination of fields.

    Worst case: every electrical load on at once (accelerators at their highest cap, every laser terminal,
    the radio and the heater) against the least rejection (the hotter sink). Backward Euler never steps
    past that equilibrium, so it bounds every node temperature the simulator can produce (and with it
    the junctions, node + gpu_k_per_w x power).
    """
    from orbit_env.physics.thermal import KELVIN, equilibrium_temp_k

    hw = s.hardware
    top = max(hw.power_caps_w)
    loads = {
        "hardware.bus_w": hw.bus_w,
        f"{hw.accelerators_per_sat} x max(hardware.power_caps_w)": hw.accelerators_per_sat * top,
        f"{s.links.isl_terminals} x hardware.isl_terminal_w": s.links.isl_terminals * hw.isl_terminal_w,
        "hardware.radio_w": hw.radio_w,
        "hardware.heater_w": hw.heater_w,
    }
    sink = max(hw.sink_temp_k, hw.sink_temp_eclipse_k)
    hottest_c = float(equilibrium_temp_k(sum(loads.values()), hw.emissivity, hw.radiator_area_m2, sink)) - KELVIN
    if hottest_c > NODE_MAX_C:
        parts = " + ".join(f"{k} {v:g} W" for k, v in loads.items() if v)
        raise ScenarioError(
            f"{where}: impossible heat balance: {parts} = {sum(loads.values()):g} W radiated by hardware.radiator_area_m2 = "
            f"{hw.radiator_area_m2:g} at hardware.emissivity = {hw.emissivity:g} to a {sink:g} K sink settles the node at "
            f"{hottest_c:,.0f} C, above {NODE_MAX_C:g} C; enlarge the radiator or lower the largest loads"
        )


def _v2_checks(s: Scenario, where: str) -> None:
    """Suite v2 fields: admission needs a window, storage must hold every model's job, the window must be one."""
    g, ep = s.ground, s.episode
    if g.admission == "agent" and g.queue_window < 1:
        raise ScenarioError(f"{where}: ground.admission = 'agent' needs ground.queue_window >= 1 (got {g.queue_window})")
    if s.hardware.storage_gb:
        from orbit_env.workload.catalog import MODELS

        for i, m in enumerate(s.workload.models):
            need = (MODELS[m].dataset_bytes + MODELS[m].checkpoint_bytes) / 1e9 if m in MODELS else 0.0
            if need > s.hardware.storage_gb:
                raise ScenarioError(
                    f"{where}: hardware.storage_gb = {s.hardware.storage_gb:g} cannot hold one job of workload.models[{i}] = "
                    f"{m!r}, which needs {need:.4g} GB (dataset + checkpoint)"
                )
    if ep.measure_end_h and ep.measure_end_h <= ep.measure_start_h:
        raise ScenarioError(
            f"{where}: episode.measure_end_h = {ep.measure_end_h:g} must be above episode.measure_start_h = "
            f"{ep.measure_start_h:g} (or 0 for the end of the episode)"
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

    A TLE scenario takes its epoch from the file (``orbits.element_epoch``) unless ``orbit.epoch`` is set
    explicitly: by an override, or in the scenario file when that file itself names the TLE file (a
    ``tle_file`` argument replaces the scenario's orbits, and with them its epoch).
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
    if tle_file is not None:
        _set_dotted(table, "orbit.kind", "tle")
        _set_dotted(table, "orbit.tle_file", str(Path(tle_file).resolve()))
        if "orbit.epoch" not in (overrides or {}):
            table["orbit"].pop("epoch", None)
    orbit = table.get("orbit", {})
    if base_dir is not None and isinstance(orbit, dict) and orbit.get("tle_file") and isinstance(orbit["tle_file"], str):
        orbit["tle_file"] = str((base_dir / orbit["tle_file"]).resolve())
    if isinstance(orbit, dict) and "epoch" in orbit:
        orbit["epoch"] = _epoch_text(orbit["epoch"], where)
    wl = table.get("workload", {})
    if base_dir is not None and isinstance(wl, dict) and wl.get("trace_file") and isinstance(wl["trace_file"], str):
        wl["trace_file"] = str((base_dir / Path(wl["trace_file"]).expanduser()).resolve())
    scenario = _build(Scenario, table, where, overridden=tuple(overrides or ()))
    # a constraint between fields may involve the file and an override: name both places
    where_all = f"{where} (with overrides {', '.join(f'{k}={v!r}' for k, v in overrides.items())})" if overrides else where
    _cross_checks(scenario, where_all)
    _check_required(table, where)
    if scenario.orbit.kind == "tle" and "epoch" not in orbit:
        from orbit_env.orbits import element_epoch, read_tle_file  # late import: orbits imports this module

        tles = read_tle_file(scenario.orbit.tle_file, scenario.orbit.skip_bad_satellites)
        epoch = element_epoch(tles).replace(tzinfo=None).isoformat()
        scenario = dataclasses.replace(scenario, orbit=dataclasses.replace(scenario.orbit, epoch=epoch))
    return dataclasses.replace(scenario, source=where_all)


def to_table(s: Any) -> Any:
    """A scenario (or part) as a plain TOML-like table; the inverse of loading. Used for hashing and overrides."""
    if dataclasses.is_dataclass(s):
        return {f.name: to_table(getattr(s, f.name)) for f in dataclasses.fields(s) if f.name != "source"}
    if isinstance(s, list):
        return [to_table(v) for v in s]
    return s
