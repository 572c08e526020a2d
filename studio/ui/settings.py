"""The studio's preferences and remembered state, stored with QSettings in an INI file under ``config_dir()``.

``config_dir()`` honours ``LINGUATUNE_HOME``, so tests (which point it at a fresh folder) never touch the real home.
QSettings' search path is process-global; it is set again each time a settings object is made because the folder
can change between tests in one process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from studio.paths import config_dir

ORGANISATION = "LinguaTune"
APPLICATION = "studio"
THEMES = ("system", "light", "dark")
MAX_RECENT = 8


def open_settings() -> QSettings:
    """A QSettings for the studio, INI format, inside ``config_dir()``."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(config_dir()))
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


class StudioSettings:
    """Typed access to what the studio remembers: theme, window state, recent plans and the last plan's inputs."""

    def __init__(self, settings: QSettings | None = None):
        self.qsettings = settings if settings is not None else open_settings()

    @property
    def path(self) -> Path:
        return Path(self.qsettings.fileName())

    def sync(self) -> None:
        self.qsettings.sync()

    # --- preferences -------------------------------------------------------------------------------------------
    @property
    def theme(self) -> str:
        value = str(self.qsettings.value("ui/theme", "system"))
        return value if value in THEMES else "system"

    @theme.setter
    def theme(self, value: str) -> None:
        if value not in THEMES:
            raise ValueError(f"theme must be one of {THEMES}, got {value!r}")
        self.qsettings.setValue("ui/theme", value)

    # --- window ------------------------------------------------------------------------------------------------
    def window_geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        value = self.qsettings.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray, page: int) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)
        self.qsettings.setValue("window/page", page)

    @property
    def page(self) -> int:
        try:
            return int(self.qsettings.value("window/page", 0))
        except (TypeError, ValueError):
            return 0

    # --- plans -------------------------------------------------------------------------------------------------
    def recent_plans(self) -> list[str]:
        value = self.qsettings.value("plan/recent", "[]")
        try:
            paths = json.loads(value) if isinstance(value, str) else []
        except json.JSONDecodeError:
            return []
        return [p for p in paths if isinstance(p, str)][:MAX_RECENT]

    def add_recent_plan(self, path: str | Path) -> list[str]:
        text = str(Path(path).resolve())
        paths = [text] + [p for p in self.recent_plans() if p != text]
        paths = paths[:MAX_RECENT]
        self.qsettings.setValue("plan/recent", json.dumps(paths))
        return paths

    def clear_recent_plans(self) -> None:
        self.qsettings.setValue("plan/recent", "[]")

    def last_plan_state(self) -> dict[str, Any] | None:
        """The Plan page's inputs when the studio was last closed (see PlanPage.state)."""
        value = self.qsettings.value("plan/last")
        if not isinstance(value, str) or not value:
            return None
        try:
            state = json.loads(value)
        except json.JSONDecodeError:
            return None
        return state if isinstance(state, dict) else None

    def save_last_plan_state(self, state: dict[str, Any]) -> None:
        self.qsettings.setValue("plan/last", json.dumps(state, sort_keys=True))
