"""Fixtures of the Monitor and Launch page tests: a job registry of the test, a saved local host profile whose jobs
are killed at teardown, an isolated ~/.ssh, the real test sshd, and pages that stop their follow threads."""

from __future__ import annotations

import sys

import pytest

from studio.remote.hosts import HostProfile, HostStore
from studio.remote.registry import JobRegistry
from tests.infra.fixtures import isolated_ssh_files, sshd, work_root  # noqa: F401,F811 (shared fixtures)


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
