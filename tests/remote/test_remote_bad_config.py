"""Broken ssh settings give one sentence, not a traceback (issue 12 item 9): a port that is not a number (on the
command line or in ~/.ssh/config), a ProxyCommand whose program does not exist, and a remote python that answers
the doctor with something that is not its report."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from studio.remote.connection import open_session
from studio.remote.doctor import doctor
from studio.remote.errors import HostProfileError, HostUnreachableError
from studio.remote.hosts import HostProfile
from studio.remote.sshconfig import resolve_alias

pytestmark = pytest.mark.ssh
ROOT = Path(__file__).resolve().parents[2]


def test_a_port_that_is_not_a_number_is_named(isolated_ssh_files):
    (isolated_ssh_files / "config").write_text("Host box\n  Port twenty\n")
    with pytest.raises(HostProfileError, match="the Port of box in the ssh config: .* got 'twenty'"):
        resolve_alias("box")
    with pytest.raises(HostProfileError, match="box:abc: the port must be a number"):
        resolve_alias("box:abc")
    result = subprocess.run([sys.executable, "-m", "studio.cli", "hosts", "doctor", "box:abc"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_a_missing_proxy_command_program_is_one_sentence(isolated_ssh_files, sshd, ssh_profile):
    (isolated_ssh_files / "config").write_text(
        f"Host 127.0.0.1\n  ProxyCommand /no/such/relay-program %h %p\n")
    with pytest.raises(HostUnreachableError, match="ProxyCommand '/no/such/relay-program' could not start"):
        open_session(ssh_profile)


def test_doctor_reports_a_python_that_answers_something_else(trusted, sshd, ssh_profile, tmp_path):
    liar = tmp_path / "python-with-a-banner"
    liar.write_text("#!/bin/sh\necho 'Welcome to the cluster!'\n")
    liar.chmod(liar.stat().st_mode | stat.S_IXUSR)
    profile = HostProfile(**{**ssh_profile.to_dict(), "python": str(liar)})
    with open_session(profile) as session:
        report = doctor(profile, session)
    check = report.checks[0]
    assert check.name == "python" and not check.ok
    assert "not the probe's report" in check.detail and "Welcome to the cluster!" in check.detail
