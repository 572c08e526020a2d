"""Sessions on a host: run shell commands and move files, over SSH (paramiko + SFTP) or on this machine.

``open_session(profile)`` returns an ``SSHSession`` or, for the ``local`` launcher, a ``LocalSession`` with the same
interface, so launching, following, checking and cancelling are one code path for every launcher.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import stat as statmod
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import paramiko

from studio.remote.errors import (
    AuthenticationError,
    HostKeyChangedError,
    HostUnreachableError,
    HostKeyRevokedError,
    RemoteCommandError,
    UnknownHostKeyError,
)
from studio.remote.hosts import HostProfile
from studio.remote.knownhosts import VerifyingHostKeyPolicy, fingerprint, host_entry_name, host_keys_for
from studio.remote.secrets import keyring_get, keyring_set, plain_env
from studio.remote.sshconfig import SSHTarget, jump_chain, load_ssh_config, resolve_profile

# Errors after which a follower reconnects (the network, the server or the channel went away).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, paramiko.SSHException, socket.timeout,
)


@dataclass
class CommandResult:
    status: int
    stdout: str
    stderr: str

    def check(self, what: str) -> "CommandResult":
        if self.status != 0:
            raise RemoteCommandError(what, self.status, self.stderr or self.stdout)
        return self


def env_prefix(env: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(str(value))}; " for name, value in sorted(env.items()))


def shell_path(path: str) -> str:
    """A path as shell text that means it: quoted, except that a leading ``~`` (a work root not yet resolved on
    the host, as in a dry run) stays the home folder (``'~/x'`` would be a folder named ``~``)."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def shell_join(argv) -> str:
    """``shlex.join`` that leaves a leading ``~`` of a path argument to the shell (see ``shell_path``)."""
    return " ".join(shell_path(str(arg)) for arg in argv)


