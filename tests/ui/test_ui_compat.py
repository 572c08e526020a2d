"""The installed Qt binding keeps None's reference count right (PySide6 6.12.0 on Python < 3.12 does not)."""

from __future__ import annotations

import sys

import pytest

from studio.ui import compat

pytestmark = pytest.mark.gui


def test_installed_binding_keeps_none_alive(qtbot):
    assert not compat.binding_drops_none_references()
    compat.check_binding()  # does not raise
    from PySide6.QtWidgets import QLabel

    label = QLabel("x")
    qtbot.addWidget(label)
    label.show()
    before = sys.getrefcount(None)
    for i in range(300):
        label.setText(str(i))
        label.repaint()
    assert sys.getrefcount(None) > before - 100
