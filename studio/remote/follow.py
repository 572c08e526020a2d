"""Following a running job: new lines of ``events.jsonl`` read by byte offset, delivered exactly once, across
dropped connections, until the job ends or is found lost.

``follow(job, connect)`` is a generator of ``FollowUpdate``; it polls every ``poll_s`` (0.2 s by default) while events
arrive and backs off to ``max_poll_s`` when idle. Any connection error closes the session and reconnects with
exponential backoff, resuming at the saved offset (``EventStream`` drops anything already delivered). With a
registry, each batch of events and the new offset are stored in one transaction before the batch is yielded.
Call ``Follower.stop()`` from another thread to end it cooperatively (the GUI runs it in a worker thread).
"""

from __future__ import annotations

import re
import shlex
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from studio.remote import sbatch as sbatch_mod
from studio.remote.connection import CONNECTION_ERRORS, Session
from studio.remote.errors import HostUnreachableError, RemoteError
from studio.remote.launch import CANCEL_FILE
from worker.contract import EVENTS_FILE, EXIT_CODE_FILE, LOGS_DIR, PID_FILE, STATUS_FILE, Event, EventStream

RETRYABLE = CONNECTION_ERRORS + (HostUnreachableError,)


@dataclass
class FollowUpdate:
    """One thing a follower reports: ``events`` (a batch), ``state`` (the job's state changed), ``reconnecting``
    (the connection dropped; ``attempt``), ``reconnected``, ``warning`` (the event log did something its writer
    never does: truncated, gone, a seq gap or a seq going back, lines that are not events; ``message``), or
    ``ended`` (final ``state``, ``exit_code``, and for a failed or lost job the last log lines)."""

    kind: str
    events: list[Event] = field(default_factory=list)
    state: str | None = None
    exit_code: int | None = None
    message: str = ""
    attempt: int = 0
    log_tail: list[str] = field(default_factory=list)


@dataclass
class FollowTarget:
    """What a follower needs to know about a job (built from a registry record or a fresh launch)."""

    job_id: str
    launcher: str
    job_dir: str
    slurm_job_id: str | None = None
    offset: int = 0
    last_seq: int = -1
    state: str | None = None

    @classmethod
    def of(cls, job) -> "FollowTarget":
        """From a ``JobRecord`` (registry) or a ``LaunchedJob``."""
        if hasattr(job, "remote_dir"):
            return cls(job.id, job.launcher, job.remote_dir, job.slurm_job_id, job.offset, job.last_seq, job.state)
        return cls(job.job_id, job.launcher, job.job_dir, job.slurm_job_id)


@dataclass
class Probe:
    """One look at the job directory from the host's side."""

    missing: bool = False
    now: float | None = None
    alive: bool | None = None
    exit_code: int | None = None
    cancel_requested: bool = False
    status_mtime: float | None = None
    slurm_state: str | None = None


def probe_command(target: FollowTarget) -> str:
    q = shlex.quote(target.job_dir)
    # The pid is checked before exit_code: the wrapper writes exit_code before it exits, so "dead and no
    # exit_code" seen in this order really means it was killed. A zombie (no reaper in some sandboxes) is dead.
    text = (
        f"cd {q} 2>/dev/null || {{ echo missing=1; exit 0; }}; "
        "echo now=$(date +%s); "
        f"if [ -f {PID_FILE} ]; then p=$(cat {PID_FILE}); "
        "if command -v ps >/dev/null 2>&1; then st=$(ps -o stat= -p \"$p\" 2>/dev/null); "
        "case \"$st\" in ''|Z*) echo alive=0;; *) echo alive=1;; esac; "
        "elif kill -0 \"$p\" 2>/dev/null; then echo alive=1; else echo alive=0; fi; fi; "
        f"if [ -f {EXIT_CODE_FILE} ]; then echo exit_code=$(cat {EXIT_CODE_FILE}); fi; "
        f"if [ -f {CANCEL_FILE} ]; then echo cancel=1; fi; "
        f"if [ -f {STATUS_FILE} ]; then echo status_mtime=$(stat -c %Y {STATUS_FILE} 2>/dev/null); fi; "
    )
    if target.launcher == "slurm" and target.slurm_job_id:
        text += sbatch_mod.state_command(target.slurm_job_id)
    return text


