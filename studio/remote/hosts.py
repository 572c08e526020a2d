"""Host profiles: where and how a job runs (SSH target, work root, Python, launcher, SLURM settings).

Profiles live in ``config_dir()/hosts.json`` (0600), replaced atomically. They hold no secrets: passphrases and
passwords are only ever read from the system keyring, and only when the profile opts in with ``use_keyring``; secret
environment variables (HF_TOKEN, ...) are listed by name in ``secret_env`` and their values kept in the keyring
(studio/remote/secrets.py). A variable saved with a secret-like name is moved there on save, and one an older
version left in hosts.json is moved there on load.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from studio.paths import config_dir, tighten
from studio.remote import secrets
from studio.remote.errors import HostProfileError
from worker.contract import write_json_atomic

LAUNCHERS = ("direct", "slurm", "local")
HOSTS_FILE = "hosts.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# SLURM's own syntax: partition and account names (a partition may be a comma-separated list), and --time in one
# of sbatch's formats (minutes, m:s, h:m:s, d-h, d-h:m, d-h:m:s, UNLIMITED). Anything else, a space or a newline
# above all, would add options or shell lines to job.sbatch.
_SLURM_NAME = re.compile(r"^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$")
_SLURM_TIME = re.compile(r"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d{1,2}(:\d{1,2}(:\d{1,2})?)?|UNLIMITED|INFINITE)$")
_SLURM_EXTRA = re.compile(r"^(#SBATCH\s+)?--[a-z][a-z0-9-]*(=[^\s'\"\\`$;|&<>]+)?$")


@dataclass
class HostProfile:
    """One place to run jobs. ``host`` may be an alias of ``~/.ssh/config``; empty fields are filled from there."""

    name: str
    host: str = ""
    user: str | None = None
    port: int | None = None
    identity_file: str | None = None
    proxy_jump: str | None = None
    proxy_command: str | None = None
    work_root: str = "~/linguatune-jobs"
    python: str = "python3"
    venv: str | None = None  # when set, the studio creates it on deploy and runs <venv>/bin/python
    launcher: str = "direct"
    gpus_per_node: int = 1
    nodes: int = 1
    slurm_partition: str | None = None
    slurm_account: str | None = None
    slurm_time: str | None = None
    slurm_extra: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    secret_env: list[str] = field(default_factory=list)  # names only: the values are in the system keyring
    use_keyring: bool = False
    connect_timeout: float = 10.0
    keepalive_s: int = 15

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not _NAME.match(self.name or ""):
            raise HostProfileError(
                f"Host name {self.name!r} must be 1-64 letters, digits, '.', '_' or '-'.", field="name"
            )
        if self.launcher not in LAUNCHERS:
            raise HostProfileError(
                f"Launcher {self.launcher!r} is not one of {', '.join(LAUNCHERS)}.", field="launcher"
            )
        if self.launcher != "local" and not self.host:
            raise HostProfileError(f"Host profile {self.name!r} needs a host name or ssh alias.", field="host")
        if self.port is not None and not (0 < int(self.port) < 65536):
            raise HostProfileError(f"Port {self.port!r} is not between 1 and 65535.", field="port")
        for name in ("gpus_per_node", "nodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "gpus_per_node" else 1):
                raise HostProfileError(f"{name} must be a whole number, got {value!r}.", field=name)
        if not isinstance(self.env, dict) or not isinstance(self.secret_env, list):
            raise HostProfileError("env must be a mapping of NAME to value and secret_env a list of names.",
                                   field="env")
        for key in list(self.env) + list(self.secret_env):
            if not isinstance(key, str) or not _ENV_NAME.match(key):
                raise HostProfileError(f"Environment variable name {key!r} is not valid.", field=f"env.{key}")
        for key, value in self.env.items():
            if not isinstance(value, str):
                raise HostProfileError(f"Environment variable {key} must have a text value, got {value!r}.",
                                       field=f"env.{key}")
        if self.launcher != "slurm" and self.nodes != 1:
            raise HostProfileError(f"{self.launcher} launcher runs on one node, got nodes={self.nodes}.", field="nodes")
        for name, label in (("slurm_partition", "partition"), ("slurm_account", "account")):
            value = getattr(self, name)
            if value is not None and value != "" and not _SLURM_NAME.fullmatch(value):
                raise HostProfileError(f"SLURM {label} {value!r} is not a {label} name (letters, digits, '.', '_', "
                                       f"'-'; no spaces).", field=name)
        if self.slurm_time and not _SLURM_TIME.fullmatch(self.slurm_time):
            raise HostProfileError(f"SLURM time {self.slurm_time!r} is not in sbatch's format (e.g. 90, 24:00:00, "
                                   f"1-00:00:00).", field="slurm_time")
        for line in self.slurm_extra:
            if not _SLURM_EXTRA.fullmatch(line.strip()):
                raise HostProfileError(f"The extra SLURM directive {line!r} must be one sbatch option such as "
                                       f"--gres=gpu:8 (a single line, no spaces or shell characters).",
                                       field="slurm_extra")

    @property
    def remote_python(self) -> str:
        """The interpreter jobs and checks run with: the venv's when the profile has one."""
        return f"{self.venv.rstrip('/')}/bin/python" if self.venv else self.python

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> "HostProfile":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise HostProfileError(f"Unknown host profile field {unknown[0]!r}.", field=unknown[0])
        return cls(**obj)


