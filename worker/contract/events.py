"""The event log ``events.jsonl``: the envelope, each kind's fields, the writer and the incremental reader.

Every line is ``{"v": 1, "seq": n, "time": unix_s, "kind": ..., **fields}``; ``seq`` increases strictly for the
life of the job, across restarts. Standard library only.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from worker.contract.jobdir import JOB_STATES  # noqa: F401  (re-exported)

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


_ENVELOPE = ("v", "seq", "time", "kind")
_REQUIRED_SETS = {kind: frozenset(names) for kind, names in REQUIRED_FIELDS.items()}


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
        """Validate a decoded event line. Takes ownership of ``obj`` (its payload becomes ``data``)."""
        if type(obj) is dict:  # fast path for well-formed lines, which is nearly all of them
            seq, stamp, kind = obj.get("seq"), obj.get("time"), obj.get("kind")
            if (type(seq) is int and seq >= 0 and type(stamp) in (int, float) and math.isfinite(stamp)
                    and kind in EVENT_KINDS and obj.keys() >= _REQUIRED_SETS[kind]):
                for key in _ENVELOPE:
                    obj.pop(key, None)
                event = object.__new__(cls)
                object.__setattr__(event, "seq", seq)
                object.__setattr__(event, "time", float(stamp))
                object.__setattr__(event, "kind", kind)
                object.__setattr__(event, "data", obj)
                return event
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
        self._notes: list[str] = []
        # After the log was replaced and is read again from the start: seqs up to here were delivered before.
        self.replay_until = -1

    def take_anomalies(self) -> list[str]:
        """Sentences about what the log did that its writer never does (seq gaps, seq going back, lines that are
        not events), collected since the last call. A reader reports them; nothing is dropped silently."""
        notes, self._notes = self._notes, []
        return notes

    def feed(self, chunk: bytes) -> list[Event]:
        buffer = self._pending + chunk
        cut = buffer.rfind(b"\n") + 1
        self._pending = buffer[cut:]
        self.offset += cut  # the buffer began at the old offset
        if not cut:
            return []
        lines = [line for line in buffer[:cut].split(b"\n") if line.strip()]
        # One json.loads for the whole batch is several times faster than one per line; any malformed line
        # (or a line that is not exactly one value) sends the batch through the per-line path instead.
        objs: list[Any] | None
        try:
            objs = json.loads(b"[" + b",".join(lines) + b"]")
            if len(objs) != len(lines):
                objs = None
        except ValueError:
            objs = None
        bad = 0
        if objs is None:
            objs = []
            for line in lines:
                try:
                    objs.append(json.loads(line))
                except ValueError:
                    bad += 1
        events: list[Event] = []
        last = self.last_seq
        behind: list[int] = []
        for obj in objs:
            try:
                event = Event.from_dict(obj)
            except EventFormatError:
                bad += 1
                continue
            if event.seq <= self.replay_until and event.seq <= last:
                continue
            if event.seq > last:
                if event.seq > last + 1:
                    self._notes.append(f"events {last + 1}-{event.seq - 1} are missing from the log (seq jumped "
                                       f"from {last} to {event.seq})")
                events.append(event)
                last = event.seq
            else:
                behind.append(event.seq)
        if behind:
            # New bytes whose seq is not above the last delivered: a writer that restarted its count, or a line
            # with a wild seq before them. Not delivered (they would collide), but said.
            self._notes.append(f"{len(behind)} event(s) with seq {behind[0]}" + (f"..{behind[-1]}" if len(behind) > 1
                               else "") + f" came after seq {last} and were not delivered")
        if bad:
            self.skipped += bad
            self._notes.append(f"{bad} line(s) of the log are not valid events and were skipped")
        self.last_seq = last
        return events

    @property
    def pending_bytes(self) -> int:
        """Bytes of a partial last line held back (they start at ``offset``)."""
        return len(self._pending)

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
# Eval directions and pipeline-check metrics (written once, here; the worker writes them, the studio reads them)
# --------------------------------------------------------------------------------------------------------------
SOURCE_LANGUAGE = "en"
# Direction groups: all languages of one group share an axis in the Monitor and a law in the planner.
TO_TARGET = "en-xx"    # English -> the target language (what the parallel pairs teach)
FROM_TARGET = "xx-en"  # the target language -> English
DIRECTION_GROUPS = (TO_TARGET, FROM_TARGET)
# The ``note`` of a metric that only checks the pipeline (the tiny local COMET): never a measurement.
PIPELINE_CHECK_NOTE = "pipeline-check"


def direction(source: str, target: str) -> str:
    """The direction field of an eval event: ``en-ar`` (English -> Arabic), ``ar-en``."""
    return f"{source}-{target}"


def parse_direction(text: str) -> tuple[str, str] | None:
    """``"en-ar"`` -> ``("en", "ar")``; None for anything that is not ``src-tgt`` (QA events carry ``lang``)."""
    if not isinstance(text, str):
        return None
    source, sep, target = text.partition("-")
    if not sep or not source or not target or "-" in target:
        return None
    return source, target


def direction_group(text: str) -> str | None:
    """``en-ar`` -> ``en-xx``; ``ar-en`` -> ``xx-en``; already a group -> itself; anything else -> None."""
    if text in DIRECTION_GROUPS:
        return text
    pair = parse_direction(text)
    if pair is None:
        return None
    source, target = pair
    if source == SOURCE_LANGUAGE and target != SOURCE_LANGUAGE:
        return TO_TARGET
    if target == SOURCE_LANGUAGE and source != SOURCE_LANGUAGE:
        return FROM_TARGET
    return None


def is_pipeline_check(data: dict[str, Any]) -> bool:
    """True for an eval event whose metric only checks the pipeline (``note == "pipeline-check"``)."""
    return data.get("note") == PIPELINE_CHECK_NOTE
