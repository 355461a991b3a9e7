"""Job-trace CSV loader: read a GPU-cluster trace into arrays, with errors that name row and column.

Columns are found by name (extra columns are ignored), so one reader takes these layouts:

| layout      | submit            | duration     | GPUs       | model (optional) | deadline (optional) |
|-------------|-------------------|--------------|------------|------------------|---------------------|
| minimal     | ``submit_s``      | ``duration_s`` | ``gpus`` | ``model``        | ``deadline_s``      |
| ElasticFlow | ``submission_time`` | ``duration`` | ``num_gpu``  | ``model_name`` | ``deadline``        |
| Philly      | ``submission_time`` | ``duration`` | ``num_gpus`` | –              | –                   |

Times are seconds from the trace's time zero (submit >= 0); durations are seconds of wall time on
``gpus`` GPUs. ElasticFlow: github.com/microsoft/elasticflow-traces (MIT); Philly: the Pollux/adaptdl
derivation of msr-fiddle/philly-traces (CC BY 4.0); see reference/workloads.md A3. No trace data ships
with orbit-env: users bring their own file.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orbit_env.scenario import ScenarioError

# role -> accepted header names, in order of preference
COLUMNS: dict[str, tuple[str, ...]] = {
    "submit": ("submit_s", "submission_time"),
    "duration": ("duration_s", "duration"),
    "gpus": ("gpus", "num_gpu", "num_gpus"),
    "model": ("model", "model_name"),
    "deadline": ("deadline_s", "deadline"),
}
REQUIRED = ("submit", "duration", "gpus")


@dataclass(frozen=True)
class TraceTable:
    """One row per job, in file order. ``model`` is "" and ``deadline_s`` NaN where the file has none."""

    path: str
    layout: str  # "minimal", "elasticflow", "philly" or "custom" (by the GPU column's name)
    submit_s: np.ndarray  # float64
    duration_s: np.ndarray  # float64
    gpus: np.ndarray  # int32
    model: np.ndarray  # object array of str (lower case)
    deadline_s: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.submit_s)

    @property
    def gpu_hours(self) -> np.ndarray:
        return self.duration_s * self.gpus / 3600.0


def _cell(path: str, row: int, line: int, column: str, text: str, expected: str, ok) -> float:
    """Parse one cell; raise a ScenarioError naming file, row, line, column and value if it is bad."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and ok(value)):
        raise ScenarioError(
            f"{path}: row {row} (line {line}), column {column!r}: value {text!r} is invalid, expected {expected}"
        )
    return value


def _layout(header: dict[str, str]) -> str:
    gpu_col = header["gpus"]
    return {"gpus": "minimal", "num_gpu": "elasticflow", "num_gpus": "philly"}.get(gpu_col, "custom")


def _read(path: str) -> TraceTable:
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as e:
        raise ScenarioError(f"trace file {path!r} cannot be read: {e.strerror}") from None
    with f:
        reader = csv.reader(f)
        try:
            names = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise ScenarioError(f"{path}: the trace file is empty; expected a header line") from None
        except UnicodeDecodeError:
            raise ScenarioError(f"{path}: not a UTF-8 text file") from None
        header: dict[str, str] = {}
        index: dict[str, int] = {}
        for role, options in COLUMNS.items():
            for name in options:
                if name in names:
                    header[role], index[role] = name, names.index(name)
                    break
        missing = [role for role in REQUIRED if role not in header]
        if missing:
            wanted = "; ".join(f"{r}: one of {', '.join(COLUMNS[r])}" for r in missing)
            raise ScenarioError(f"{path}: header {','.join(names)!r} lacks required columns ({wanted})")
        submit, duration, gpus, model, deadline = [], [], [], [], []
        row = 0
        try:
            for cells in reader:
                if not cells or all(not c.strip() for c in cells):
                    continue  # blank line
                row += 1
                line = reader.line_num
                if len(cells) < len(names):
                    raise ScenarioError(
                        f"{path}: row {row} (line {line}) has {len(cells)} columns, the header has {len(names)}"
                    )
                cell = {role: cells[i].strip() for role, i in index.items()}

                def get(role: str, expected: str, ok) -> float:
                    return _cell(path, row, line, header[role], cell[role], expected, ok)

                submit.append(get("submit", "a time >= 0 s", lambda v: v >= 0.0))
                duration.append(get("duration", "a duration > 0 s", lambda v: v > 0.0))
                gpus.append(get("gpus", "a whole number of GPUs >= 1", lambda v: v >= 1.0 and v == int(v)))
                model.append(cell.get("model", "").lower())
                has_deadline = cell.get("deadline", "") != ""
                deadline.append(get("deadline", "a time >= 0 s", lambda v: v >= 0.0) if has_deadline else math.nan)
        except UnicodeDecodeError:
            raise ScenarioError(f"{path}: line {reader.line_num + 1} is not UTF-8 text") from None
        except csv.Error as e:
            raise ScenarioError(f"{path}: line {reader.line_num}: malformed CSV ({e})") from None
    if row == 0:
        raise ScenarioError(f"{path}: the trace has a header but no job rows")
    arrays = dict(
        submit_s=np.array(submit, dtype=np.float64),
        duration_s=np.array(duration, dtype=np.float64),
        gpus=np.array(gpus, dtype=np.int32),
        model=np.array(model, dtype=object),
        deadline_s=np.array(deadline, dtype=np.float64),
    )
    for a in arrays.values():
        a.flags.writeable = False  # the table is cached and shared between episodes
    return TraceTable(path=path, layout=_layout(header), **arrays)


@functools.lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int, size: int) -> TraceTable:
    return _read(path)


def load_trace(path: str | Path) -> TraceTable:
    """Read a job-trace CSV (layouts in the module doc). Cached per file version, so resets are cheap.

    Raises ``ScenarioError`` naming the file, row number (1 = first job), line, column and value of the
    first malformed cell, or the missing columns.
    """
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except OSError:
        raise ScenarioError(f"trace file {str(p)!r} does not exist") from None
    if not p.is_file():
        raise ScenarioError(f"trace file {str(p)!r} is not a file")
    return _cached(str(p), st.st_mtime_ns, st.st_size)
