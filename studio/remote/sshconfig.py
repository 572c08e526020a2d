"""Resolve a host profile against the user's ``~/.ssh/config`` so existing aliases just work.

The file read is ``$LINGUATUNE_SSH_CONFIG`` when set (the tests point it at a temporary file), else ``~/.ssh/config``.
Values set in the profile win over the config file. As in OpenSSH, ``Include`` pulls in other files (globs, paths
relative to the config's folder, ``~/.ssh``, nested up to 16 deep; inside a ``Host`` block they apply to that block), and
``UserKnownHostsFile`` and ``HostKeyAlias`` decide where and under which name a host's key is looked up.
"""

from __future__ import annotations

import getpass
import glob
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from studio.remote.errors import HostProfileError
from studio.remote.hosts import HostProfile

INCLUDE_DEPTH = 16  # OpenSSH's own limit on nested Include
_INCLUDE = re.compile(r"^\s*include(\s*=\s*|\s+)(?P<rest>.*)$", re.IGNORECASE)
_BLOCK = re.compile(r"^\s*(host|match)(\s*=\s*|\s+)", re.IGNORECASE)


def user_ssh_config_path() -> Path:
    return Path(os.environ.get("LINGUATUNE_SSH_CONFIG") or Path.home() / ".ssh" / "config").expanduser()


@dataclass
class SSHTarget:
    """Everything needed to open one SSH connection (a hop of a ProxyJump chain is its own target)."""

    alias: str
    hostname: str
    port: int = 22
    user: str = field(default_factory=getpass.getuser)
    identity_files: list[str] = field(default_factory=list)
    proxy_jump: str | None = None
    proxy_command: str | None = None
    connect_timeout: float = 10.0
    keepalive_s: int = 15
    use_keyring: bool = False
    known_hosts_files: list[str] | None = None  # UserKnownHostsFile; None: the default ~/.ssh/known_hosts
    host_key_alias: str | None = None  # HostKeyAlias: the name the key is looked up and recorded under

    @property
    def label(self) -> str:
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"


def load_ssh_config(path: Path | None = None) -> paramiko.SSHConfig:
    path = path or user_ssh_config_path()
    if path.is_file():
        return paramiko.SSHConfig.from_text(expand_includes(path, path.parent))
    return paramiko.SSHConfig.from_text("")


def expand_includes(path: Path, base: Path, depth: int = 0) -> str:
    """The text of an ssh config with its ``Include`` lines replaced by the files they name (paramiko ignores
    them); relative names are taken from ``base``, the user config's folder (``~/.ssh``) as in OpenSSH. An Include
    inside a Host or Match block repeats that block's line after the included text, so what follows still belongs
    to it. A file that cannot be read is skipped, as ssh does for a glob that matches none."""
    if depth > INCLUDE_DEPTH:
        raise HostProfileError(f"{path}: Include is nested more than {INCLUDE_DEPTH} deep (a loop?).",
                               field="ssh_config")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    out: list[str] = []
    block: str | None = None
    for line in text.splitlines():
        if _BLOCK.match(line):
            block = line
        found = _INCLUDE.match(line)
        if not found:
            out.append(line)
            continue
        try:
            names = shlex.split(found.group("rest"), comments=True)
        except ValueError:
            names = found.group("rest").split()
        for name in names:
            pattern = os.path.expanduser(name)
            if not os.path.isabs(pattern):
                pattern = str(base / pattern)
            for match in sorted(glob.glob(pattern)):
                if os.path.isfile(match):
                    out.append(expand_includes(Path(match), base, depth + 1))
        # OpenSSH returns to the outer context after an Include: the enclosing block, or the top level (Host *),
        # so what follows never falls into a block the included file ended in.
        out.append(block if block is not None else "Host *")
    return "\n".join(out)


