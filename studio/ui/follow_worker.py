"""Following jobs off the GUI thread: a QThread per job that first reads the job's history from the registry, then
(for a live job) iterates ``studio.remote.follow.Follower`` and hands the GUI digested batches of new events.

The thread turns events into plot-ready arrays (``digest_events``) before emitting them, so the GUI thread only
concatenates numpy arrays, whatever the size of a catch-up batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PySide6.QtCore import QThread, Signal

from studio.remote.connection import Session, open_session
from studio.remote.follow import Follower
from studio.remote.hosts import HostProfile, HostStore, local_profile
from studio.remote.registry import JobRecord, JobRegistry
from worker.contract import Event

# What the connection column and banner say.
CONNECTING, CONNECTED, RECONNECTING, LOST, FINISHED, HISTORY, FAILED = (
    "connecting", "connected", "reconnecting", "lost", "finished", "history", "error",
)
LOG_KINDS = frozenset({"log", "error", "status", "checkpoint", "done", "data"})


@dataclass
class AlignmentSnapshot:
    """One alignment measurement: ``matrix[layer][lang]`` at ``step``."""

    step: int
    metric: str
    langs: list[str]
    layers: list[int]
    matrix: np.ndarray


@dataclass
class EventDigest:
    """A batch of events reduced to what the Monitor page draws (arrays per series, small lists for the rest)."""

    first_seq: int = -1
    last_seq: int = -1
    count: int = 0
    first_time: float | None = None
    last_time: float | None = None
    train_step: np.ndarray = field(default_factory=lambda: np.empty(0))
    train_loss: np.ndarray = field(default_factory=lambda: np.empty(0))
    train_lr: np.ndarray = field(default_factory=lambda: np.empty(0))
    train_tps: np.ndarray = field(default_factory=lambda: np.empty(0))
    # (metric, lang, direction) -> [(step, value)]
    evals: dict[tuple[str, str, str], list[tuple[float, float]]] = field(default_factory=dict)
    alignments: list[AlignmentSnapshot] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)
    state: str | None = None
    last_step: int | None = None


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def describe_event(event: Event) -> str | None:
    """One log-pane line for an event of a log-like kind (None for plotted kinds)."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
    kind = event.kind
    if kind == "log":
        return f"{stamp}  {event.get('message', '')}"
    if kind == "error":
        return f"{stamp}  ERROR {event.get('message', '')}"
    if kind == "status":
        return f"{stamp}  state → {event.get('state')}"
    if kind == "checkpoint":
        return f"{stamp}  checkpoint at step {event.get('step')}"
    if kind == "done":
        return f"{stamp}  done (exit code {event.get('exit_code')})"
    if kind == "data":
        details = ", ".join(f"{k}={v}" for k, v in list(event.data.items())[:6])
        return f"{stamp}  data {details}"
    return None


def digest_events(events: list[Event]) -> EventDigest:
    """Reduce ``events`` (in seq order) to arrays and lists; runs on the follower's thread."""
    digest = EventDigest(count=len(events))
    if not events:
        return digest
    digest.first_seq, digest.last_seq = events[0].seq, events[-1].seq
    digest.first_time, digest.last_time = events[0].time, events[-1].time
    steps, losses, lrs, tps = [], [], [], []
    nan = float("nan")
    for event in events:
        kind = event.kind
        data = event.data
        if kind == "train":
            steps.append(_num(data.get("step")))
            losses.append(_num(data.get("loss")))
            lr = data.get("lr")
            lrs.append(nan if lr is None else _num(lr))
            rate = data.get("tokens_per_s")
            tps.append(nan if rate is None else _num(rate))
            digest.last_step = data.get("step")
        elif kind == "eval":
            key = (str(data.get("metric")), str(data.get("lang")), str(data.get("direction", "")))
            digest.evals.setdefault(key, []).append((_num(data.get("step")), _num(data.get("value"))))
        elif kind == "alignment":
            try:
                matrix = np.asarray(data.get("matrix"), dtype=float)
            except (TypeError, ValueError):
                continue
            langs = [str(code) for code in data.get("langs") or []]
            layers = [int(layer) for layer in data.get("layers") or []]
            if matrix.ndim != 2 or matrix.shape != (len(layers), len(langs)):
                continue
            digest.alignments.append(
                AlignmentSnapshot(int(_num(data.get("step"))), str(data.get("metric")), langs, layers, matrix)
            )
        else:
            if kind == "status" and isinstance(data.get("state"), str):
                digest.state = data["state"]
            line = describe_event(event)
            if line is not None:
                digest.log_lines.append(line)
    if steps:
        digest.train_step = np.asarray(steps, dtype=float)
        digest.train_loss = np.asarray(losses, dtype=float)
        digest.train_lr = np.asarray(lrs, dtype=float)
        digest.train_tps = np.asarray(tps, dtype=float)
    return digest