def parse_probe(text: str) -> Probe:
    probe = Probe()
    for line in text.splitlines():
        key, _, value = line.strip().partition("=")
        value = value.strip()
        try:
            if key == "missing":
                probe.missing = True
            elif key == "now" and value:
                probe.now = float(value)
            elif key == "alive":
                probe.alive = value == "1"
            elif key == "exit_code" and value:
                probe.exit_code = int(value)
            elif key == "cancel":
                probe.cancel_requested = True
            elif key == "status_mtime" and value:
                probe.status_mtime = float(value)
            elif key == "slurm_state" and value:
                probe.slurm_state = value.split()[0].rstrip("+")
        except ValueError:
            continue
    return probe


def log_tail_command(job_dir: str, lines: int = 20) -> str:
    q = shlex.quote(job_dir)
    return (
        # The worker's own one-line reason first, wherever it sits in the logs (not only in their last lines).
        f"cd {q} 2>/dev/null || exit 0; grep -h -m 3 'linguatune-worker (rank' {LOGS_DIR}/* 2>/dev/null; "
        f"for f in {LOGS_DIR}/*; do "
        f"[ -f \"$f\" ] && {{ echo \"==> $f <==\"; tail -n {int(lines)} \"$f\"; }}; done"
    )


_WORKER_LINE = re.compile(r"linguatune-worker \(rank \d+\): (?P<sentence>.+)$")


def worker_sentence(lines: list[str]) -> str | None:
    """The sentence the worker printed when it failed (``linguatune-worker (rank N): ...``), from log lines."""
    for line in lines:
        found = _WORKER_LINE.search(line)
        if found:
            return found["sentence"].strip()
    return None


def done_message(state: str, exit_code: int | None) -> str:
    """What the job's own done event means, in the words of the state it gives."""
    if state == "cancelled":
        return f"cancelled: the job stopped on the cancel request (exit code {exit_code})"
    if state == "finished":
        return "finished: the job reported done"
    return f"failed: the job reported done with exit code {exit_code}"


def final_state(exit_code: int | None, cancel_requested: bool, slurm_state: str | None = None) -> str:
    if cancel_requested or slurm_state == "CANCELLED":
        return "cancelled"
    if exit_code == 0:
        return "finished"
    return "failed"


