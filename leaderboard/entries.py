"""What the leaderboard evaluates: the baseline heuristics, the planners (suite v2, on a subset of the seeds)
and the submissions under ``submissions/``.

A submission is data confined to its folder: ``submission.toml`` (metadata + what to run) and, for
learned policies, a safetensors file with its JSON spec (see SUBMISSIONS.md). This module reads the TOML
(a data format), checks it, and hashes the folder's files; every file is read with
``agents.confined`` (regular files inside the folder only, size limited), and anything else in the
folder (a link, a pipe, a device) makes the submission invalid. The policy files are loaded by the
worker process, never here. An invalid submission becomes an entry that carries its error, so it is
recorded as a failure and the evaluation goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import agents
from agents.confined import MIB, UnsafeFileError, list_confined, read_confined, relative_parts
from agents.heuristics import HEURISTICS, check_params
from agents.learned import WEIGHTS_LIMIT
from agents.planner import PLANNERS
from leaderboard.suite import BOUND, V2_TASKS, tree_hash
from orbit_env.scenario import shipped_scenarios

SUBMISSIONS_DIR = Path(__file__).parent / "submissions"
KINDS = ("heuristic", "safetensors")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
REQUIRED = {
    "name": str, "kind": str, "authors": list, "description": str, "orbit_env_version": str, "env_modified": bool,
    "deterministic": bool, "tuned_on": str, "tuning": str, "hardware": str,
}  # fmt: skip
OPTIONAL = {"training_env_steps": int, "url": str, "scenarios": list}
POLICY_FIELDS = {  # kind -> (required, optional) fields of [policy]
    "heuristic": ({"heuristic": str}, {"params": dict}),
    "safetensors": ({"spec": str}, {"specs": dict}),
}
TOML_LIMIT = MIB  # the shipped submission.toml files are under 3 KiB
MAX_FILES = 1000  # files in a submission folder (ppo-bc: 17)
MAX_FOLDER_BYTES = 256 * MIB  # all of a folder's files together (ppo-bc: 1.9 MiB); each at most WEIGHTS_LIMIT


class SubmissionError(ValueError):
    """A submission.toml is unreadable or incomplete; the message says which field and what is expected."""


@dataclass(frozen=True)
class Entry:
    """One row of the board. ``kind`` is ``baseline`` (a shipped heuristic with its defaults),
    ``heuristic`` (a shipped heuristic with submitted parameters) or ``safetensors`` (a network).
    ``error`` is set when the submission could not be read; it is then recorded as a failure."""

    name: str
    kind: str
    heuristic: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    specs: dict[str, str] = field(default_factory=dict)  # scenario or "*" -> spec path inside ``folder``
    scenarios: tuple[str, ...] = ()  # the scenarios it plays; empty: all of the suite
    seeds: int = 0  # > 0: only the first this many seeds of each scenario (an entry too costly for all); 0: all
    folder: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    files: str = ""  # hash of the folder's files, taken when the submission was read

    def task(self) -> dict[str, Any]:
        """What a worker needs to build the policy (JSON)."""
        return {"name": self.name, "kind": self.kind, "heuristic": self.heuristic, "params": self.params,
                "specs": self.specs, "folder": self.folder}  # fmt: skip

    @property
    def hash(self) -> str:
        """Identity of what is evaluated: the definition, the policy files and the agents code that runs them."""
        definition = {**self.task(), "folder": "", "scenarios": self.scenarios, "error": self.error}
        if self.seeds:  # only then: the hashes of entries on every seed, and their stored rows, stay as they were
            definition["seeds"] = self.seeds
        h = hashlib.sha256(json.dumps(definition, sort_keys=True).encode())
        h.update(tree_hash(Path(agents.__file__).parent, ("*.py",)).encode())
        if self.folder:
            h.update(self.files.encode())
        return h.hexdigest()[:12]


def _summary(cls) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0]


def baselines() -> list[Entry]:
    """Every shipped heuristic with its default parameters."""
    return [Entry(name, "baseline", heuristic=name, meta={"description": _summary(cls)}) for name, cls in HEURISTICS.items()]


# The planners (agents.planner) cost 1-4 min per 1,440-step episode of a 16-24-satellite scenario and ~15 min of
# combined-walker-120 on one core (docs/planner.md), against ~0.5 s for a heuristic: they run on the first
# PLANNER_SEEDS test seeds of each scenario (their board says so), and only on the suites named here. Only the
# decentralised planner is on the board: the centralised one doubles that cost and planned the same actions on
# every episode measured (docs/planner.md); `orbit-env evaluate planner-central` runs it.
PLANNER_SEEDS = 2
PLANNER_SUITES = ("v2",)
BOARD_PLANNERS = ("planner",)
# combined-walker-120's episodes cost the planner 6-15 CPU-min each, above the board's 600 s per episode: the
# planners play the other scenarios (the board shows "-" there); benchmarks/planner.py measures it on 120 steps.
PLANNER_SCENARIOS = tuple(t.scenario for t in V2_TASKS if t.scenario != "combined-walker-120")


def planners(names=BOARD_PLANNERS) -> list[Entry]:
    """The planners ``names`` as baselines on the first ``PLANNER_SEEDS`` seeds of each scenario (recorded in
    their metadata, which the board reads)."""
    return [
        Entry(name, "baseline", heuristic=name, seeds=PLANNER_SEEDS, scenarios=PLANNER_SCENARIOS,
              meta={"description": _summary(cls), "seeds": PLANNER_SEEDS, "scenarios": list(PLANNER_SCENARIOS)})
        for name, cls in PLANNERS.items() if name in names
    ]


def _check(table: dict, spec: dict[str, type], where: str, required: bool) -> None:
    for key, typ in spec.items():
        if key not in table:
            if required:
                raise SubmissionError(f"{where}: missing field {key!r} (a {typ.__name__}); see leaderboard/SUBMISSIONS.md")
        elif not isinstance(table[key], typ) or (typ is int and isinstance(table[key], bool)):
            raise SubmissionError(f"{where}: {key} = {table[key]!r} must be a {typ.__name__}")


def _no_unknown(table: dict, known, where: str) -> None:
    """A misspelt field (``scenario`` for ``scenarios``) would otherwise be ignored without a word."""
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise SubmissionError(f"{where}: unknown field {', '.join(map(repr, unknown))}; the fields are {', '.join(known)}")


def _inside(rel: Any, where: str) -> str:
    """A relative path that stays inside the submission folder."""
    try:
        relative_parts(rel, "path")
    except UnsafeFileError:
        raise SubmissionError(f"{where}: {rel!r} must be a relative path inside the submission folder") from None
    return rel


def folder_hash(folder: Path) -> str:
    """sha256 over the relative paths and contents of a submission's files (as ``suite.tree_hash`` of the
    folder would give), each read as a regular file inside it; UnsafeFileError for anything else."""
    h = hashlib.sha256()
    for rel, _ in list_confined(folder, MAX_FILES, MAX_FOLDER_BYTES, "submission folder"):
        h.update(rel.encode() + b"\0" + read_confined(folder, rel, WEIGHTS_LIMIT, "submission file") + b"\0")
    return h.hexdigest()[:12]


def _parse(toml: Path) -> dict:
    """The TOML document of a submission.toml read as a regular file inside its folder, size limited."""
    try:
        text = read_confined(toml.parent, toml.name, TOML_LIMIT, "submission file").decode()
    except FileNotFoundError:
        raise SubmissionError(f"{toml} not found: a submission is a folder with a submission.toml") from None
    except UnsafeFileError as e:
        raise SubmissionError(str(e)) from None
    except UnicodeDecodeError as e:
        raise SubmissionError(f"{toml} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}); TOML is UTF-8") from None
    except OSError as e:
        raise SubmissionError(f"cannot read {toml}: {e.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SubmissionError(f"{toml} is not valid TOML: {e}") from None
    except RecursionError:
        raise SubmissionError(f"{toml} is not valid TOML: nested too deeply") from None


def read_submission(folder: Path) -> Entry:
    """The entry of a submission folder (or its submission.toml); raises SubmissionError if it is invalid."""
    folder = Path(folder)
    toml = folder if folder.suffix == ".toml" else folder / "submission.toml"
    folder = toml.parent
    doc = _parse(toml)
    meta, policy = doc.get("submission"), doc.get("policy")
    if not isinstance(meta, dict) or not isinstance(policy, dict):
        raise SubmissionError(f"{toml}: needs a [submission] table and a [policy] table; copy leaderboard/SUBMISSION_TEMPLATE.toml")
    _no_unknown(doc, ("submission", "policy"), str(toml))
    _no_unknown(meta, (*REQUIRED, *OPTIONAL), f"{toml} [submission]")
    _check(meta, REQUIRED, f"{toml} [submission]", True)
    _check(meta, OPTIONAL, f"{toml} [submission]", False)
    if not NAME_RE.match(meta["name"]):
        raise SubmissionError(f"{toml}: name {meta['name']!r} must be lower-case letters, digits and '-' (at most 64)")
    if meta["name"] in HEURISTICS or meta["name"] in PLANNERS or meta["name"] == BOUND:
        raise SubmissionError(f"{toml}: name {meta['name']!r} is taken by a baseline or the upper bound; choose another")
    if not meta["authors"] or not all(isinstance(a, str) and a.strip() for a in meta["authors"]):
        raise SubmissionError(f"{toml}: authors = {meta['authors']!r} must be a list of names")
    if meta.get("training_env_steps", 0) < 0:
        raise SubmissionError(f"{toml}: training_env_steps = {meta['training_env_steps']} must be >= 0")
    scenarios = tuple(meta.get("scenarios", ()))
    unknown = [sc for sc in scenarios if not isinstance(sc, str) or sc not in shipped_scenarios()]
    if unknown or (meta.get("scenarios") is not None and not scenarios):
        raise SubmissionError(f"{toml}: scenarios = {list(scenarios)} must name shipped scenarios: {', '.join(shipped_scenarios())}")
    kind = meta["kind"]
    if kind not in KINDS:
        raise SubmissionError(f"{toml}: kind = {kind!r} is not one of {', '.join(KINDS)}")
    where = f"{toml} [policy]"
    required, optional = POLICY_FIELDS[kind]
    _no_unknown(policy, (*required, *optional), f"{where} (kind = {kind!r})")
    _check(policy, required, where, True)
    _check(policy, optional, where, False)
    try:
        common = {"folder": str(folder), "meta": meta, "scenarios": scenarios, "files": folder_hash(folder)}
    except UnsafeFileError as e:
        raise SubmissionError(str(e)) from None
    except OSError as e:
        raise SubmissionError(f"cannot read {e.filename} in the submission folder: {e.strerror}") from None
    if kind == "heuristic":
        params = policy.get("params", {})
        try:  # a heuristic only the worker knows (tests register some) still gets numbers: they go out as JSON
            if policy["heuristic"] in HEURISTICS or policy["heuristic"] in PLANNERS:
                check_params(policy["heuristic"], params)
            elif any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in params.values()):
                raise ValueError(f"params = {params!r} must all be numbers")
        except ValueError as e:
            raise SubmissionError(f"{where}: {e}") from None
        return Entry(meta["name"], kind, heuristic=policy["heuristic"], params=params, **common)
    bad = [sc for sc in policy.get("specs", {}) if sc not in shipped_scenarios()]
    if bad:
        raise SubmissionError(f"{where}: specs names {', '.join(map(repr, bad))}, not shipped scenarios: {', '.join(shipped_scenarios())}")
    specs = {"*": _inside(policy["spec"], where)}
    specs.update({sc: _inside(rel, where) for sc, rel in policy.get("specs", {}).items()})
    return Entry(meta["name"], kind, specs=specs, **common)


def invalid(folder: Path, error: str) -> Entry:
    """An entry for a submission that cannot be evaluated, named after its folder with a trailing '/': no
    valid name has one, so its recorded failure can never be taken for a baseline's or another entry's."""
    return Entry(f"{folder.name}/", "invalid", folder="", error=error)


def submission_entry(folder: Path) -> Entry:
    """``read_submission``, but an invalid submission becomes an entry that carries its error."""
    try:
        return read_submission(folder)
    except SubmissionError as e:
        folder = Path(folder)
        return invalid(folder.parent if folder.suffix == ".toml" else folder, str(e))


def unique(entries: list[Entry]) -> list[Entry]:
    """The entries without exact repeats; entries of different folders that share a name all become invalid,
    each naming every folder, so that neither reaches the board in the other's place."""
    entries = [e for i, e in enumerate(entries) if e not in entries[:i]]
    folders: dict[str, list[str]] = {}
    for e in entries:
        if e.folder:  # a readable submission (baselines and invalid entries have none)
            folders.setdefault(e.name, []).append(e.folder)
    return [
        invalid(Path(e.folder), f"{len(folders[e.name])} submission folders declare name {e.name!r}: "
                f"{', '.join(folders[e.name])}; each submission needs a name of its own")  # fmt: skip
        if len(folders.get(e.name, ())) > 1 else e
        for e in entries
    ]