def profile_for(host_name: str, hosts: HostStore | None = None) -> HostProfile:
    """The host profile a job record names (``local`` is built in unless a saved profile has that name)."""
    store = hosts or HostStore()
    profiles = store.load()
    if host_name in profiles:
        return profiles[host_name]
    if host_name == "local":
        return local_profile()
    return store.get(host_name)  # raises HostProfileError naming the missing profile


class JobFollowThread(QThread):
    """Loads one job's stored events, then follows it live until it ends, is lost, or ``stop()`` is called.

    Signals are emitted from this thread and delivered queued to receivers on the GUI thread.
    """

    digested = Signal(str, object)            # job id, EventDigest
    connection_changed = Signal(str, str, str)  # job id, CONNECTING/CONNECTED/..., detail
    ended = Signal(str, str, object, str, object)  # job id, final state, exit code, message, log tail lines

    def __init__(self, registry: JobRegistry, job_id: str, *, follow: bool = True,
                 connect: Callable[[], Session] | None = None, hosts: HostStore | None = None,
                 follower_options: dict | None = None, parent=None):
        super().__init__(parent)
        self.registry = registry
        self.job_id = job_id
        self.follow = follow
        self._connect = connect
        self._hosts = hosts
        self._options = dict(follower_options or {})
        self._follower: Follower | None = None
        self._stopping = False
        self.reconnects = 0

    def stop(self) -> None:
        """Ask the thread to end soon (the follower checks between polls)."""
        self._stopping = True
        if self._follower is not None:
            self._follower.stop()

    def run(self) -> None:  # the follow thread
        try:
            record = self.registry.get(self.job_id)
            # History first, up to the position the follower resumes from: nothing twice, nothing missed.
            history = [e for e in self.registry.events(self.job_id) if e.seq <= record.last_seq]
            if history:
                self.digested.emit(self.job_id, digest_events(history))
            if not self.follow or record.is_final or self._stopping:
                self.connection_changed.emit(self.job_id, HISTORY if not record.is_final else FINISHED,
                                             record.message)
                return
            self._follow(record)
        except Exception as exc:  # noqa: BLE001 - any failure must reach the page as a visible state
            self.connection_changed.emit(self.job_id, FAILED, str(exc) or type(exc).__name__)

    def _follow(self, record: JobRecord) -> None:
        connect = self._connect
        if connect is None:
            profile = profile_for(record.host, self._hosts)
            connect = lambda: open_session(profile)  # noqa: E731
        self.connection_changed.emit(self.job_id, CONNECTING, record.host)
        first = [True]

        def connect_and_report() -> Session:
            session = connect()
            if first[0]:
                first[0] = False
                self.connection_changed.emit(self.job_id, CONNECTED, "")
            return session

        self._follower = Follower(record, connect_and_report, registry=self.registry, **self._options)
        if self._stopping:
            return
        for update in self._follower:
            if update.kind == "events":
                self.digested.emit(self.job_id, digest_events(update.events))
            elif update.kind == "reconnecting":
                self.connection_changed.emit(self.job_id, RECONNECTING,
                                             f"attempt {update.attempt}: {update.message}")
            elif update.kind == "reconnected":
                self.reconnects += 1
                self.connection_changed.emit(self.job_id, CONNECTED, f"reconnected after {update.attempt} attempt(s)")
            elif update.kind == "ended":
                self.ended.emit(self.job_id, update.state, update.exit_code, update.message, list(update.log_tail))
                self.connection_changed.emit(self.job_id, LOST if update.state == "lost" else FINISHED,
                                             update.message)
