"""Host key verification: keys are checked against ``~/.ssh/known_hosts`` (read-only, hashed entries included)
and the studio's own ``config_dir()/known_hosts``. An unknown key raises ``UnknownHostKeyError`` with its SHA256
fingerprint; only ``trust_host_key`` (after an explicit confirmation) records it, in the studio's file only."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import paramiko

from studio.paths import config_dir
from studio.remote.errors import UnknownHostKeyError


def user_known_hosts_path() -> Path:
    return Path(
        os.environ.get("LINGUATUNE_USER_KNOWN_HOSTS") or Path.home() / ".ssh" / "known_hosts"
    ).expanduser()


def app_known_hosts_path() -> Path:
    return config_dir() / "known_hosts"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint of a public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def host_entry_name(host: str, port: int) -> str:
    """The name known_hosts uses: ``host`` on port 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


def load_known_hosts() -> paramiko.HostKeys:
    """User and studio known hosts together (the user's file is never written)."""
    keys = paramiko.HostKeys()
    for path in (user_known_hosts_path(), app_known_hosts_path()):
        if path.is_file():
            try:
                keys.load(str(path))
            except (OSError, paramiko.SSHException):
                continue
    return keys


def trust_host_key(host: str, port: int, key: paramiko.PKey) -> Path:
    """Record ``key`` for ``host:port`` in the studio's known_hosts (call only after the user confirmed it)."""
    path = app_known_hosts_path()
    name = host_entry_name(host, port)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    # Drop an older entry of the same type for this host so that the new one is the only truth.
    kept = [
        line for line in lines
        if not (line.split(" ")[:2] == [name, key.get_name()])
    ]
    kept.append(f"{name} {key.get_name()} {key.get_base64()}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(kept) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


class VerifyingHostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Refuses every key paramiko did not find in its loaded host keys, with a typed error carrying the fingerprint."""

    def missing_host_key(self, client, hostname, key):  # noqa: D401 - paramiko's interface
        raise UnknownHostKeyError(hostname, key.get_name(), fingerprint(key), key=key)
