"""Host key verification: keys are checked against ``~/.ssh/known_hosts`` (read-only, hashed entries included)
and the studio's own ``config_dir()/known_hosts``. An unknown key raises ``UnknownHostKeyError`` with its SHA256
fingerprint; only ``trust_host_key`` (after an explicit confirmation) records it, in the studio's file only.

The files are read line by line as OpenSSH reads them, not by paramiko's loader (which raises on the first line it
cannot parse, so one ``@cert-authority`` line for any host broke every connection): a line that does not parse is
skipped, host patterns may use ``*``, ``?`` and ``!negation`` (``[127.0.0.*]:2222``), hashed names match by HMAC,
``@revoked`` keys are refused even where another line lists them, and ``@cert-authority`` lines are not supported
(certificates are not verified): a host known only through one is refused with a sentence saying so."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import paramiko

from studio.paths import config_dir, tighten
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


@dataclass(frozen=True)
class KnownHostLine:
    """One usable known_hosts line: its marker (None, "revoked", "cert-authority"), host patterns and key."""

    marker: str | None
    patterns: tuple[str, ...]
    key: paramiko.PKey
    source: str  # path:line, for messages

    def matches(self, name: str) -> bool:
        """OpenSSH pattern rules: any positive pattern matches and no negated one does."""
        hit = False
        for pattern in self.patterns:
            negated = pattern.startswith("!")
            body = pattern[1:] if negated else pattern
            if body.startswith("|1|"):
                found = _hashed_match(body, name)
            else:
                found = _glob(body).fullmatch(name) is not None
            if found and negated:
                return False
            hit = hit or found
        return hit


@lru_cache(maxsize=256)
def _glob(pattern: str) -> "re.Pattern[str]":
    """OpenSSH host patterns: only ``*`` and ``?`` are special (``[host]:port`` brackets are literal)."""
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern))


def _hashed_match(entry: str, name: str) -> bool:
    try:
        _, _, salt, digest = entry.split("|", 3)
        mac = hmac.new(base64.b64decode(salt), name.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(mac, base64.b64decode(digest))
    except (ValueError, binascii.Error):
        return False


def parse_known_hosts(path: Path) -> tuple[list[KnownHostLine], list[str]]:
    """The usable lines of a known_hosts file, and one note per line skipped (it did not parse)."""
    lines: list[KnownHostLine] = []
    skipped: list[str] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return lines, skipped
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        marker = None
        if fields[0].startswith("@"):
            marker = fields[0][1:]
            fields = fields[1:]
        where = f"{path}:{number}"
        if marker not in (None, "revoked", "cert-authority") or len(fields) < 3:
            skipped.append(where)
            continue
        try:
            key = paramiko.PKey.from_type_string(fields[1], base64.b64decode(fields[2]))
        except (paramiko.SSHException, ValueError, binascii.Error, TypeError):
            skipped.append(where)
            continue
        lines.append(KnownHostLine(marker, tuple(fields[0].split(",")), key, where))
    return lines, skipped


def known_host_lines(user_files: list[str] | None = None) -> list[KnownHostLine]:
    """The user's and the studio's known_hosts lines together (the user's files are never written).
    ``user_files``: the host's UserKnownHostsFile list from the ssh config (None: ``~/.ssh/known_hosts``)."""
    found: list[KnownHostLine] = []
    tighten(app_known_hosts_path(), 0o600)  # the studio's own file (the user's is left as it is)
    users = [user_known_hosts_path()] if user_files is None else [Path(p) for p in user_files]
    for path in (*users, app_known_hosts_path()):
        if path.is_file():
            found.extend(parse_known_hosts(path)[0])
    return found


def host_keys_for(name: str, user_files: list[str] | None = None) -> tuple[paramiko.HostKeys, list[KnownHostLine]]:
    """Keys known for ``name`` (``host``, ``[host]:port`` or a HostKeyAlias) as paramiko host keys under that exact
    name, and the revoked and cert-authority lines that match it."""
    keys = paramiko.HostKeys()
    special: list[KnownHostLine] = []
    for line in known_host_lines(user_files):
        if not line.matches(name):
            continue
        if line.marker is None:
            keys.add(name, line.key.get_name(), line.key)
        else:
            special.append(line)
    return keys, special


def load_known_hosts() -> paramiko.HostKeys:
    """Every plain (unmarked) known host entry with a literal name, for listing; matching uses ``host_keys_for``."""
    keys = paramiko.HostKeys()
    for line in known_host_lines():
        if line.marker is None:
            for pattern in line.patterns:
                if not any(ch in pattern for ch in "*?!") and not pattern.startswith("|1|"):
                    keys.add(pattern, line.key.get_name(), line.key)
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
    """Refuses every key paramiko did not find in its loaded host keys, with a typed error carrying the fingerprint.
    ``cert_authority``: the name is known only through @cert-authority lines, which are not supported."""

    def __init__(self, cert_authority: bool = False, name: str | None = None):
        self.cert_authority = cert_authority
        self.name = name  # the name the key is known under (a HostKeyAlias), when not paramiko's host[:port]

    def missing_host_key(self, client, hostname, key):  # noqa: D401 - paramiko's interface
        raise UnknownHostKeyError(self.name or hostname, key.get_name(), fingerprint(key), key=key,
                                  note="it is known only through a @cert-authority line, and LinguaTune does not "
                                       "verify host certificates" if self.cert_authority else "")
