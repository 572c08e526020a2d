"""Following jobs off the GUI thread: a QThread per job that first reads the job's history from the registry, then
(for a live job) iterates ``studio.remote.follow.Follower`` and hands the GUI digested batches of new events.

The thread turns events into plot-ready arrays (``studio.session.monitor.digest_events``) before emitting them, so
the GUI thread only concatenates numpy arrays, whatever the size of a catch-up batch.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QThread, Signal

from studio.remote.connection import Session, open_session
from studio.remote.follow import Follower
from studio.remote.hosts import HostStore
from studio.session.launch import resolve_profile
from studio.remote.registry import JobRecord, JobRegistry
from studio.session.monitor import ConnectionState, digest_events

class JobFollowThread(QThread):
    """Loads one job's stored events, then follows it live until it ends, is lost, or ``stop()`` is called.

    Signals are emitted from this thread and delivered queued to receivers on the GUI thread.
    """

    digested = Signal(str, object)            # job id, EventDigest
    connection_changed = Signal(str, str, str)  # job id, ConnectionState value, detail
    ended = Signal(str, str, object, str, object)  # job id, final state, exit code, message, log tail lines
    warned = Signal(str, str)                 # job id, what the follower noticed about the event log

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
                state = ConnectionState.FINISHED if record.is_final else ConnectionState.HISTORY
                self.connection_changed.emit(self.job_id, state,
                                             record.message)
                return
            self._follow(record)
        except Exception as exc:  # noqa: BLE001 - any failure must reach the page as a visible state
            self.connection_changed.emit(self.job_id, ConnectionState.FAILED, str(exc) or type(exc).__name__)

    def _follow(self, record: JobRecord) -> None:
        connect = self._connect
        if connect is None:
            profile = resolve_profile(record.host, self._hosts)
            connect = lambda: open_session(profile)  # noqa: E731
        self.connection_changed.emit(self.job_id, ConnectionState.CONNECTING, record.host)
        first = [True]

        def connect_and_report() -> Session:
            session = connect()
            if first[0]:
                first[0] = False
                self.connection_changed.emit(self.job_id, ConnectionState.CONNECTED, "")
            return session

        self._follower = Follower(record, connect_and_report, registry=self.registry, **self._options)
        if self._stopping:
            return
        for update in self._follower:
            if update.kind == "events":
                self.digested.emit(self.job_id, digest_events(update.events))
            elif update.kind == "reconnecting":
                self.connection_changed.emit(self.job_id, ConnectionState.RECONNECTING,
                                             f"attempt {update.attempt}: {update.message}")
            elif update.kind == "warning":
                self.warned.emit(self.job_id, update.message)
            elif update.kind == "reconnected":
                self.reconnects += 1
                self.connection_changed.emit(self.job_id, ConnectionState.CONNECTED,
                                             f"reconnected after {update.attempt} attempt(s)")
            elif update.kind == "ended":
                self.ended.emit(self.job_id, update.state, update.exit_code, update.message, list(update.log_tail))
                state = ConnectionState.LOST if update.state == "lost" else ConnectionState.FINISHED
                self.connection_changed.emit(self.job_id, state,
                                             update.message)
