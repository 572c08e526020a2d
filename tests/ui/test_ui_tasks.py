"""The background-task helper: work runs on a pool thread, outcomes arrive on the GUI thread."""

from __future__ import annotations

import threading

import pytest

from studio.errors import FitError
from studio.ui.tasks import BackgroundTask, run_in_background

pytestmark = pytest.mark.gui


def test_success_runs_off_the_gui_thread_and_is_delivered_on_it(qtbot):
    gui = threading.get_ident()
    seen = {}

    def op():
        seen["op_thread"] = threading.get_ident()
        return 42

    def done(value):
        seen["value"] = value
        seen["callback_thread"] = threading.get_ident()

    task = run_in_background(op, done)
    qtbot.waitUntil(lambda: "value" in seen, timeout=5_000)
    assert seen["value"] == 42 and task.result == 42 and task.done
    assert seen["op_thread"] != gui
    assert seen["callback_thread"] == gui


def test_failure_carries_the_exception(qtbot):
    errors = []

    def op():
        raise FitError("Row 3 has a non-positive pair count (-4).", field="row 3")

    task = BackgroundTask(op)
    task.failed.connect(errors.append)
    with qtbot.waitSignal(task.finished, timeout=5_000):
        task.start()
    assert len(errors) == 1 and isinstance(errors[0], FitError) and errors[0].field == "row 3"
    assert task.error is errors[0] and task.result is None


def test_generator_progress_and_cancel(qtbot):
    progress, results = [], []

    def counting():
        for i in range(3):
            yield i
        return "done"

    task = run_in_background(counting, results.append, on_progress=progress.append)
    qtbot.waitUntil(lambda: task.done, timeout=5_000)
    assert progress == [0, 1, 2] and results == ["done"]

    release = threading.Event()

    def slow():
        release.wait(5)
        return "late"

    cancelled = run_in_background(slow, results.append)
    cancelled.cancel()
    release.set()
    qtbot.waitUntil(lambda: cancelled.done, timeout=5_000)
    assert results == ["done"]  # a cancelled task delivers nothing
