"""Checks of the Qt binding the studio runs on.

PySide6 6.12.0 on CPython < 3.12 drops one reference to ``None`` each time C++ calls a Python override that returns
None (every ``paint``/``paintEvent``, every ``data()`` role a model does not answer). Before 3.12 ``None`` is not
immortal, so after a few hundred repaints the interpreter aborts ("none_dealloc"). pyproject.toml excludes that
release on those Pythons; ``check_binding()`` turns a broken environment into one clear sentence at start-up
instead of a crash minutes later.
"""

from __future__ import annotations

import sys

from studio.errors import LinguaTuneError


class QtBindingError(LinguaTuneError):
    """The installed Qt binding is known to crash the studio."""


def binding_drops_none_references() -> bool:
    """Whether a Python override returning None, called from C++, loses a reference to None."""
    if sys.version_info >= (3, 12):
        return False  # None is immortal: nothing to lose
    from PySide6.QtCore import QAbstractListModel, QModelIndex, QSortFilterProxyModel, Qt

    class _Probe(QAbstractListModel):
        def rowCount(self, parent=QModelIndex()):
            return 1

        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            return None

    source = _Probe()
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(source)
    index = proxy.index(0, 0)
    calls = 200
    before = sys.getrefcount(None)
    for _ in range(calls):
        proxy.data(index, Qt.ItemDataRole.DisplayRole)  # C++ proxy -> Python override -> None
    return before - sys.getrefcount(None) >= calls // 2


def check_binding() -> None:
    """Raise ``QtBindingError`` when the installed PySide6 is one that crashes the studio on this Python."""
    if binding_drops_none_references():
        import PySide6

        raise QtBindingError(
            f"PySide6 {PySide6.__version__} loses references to None on Python "
            f"{sys.version_info.major}.{sys.version_info.minor} and would crash the studio; "
            "install a working release with: pip install 'PySide6-Essentials<6.12'."
        )
