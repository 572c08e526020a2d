"""known_hosts read as OpenSSH reads it (issue 12 item 8), against the real test sshd: lines LinguaTune cannot use
(corrupt, @cert-authority for another host, unknown markers) no longer break every connection; wildcard and negated
patterns match; @revoked is refused even when another line lists the key; a host known only through a
@cert-authority line is refused with a sentence that says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import paramiko
import pytest

from studio.remote.connection import open_session
from studio.remote.errors import HostKeyRevokedError, UnknownHostKeyError
from studio.remote.hosts import HostStore
from studio.remote.knownhosts import fingerprint, parse_known_hosts

pytestmark = pytest.mark.ssh
ROOT = Path(__file__).resolve().parents[2]


def _other_key_b64() -> str:
    return paramiko.RSAKey.generate(1024).get_base64()


def _server_key(sshd) -> str:
    key = sshd.public_host_key()
    return f"{key.get_name()} {key.get_base64()}"


def _write(isolated_ssh_files, *lines: str) -> Path:
    path = isolated_ssh_files / "known_hosts"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_unusable_lines_are_skipped_and_wildcards_match(sshd, ssh_profile, isolated_ssh_files):
    path = _write(
        isolated_ssh_files,
        "# a comment",
        "garbage-without-a-key",
        f"@cert-authority *.example.com ssh-rsa {_other_key_b64()}",
        f"@unknown-marker host ssh-rsa {_other_key_b64()}",
        "broken.example.com ssh-rsa not-base64!!",
        f"[127.0.0.*]:{sshd.port} {_server_key(sshd)}",
    )
    lines, skipped = parse_known_hosts(path)
    assert len(lines) == 2 and len(skipped) == 3  # the CA line parses (and is never used to trust a key)
    with open_session(ssh_profile) as session:  # before: InvalidHostKey from the first bad line, every time
        assert session.run("echo ok").stdout == "ok\n"
    # The CLI agrees: no traceback, the doctor runs.
    HostStore().add(ssh_profile)
    doctor = subprocess.run([sys.executable, "-m", "studio.cli", "hosts", "doctor", ssh_profile.name],
                            capture_output=True, text=True, cwd=ROOT, timeout=120, stdin=subprocess.DEVNULL)
    assert doctor.returncode == 0, doctor.stderr
    assert "Traceback" not in doctor.stderr


def test_a_negated_pattern_excludes_the_host(sshd, ssh_profile, isolated_ssh_files):
    _write(isolated_ssh_files, f"[127.0.0.*]:{sshd.port},![127.0.0.1]:{sshd.port} {_server_key(sshd)}")
    with pytest.raises(UnknownHostKeyError):
        open_session(ssh_profile)


def test_a_revoked_key_is_refused_even_where_another_line_trusts_it(sshd, ssh_profile, isolated_ssh_files):
    path = _write(isolated_ssh_files, sshd.known_hosts_line(hashed=True).strip(),
                  f"@revoked * {_server_key(sshd)}")
    with pytest.raises(HostKeyRevokedError) as info:
        open_session(ssh_profile)
    message = str(info.value)
    assert fingerprint(sshd.public_host_key()) in message and f"{path}:2" in message and "\n" not in message


def test_a_host_known_only_through_a_cert_authority_is_refused_saying_why(sshd, ssh_profile, isolated_ssh_files):
    _write(isolated_ssh_files, f"@cert-authority [127.0.0.1]:{sshd.port} {_server_key(sshd)}")
    with pytest.raises(UnknownHostKeyError, match="@cert-authority line, and LinguaTune does not verify host "
                                                  "certificates"):
        open_session(ssh_profile)


def test_a_missing_key_file_is_named_not_reported_as_an_unreachable_host(sshd, ssh_profile, isolated_ssh_files,
                                                                         tmp_path):
    from studio.remote.errors import AuthenticationError
    from studio.remote.hosts import HostProfile

    _write(isolated_ssh_files, sshd.known_hosts_line().strip())
    gone = tmp_path / "id_gone"
    profile = HostProfile(**{**ssh_profile.to_dict(), "identity_file": str(gone)})
    with pytest.raises(AuthenticationError, match=f"the key file {gone} does not exist"):
        open_session(profile)
