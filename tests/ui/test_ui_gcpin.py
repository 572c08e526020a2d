"""Garbage collection pinned to the GUI thread (studio/ui/gcpin.py): cyclic garbage made while a worker thread
allocates heavily is freed on the GUI thread, never in the worker, and automatic collection comes back on stop."""

from __future__ import annotations

import gc
import threading

import pytest

from studio.ui.gcpin import GuiThreadCollector, pin_garbage_collection

pytestmark = pytest.mark.gui


class _Cycle:
    freed_in: list[str] = []

    def __init__(self):
        self.me = self

    def __del__(self):
        _Cycle.freed_in.append(threading.current_thread().name)


def _churn_in_worker(n_cycles: int) -> threading.Thread:
    def work():
        for _ in range(n_cycles):
            _Cycle()
            # Plenty of container allocations, as a follow thread parsing JSON makes: past gen-0 thresholds.
            [{"k": [i]} for i in range(50)]

    thread = threading.Thread(target=work, name="churn")
    thread.start()
    return thread


def test_without_the_pin_a_worker_thread_frees_gui_garbage_itself(qapp):
    # The hazard the pin removes: automatic collection runs in the worker that crossed the threshold.
    assert gc.isenabled()
    _Cycle.freed_in = []
    _churn_in_worker(2000).join()
    gc.collect()
    assert "churn" in _Cycle.freed_in


def test_with_the_pin_everything_is_freed_on_the_gui_thread(qtbot, qapp):
    # The autouse fixture (tests/conftest.py) already pinned collection for this GUI test, as the studio does.
    assert not gc.isenabled()
    _Cycle.freed_in = []
    thread = _churn_in_worker(2000)
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=20_000)
    qtbot.waitUntil(lambda: len(_Cycle.freed_in) >= 1000, timeout=10_000)  # the GUI timer collects as it goes
    assert set(_Cycle.freed_in) == {threading.main_thread().name}


def test_pin_is_installed_once_and_stop_restores_automatic_collection(qapp):
    assert gc.isenabled()
    first = pin_garbage_collection(qapp)
    try:
        assert not gc.isenabled() and first.active
        assert pin_garbage_collection(qapp) is first
    finally:
        first.stop()
        first.setParent(None)
    assert gc.isenabled() and not first.active
    extra = GuiThreadCollector()
    extra.stop()
    assert gc.isenabled()
