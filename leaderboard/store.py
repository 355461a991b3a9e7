"""The results store: SQLite, one row per evaluated episode, each written in its own transaction.

A row is keyed by everything that determines its result (suite and its hash, env hash, split, entry and
its hash, scenario, seed), so a crash mid-evaluation loses only the episodes in flight, a rerun skips
what is recorded, and nothing is ever recorded twice. Rows of older env or entry versions stay in the
file but are not shown. The default path is ``leaderboard/results.sqlite`` (``$ORBIT_ENV_RESULTS``).
A file that is empty, not SQLite or damaged is refused on opening, before anything is written to it;
the board opens the store read-only and creates nothing.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agents.confined import kind_of

DEFAULT_DB = Path(__file__).parent / "results.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    suite TEXT NOT NULL, suite_hash TEXT NOT NULL, env_hash TEXT NOT NULL, split TEXT NOT NULL,
    entry TEXT NOT NULL, entry_hash TEXT NOT NULL, scenario TEXT NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    reason TEXT NOT NULL DEFAULT '',
    metrics TEXT,
    wall_s REAL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (suite, suite_hash, env_hash, split, entry, entry_hash, scenario, seed)
);
CREATE TABLE IF NOT EXISTS entries (
    entry TEXT NOT NULL, entry_hash TEXT NOT NULL, kind TEXT NOT NULL, meta TEXT NOT NULL, recorded_at TEXT NOT NULL,
    PRIMARY KEY (entry, entry_hash)
);
"""


def default_db() -> Path:
    return Path(os.environ.get("ORBIT_ENV_RESULTS") or DEFAULT_DB)


@dataclass(frozen=True)
class Key:
    """Which suite/env version and split a set of rows belongs to."""

    suite: str
    suite_hash: str
    env_hash: str
    split: str


@dataclass(frozen=True)
class Row:
    entry: str
    entry_hash: str
    scenario: str
    seed: int
    status: str
    reason: str
    metrics: dict[str, float] | None
    wall_s: float | None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class StoreError(ValueError):
    """The results database cannot be used; the message names the file and what to do."""


REPAIR = "restore it from a backup, or move it away to start a new one (its entries are then evaluated again)"


def _guarded(method):
    """A database error in the middle of a run becomes a StoreError naming the file (nothing is half-written:
    each write is its own transaction)."""

    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"the results database {self.path} failed ({e}): {REPAIR}") from None

    return wrapped