def _known_hosts_files(value, alias: str, hostname: str, user: str) -> list[str] | None:
    """UserKnownHostsFile's files (``none`` for no file, ``~``, %d, %u, %h, %% expanded), or None for the default."""
    if not value:
        return None
    items = value if isinstance(value, list) else shlex.split(str(value))
    files = []
    for item in items:
        if item.lower() == "none":
            continue
        item = (item.replace("%%", "\0").replace("%d", str(Path.home())).replace("%u", user)
                .replace("%h", hostname).replace("%n", alias).replace("\0", "%"))
        files.append(os.path.expanduser(item))
    return files


def _port(text, what: str) -> int:
    """A TCP port from text; one sentence naming where the bad value came from."""
    try:
        port = int(str(text).strip())
    except ValueError:
        raise HostProfileError(f"{what}: the port must be a number from 1 to 65535, got {str(text)[:40]!r}.",
                               field="port") from None
    if not 1 <= port <= 65535:
        raise HostProfileError(f"{what}: the port must be a number from 1 to 65535, got {port}.", field="port")
    return port


def resolve_alias(alias: str, config: paramiko.SSHConfig | None = None) -> SSHTarget:
    """A target for a bare ``[user@]host[:port]`` or ssh alias, as ``ssh`` would resolve it."""
    user = None
    if "@" in alias:
        user, alias = alias.rsplit("@", 1)
    port = None
    if alias.count(":") == 1:
        alias, port_text = alias.split(":")
        port = _port(port_text, f"{alias}:{port_text}")
    cfg = (config or load_ssh_config()).lookup(alias)
    hostname = cfg.get("hostname", alias)
    user = user or cfg.get("user") or getpass.getuser()
    return SSHTarget(
        alias=alias,
        hostname=hostname,
        port=port or _port(cfg.get("port", 22), f"the Port of {alias} in the ssh config"),
        user=user,
        identity_files=[os.path.expanduser(p) for p in cfg.get("identityfile", [])],
        proxy_jump=None if cfg.get("proxyjump", "none").lower() == "none" else cfg.get("proxyjump"),
        proxy_command=None if cfg.get("proxycommand", "none").lower() == "none" else cfg.get("proxycommand"),
        known_hosts_files=_known_hosts_files(cfg.get("userknownhostsfile"), alias, hostname, user),
        host_key_alias=cfg.get("hostkeyalias") or None,
    )


def resolve_profile(profile: HostProfile, config: paramiko.SSHConfig | None = None) -> SSHTarget:
    """The SSH target of a profile: its own fields first, then ``~/.ssh/config`` for the alias."""
    config = config or load_ssh_config()
    target = resolve_alias(profile.host, config)
    if profile.user:
        target.user = profile.user
    if profile.port:
        target.port = int(profile.port)
    if profile.identity_file:
        target.identity_files = [os.path.expanduser(profile.identity_file)] + target.identity_files
    if profile.proxy_jump:
        target.proxy_jump, target.proxy_command = profile.proxy_jump, None
    if profile.proxy_command:
        target.proxy_command, target.proxy_jump = profile.proxy_command, None
    target.connect_timeout = profile.connect_timeout
    target.keepalive_s = profile.keepalive_s
    target.use_keyring = profile.use_keyring
    return target


def jump_chain(target: SSHTarget, config: paramiko.SSHConfig | None = None) -> list[SSHTarget]:
    """The hops before ``target`` (outermost first) from its ProxyJump, following each hop's own ProxyJump."""
    config = config or load_ssh_config()
    hops: list[SSHTarget] = []
    spec = target.proxy_jump
    seen = 0
    while spec:
        # "a,b" means a then b; each hop may itself have a ProxyJump in the config.
        chain = [resolve_alias(item.strip(), config) for item in spec.split(",") if item.strip()]
        for hop in chain:
            hop.connect_timeout, hop.keepalive_s = target.connect_timeout, target.keepalive_s
        hops = chain + hops
        spec = chain[0].proxy_jump
        for hop in chain:
            hop.proxy_jump = None
        seen += 1
        if seen > 8:
            break
    return hops
