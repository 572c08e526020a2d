"""Fixtures shared by the suites that talk to hosts (remote, Monitor/Launch pages): import them into a conftest.

- ``isolated_ssh_files`` (autouse where imported): the user's ~/.ssh/config and known_hosts become empty files of
  the test, and no ssh-agent is used;
- ``sshd``: the real OpenSSH server on 127.0.0.1 for the session;
- ``work_root``: where a test's jobs run; jobs still running at teardown are killed (their process group).
"""

from __future__ import annotations

import os

import pytest

from tests.infra.sshd import SSHServer


@pytest.fixture(autouse=True)
def isolated_ssh_files(tmp_path, monkeypatch):
    ssh_dir = tmp_path / "dot-ssh"
    ssh_dir.mkdir()
    (ssh_dir / "config").write_text("")
    (ssh_dir / "known_hosts").write_text("")
    monkeypatch.setenv("LINGUATUNE_SSH_CONFIG", str(ssh_dir / "config"))
    monkeypatch.setenv("LINGUATUNE_USER_KNOWN_HOSTS", str(ssh_dir / "known_hosts"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return ssh_dir


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    server = SSHServer(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture
def work_root(tmp_path):
    root = tmp_path / "jobs"
    yield root
    # Kill what a test left running, but only a job's own wrapper: a pid above 1 whose working directory is still
    # its job directory (tests write hostile pid files on purpose: 0 or 1 here would kill this run or init's group).
    for pid_file in root.glob("*/pid"):
        try:
            pid = int(pid_file.read_text().strip())
            if pid > 1 and os.path.realpath(f"/proc/{pid}/cwd") == os.path.realpath(pid_file.parent):
                os.killpg(pid, 9)
        except (ValueError, OSError):
            pass