class Session:
    """Commands and files on one host. Paths are absolute (see ``resolve_path``)."""

    host_label = "localhost"
    is_local = False

    def __init__(self, env: dict[str, str] | None = None):
        self.env = dict(env or {})
        self._home: str | None = None

    # commands -----------------------------------------------------------------------------------------------
    def run(self, command: str, *, timeout: float | None = 120.0, stdin: bytes | None = None,
            on_line=None) -> CommandResult:
        """Run ``command`` with ``sh`` on the host. ``on_line``: called with each line of standard output as it
        arrives (a long pip install shows its progress); the output is returned in full either way."""
        raise NotImplementedError

    def run_checked(self, command: str, what: str, **kwargs) -> CommandResult:
        return self.run(command, **kwargs).check(what)

    def home(self) -> str:
        if self._home is None:
            self._home = self.run_checked('printf %s "$HOME"', "reading $HOME").stdout.strip()
        return self._home

    def resolve_path(self, path: str) -> str:
        """An absolute path: ``~`` and relative paths are taken from the remote home."""
        if path == "~":
            return self.home()
        if path.startswith("~/"):
            return self.home().rstrip("/") + "/" + path[2:]
        if not path.startswith("/"):
            return self.home().rstrip("/") + "/" + path
        return path

    # files ----------------------------------------------------------------------------------------------------
    def write_bytes(self, path: str, data: bytes, mode: int = 0o600) -> None:
        raise NotImplementedError

    def read_bytes(self, path: str) -> bytes | None:
        raise NotImplementedError

    def size(self, path: str) -> int | None:
        raise NotImplementedError

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        raise NotImplementedError

    def iter_range(self, path: str, offset: int, length: int, chunk: int = 1 << 20) -> Iterator[bytes]:
        """``length`` bytes from ``offset`` in pieces of up to ``chunk`` bytes (a long catch-up read)."""
        end = offset + length
        while offset < end:
            data = self.read_range(path, offset, min(chunk, end - offset))
            if not data:
                return
            offset += len(data)
            yield data

    def listdir(self, path: str) -> list[tuple[str, bool, int]]:
        """(name, is_dir, size) of the entries of a folder; empty when it does not exist."""
        raise NotImplementedError

    def upload(self, local: str | Path, remote: str) -> None:
        raise NotImplementedError

    def download(self, remote: str, local: str | Path) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalSession(Session):
    """This machine, without SSH (the ``local`` launcher)."""

    is_local = True

    def run(self, command, *, timeout=120.0, stdin=None, on_line=None):
        if on_line is None:
            proc = subprocess.run(
                ["sh", "-c", env_prefix(self.env) + command], input=stdin or b"", capture_output=True,
                timeout=timeout,
            )
            return CommandResult(proc.returncode, proc.stdout.decode(errors="replace"),
                                 proc.stderr.decode(errors="replace"))
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(["sh", "-c", env_prefix(self.env) + command], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err)
            proc.stdin.write(stdin or b"")
            proc.stdin.close()
            expired = threading.Event()

            def expire():
                expired.set()
                proc.kill()

            timer = threading.Timer(timeout, expire) if timeout else None
            if timer:
                timer.start()
            out = []
            try:
                for raw in proc.stdout:
                    line = raw.decode(errors="replace")
                    out.append(line)
                    on_line(line.rstrip("\n"))
                status = proc.wait()
            except BaseException:
                proc.kill()  # the callback failed (or an interrupt): the command must not run on unattended
                proc.wait()
                raise
            finally:
                if timer:
                    timer.cancel()
            if expired.is_set():
                raise socket.timeout(f"command timed out after {timeout} s")
            err.seek(0)
            return CommandResult(status, "".join(out), err.read().decode(errors="replace"))

    def home(self):
        return os.path.expanduser("~")

    def write_bytes(self, path, data, mode=0o600):
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)

    def read_bytes(self, path):
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    def size(self, path):
        try:
            return os.stat(path).st_size
        except FileNotFoundError:
            return None

    def read_range(self, path, offset, length):
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def listdir(self, path):
        try:
            entries = list(os.scandir(path))
        except FileNotFoundError:
            return []
        return [(e.name, e.is_dir(), e.stat().st_size) for e in entries]

    def upload(self, local, remote):
        self.write_bytes(remote, Path(local).read_bytes(), 0o644)

    def download(self, remote, local):
        data = self.read_bytes(remote)
        if data is None:
            raise FileNotFoundError(remote)
        Path(local).write_bytes(data)


# paramiko logs a dropped link ("Socket exception: Connection reset by peer") from its transport thread; with no
# logging configured Python prints that on stderr, in the middle of `follow`'s output, which already says that the
# link dropped and why. A handler of the application's own (logging configured by a user) still receives it.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


def _quiet_prefetch_hook(previous):
    """A link that dies under a prefetching SFTP read also ends paramiko's prefetch thread with EOFError; the
    follower already reports (and recovers from) the drop, so that thread's traceback is not printed."""
    def hook(args):
        if "_prefetch_thread" in (args.thread.name if args.thread else "") and issubclass(
                args.exc_type, (EOFError, OSError, paramiko.SSHException)):
            return
        previous(args)
    return hook


threading.excepthook = _quiet_prefetch_hook(threading.excepthook)

# What a failing link raises under an SFTP read: a silence past the limit, a reset, a transport that died.
LINK_ERRORS = (socket.timeout, TimeoutError, EOFError, ConnectionError, paramiko.SSHException)


def silence_limit(keepalive_s: float | None) -> float:
    """How long a request may wait for any answer before the link counts as dead: two keepalive intervals (30 s by
    default), at least 5 s. A transfer that keeps moving never hits it; a peer gone silent does."""
    return max(5.0, 2.0 * float(keepalive_s or 15))


