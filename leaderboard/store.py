"""The results store: SQLite, one row per evaluated episode, each written in its own transaction.

A row is keyed by everything that determines its result (suite and its hash, env hash, split, entry and
its hash, scenario, seed), so a crash mid-evaluation loses only the episodes in flight, a rerun skips
what is recorded, and nothing is ever recorded twice. Rows of older env or entry versions stay in the
file but are not shown. The default path is ``leaderboard/results.sqlite`` (``$ORBIT_ENV_RESULTS``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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


class Store:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_db()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=60.0)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            with self.conn:
                self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ValueError(f"{self.path} is not a usable results database ({e}); pass another path with --db") from None

    def close(self) -> None:
        self.conn.close()

    def add_entry(self, name: str, entry_hash: str, kind: str, meta: dict[str, Any]) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?)", (name, entry_hash, kind, json.dumps(meta, sort_keys=True), _now())
            )

    def record(self, key: Key, row: Row) -> None:
        """Write one episode's result in its own transaction (a duplicate is ignored, never doubled)."""
        with self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO episodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key.suite, key.suite_hash, key.env_hash, key.split, row.entry, row.entry_hash, row.scenario, row.seed,
                 row.status, row.reason, None if row.metrics is None else json.dumps(row.metrics), row.wall_s, _now()),
            )  # fmt: skip

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

    def versions(self, key: Key) -> dict[str, str]:
        """Each entry evaluated under ``key`` -> its most recently recorded version (entry hash)."""
        cur = self.conn.execute(
            "SELECT entry, entry_hash FROM episodes WHERE suite=? AND suite_hash=? AND env_hash=? AND split=? "
            "GROUP BY entry, entry_hash ORDER BY MAX(recorded_at), entry_hash",
            (key.suite, key.suite_hash, key.env_hash, key.split),
        )
        return dict(cur.fetchall())

    def meta(self, name: str, entry_hash: str) -> tuple[str, dict[str, Any]]:
        """(kind, metadata) recorded for an entry version."""
        row = self.conn.execute("SELECT kind, meta FROM entries WHERE entry=? AND entry_hash=?", (name, entry_hash)).fetchone()
        return (row[0], json.loads(row[1])) if row else ("?", {})

    def forget_failures(self, key: Key, entry: str, entry_hash: str) -> int:
        """Delete an entry version's failure rows so that it is evaluated again; returns how many."""
        with self.conn:
            cur = self.conn.execute(
                "DELETE FROM episodes WHERE suite=? AND suite_hash=? AND env_hash=? AND split=? AND entry=? AND entry_hash=? AND status='failed'",
                (key.suite, key.suite_hash, key.env_hash, key.split, entry, entry_hash),
            )
        return cur.rowcount
