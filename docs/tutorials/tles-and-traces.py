"""Bring your own TLEs and traces: orbits from a TLE file, jobs replayed from a cluster trace CSV.

Run it from the repository root: ``python docs/tutorials/tles-and-traces.py [WORK_DIR [TRACES_DIR]]``.
It writes a six-satellite TLE file and a small trace and runs short episodes on them, then replays every
public trace window in TRACES_DIR (default ``../shared/traces`` beside the checkout, which is not part
of the repository) when that folder exists.
"""

import math
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sgp4.api import WGS72, Satrec
from sgp4.exporter import export_tle

from agents.heuristics import make_policy
from agents.policy import play
from orbit_env.batch import BatchEnv

work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
work.mkdir(parents=True, exist_ok=True)
traces = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parents[3] / "shared" / "traces"
EARTH_MU_KM3_S2, EARTH_RADIUS_KM = 398600.8, 6378.135  # WGS72, the constants SGP4 uses

# --- A TLE file: six satellites in one 550 km, 53 deg plane, 60 deg apart ----------------------------------
# Real elements come from your operator or CelesTrak; any 2- or 3-line file works. Here sgp4 writes them.
epoch = datetime(2026, 4, 30, tzinfo=timezone.utc)
days_since_1949 = (epoch - datetime(1949, 12, 31, tzinfo=timezone.utc)).total_seconds() / 86400
mean_motion = math.sqrt(EARTH_MU_KM3_S2 / (EARTH_RADIUS_KM + 550.0) ** 3) * 60.0  # rad/min
lines = []
for k in range(6):
    sat = Satrec()
    sat.sgp4init(WGS72, "i", 90000 + k, days_since_1949, 0.0, 0.0, 0.0, 1e-4, 0.0, math.radians(53.0),
                 math.radians(60.0 * k), mean_motion, 0.0)
    lines += [f"MY-SAT-{k}", *export_tle(sat)]
tle = work / "my-fleet.tle"
tle.write_text("\n".join(lines) + "\n", encoding="utf-8")

# The scenario gives everything but the orbits (here walker-160's hardware, links and stations); the
# epoch becomes the file's median element epoch. A bad element is an error naming its line.
env = BatchEnv("walker-160", num_envs=2, tle_file=str(tle), max_cycles=120)
print(f"{tle.name}: {env.params.n_sats} satellites, epoch {env.scenario.orbit.epoch}, "
      f"agent sat_0 is line {env.ephemeris.tle_lines[0]} of the file")
m = play(make_policy("edf-safe", env), env, seeds=[0, 1])
print(f"edf-safe on my fleet: delivered {m['delivered_value'].mean():.2f} GPU-h per two-hour episode")

# --- A trace: your cluster's jobs replayed instead of generated arrivals -----------------------------------
# Columns by name (minimal layout: submit_s, duration_s, gpus, model); docs/workloads.md has the rules.
trace = work / "my-cluster.csv"
trace.write_text("submit_s,duration_s,gpus,model\n"
                 + "".join(f"{300 * i},{1800 + 600 * (i % 4)},1,gpt2-124m\n" for i in range(40)), encoding="utf-8")


def replay(path: Path, offset_h: float = 0.0) -> dict:
    """edf-safe on three-body-12 for six hours with the jobs of ``path`` from ``offset_h`` hours on."""
    overrides = {"workload.generator": "trace", "workload.trace_file": str(path),
                 "workload.trace_offset_h": offset_h}
    env = BatchEnv("three-body-12", num_envs=2, overrides=overrides, max_cycles=360)
    return play(make_policy("edf-safe", env), env, seeds=[0, 1])


m = replay(trace)
print(f"{trace.name}: {m['jobs_submitted'].mean():.0f} jobs submitted per episode, "
      f"{m['delivered_value'].mean():.2f} GPU-h delivered")
if traces.is_dir():
    for public in sorted(traces.glob("*.csv")):  # ElasticFlow and Philly windows: see their PROVENANCE.md
        m = replay(public, offset_h=24.0)
        print(f"{public.name} from hour 24: {m['jobs_submitted'].mean():.0f} jobs submitted per episode, "
              f"{m['delivered_value'].mean():.2f} GPU-h delivered")
else:
    print(f"no {traces}: the public trace windows are skipped")
