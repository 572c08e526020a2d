"""The contract between the studio and a running job: the job directory, its event log, and the job spec.

This is the one source of truth for both halves: the worker writes these files, the studio (``studio.remote``,
``studio.ui``) reads them through this module. Standard library only, so the studio can import it without torch.

Job directory layout (see DESIGN.md)::

    <root>/<job-id>/
      job.json       the job spec         events.jsonl  append-only event log, one JSON object a line
      status.json    heartbeat (atomic)   logs/         stdout/stderr of each rank
      checkpoints/   resumable shards     final/        the tuned model (save_pretrained layout)
      eval/          predictions, scores  exit_code     written when the job ends
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

# --------------------------------------------------------------------------------------------------------------
# Job directory
# --------------------------------------------------------------------------------------------------------------
JOB_FILE = "job.json"
EVENTS_FILE = "events.jsonl"
STATUS_FILE = "status.json"
EXIT_CODE_FILE = "exit_code"
PID_FILE = "pid"
LOGS_DIR = "logs"
CHECKPOINTS_DIR = "checkpoints"
FINAL_DIR = "final"
EVAL_DIR = "eval"

# --------------------------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------------------------
EVENT_VERSION = 1
EVENT_KINDS = frozenset(
    {"status", "data", "train", "eval", "alignment", "checkpoint", "log", "error", "done"}
)
# Fields every event of a kind carries (beyond v, seq, time, kind). Readers tolerate extra fields.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "status": ("state",),
    "data": (),
    "train": ("step", "loss"),
    "eval": ("step", "lang", "direction", "metric", "value"),
    "alignment": ("step", "metric", "langs", "layers", "matrix"),
    "checkpoint": ("step",),
    "log": ("message",),
    "error": ("message",),
    "done": ("exit_code",),
}
# Job states, as written in status.json and `status` events. `lost` is decided by a reader, never written.
JOB_STATES = ("queued", "starting", "running", "evaluating", "checkpointing", "finished", "failed", "cancelled")


class EventFormatError(ValueError):
    """A line of events.jsonl that is not a valid event."""


@dataclass(frozen=True)
class Event:
    """One line of ``events.jsonl``: ``{"v": 1, "seq": n, "time": unix_s, "kind": ..., **data}``."""

    seq: int
    time: float
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"v": EVENT_VERSION, "seq": self.seq, "time": self.time, "kind": self.kind, **self.data}

    def to_json_line(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, obj: Any) -> "Event":
        if not isinstance(obj, dict):
            raise EventFormatError("an event must be a JSON object")
        try:
            seq, stamp, kind = obj["seq"], obj["time"], obj["kind"]
        except KeyError as exc:
            raise EventFormatError(f"event without {exc.args[0]!r}") from None
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise EventFormatError(f"event seq must be a non-negative integer, got {seq!r}")
        if not isinstance(stamp, (int, float)) or not math.isfinite(stamp):
            raise EventFormatError(f"event time must be a number, got {stamp!r}")
        if kind not in EVENT_KINDS:
            raise EventFormatError(f"unknown event kind {kind!r}")
        data = {k: v for k, v in obj.items() if k not in ("v", "seq", "time", "kind")}
        missing = [name for name in REQUIRED_FIELDS[kind] if name not in data]
        if missing:
            raise EventFormatError(f"{kind} event #{seq} lacks {', '.join(missing)}")
        return cls(seq=seq, time=float(stamp), kind=kind, data=data)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def parse_event_line(line: str | bytes) -> Event:
    """Parse one complete line of events.jsonl; raise ``EventFormatError`` when it is not a valid event."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventFormatError(f"not JSON: {exc}") from None
    return Event.from_dict(obj)


class EventLog:
    """Append-only writer of ``events.jsonl``; ``seq`` continues after the last event already in the file.

    Each event is written with a single ``write`` on an ``O_APPEND`` descriptor, so a line is never interleaved
    with another writer's and a reader sees either the whole line or a prefix of it. A partial last line left by a
    crash is terminated on open so that the next event starts on a line of its own (readers skip the broken one).
    Only rank 0 of a distributed job writes events.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._next_seq = last_seq(self.path) + 1
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if self.path.stat().st_size and not _ends_with_newline(self.path):
            os.write(self._fd, b"\n")

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def emit(self, kind: str, **data: Any) -> Event:
        """Write one event and return it. Non-finite floats are written as null (JSON has no NaN)."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        event = Event(seq=self._next_seq, time=time.time(), kind=kind, data=_finite(data))
        os.write(self._fd, event.to_json_line().encode("utf-8"))
        if self._fsync:
            os.fsync(self._fd)
        self._next_seq += 1
        return event

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "EventLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventStream:
    """Incremental decoder of an event log read by byte offset, for followers that poll or reconnect.

    Feed it the bytes that follow ``offset``; it returns the complete, valid, not-yet-seen events, holds back a
    partial last line, skips malformed lines (counted in ``skipped``), and drops any event whose seq is not above
    the last one delivered, so re-reading a range after a reconnect never duplicates an event.
    """

    def __init__(self, offset: int = 0, last_seq: int = -1):
        self.offset = offset
        self.last_seq = last_seq
        self.skipped = 0
        self._pending = b""

    def feed(self, chunk: bytes) -> list[Event]:
        buffer = self._pending + chunk
        events: list[Event] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if not line.strip():
                continue
            try:
                event = parse_event_line(line)
            except EventFormatError:
                self.skipped += 1
                continue
            if event.seq > self.last_seq:
                events.append(event)
                self.last_seq = event.seq
        self.offset += start  # the buffer began at the old offset
        self._pending = buffer[start:]
        return events

    def reset_partial(self) -> None:
        """Forget a held-back partial line (call after reconnecting, before reading again from ``offset``)."""
        self._pending = b""


def read_events(path: str | os.PathLike[str]) -> list[Event]:
    """All valid events of a log file, in order (partial last line and malformed lines skipped)."""
    stream = EventStream()
    with open(path, "rb") as fh:
        return stream.feed(fh.read())


def iter_events(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Event]:
    for path in paths:
        yield from read_events(path)


def last_seq(path: str | os.PathLike[str]) -> int:
    """The seq of the last valid event in the file, or -1 when there is none (or no file)."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return -1
    block = 1 << 16
    with open(path, "rb") as fh:
        pos = size
        tail = b""
        while pos > 0:
            step = min(block, pos)
            pos -= step
            fh.seek(pos)
            tail = fh.read(step) + tail
            lines = tail.split(b"\n")
            # lines[0] may be cut at the block boundary unless we reached the start of the file
            candidates = lines if pos == 0 else lines[1:]
            for line in reversed(candidates):
                if not line.strip():
                    continue
                try:
                    return parse_event_line(line).seq
                except EventFormatError:
                    continue
    return -1


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------------------
# Status heartbeat
# --------------------------------------------------------------------------------------------------------------
def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Replace ``path`` with ``obj`` as JSON atomically (write a temporary file beside it, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=1, allow_nan=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_status(job_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The job's ``status.json`` (state, step, updated_at, pids, ...), or None when absent or unreadable."""
    try:
        with open(Path(job_dir) / STATUS_FILE, encoding="utf-8") as fh:
            obj = json.load(fh)
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


# --------------------------------------------------------------------------------------------------------------
# Job spec: see the section below (schema "linguatune.job/1"), written by the worker-training work.
# --------------------------------------------------------------------------------------------------------------
