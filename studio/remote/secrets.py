"""Secret environment variables of a host (HF_TOKEN, WANDB_API_KEY, ...): kept in the system keyring, never in
hosts.json, never on a command line.

A profile lists the *names* of its secret variables (``secret_env``); the values live in the keyring under
``env:<profile>:<NAME>``. A variable given with a value whose name looks like a secret (a part TOKEN, KEY, SECRET,
PASSWORD, PASSWD, CREDENTIAL(S) or AUTH) is moved there when the profile is saved. At launch the values travel in a
0600 file inside the job's 0700 directory, written over SFTP (the file's contents, not an argument), which the
job's script sources into its environment and deletes before the worker starts, so no ``ps`` on the host ever
shows them. Commands the studio runs on the host (doctor, follow, cancel) get the plain variables only.
"""

from __future__ import annotations

import re
import shlex
from typing import Mapping

from studio.remote.errors import HostProfileError

KEYRING_SERVICE = "linguatune"
SECRETS_FILE = "secrets.env"
# Whole parts of the name (split at "_"): HF_TOKEN, WANDB_API_KEY, AWS_SECRET_ACCESS_KEY, but not
# TOKENIZERS_PARALLELISM or KEYRING_BACKEND.
_SECRET_NAME = re.compile(r"(^|_)(TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH)(_|$)", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether a variable's name says it holds a secret (HF_TOKEN, WANDB_API_KEY, AWS_SECRET_ACCESS_KEY, ...)."""
    return bool(_SECRET_NAME.search(name))


def plain_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables that may go on a command line: every one whose name does not look like a secret."""
    return {name: value for name, value in env.items() if not is_secret_name(name)}


def _ident(profile: str, name: str) -> str:
    return f"env:{profile}:{name}"


def _keyring():
    try:
        import keyring
    except ImportError:
        raise HostProfileError("The keyring package is not installed, so secrets cannot be stored "
                               "(pip install keyring).", field="secret_env") from None
    return keyring


def keyring_get(ident: str) -> str | None:
    """The keyring's value under ``ident`` (this service), or None when it has none or there is no keyring."""
    try:
        return _keyring().get_password(KEYRING_SERVICE, ident)
    except Exception:  # an unavailable keyring reads as "not there"; the caller names what is missing
        return None


def keyring_set(ident: str, value: str, what: str) -> None:
    """Store ``value`` under ``ident``; one sentence naming ``what`` when the keyring refuses."""
    keyring = _keyring()
    try:
        keyring.set_password(KEYRING_SERVICE, ident, value)
    except Exception as exc:  # keyring backends raise their own types (no backend: NoKeyringError)
        raise HostProfileError(f"The system keyring refused to store {what} ({type(exc).__name__}: {exc}); it "
                               f"was not saved anywhere.", field="keyring") from None


def store(profile: str, name: str, value: str) -> None:
    """Put one secret variable's value in the keyring; one sentence if the keyring refuses."""
    if not value:
        raise HostProfileError(f"An empty value for {name} was not stored.", field=f"secret_env.{name}")
    keyring_set(_ident(profile, name), value, f"{name}, named like a secret,")


def fetch(profile: str, name: str) -> str | None:
    """A secret variable's value, or None when the keyring has none (or there is no keyring)."""
    return keyring_get(_ident(profile, name))


def forget(profile: str, name: str) -> None:
    """Delete one secret variable's value from the keyring (nothing if it is not there)."""
    try:
        _keyring().delete_password(KEYRING_SERVICE, _ident(profile, name))
    except Exception:  # already gone, or no keyring to hold it
        pass


def values_for(profile) -> dict[str, str]:
    """Every secret variable of a profile with its value, for a launch. One sentence naming the first one the
    keyring lacks (and how to set it), before anything is created on the host."""
    out: dict[str, str] = {}
    for name in profile.secret_env:
        value = fetch(profile.name, name)
        if value is None:
            raise HostProfileError(
                f"The secret {name} of host {profile.name} is not in the system keyring; set it with "
                f"`linguatune hosts secret {profile.name} --env {name}` (or remove it from the profile).",
                field=f"secret_env.{name}")
        out[name] = value
    # A value an older version left in hosts.json under a secret-like name (it could not be moved to a keyring).
    for name, value in profile.env.items():
        if is_secret_name(name):
            out.setdefault(name, value)
    return out


def secrets_file(values: Mapping[str, str]) -> bytes:
    """The job directory's secrets file: one ``NAME='value'`` line per variable, sourced with ``set -a``."""
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(values.items())).encode()


def source_secrets_line() -> str:
    """Shell text for a job script: load the secrets file (if any) into the environment, then delete it."""
    return (f"if [ -f {SECRETS_FILE} ]; then set -a; . ./{SECRETS_FILE}; set +a; rm -f {SECRETS_FILE}; fi")
