"""Where the studio keeps its own files: host profiles and known_hosts (config), the job registry (data), caches.

``LINGUATUNE_HOME`` overrides everything (one folder with config/, data/, cache/ inside), which the tests use;
otherwise the platform's user dirs (XDG on Linux). Folders are 0700 and the studio's own files 0600 (host profiles,
known_hosts, the job registry), tightened when they already exist with looser modes: they hold host names, users and
job paths, never secrets (those live in the system keyring).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "linguatune"


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    tighten(path, 0o700)
    return path


def tighten(path: Path, mode: int) -> None:
    """Take group and other permissions away from one of the studio's own files or folders (never widens)."""
    try:
        current = path.stat().st_mode & 0o777
        if current & ~mode:
            os.chmod(path, current & mode)
    except OSError:
        pass


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
