"""The local job registry: every launched job and a copy of its events, in SQLite (WAL) in the user data dir.

A follower stores a batch of events together with the new byte offset and last seq in one transaction, so a
crash between two polls neither loses nor duplicates an event, and history stays readable offline.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from studio.paths import data_dir, tighten
from studio.remote.errors import JobNotFoundError
from worker.contract import Event

REGISTRY_FILE = "registry.sqlite3"
# One encoder for every stored event (catch-up stores ~100k events in a go; the per-call set-up adds up).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
FINAL_STATES = frozenset({"finished", "failed", "cancelled", "lost"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL,
    launcher TEXT NOT NULL,
    remote_dir TEXT NOT NULL,
    plan_summary TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'queued',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    slurm_job_id TEXT,
    pid INTEGER,
    exit_code INTEGER,
    offset INTEGER NOT NULL DEFAULT 0,
    last_seq INTEGER NOT NULL DEFAULT -1,
    message TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    json TEXT NOT NULL,
    UNIQUE (job_id, seq)
);
CREATE INDEX IF NOT EXISTS events_job_kind ON events (job_id, kind, seq);
CREATE TABLE IF NOT EXISTS warnings (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    time REAL NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    json TEXT NOT NULL
);
"""


@dataclass
class JobRecord:
    """A row of the jobs table."""

    id: str
    name: str
    host: str
    launcher: str
    remote_dir: str
    plan_summary: dict[str, Any]
    state: str
    created_at: float
    updated_at: float
    slurm_job_id: str | None
    pid: int | None
    exit_code: int | None
    offset: int
    last_seq: int
    message: str

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


class JobRegistry:
    """Jobs and their cached events. Safe to share between threads (one connection, serialised)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else data_dir() / REGISTRY_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._db:
            self._db.executescript(_SCHEMA)
        for suffix in ("", "-wal", "-shm"):  # the registry and its write-ahead files: the owner's only
            tighten(self.path.with_name(self.path.name + suffix), 0o600)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "JobRegistry":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # jobs ---------------------------------------------------------------------------------------------------
    def add_job(self, job) -> None:
        """Record a launched job (a ``LaunchedJob`` or anything with the same attributes)."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO jobs (id, name, host, launcher, remote_dir, plan_summary, state, created_at, updated_at,"
                " slurm_job_id, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.job_id, job.name or "", job.host, job.launcher, job.job_dir,
                 json.dumps(job.plan_summary or {}), "queued" if job.launcher == "slurm" else "starting",
                 now, now, job.slurm_job_id, job.pid),
            )

    def get(self, job_id: str) -> JobRecord:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(job_id)
        return _record(row)

    def find(self, text: str) -> JobRecord:
        """A job by id, unique id prefix, or exact name."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE id = ? OR id LIKE ? ESCAPE '\\' OR name = ? ORDER BY created_at",
                (text, text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", text),
            ).fetchall()
        exact = [r for r in rows if r[0] == text]
        if exact:
            return _record(exact[0])
        if len(rows) == 1:
            return _record(rows[0])
        raise JobNotFoundError(text)

    def jobs(self) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY created_at DESC").fetchall()
        return [_record(r) for r in rows]

    def set_state(self, job_id: str, state: str, *, exit_code: int | None = None, message: str | None = None) -> None:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE jobs SET state = ?, updated_at = ?, exit_code = COALESCE(?, exit_code),"
                " message = COALESCE(?, message) WHERE id = ?",
                (state, time.time(), exit_code, message, job_id),
            )

    # follower warnings ----------------------------------------------------------------------------------------
    def add_warning(self, job_id: str, text: str) -> None:
        """Record what a follower noticed about a job's event log (truncated, gone, seq gaps...)."""
        with self._lock, self._db:
            self._db.execute("INSERT INTO warnings (job_id, time, text) VALUES (?, ?, ?)", (job_id, time.time(), text))

    def warnings(self, job_id: str) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT text FROM warnings WHERE job_id = ? ORDER BY rowid", (job_id,)).fetchall()
        return [r[0] for r in rows]

    # events -------------------------------------------------------------------------------------------------
    def append_events(self, job_id: str, events: Iterable[Event], offset: int, last_seq: int,
                      state: str | None = None) -> None:
        """Store events and the follower's new position in one transaction."""
        encode = _ENCODER.encode
        rows = [(job_id, e.seq, e.time, e.kind, encode(e.to_dict())) for e in events]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO events (job_id, seq, time, kind, json) VALUES (?, ?, ?, ?, ?)", rows
            )
            self._db.execute(
                "UPDATE jobs SET offset = ?, last_seq = MAX(last_seq, ?), updated_at = ?,"
                " state = COALESCE(?, state) WHERE id = ?",
                (offset, last_seq, time.time(), state, job_id),
            )

    def events(self, job_id: str, *, after_seq: int = -1, kind: str | None = None) -> list[Event]:
        sql = "SELECT json FROM events WHERE job_id = ? AND seq > ?"
        args: list[Any] = [job_id, after_seq]
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        return [Event.from_dict(json.loads(r[0])) for r in rows]

    # sweeps (pilot sweeps and plan comparisons: groups of jobs with their design) ----------------------------
    def save_sweep(self, sweep_id: str, kind: str, document: dict[str, Any]) -> None:
        """Insert or replace a sweep's document (its design and its members' job ids)."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO sweeps (id, kind, created_at, updated_at, json) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at",
                (sweep_id, kind, now, now, json.dumps(document, ensure_ascii=False)),
            )

    def sweep(self, sweep_id: str) -> tuple[str, dict[str, Any]] | None:
        """(kind, document) of a sweep, or None."""
        with self._lock:
            row = self._db.execute("SELECT kind, json FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def sweeps(self, kind: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, kind, document) of every sweep, newest first."""
        sql, args = "SELECT id, kind, json FROM sweeps", []
        if kind:
            sql, args = sql + " WHERE kind = ?", [kind]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created_at DESC", args).fetchall()
        return [(r[0], r[1], json.loads(r[2])) for r in rows]

    def event_count(self, job_id: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM events WHERE job_id = ?", (job_id,)).fetchone()[0]


_COLUMNS = (
    "id, name, host, launcher, remote_dir, plan_summary, state, created_at, updated_at, slurm_job_id, pid,"
    " exit_code, offset, last_seq, message"
)


def _record(row) -> JobRecord:
    values = list(row)
    values[5] = json.loads(values[5] or "{}")
    return JobRecord(*values)