class Follower:
    """Follows one job; iterate it for ``FollowUpdate``s. See the module docstring."""

    def __init__(
        self,
        job,
        connect: Callable[[], Session],
        *,
        registry=None,
        poll_s: float = 0.2,
        max_poll_s: float = 1.0,
        idle_grace_s: float = 2.0,
        liveness_every_s: float = 2.0,
        stale_after_s: float = 900.0,
        reconnect_max_s: float = 5.0,
        give_up_after_s: float | None = None,
        chunk_bytes: int = 1 << 20,
    ):
        self.target = job if isinstance(job, FollowTarget) else FollowTarget.of(job)
        self.connect = connect
        self.registry = registry
        self.poll_s, self.max_poll_s, self.idle_grace_s = poll_s, max_poll_s, idle_grace_s
        self.liveness_every_s, self.stale_after_s = liveness_every_s, stale_after_s
        self.reconnect_max_s, self.give_up_after_s = reconnect_max_s, give_up_after_s
        self.chunk_bytes = chunk_bytes
        self.stream = EventStream(self.target.offset, self.target.last_seq)
        self._stop = threading.Event()
        self.state = self.target.state
        self.reconnects = 0
        self._done: Event | None = None
        self._error: str | None = None  # the worker's own sentence, from its first error event
        self._notes: list[str] = []
        self._log_seen = self.target.offset > 0  # the log existed when this follower began
        self._gone_said = False

    def stop(self) -> None:
        """Ask the follower to end at its next poll (safe from any thread)."""
        self._stop.set()

    @property
    def events_path(self) -> str:
        return f"{self.target.job_dir}/{EVENTS_FILE}"

    def _read_batches(self, session: Session) -> Iterator[list[Event]]:
        """The new events, one batch per chunk read. The stream's position advances with each chunk, so each batch
        must be delivered (and committed to the registry) before the next read: see ``_drain``."""
        size = session.size(self.events_path)
        if size is None:
            if self._log_seen and not self._gone_said:
                self._gone_said = True
                self._notes.append(f"the event log {self.events_path} is gone (renamed or deleted); waiting for it "
                                   f"to come back, the job's process is still watched")
            return
        self._log_seen, self._gone_said = True, False
        pos = self.stream.offset + self.stream.pending_bytes
        if size < self.stream.offset:
            # Shrunk below what was already read: truncated or replaced. Read it again from the start; seqs at or
            # below the last delivered one are not delivered twice (and are reported by the stream).
            self._notes.append(f"the event log shrank from {self.stream.offset:,} to {size:,} bytes (truncated or "
                               f"replaced); reading it again from the start")
            self.stream.offset = 0
            self.stream.reset_partial()
            self.stream.replay_until = self.stream.last_seq
            pos = 0
        if pos >= size:
            return
        if size - pos <= self.chunk_bytes:
            events = self.stream.feed(session.read_range(self.events_path, pos, size - pos))
            if events:
                yield events
            return
        while pos < size:
            window = min(size - pos, 64 << 20)  # bounds what a prefetch holds in memory
            start = pos
            for data in session.iter_range(self.events_path, pos, window, self.chunk_bytes):
                pos += len(data)
                events = self.stream.feed(data)
                if events:
                    yield events
            if pos == start:  # the file shrank under us; read again at the next poll
                break

    def _drain(self, session: Session) -> Iterator[FollowUpdate]:
        """Read and deliver what is new, batch by batch, each committed before the next chunk is read: a link that
        fails in the middle of a large catch-up loses nothing and repeats nothing (the reconnect resumes at the
        last committed event). Returns whether anything was read; remembers a ``done`` event."""
        got = False
        for batch in self._read_batches(session):
            got = True
            yield from self._warnings()
            yield from self._deliver(batch)
            done = next((e for e in reversed(batch) if e.kind == "done"), None)
            self._done = self._done or done
            error = next((e for e in batch if e.kind == "error" and isinstance(e.get("message"), str)), None)
            self._error = self._error or (error["message"] if error is not None else None)
        yield from self._warnings()
        return got

    def _warnings(self) -> Iterator[FollowUpdate]:
        notes = self._notes + self.stream.take_anomalies()
        self._notes = []
        for note in notes:
            if self.registry is not None:
                self.registry.add_warning(self.target.job_id, note)
            yield FollowUpdate("warning", message=note)

    def _deliver(self, events: list[Event]) -> list[FollowUpdate]:
        updates: list[FollowUpdate] = []
        new_state = None
        for event in events:
            if event.kind == "status" and isinstance(event.get("state"), str):
                new_state = event["state"]
        if self.registry is not None:
            self.registry.append_events(
                self.target.job_id, events, self.stream.offset, self.stream.last_seq, state=new_state
            )
        updates.append(FollowUpdate("events", events=events))
        if new_state and new_state != self.state:
            self.state = new_state
            updates.append(FollowUpdate("state", state=new_state))
        return updates

    def _end(self, session: Session, state: str, exit_code: int | None, message: str) -> FollowUpdate:
        tail: list[str] = []
        if state in ("failed", "lost"):
            try:
                tail = session.run(log_tail_command(self.target.job_dir), timeout=30).stdout.splitlines()
            except RETRYABLE:
                tail = []
            # The worker's own sentence comes first: its error event, or the line it printed before dying (which
            # torchrun's ChildFailedError box buries in the launcher log).
            sentence = self._error or worker_sentence(tail)
            if sentence:
                message = f"{sentence} ({message})"
        self.state = state
        if self.registry is not None:
            self.registry.set_state(self.target.job_id, state, exit_code=exit_code, message=message)
        return FollowUpdate("ended", state=state, exit_code=exit_code, message=message, log_tail=tail)

    def _verdict(self, probe: Probe) -> tuple[str, int | None, str] | None:
        """(state, exit_code, message) when the job is over, else None."""
        t = self.target
        if probe.missing:
            return "lost", None, f"the job directory {t.job_dir} is gone"
        if probe.exit_code is not None:
            state = final_state(probe.exit_code, probe.cancel_requested, probe.slurm_state)
            return state, probe.exit_code, f"the job ended with exit code {probe.exit_code} without a done event"
        if t.launcher == "slurm" and probe.slurm_state:
            if probe.slurm_state in sbatch_mod.TERMINAL_STATES:
                if probe.slurm_state == "CANCELLED":
                    return "cancelled", None, "the SLURM job was cancelled"
                return "lost", None, f"SLURM reports the job {probe.slurm_state} without a done event"
        if t.launcher != "slurm" and probe.alive is False and probe.cancel_requested:
            return "cancelled", None, "the job was cancelled (killed after the grace period)"
        if t.launcher != "slurm" and probe.alive is False:
            return "lost", None, "the job's process is gone and it wrote neither a done event nor an exit code"
        if probe.status_mtime is not None and probe.now is not None:
            age = probe.now - probe.status_mtime
            if age > self.stale_after_s:
                return "lost", None, f"no heartbeat for {age:.0f} s"
        return None

    def __iter__(self) -> Iterator[FollowUpdate]:
        return self.run()

    def run(self) -> Iterator[FollowUpdate]:
        session: Session | None = None
        attempt = 0
        delay = self.poll_s
        idle_since = time.monotonic()
        next_probe = 0.0
        dropped_at: float | None = None
        try:
            while not self._stop.is_set():
                try:
                    if session is None:
                        session = self.connect()
                        self.stream.reset_partial()
                        if attempt:
                            self.reconnects += 1
                            yield FollowUpdate("reconnected", attempt=attempt)
                        attempt, dropped_at = 0, None
                    if (yield from self._drain(session)):
                        delay, idle_since = self.poll_s, time.monotonic()
                    if self._done is not None:
                        # Kept across a reconnect: the done event is delivered once, the ending still follows.
                        probe = parse_probe(session.run(probe_command(self.target), timeout=30).stdout)
                        code = self._done.get("exit_code")
                        state = final_state(code, probe.cancel_requested, probe.slurm_state)
                        yield self._end(session, state, code, done_message(state, code))
                        return
                    now = time.monotonic()
                    if now >= next_probe:
                        next_probe = now + self.liveness_every_s
                        probe = parse_probe(session.run(probe_command(self.target), timeout=30).stdout)
                        verdict = self._verdict(probe)
                        if verdict is None and probe.slurm_state:
                            seen = {"PENDING": "queued", "CONFIGURING": "queued"}.get(probe.slurm_state)
                            if probe.slurm_state == "RUNNING" and self.state in (None, "queued"):
                                seen = "running"
                            if seen and seen != self.state:
                                self.state = seen
                                if self.registry is not None:
                                    self.registry.set_state(self.target.job_id, seen)
                                yield FollowUpdate("state", state=seen)
                        if verdict is not None:
                            # Events written just before the end are read before the verdict is given.
                            yield from self._drain(session)
                            if self._done is not None:
                                code = self._done.get("exit_code")
                                state = final_state(code, probe.cancel_requested, probe.slurm_state)
                                yield self._end(session, state, code, done_message(state, code))
                                return
                            yield self._end(session, *verdict)
                            return
                    self._stop.wait(delay)
                    if time.monotonic() - idle_since > self.idle_grace_s:
                        delay = min(delay * 1.5, self.max_poll_s)
                except PermissionError as exc:
                    # Not a dropped connection: reconnecting would not help.
                    raise RemoteError(f"No permission to read the job directory {self.target.job_dir} ({exc}).") from None
                except RETRYABLE as exc:
                    if session is not None:
                        session.close()
                        session = None
                    attempt += 1
                    dropped_at = dropped_at or time.monotonic()
                    if self.give_up_after_s is not None and time.monotonic() - dropped_at > self.give_up_after_s:
                        raise
                    backoff = min(0.2 * 2 ** (attempt - 1), self.reconnect_max_s)
                    yield FollowUpdate("reconnecting", attempt=attempt, message=_describe(exc))
                    self._stop.wait(backoff)
        finally:
            if session is not None:
                session.close()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
