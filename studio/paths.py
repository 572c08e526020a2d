"""Where the studio keeps its own files: host profiles and known_hosts (config), the job registry (data), caches.

``LINGUATUNE_HOME`` overrides everything (one folder with config/, data/, cache/ inside), which the tests use;
otherwise the platform's user dirs (XDG on Linux). Folders are created with mode 0700: they may hold host names
and job paths, never secrets (those live in the system keyring).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "linguatune"


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _home() -> Path | None:
    value = os.environ.get("LINGUATUNE_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    home = _home()
    return _ensure(home / "config" if home else Path(platformdirs.user_config_dir(APP)))


def data_dir() -> Path:
    home = _home()
    return _ensure(home / "data" if home else Path(platformdirs.user_data_dir(APP)))


def cache_dir() -> Path:
    home = _home()
    return _ensure(home / "cache" if home else Path(platformdirs.user_cache_dir(APP)))