def registered(submissions_dir: Path = SUBMISSIONS_DIR, suite: str = "") -> list[Entry]:
    """The baselines (with the planners on ``suite`` if it is one of PLANNER_SUITES), then every folder under
    ``submissions_dir`` that has a submission.toml (a folder that is a symbolic link is refused: its files
    would live outside the submissions)."""
    entries = baselines() + (planners() if suite in PLANNER_SUITES else [])
    for d in sorted(Path(submissions_dir).iterdir()):
        if d.is_symlink() and d.is_dir():
            entries.append(invalid(d, f"{d} is a symbolic link: a submission is a folder of its own under {submissions_dir}"))
        elif d.is_dir() and os.path.lexists(d / "submission.toml"):
            entries.append(submission_entry(d))
    return unique(entries)


def resolve(name_or_path: str) -> Entry:
    """A baseline by name, or a submission by folder / submission.toml path."""
    if name_or_path in HEURISTICS:
        return next(e for e in baselines() if e.name == name_or_path)
    if name_or_path in PLANNERS:  # on a subset of the seeds (cost, docs/planner.md)
        return next(e for e in planners(PLANNERS) if e.name == name_or_path)
    path = Path(name_or_path)
    if path.exists():
        return submission_entry(path)
    raise SubmissionError(
        f"{name_or_path!r} is neither a baseline ({', '.join(HEURISTICS)}) nor a submission folder; "
        "see leaderboard/SUBMISSIONS.md"
    )
