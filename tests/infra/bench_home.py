"""A benchmark's own LinguaTune home and ssh files (never the user's), as the test fixtures give each test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def isolated_home(prefix: str) -> Path:
    """A fresh temporary folder holding LINGUATUNE_HOME, an empty ssh config and known_hosts; no ssh-agent."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["LINGUATUNE_HOME"] = str(base / "home")
    os.environ["LINGUATUNE_SSH_CONFIG"] = str(base / "ssh_config")
    os.environ["LINGUATUNE_USER_KNOWN_HOSTS"] = str(base / "known_hosts")
    os.environ.pop("SSH_AUTH_SOCK", None)
    (base / "ssh_config").write_text("")
    return base
