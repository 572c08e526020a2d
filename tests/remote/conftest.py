"""Fixtures of the remote tests: a real sshd on 127.0.0.1, a real single-node SLURM, host profiles pointing at
them, and an in-memory keyring backend (this machine has no system keyring)."""

from __future__ import annotations

import sys

import keyring
import keyring.backend
import pytest

from studio.remote.hosts import HostProfile
from tests.infra.slurm import SlurmCluster, why_unavailable
from tests.infra.fixtures import isolated_ssh_files, sshd, work_root  # noqa: F401,F811 (shared fixtures)


@pytest.fixture
def trusted(sshd, isolated_ssh_files):
    """The test sshd's key recorded (hashed, as OpenSSH writes it) in the user's known_hosts."""
    (isolated_ssh_files / "known_hosts").write_text(sshd.known_hosts_line(hashed=True))
    return sshd


@pytest.fixture
def ssh_profile(sshd, work_root):
    return HostProfile(
        name="testbox", host="127.0.0.1", port=sshd.port, user="root", identity_file=str(sshd.client_key),
        work_root=str(work_root), python=sys.executable, launcher="direct", gpus_per_node=0,
        connect_timeout=5.0, keepalive_s=5,
    )


@pytest.fixture
def local_profile(work_root):
    return HostProfile(
        name="here", launcher="local", work_root=str(work_root), python=sys.executable, gpus_per_node=0,
    )


@pytest.fixture(scope="session")
def slurm_cluster():
    reason = why_unavailable()
    if reason:
        pytest.skip(reason)
    cluster = SlurmCluster().start()
    yield cluster
    cluster.stop()


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring held in memory: the real keyring API, without a desktop secret service."""

    priority = 1

    def __init__(self):
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.secrets.get((service, username))

    def set_password(self, service, username, password):
        self.secrets[(service, username)] = password

    def delete_password(self, service, username):
        self.secrets.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
