"""Fixtures of the Monitor and Launch page tests: a job registry of the test, a saved local host profile whose jobs
are killed at teardown, an isolated ~/.ssh, the real test sshd, and pages that stop their follow threads."""

from __future__ import annotations

import os
import sys

import pytest

from studio.remote.hosts import HostProfile, HostStore
from studio.remote.registry import JobRegistry
from tests.infra.sshd import SSHServer


@pytest.fixture(autouse=True)
def isolated_ssh_files(tmp_path, monkeypatch):
    """The user's ~/.ssh/config and known_hosts are empty files of this test; no ssh-agent."""
    ssh_dir = tmp_path / "dot-ssh"
    ssh_dir.mkdir()
    (ssh_dir / "config").write_text("")
    (ssh_dir / "known_hosts").write_text("")
    monkeypatch.setenv("LINGUATUNE_SSH_CONFIG", str(ssh_dir / "config"))
    monkeypatch.setenv("LINGUATUNE_USER_KNOWN_HOSTS", str(ssh_dir / "known_hosts"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return ssh_dir


@pytest.fixture
def work_root(tmp_path):
    """Where test jobs run; any still running at teardown are killed (their process group)."""
    root = tmp_path / "jobs"
    yield root
    for pid_file in root.glob("*/pid"):
        try:
            os.killpg(int(pid_file.read_text().strip()), 9)
        except (ValueError, ProcessLookupError, PermissionError):
            pass


@pytest.fixture
def registry():
    reg = JobRegistry()
    yield reg
    reg.close()


@pytest.fixture
def local_host(work_root):
    """A saved profile for this machine without SSH."""
    profile = HostProfile(name="here", launcher="local", work_root=str(work_root), python=sys.executable,
                          gpus_per_node=0)
    HostStore().add(profile)
    return profile


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    server = SSHServer(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture
def ssh_host(sshd, work_root):
    """A saved profile for the test sshd (its key is not trusted yet)."""
    profile = HostProfile(name="testbox", host="127.0.0.1", port=sshd.port, user="root",
                          identity_file=str(sshd.client_key), work_root=str(work_root), python=sys.executable,
                          launcher="direct", gpus_per_node=0, connect_timeout=5.0, keepalive_s=5)
    HostStore().add(profile)
    return profile


@pytest.fixture
def trusted(sshd, isolated_ssh_files):
    (isolated_ssh_files / "known_hosts").write_text(sshd.known_hosts_line(hashed=True))
    return sshd


FAST_FOLLOW = {"poll_s": 0.05, "max_poll_s": 0.2, "liveness_every_s": 0.5, "reconnect_max_s": 0.5}


@pytest.fixture
def make_monitor(qtbot, registry):
    """Build MonitorPages on the test registry (fast polling); all are shut down at teardown."""
    from studio.ui.monitor_page import MonitorPage

    pages = []

    def make(reg=None):
        page = MonitorPage(reg or registry, follower_options=FAST_FOLLOW)
        page.quiet_errors = True
        qtbot.addWidget(page)
        page.resize(1400, 900)
        page.show()
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.shutdown()
