"""Fixtures for the studio's GUI tests: real widgets offscreen (the root conftest sets QT_QPA_PLATFORM and gives
every test fresh user dirs, so QSettings land in a temporary LINGUATUNE_HOME)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui_helpers import wait_redrawn, write_pilot_csv


@pytest.fixture
def pilot_csv(tmp_path) -> Path:
    return write_pilot_csv(tmp_path / "pilot.csv")


@pytest.fixture
def make_window(qtbot):
    """Build a MainWindow reading the (per-test) QSettings; every window made is closed at teardown."""
    from studio.ui.mainwindow import MainWindow
    from studio.ui.settings import StudioSettings

    windows = []

    def make():
        window = MainWindow(StudioSettings())
        qtbot.addWidget(window)
        window.resize(1400, 900)
        window.show()
        windows.append(window)
        wait_redrawn(qtbot, window.plan_page)
        return window

    yield make
    for window in windows:
        task = window.plan_page.fit_task
        if task is not None and not task.done:
            qtbot.waitUntil(lambda: task.done, timeout=30_000)


@pytest.fixture
def window(make_window):
    return make_window()