class SSHSession(Session):
    """A host over SSH: commands on exec channels, files over one SFTP channel."""

    def __init__(self, client: paramiko.SSHClient, target: SSHTarget, env=None, hops=()):
        super().__init__(env)
        self.client = client
        self.target = target
        self.host_label = target.label
        self._hops = list(hops)
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = self.client.open_sftp()
            # Without a timeout an SFTP read on a link that went silent waits forever; with it, the read fails
            # (socket.timeout) and the follower reconnects.
            self._sftp.get_channel().settimeout(silence_limit(getattr(self.target, "keepalive_s", None)))
        return self._sftp

    def run(self, command, *, timeout=120.0, stdin=None, on_line=None):
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise EOFError(f"the SSH connection to {self.host_label} is closed")
        channel = transport.open_session(timeout=timeout)
        channel.settimeout(timeout)
        # Always sh, whatever the login shell is, so the quoting rules are POSIX.
        channel.exec_command("sh -c " + shlex.quote(env_prefix(self.env) + command))
        if stdin:
            channel.sendall(stdin)
        channel.shutdown_write()
        out, err = bytearray(), bytearray()
        told = 0  # bytes of out already passed to on_line
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            progressed = False
            if channel.recv_ready():
                out += channel.recv(65536)
                progressed = True
                if on_line is not None:
                    end = out.rfind(b"\n") + 1
                    for line in bytes(out[told:end]).decode(errors="replace").splitlines():
                        on_line(line)
                    told = max(told, end)
            if channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
                progressed = True
            if channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
                break
            if not progressed and channel.closed and not channel.exit_status_ready():
                raise EOFError(f"the SSH connection to {self.host_label} closed during a command")
            if deadline is not None and time.monotonic() > deadline:
                channel.close()
                raise socket.timeout(f"command on {self.host_label} timed out after {timeout} s")
            if not progressed:
                time.sleep(0.005)
        status = channel.recv_exit_status()
        channel.close()
        if on_line is not None and told < len(out):
            for line in bytes(out[told:]).decode(errors="replace").splitlines():
                on_line(line)
        return CommandResult(status, out.decode(errors="replace"), err.decode(errors="replace"))

    def write_bytes(self, path, data, mode=0o600):
        tmp = f"{path}.{os.getpid()}.tmp"
        with self.sftp.open(tmp, "wb") as fh:
            fh.chmod(mode)
            fh.write(data)
        self.sftp.posix_rename(tmp, path)

    def read_bytes(self, path):
        try:
            with self.sftp.open(path, "rb") as fh:
                size = fh.stat().st_size
                fh.prefetch(size)
                return fh.read()
        except FileNotFoundError:
            return None
        except IOError as exc:
            if getattr(exc, "errno", None) == 2:
                return None
            raise

    def size(self, path):
        try:
            return self.sftp.stat(path).st_size
        except FileNotFoundError:
            return None

    @contextmanager
    def _reading(self, path):
        """An SFTP file open for reading. When the link fails under it (a reset, or the silence limit), the
        connection is dropped at once: closing the file would send one more request and wait for its answer on
        the dead link, a second silence limit before the follower even hears of the first."""
        fh = self.sftp.open(path, "rb")
        try:
            yield fh
        except LINK_ERRORS:
            self.abandon()
            raise
        except BaseException:
            fh.close()
            raise
        fh.close()

    def abandon(self) -> None:
        """Drop the connection without a goodbye (it is dead or dying); later calls fail at once."""
        self._sftp = None
        try:
            self.client.close()
        except Exception:  # the transport may already be gone; nothing left to release
            pass

    def read_range(self, path, offset, length):
        with self._reading(path) as fh:
            fh.seek(offset)
            if length > 65536:
                # Pipelined requests: a catch-up read of megabytes costs a few round trips, not hundreds.
                chunks = fh.readv([(offset + i, min(32768, length - i)) for i in range(0, length, 32768)])
                return b"".join(chunks)
            return fh.read(length)

    def iter_range(self, path, offset, length, chunk=1 << 20):
        # Prefetch pipelines the whole range in paramiko's transport thread while the caller decodes the pieces
        # already here, so transfer and decoding overlap.
        with self._reading(path) as fh:
            fh.seek(offset)
            fh.prefetch(offset + length)
            remaining = length
            while remaining > 0:
                data = fh.read(min(chunk, remaining))
                if not data:
                    return
                remaining -= len(data)
                yield data

    def listdir(self, path):
        try:
            attrs = self.sftp.listdir_attr(path)
        except FileNotFoundError:
            return []
        return [(a.filename, statmod.S_ISDIR(a.st_mode or 0), a.st_size or 0) for a in attrs]

    def upload(self, local, remote):
        tmp = f"{remote}.{os.getpid()}.tmp"
        self.sftp.put(str(local), tmp)
        self.sftp.posix_rename(tmp, remote)

    def download(self, remote, local):
        self.sftp.get(remote, str(local))

    def close(self):
        for closer in ([self._sftp] if self._sftp else []) + [self.client] + list(reversed(self._hops)):
            try:
                closer.close()
            except Exception:  # closing a dead connection must not mask the reason it died
                pass
        self._sftp = None


