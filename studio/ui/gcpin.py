"""Python's cyclic garbage collector, run on the GUI thread only.

Left automatic, a collection runs in whichever thread happens to allocate past the threshold: a follow thread
parsing events, paramiko building host-key tables. Such a collection can free Qt objects that belong to the GUI
thread (timers and event loops caught in reference cycles), and PySide then runs their C++ destructors in the wrong
thread while holding the GIL, which can deadlock against the GUI thread (seen in CI: the studio's GUI and a follow
thread both frozen for good). So automatic collection is switched off and a GUI-thread timer collects instead, by
generation, with Python's own thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    """Disables automatic collection while it runs; ``stop()`` collects once more and restores it."""

    def __init__(self, parent: QObject | None = None, *, interval_ms: int = 250):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        gc.disable()
        self._timer.start()

    def collect_due(self) -> int:
        """Collect the generations whose counts passed their thresholds (what automatic collection would have done);
        returns how many unreachable objects were found."""
        counts = gc.get_count()
        found = 0
        for generation in range(3):
            threshold = self._thresholds[generation]
            if threshold <= 0 or counts[generation] <= threshold:
                break
            found += gc.collect(generation)
        return found

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def stop(self) -> None:
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()


def pin_garbage_collection(app: QObject) -> GuiThreadCollector:
    """Install the collector on ``app`` (once; later calls return the same one)."""
    for existing in app.findChildren(GuiThreadCollector):
        if existing.active:
            return existing
    return GuiThreadCollector(app)