class HostStore:
    """The saved host profiles (``hosts.json`` in the user config dir)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else config_dir() / HOSTS_FILE

    def load(self) -> dict[str, HostProfile]:
        if not self.path.exists():
            return {}
        tighten(self.path, 0o600)  # an older version wrote it 0644
        try:
            obj = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise HostProfileError(f"{self.path} is not valid JSON ({exc}).") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("hosts", []), list) or not all(
                isinstance(item, dict) for item in obj.get("hosts", [])):
            raise HostProfileError(f"{self.path} is not a host profiles file (expected {{\"hosts\": [...]}}).")
        try:
            profiles = {item["name"]: HostProfile.from_dict(item) for item in obj.get("hosts", [])}
        except (KeyError, TypeError) as exc:
            raise HostProfileError(f"{self.path} holds a host profile without a valid name ({exc}).") from None
        if any(secrets.is_secret_name(k) for p in profiles.values() for k in p.env):
            # An older version kept secret values in this file: move them to the keyring, if there is one (if
            # not, they stay where they were and still never go on a command line).
            try:
                self.save_all(profiles)
            except HostProfileError:
                pass
        return profiles

    def get(self, name: str) -> HostProfile:
        profiles = self.load()
        if name not in profiles:
            known = ", ".join(sorted(profiles)) or "none yet"
            raise HostProfileError(f"No host profile named {name!r} (known: {known}).", field=name)
        return profiles[name]

    def save_all(self, profiles: dict[str, HostProfile]) -> None:
        """Write every profile; variables with secret-like names go to the keyring first (nothing is written if
        the keyring refuses one)."""
        for profile in profiles.values():
            moving = {k: v for k, v in profile.env.items() if secrets.is_secret_name(k)}
            for name, value in moving.items():
                secrets.store(profile.name, name, value)
            if moving:
                profile.env = {k: v for k, v in profile.env.items() if k not in moving}
                profile.secret_env = sorted(set(profile.secret_env) | set(moving))
        doc = {"version": 1, "hosts": [p.to_dict() for p in sorted(profiles.values(), key=lambda p: p.name)]}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_json_atomic(self.path, doc)
        tighten(self.path, 0o600)

    def add(self, profile: HostProfile, *, replace: bool = False, renamed_from: str | None = None) -> None:
        """Save a profile (``replace`` an existing one of that name). ``renamed_from``: the profile this one
        replaces under a new name, whose secrets move with it."""
        profiles = self.load()
        if profile.name in profiles and not replace:
            raise HostProfileError(f"A host profile named {profile.name!r} already exists.", field=profile.name)
        if renamed_from and renamed_from != profile.name and renamed_from in profiles:
            for name in profiles.pop(renamed_from).secret_env:
                value = secrets.fetch(renamed_from, name)
                if value is not None:
                    secrets.store(profile.name, name, value)
                    secrets.forget(renamed_from, name)
        if profile.name in profiles:  # a changed profile keeps its secrets (forget one with remove_secret)
            profile.secret_env = sorted(set(profile.secret_env) | set(profiles[profile.name].secret_env))
        profiles[profile.name] = profile
        self.save_all(profiles)

    def set_secret(self, name: str, variable: str, value: str) -> None:
        """Store a secret environment variable of host ``name`` in the keyring and list it in the profile."""
        profiles = self.load()
        if name not in profiles:
            raise HostProfileError(f"No host profile named {name!r}.", field=name)
        if not _ENV_NAME.match(variable):
            raise HostProfileError(f"Environment variable name {variable!r} is not valid.", field="secret_env")
        secrets.store(name, variable, value)
        profile = profiles[name]
        profile.env.pop(variable, None)
        profile.secret_env = sorted(set(profile.secret_env) | {variable})
        self.save_all(profiles)

    def remove_secret(self, name: str, variable: str) -> None:
        profiles = self.load()
        if name not in profiles or variable not in profiles[name].secret_env:
            raise HostProfileError(f"Host {name!r} has no secret variable {variable!r}.", field="secret_env")
        secrets.forget(name, variable)
        profiles[name].secret_env.remove(variable)
        self.save_all(profiles)

    def remove(self, name: str) -> None:
        """Delete a profile and its secrets from the keyring."""
        profiles = self.load()
        if name not in profiles:
            raise HostProfileError(f"No host profile named {name!r}.", field=name)
        for variable in profiles.pop(name).secret_env:
            secrets.forget(name, variable)
        self.save_all(profiles)


def local_profile(work_root: str | None = None) -> HostProfile:
    """The built-in profile for this machine (no SSH), used when no host is named."""
    import sys

    from studio.paths import data_dir

    return HostProfile(
        name="local", launcher="local", python=sys.executable, gpus_per_node=0,
        work_root=work_root or str(data_dir() / "jobs"),
    )