def _keyring_secret(kind: str, ident: str) -> str | None:
    return keyring_get(f"{kind}:{ident}")


def store_secret(kind: str, ident: str, secret: str) -> None:
    """Put a key passphrase (``kind='passphrase'``, ident = key path) or password (``'password'``, ident =
    ``user@host:port``) in the system keyring, for profiles with ``use_keyring``. Never written to a file."""
    keyring_set(f"{kind}:{ident}", secret, f"the {kind}")


def _connect_one(target: SSHTarget, sock=None) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    entry = host_entry_name(target.hostname, target.port)  # the name paramiko checks the offered key under
    name = target.host_key_alias or entry  # the name it is known by (OpenSSH: HostKeyAlias, without a port)
    known, special = host_keys_for(name, target.known_hosts_files)
    for key_name, key in (known.lookup(name) or {}).items():
        client.get_host_keys().add(entry, key_name, key)
    revoked = [line for line in special if line.marker == "revoked"]
    ca_only = not known.lookup(name) and any(line.marker == "cert-authority" for line in special)
    client.set_missing_host_key_policy(VerifyingHostKeyPolicy(cert_authority=ca_only,
                                                              name=name if name != entry else None))
    # Like ssh: identity files that do not exist are passed over; when none of those named exists and no agent
    # could stand in, say so (paramiko would fail inside connect with an OSError that reads as an unreachable host).
    identity_files = [path for path in target.identity_files if os.path.exists(path)]
    if target.identity_files and not identity_files and not os.environ.get("SSH_AUTH_SOCK"):
        raise AuthenticationError(target.hostname, target.user,
                                  f"the key file {target.identity_files[0]} does not exist")
    passphrase = password = None
    if target.use_keyring:
        if identity_files:
            passphrase = _keyring_secret("passphrase", identity_files[0])
        password = _keyring_secret("password", f"{target.user}@{target.hostname}:{target.port}")
    if sock is None and target.proxy_command:
        command = (target.proxy_command.replace("%h", target.hostname).replace("%p", str(target.port))
                   .replace("%r", target.user))
        try:
            sock = paramiko.ProxyCommand(command)
        except (OSError, ValueError, paramiko.SSHException) as exc:
            raise HostUnreachableError(target.hostname, target.port,
                                       f"its ProxyCommand {command.split()[0] if command.split() else command!r} "
                                       f"could not start ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        client.connect(
            target.hostname, port=target.port, username=target.user,
            key_filename=identity_files or None, passphrase=passphrase, password=password,
            look_for_keys=not identity_files, allow_agent=True,
            timeout=target.connect_timeout, banner_timeout=target.connect_timeout,
            auth_timeout=target.connect_timeout, channel_timeout=target.connect_timeout, sock=sock,
        )
    except (UnknownHostKeyError, HostKeyChangedError):
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyChangedError(name, fingerprint(exc.expected_key), fingerprint(exc.key)) from None
    except paramiko.PasswordRequiredException:
        client.close()
        raise AuthenticationError(
            target.hostname, target.user,
            "the key file is encrypted and no passphrase is available (load it into ssh-agent, or opt in to "
            "the keyring and store it there)",
        ) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        raise AuthenticationError(target.hostname, target.user, str(exc).rstrip(".") or "no key accepted") from None
    except paramiko.ssh_exception.NoValidConnectionsError:
        client.close()
        raise HostUnreachableError(target.hostname, target.port, "connection refused") from None
    except socket.gaierror as exc:
        client.close()
        raise HostUnreachableError(target.hostname, target.port, f"unknown host name ({exc.strerror})") from None
    except (socket.timeout, TimeoutError):
        client.close()
        raise HostUnreachableError(target.hostname, target.port, f"no answer within {target.connect_timeout:g} s") from None
    except (OSError, EOFError, paramiko.SSHException) as exc:
        client.close()
        reason = str(exc).strip().rstrip(".") or type(exc).__name__
        raise HostUnreachableError(target.hostname, target.port, reason) from None
    transport = client.get_transport()
    offered = transport.get_remote_server_key() if transport is not None else None
    for line in revoked:
        if offered is not None and line.key == offered:
            client.close()
            raise HostKeyRevokedError(name, fingerprint(offered), line.source)
    if transport is not None and target.keepalive_s:
        transport.set_keepalive(target.keepalive_s)
    return client


