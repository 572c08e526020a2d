"""Run slow work (fitting, file reads, SSH) off the GUI thread and get the outcome back on it.

    task = BackgroundTask(lambda: fit_laws(points), parent=self)
    task.succeeded.connect(self._show_fit)        # called on the GUI thread with op's return value
    task.failed.connect(self._show_error)         # called on the GUI thread with the exception
    task.start()

or in one line: ``run_in_background(op, on_success, on_failure, parent=self)``.

``op`` runs on a QThreadPool thread and must not touch widgets. If ``op`` is a generator function, every value it
yields is delivered to ``progress`` on the GUI thread (the shape of "follow a remote log"), and its return value is
the result. ``task.cancel()`` sets ``task.cancelled`` (a threading.Event) that a long op may check between steps; a
cancelled task delivers neither success nor failure.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

_ACTIVE: set["BackgroundTask"] = set()  # keeps Python wrappers alive until their outcome is delivered


class _Signals(QObject):
    """Emitted from the worker thread; received by the task object living on the GUI thread (queued)."""

    result = Signal(object)
    error = Signal(object)
    progress = Signal(object)


class _Runner(QRunnable):
    def __init__(self, op: Callable[[], Any], signals: _Signals, cancelled: threading.Event):
        super().__init__()
        self.setAutoDelete(True)
        self._op = op
        self._signals = signals
        self._cancelled = cancelled

    def run(self) -> None:  # worker thread
        try:
            if inspect.isgeneratorfunction(self._op):
                generator = self._op()
                while True:
                    if self._cancelled.is_set():
                        generator.close()
                        return
                    try:
                        item = next(generator)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    self._signals.progress.emit(item)
            else:
                result = self._op()
        except Exception as exc:  # noqa: BLE001 - every failure must reach the GUI as a message
            self._signals.error.emit(exc)
            return
        self._signals.result.emit(result)


class BackgroundTask(QObject):
    """One unit of background work; its signals fire on the thread that created the task (the GUI thread)."""

    succeeded = Signal(object)
    failed = Signal(object)
    progress = Signal(object)
    finished = Signal()

    def __init__(self, op: Callable[[], Any], parent: QObject | None = None, *, pool: QThreadPool | None = None):
        super().__init__(parent)
        self._op = op
        self._pool = pool or QThreadPool.globalInstance()
        self.cancelled = threading.Event()
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self._signals = _Signals()
        self._signals.result.connect(self._on_result)
        self._signals.error.connect(self._on_error)
        self._signals.progress.connect(self._on_progress)

    def start(self) -> "BackgroundTask":
        _ACTIVE.add(self)
        self._pool.start(_Runner(self._op, self._signals, self.cancelled))
        return self

    def cancel(self) -> None:
        self.cancelled.set()

    @Slot(object)
    def _on_progress(self, item: Any) -> None:
        if not self.cancelled.is_set():
            self.progress.emit(item)

    @Slot(object)
    def _on_result(self, result: Any) -> None:
        self.result = result
        self._finish(lambda: self.succeeded.emit(result))

    @Slot(object)
    def _on_error(self, exc: BaseException) -> None:
        self.error = exc
        self._finish(lambda: self.failed.emit(exc))

    def _finish(self, deliver: Callable[[], None]) -> None:
        self.done = True
        _ACTIVE.discard(self)
        if not self.cancelled.is_set():
            deliver()
        self.finished.emit()


def run_in_background(
    op: Callable[[], Any],
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    *,
    parent: QObject | None = None,
    on_progress: Callable[[Any], None] | None = None,
) -> BackgroundTask:
    """Start ``op`` on the thread pool; the callbacks run on the GUI thread. Returns the started task."""
    task = BackgroundTask(op, parent)
    if on_success is not None:
        task.succeeded.connect(on_success)
    if on_failure is not None:
        task.failed.connect(on_failure)
    if on_progress is not None:
        task.progress.connect(on_progress)
    return task.start()