class Store:
    """The results database at ``path``. Opened for evaluating, it is created if missing (atomically:
    the file appears with its tables, so an empty file is never one of ours); ``readonly`` (the board)
    never creates or changes anything, and a missing file reads as an empty store (``missing``). Either
    way the file is checked first: a file that is not a database, an empty one, or one with a damaged
    page is refused with a StoreError saying what to do, before anything is written."""

    def __init__(self, path: str | Path | None = None, readonly: bool = False):
        self.path = Path(path) if path is not None else default_db()
        self.missing = readonly and not os.path.lexists(self.path)
        try:
            if self.missing:
                self.conn = sqlite3.connect(":memory:")
                self.conn.executescript(SCHEMA)
                return
            if not readonly and not os.path.lexists(self.path):
                self._create()
            self._check_file()
            uri = f"file:{quote(str(self.path.absolute()))}" + ("?mode=ro" if readonly else "?mode=rw")
            self.conn = sqlite3.connect(uri, uri=True, timeout=60.0)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot open the results database {self.path}: {e}; check the --db path") from None
        try:
            self._check_content()
            if not readonly:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=FULL")
                with self.conn:
                    self.conn.executescript(SCHEMA)
        except StoreError:
            self.conn.close()
            raise
        except sqlite3.DatabaseError as e:
            self.conn.close()
            raise StoreError(f"{self.path} is not a usable results database ({e}): {REPAIR}") from None

    def _create(self) -> None:
        """A new database with its tables, built beside ``path`` and linked into place (never over a file
        that appeared meanwhile: another evaluation may be writing to it)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".", suffix=".new")
            os.close(fd)
        except OSError as e:
            raise StoreError(f"cannot create the results database {self.path}: {e.strerror}; pass a writable --db path") from None
        try:
            conn = sqlite3.connect(tmp)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                with conn:
                    conn.executescript(SCHEMA)
            finally:
                conn.close()
            os.link(tmp, self.path)
        except FileExistsError:
            pass
        except (OSError, sqlite3.DatabaseError) as e:
            raise StoreError(f"cannot create the results database {self.path}: {e}; pass a writable --db path") from None
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _check_file(self) -> None:
        """A regular, non-empty file (SQLite would block on a FIFO, and take an empty file for a new database)."""
        try:
            st = os.stat(self.path)
        except OSError as e:
            raise StoreError(f"cannot open the results database {self.path}: {e.strerror}; check the --db path") from None
        if not stat.S_ISREG(st.st_mode):
            raise StoreError(f"the results database {self.path} is {kind_of(st.st_mode)}, not a file; pass another --db path")
        if st.st_size == 0:
            raise StoreError(f"the results database {self.path} is an empty file (0 bytes), not a database: {REPAIR}")

    def _check_content(self) -> None:
        """Every page readable (SQLite's quick_check) and the tables, if any, the results store's."""
        problems = [r[0] for r in self.conn.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise StoreError(f"the results database {self.path} is damaged ({'; '.join(problems)}): {REPAIR}")
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and not {"episodes", "entries"} <= tables:
            theirs = ", ".join(sorted(tables))
            raise StoreError(f"{self.path} is an SQLite database but not a results store (its tables: {theirs}); pass another --db path")

    def close(self) -> None:
        self.conn.close()

    @_guarded
    def add_entry(self, name: str, entry_hash: str, kind: str, meta: dict[str, Any]) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?)", (name, entry_hash, kind, json.dumps(meta, sort_keys=True), _now())
            )

    @_guarded
    def record(self, key: Key, row: Row) -> None:
        """Write one episode's result in its own transaction (a duplicate is ignored, never doubled)."""
        with self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO episodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key.suite, key.suite_hash, key.env_hash, key.split, row.entry, row.entry_hash, row.scenario, row.seed,
                 row.status, row.reason, None if row.metrics is None else json.dumps(row.metrics), row.wall_s, _now()),
            )  # fmt: skip

    @_guarded
    def rows(self, key: Key, entry: str | None = None, entry_hash: str | None = None) -> list[Row]:
        """Rows of ``key``, optionally of one entry version, in a fixed order."""
        sql = "SELECT entry, entry_hash, scenario, seed, status, reason, metrics, wall_s FROM episodes WHERE suite=? AND suite_hash=? AND env_hash=? AND split=?"
        args: list[Any] = [key.suite, key.suite_hash, key.env_hash, key.split]
        if entry is not None:
            sql, args = sql + " AND entry=?", [*args, entry]
        if entry_hash is not None:
            sql, args = sql + " AND entry_hash=?", [*args, entry_hash]
        cur = self.conn.execute(sql + " ORDER BY entry, entry_hash, scenario, seed", args)
        return [Row(e, h, sc, seed, st, r, None if m is None else json.loads(m), w) for e, h, sc, seed, st, r, m, w in cur]

    @_guarded
    def versions(self, key: Key) -> dict[str, str]:
        """Each entry evaluated under ``key`` -> its most recently recorded version (entry hash)."""
        cur = self.conn.execute(
            "SELECT entry, entry_hash FROM episodes WHERE suite=? AND suite_hash=? AND env_hash=? AND split=? "
            "GROUP BY entry, entry_hash ORDER BY MAX(recorded_at), entry_hash",
            (key.suite, key.suite_hash, key.env_hash, key.split),
        )
        return dict(cur.fetchall())

    @_guarded
    def meta(self, name: str, entry_hash: str) -> tuple[str, dict[str, Any]]:
        """(kind, metadata) recorded for an entry version."""
        row = self.conn.execute("SELECT kind, meta FROM entries WHERE entry=? AND entry_hash=?", (name, entry_hash)).fetchone()
        return (row[0], json.loads(row[1])) if row else ("?", {})

    @_guarded
    def forget_failures(self, key: Key, entry: str, entry_hash: str) -> int:
        """Delete an entry version's failure rows so that it is evaluated again; returns how many."""
        with self.conn:
            cur = self.conn.execute(
                "DELETE FROM episodes WHERE suite=? AND suite_hash=? AND env_hash=? AND split=? AND entry=? AND entry_hash=? AND status='failed'",
                (key.suite, key.suite_hash, key.env_hash, key.split, entry, entry_hash),
            )
        return cur.rowcount
