"""Resolve a host profile against the user's ``~/.ssh/config`` so existing aliases just work.

The file read is ``$LINGUATUNE_SSH_CONFIG`` when set (the tests point it at a temporary file), else ``~/.ssh/config``.
Values set in the profile win over the config file.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from studio.remote.errors import HostProfileError

from studio.remote.hosts import HostProfile


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

    @property
    def label(self) -> str:
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"


def load_ssh_config(path: Path | None = None) -> paramiko.SSHConfig:
    path = path or user_ssh_config_path()
    if path.is_file():
        return paramiko.SSHConfig.from_path(str(path))
    return paramiko.SSHConfig.from_text("")


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
    return SSHTarget(
        alias=alias,
        hostname=cfg.get("hostname", alias),
        port=port or _port(cfg.get("port", 22), f"the Port of {alias} in the ssh config"),
        user=user or cfg.get("user") or getpass.getuser(),
        identity_files=[os.path.expanduser(p) for p in cfg.get("identityfile", [])],
        proxy_jump=None if cfg.get("proxyjump", "none").lower() == "none" else cfg.get("proxyjump"),
        proxy_command=None if cfg.get("proxycommand", "none").lower() == "none" else cfg.get("proxycommand"),
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
