"""What the leaderboard evaluates: the baseline heuristics and the submissions under ``submissions/``.

A submission is data: ``submission.toml`` (metadata + what to run) and, for learned policies, a
safetensors file with its JSON spec (see SUBMISSIONS.md). This module only reads the TOML (a data
format) and checks it; the policy files are opened by the worker process, never here.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import agents
from agents.heuristics import HEURISTICS
from leaderboard.suite import BOUND, tree_hash
from orbit_env.scenario import shipped_scenarios

SUBMISSIONS_DIR = Path(__file__).parent / "submissions"
KINDS = ("heuristic", "safetensors")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
REQUIRED = {
    "name": str, "kind": str, "authors": list, "description": str, "orbit_env_version": str, "env_modified": bool,
    "deterministic": bool, "tuned_on": str, "tuning": str, "hardware": str,
}  # fmt: skip
OPTIONAL = {"training_env_steps": int, "url": str, "scenarios": list}


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
    folder: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def task(self) -> dict[str, Any]:
        """What a worker needs to build the policy (JSON)."""
        return {"name": self.name, "kind": self.kind, "heuristic": self.heuristic, "params": self.params,
                "specs": self.specs, "folder": self.folder}  # fmt: skip

    @property
    def hash(self) -> str:
        """Identity of what is evaluated: the definition, the policy files and the agents code that runs them."""
        definition = {**self.task(), "folder": "", "scenarios": self.scenarios, "error": self.error}
        h = hashlib.sha256(json.dumps(definition, sort_keys=True).encode())
        h.update(tree_hash(Path(agents.__file__).parent, ("*.py",)).encode())
        if self.folder:
            h.update(tree_hash(Path(self.folder), ("*",)).encode())
        return h.hexdigest()[:12]


def baselines() -> list[Entry]:
    """Every shipped heuristic with its default parameters."""
    return [
        Entry(name, "baseline", heuristic=name, meta={"description": (cls.__doc__ or "").strip().splitlines()[0]})
        for name, cls in HEURISTICS.items()
    ]


def _check(table: dict, spec: dict[str, type], where: str, required: bool) -> None:
    for key, typ in spec.items():
        if key not in table:
            if required:
                raise SubmissionError(f"{where}: missing field {key!r} (a {typ.__name__}); see leaderboard/SUBMISSIONS.md")
        elif not isinstance(table[key], typ) or (typ is int and isinstance(table[key], bool)):
            raise SubmissionError(f"{where}: {key} = {table[key]!r} must be a {typ.__name__}")


def _inside(folder: Path, rel: Any, where: str) -> str:
    """A relative path that stays inside the submission folder."""
    if not isinstance(rel, str) or not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise SubmissionError(f"{where}: {rel!r} must be a relative path inside the submission folder")
    return rel


def read_submission(folder: Path) -> Entry:
    """The entry of a submission folder (or its submission.toml); raises SubmissionError if it is invalid."""
    folder = Path(folder)
    toml = folder if folder.suffix == ".toml" else folder / "submission.toml"
    folder = toml.parent
    try:
        doc = tomllib.loads(toml.read_text())
    except FileNotFoundError:
        raise SubmissionError(f"{toml} not found: a submission is a folder with a submission.toml") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SubmissionError(f"{toml} is not valid TOML: {e}") from None
    meta, policy = doc.get("submission"), doc.get("policy")
    if not isinstance(meta, dict) or not isinstance(policy, dict):
        raise SubmissionError(f"{toml}: needs a [submission] table and a [policy] table; copy leaderboard/SUBMISSION_TEMPLATE.toml")
    _check(meta, REQUIRED, f"{toml} [submission]", True)
    _check(meta, OPTIONAL, f"{toml} [submission]", False)
    if not NAME_RE.match(meta["name"]):
        raise SubmissionError(f"{toml}: name {meta['name']!r} must be lower-case letters, digits and '-' (at most 64)")
    if meta["name"] in HEURISTICS or meta["name"] == BOUND:
        raise SubmissionError(f"{toml}: name {meta['name']!r} is taken by a baseline or the upper bound; choose another")
    scenarios = tuple(meta.get("scenarios", ()))
    unknown = [sc for sc in scenarios if sc not in shipped_scenarios()]
    if unknown or (meta.get("scenarios") is not None and not scenarios):
        raise SubmissionError(f"{toml}: scenarios = {list(scenarios)} must name shipped scenarios: {', '.join(shipped_scenarios())}")
    common = {"folder": str(folder), "meta": meta, "scenarios": scenarios}
    kind = meta["kind"]
    where = f"{toml} [policy]"
    if kind == "heuristic":
        _check(policy, {"heuristic": str}, where, True)
        _check(policy, {"params": dict}, where, False)
        return Entry(meta["name"], kind, heuristic=policy["heuristic"], params=policy.get("params", {}), **common)
    if kind == "safetensors":
        _check(policy, {"spec": str}, where, True)
        _check(policy, {"specs": dict}, where, False)
        specs = {"*": _inside(folder, policy["spec"], where)}
        specs.update({sc: _inside(folder, rel, where) for sc, rel in policy.get("specs", {}).items()})
        return Entry(meta["name"], kind, specs=specs, **common)
    raise SubmissionError(f"{toml}: kind = {kind!r} is not one of {', '.join(KINDS)}")


def submission_entry(folder: Path) -> Entry:
    """``read_submission``, but an invalid submission becomes an entry that carries its error."""
    try:
        return read_submission(folder)
    except SubmissionError as e:
        folder = Path(folder)
        return Entry((folder.parent if folder.suffix == ".toml" else folder).name, "invalid", folder="", error=str(e))


def registered(submissions_dir: Path = SUBMISSIONS_DIR) -> list[Entry]:
    """The baselines, then every folder under ``submissions_dir`` that has a submission.toml."""
    folders = sorted(p.parent for p in Path(submissions_dir).glob("*/submission.toml"))
    return baselines() + [submission_entry(f) for f in folders]


def resolve(name_or_path: str) -> Entry:
    """A baseline by name, or a submission by folder / submission.toml path."""
    if name_or_path in HEURISTICS:
        return next(e for e in baselines() if e.name == name_or_path)
    path = Path(name_or_path)
    if path.exists():
        return submission_entry(path)
    raise SubmissionError(
        f"{name_or_path!r} is neither a baseline ({', '.join(HEURISTICS)}) nor a submission folder; "
        "see leaderboard/SUBMISSIONS.md"
    )
