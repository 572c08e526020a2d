"""Light and dark themes for the Qt palette and the pyqtgraph plots, and the colours given to languages.

``apply_theme(app, "system")`` follows the desktop's colour scheme where Qt can read it (light otherwise). Plots do
not read the Qt palette, so widgets holding plots listen to ``ThemeManager.changed`` and restyle themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

# Okabe-Ito, reordered so the first six (the paper languages) are far apart; readable on white and on near-black.
_SERIES = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#8C6D31",  # brown
    "#7F7F7F",  # grey
)


@dataclass(frozen=True)
class Theme:
    """Colours of one theme; ``name`` is "light" or "dark" (system is resolved before a Theme is built)."""

    name: str
    window: str
    base: str
    alternate: str
    text: str
    muted: str
    button: str
    highlight: str
    highlight_text: str
    link: str
    plot_background: str
    plot_foreground: str
    grid_alpha: float
    uniform_bar: str
    warning_background: str
    warning_text: str
    error: str
    error_background: str
    good: str

    @property
    def dark(self) -> bool:
        return self.name == "dark"

    def series(self, index: int, count: int = 0) -> QColor:
        """The colour of the index-th language; beyond the fixed palette, evenly spaced hues."""
        if count <= len(_SERIES) and index < len(_SERIES):
            color = QColor(_SERIES[index])
            if self.dark and index == 0:
                color = QColor("#3D9BE0")  # the Okabe-Ito blue is too dark on a dark background
            return color
        hue = (index * 0.618033988749895) % 1.0  # golden-ratio steps keep neighbours apart for any count
        color = QColor.fromHsvF(hue, 0.65, 0.95 if self.dark else 0.75)
        return color


LIGHT = Theme(
    name="light",
    window="#F4F5F7",
    base="#FFFFFF",
    alternate="#F0F2F5",
    text="#1B1F24",
    muted="#5C6570",
    button="#E9ECF0",
    highlight="#2F6FB5",
    highlight_text="#FFFFFF",
    link="#1F5FA8",
    plot_background="#FFFFFF",
    plot_foreground="#2B3038",
    grid_alpha=0.18,
    uniform_bar="#AEB5BF",
    warning_background="#FFF1C7",
    warning_text="#5A4300",
    error="#C62828",
    error_background="#FDECEC",
    good="#1B7F3B",
)

DARK = Theme(
    name="dark",
    window="#1F2227",
    base="#17191D",
    alternate="#23272D",
    text="#E3E6EA",
    muted="#9AA3AD",
    button="#2C3138",
    highlight="#3D7CC9",
    highlight_text="#FFFFFF",
    link="#7DB4F0",
    plot_background="#17191D",
    plot_foreground="#C9CED4",
    grid_alpha=0.22,
    uniform_bar="#5E6670",
    warning_background="#4A3B0B",
    warning_text="#FFE49A",
    error="#FF6B6B",
    error_background="#3B1E1E",
    good="#5BD17F",
)


def system_prefers_dark() -> bool:
    """Whether the desktop asks for a dark scheme (False when Qt cannot tell, e.g. offscreen)."""
    app = QGuiApplication.instance()
    if app is None:
        return False
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def resolve(name: str) -> Theme:
    """The Theme for a preference value: "light", "dark" or "system"."""
    if name == "dark":
        return DARK
    if name == "light":
        return LIGHT
    return DARK if system_prefers_dark() else LIGHT


def _palette(theme: Theme) -> QPalette:
    palette = QPalette()
    role = QPalette.ColorRole
    colors = {
        role.Window: theme.window,
        role.WindowText: theme.text,
        role.Base: theme.base,
        role.AlternateBase: theme.alternate,
        role.ToolTipBase: theme.base,
        role.ToolTipText: theme.text,
        role.PlaceholderText: theme.muted,
        role.Text: theme.text,
        role.Button: theme.button,
        role.ButtonText: theme.text,
        role.BrightText: theme.error,
        role.Highlight: theme.highlight,
        role.HighlightedText: theme.highlight_text,
        role.Link: theme.link,
        role.Mid: theme.muted,
    }
    for r, value in colors.items():
        palette.setColor(r, QColor(value))
    for r in (role.Text, role.WindowText, role.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, r, QColor(theme.muted))
    return palette


class ThemeManager(QObject):
    """Holds the current theme preference and tells plot owners when the effective theme changes."""

    changed = Signal(object)  # the new Theme

    def __init__(self, app: QApplication, preference: str = "system"):
        super().__init__(app)
        self._app = app
        self.preference = preference
        self.theme = resolve(preference)
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._system_changed)

    def set_preference(self, preference: str) -> Theme:
        """Apply "light", "dark" or "system" to the application palette and to every plot listening."""
        self.preference = preference
        self.theme = resolve(preference)
        self._app.setPalette(_palette(self.theme))
        pg.setConfigOptions(background=self.theme.plot_background, foreground=self.theme.plot_foreground)
        self.changed.emit(self.theme)
        return self.theme

    def _system_changed(self, *_args) -> None:
        if self.preference == "system":
            self.set_preference("system")


_MANAGER: ThemeManager | None = None


def theme_manager() -> ThemeManager:
    """The application's ThemeManager (created with the light/system default on first use)."""
    global _MANAGER
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("theme_manager() needs a QApplication")
    if _MANAGER is None or _MANAGER.parent() is not app:
        if app.style().name().lower() != "fusion":
            app.setStyle("Fusion")  # the palette is honoured the same way on every platform
        _MANAGER = ThemeManager(app)
        _MANAGER.set_preference("system")
    return _MANAGER


def current_theme() -> Theme:
    return theme_manager().theme