def connect_target(target: SSHTarget, config=None) -> tuple[paramiko.SSHClient, list[paramiko.SSHClient]]:
    """Connect to ``target`` through its ProxyJump hops (chained ``direct-tcpip`` channels); returns the client and
    the hop clients to close after it."""
    hops: list[paramiko.SSHClient] = []
    sock = None
    final = jump_chain_next(target)
    chain = jump_chain(target, config)
    try:
        # Each hop is reached through a direct-tcpip channel of the previous one; the last opens the target's.
        for index, hop in enumerate(chain):
            client = _connect_one(hop, sock=sock)
            hops.append(client)
            destination = chain[index + 1] if index + 1 < len(chain) else final
            sock = _open_tunnel(client, hop, destination)
        return _connect_one(final, sock=sock), hops
    except BaseException:
        for client in reversed(hops):
            client.close()
        raise


def jump_chain_next(target: SSHTarget) -> SSHTarget:
    # The final hop connects over the tunnel; its own ProxyJump is already handled by the chain.
    from dataclasses import replace

    return replace(target, proxy_jump=None, proxy_command=None if target.proxy_jump else target.proxy_command)


def _open_tunnel(client: paramiko.SSHClient, hop: SSHTarget, dest: SSHTarget):
    transport = client.get_transport()
    try:
        return transport.open_channel(
            "direct-tcpip", (dest.hostname, dest.port), ("127.0.0.1", 0), timeout=dest.connect_timeout
        )
    except (paramiko.ChannelException, paramiko.SSHException, OSError) as exc:
        raise HostUnreachableError(
            dest.hostname, dest.port, f"the jump host {hop.hostname} could not open a tunnel ({exc})"
        ) from None


def open_session(profile: HostProfile, *, ssh_config_path: Path | None = None) -> Session:
    """A session on the profile's host: SSH for ``direct``/``slurm``, this machine for ``local``."""
    if profile.launcher == "local":
        return LocalSession(plain_env(profile.env))
    config = load_ssh_config(ssh_config_path)
    target = resolve_profile(profile, config)
    client, hops = connect_target(target, config)
    # Commands carry the plain variables only: a secret's value would show in `ps` on the host (see secrets.py).
    return SSHSession(client, target, plain_env(profile.env), hops)
