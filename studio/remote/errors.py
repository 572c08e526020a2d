"""Errors of the remote area: each is one clear sentence carrying the offending value (host, fingerprint, job)."""

from __future__ import annotations

from studio.errors import LinguaTuneError


class RemoteError(LinguaTuneError):
    """Base of errors about hosts, connections, launches and jobs."""


class HostProfileError(RemoteError):
    """A host profile that cannot be used (unknown name, bad field value)."""


class HostUnreachableError(RemoteError):
    """The host could not be reached (DNS, refused, timeout, proxy failure)."""

    def __init__(self, host: str, port: int, reason: str):
        super().__init__(f"Cannot reach {host} port {port}: {reason}.", field=host)
        self.host, self.port, self.reason = host, port, reason


class UnknownHostKeyError(RemoteError):
    """The server's host key is in no known_hosts file; trusting it needs an explicit confirmation."""

    def __init__(self, host: str, key_type: str, fingerprint: str, key=None, note: str = ""):
        super().__init__(
            f"The host key of {host} is not known ({key_type} {fingerprint}"
            + (f"; {note}" if note else "") + f"); check it and trust it with --trust {fingerprint}.",
            field=host,
        )
        self.host, self.key_type, self.fingerprint, self.key = host, key_type, fingerprint, key


class HostKeyChangedError(RemoteError):
    """The server presented a key different from the recorded one: refused (possible man-in-the-middle)."""

    def __init__(self, host: str, expected_fingerprint: str, actual_fingerprint: str):
        super().__init__(
            f"The host key of {host} has changed (recorded {expected_fingerprint}, offered {actual_fingerprint}); "
            "refusing to connect.",
            field=host,
        )
        self.host = host
        self.expected_fingerprint, self.actual_fingerprint = expected_fingerprint, actual_fingerprint


class HostKeyRevokedError(RemoteError):
    """The server presented a key that a known_hosts file marks @revoked: refused."""

    def __init__(self, host: str, actual_fingerprint: str, source: str):
        super().__init__(f"The host key of {host} ({actual_fingerprint}) is revoked in {source}; refusing to "
                         f"connect.", field=host)
        self.host, self.actual_fingerprint, self.source = host, actual_fingerprint, source


class AuthenticationError(RemoteError):
    """No offered credential (agent, key file, keyring secret) was accepted."""

    def __init__(self, host: str, user: str, reason: str):
        super().__init__(f"Authentication as {user} on {host} failed: {reason}.", field=host)
        self.host, self.user, self.reason = host, user, reason


class RemoteCommandError(RemoteError):
    """A remote command needed by the studio failed."""

    def __init__(self, what: str, exit_status: int, stderr: str):
        tail = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
        super().__init__(f"{what} failed with exit status {exit_status}: {tail}")
        self.what, self.exit_status, self.stderr = what, exit_status, stderr


class JobNotFoundError(RemoteError):
    """A job id that is not in the local registry."""

    def __init__(self, job_id: str):
        super().__init__(f"No job {job_id!r} in the job registry (see `linguatune jobs`).", field=job_id)
        self.job_id = job_id


class DeployError(RemoteError):
    """The worker could not be built or installed on the host."""
