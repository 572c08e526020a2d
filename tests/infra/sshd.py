"""A real OpenSSH server on 127.0.0.1 for tests: free port, its own ed25519 host key, an authorized test client key.

Reusable by any test area (the GUI tests too): ``SSHServer(tmp_dir).start()``. Helpers drop every established
connection (kills the per-connection sshd processes, the listener stays) and rotate the host key.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import paramiko

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path, passphrase: str = "") -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "linguatune-test", "-f", str(path)],
        check=True,
    )


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry))
    return kids


class SSHServer:
    """One sshd instance under ``base`` (keys, config, logs)."""

    def __init__(self, base: Path, *, allow_tcp_forwarding: bool = True):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host_key = self.base / "ssh_host_ed25519_key"
        self.client_key = self.base / "client_ed25519"
        self.authorized_keys = self.base / "authorized_keys"
        self.config = self.base / "sshd_config"
        self.pid_file = self.base / "sshd.pid"
        self.log = self.base / "sshd.log"
        self.allow_tcp_forwarding = allow_tcp_forwarding
        self.proc: subprocess.Popen | None = None
        _keygen(self.host_key)
        _keygen(self.client_key)
        self.authorized_keys.write_text(self.client_key.with_suffix(".pub").read_text())

    def add_client_key(self, path: Path, passphrase: str = "") -> Path:
        _keygen(path, passphrase)
        with open(self.authorized_keys, "a") as fh:
            fh.write(path.with_suffix(".pub").read_text())
        return path

    def write_config(self) -> None:
        self.config.write_text(
            "\n".join([
                f"Port {self.port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {self.host_key}",
                f"AuthorizedKeysFile {self.authorized_keys}",
                f"PidFile {self.pid_file}",
                "UsePAM no",
                "StrictModes no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "Subsystem sftp internal-sftp",
                f"AllowTcpForwarding {'yes' if self.allow_tcp_forwarding else 'no'}",
                "MaxStartups 100:30:200",
                "MaxSessions 50",
                "LogLevel INFO",
                "",
            ])
        )

    def start(self) -> "SSHServer":
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.write_config()
        # -D: stay in the foreground as our child, so stop() can wait for it; -e logs to stderr (the log file).
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config)], stdout=subprocess.DEVNULL,
            stderr=open(self.log, "ab"), start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("sshd did not start listening within 10 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.drop_connections()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def drop_connections(self) -> int:
        """Kill every per-connection sshd process of this instance (the listener keeps running)."""
        if self.proc is None:
            return 0
        kids = _children(self.proc.pid)
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(kids)

    def rotate_host_key(self) -> None:
        """Give the server a new host key (as after a reinstall, or a man in the middle)."""
        for suffix in ("", ".pub"):
            Path(str(self.host_key) + suffix).unlink()
        _keygen(self.host_key)
        self.restart()

    def public_host_key(self) -> paramiko.PKey:
        kind, data = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return paramiko.PKey.from_type_string(kind, __import__("base64").b64decode(data))

    def known_hosts_line(self, *, hashed: bool = False) -> str:
        key = self.public_host_key()
        name = f"[127.0.0.1]:{self.port}"
        if hashed:
            name = paramiko.HostKeys.hash_host(name)
        return f"{name} {key.get_name()} {key.get_base64()}\n"
