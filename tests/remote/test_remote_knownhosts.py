"""known_hosts read as OpenSSH reads it (issue 12 item 8), against the real test sshd: lines LinguaTune cannot use
(corrupt, @cert-authority for another host, unknown markers) no longer break every connection; wildcard and negated
patterns match; @revoked is refused even when another line lists the key; a host known only through a
@cert-authority line is refused with a sentence that says so. The ssh config's Include, UserKnownHostsFile and
HostKeyAlias are honoured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import paramiko
import pytest

from studio.remote.connection import open_session
from studio.remote.errors import HostKeyRevokedError, UnknownHostKeyError
from studio.remote.errors import HostProfileError
from studio.remote.hosts import HostProfile, HostStore
from studio.remote.knownhosts import fingerprint, parse_known_hosts
from studio.remote.sshconfig import load_ssh_config
from studio.session.launch import trust_offered_key

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


def _alias_lines(sshd, alias: str) -> list[str]:
    return [f"Host {alias}", "  HostName 127.0.0.1", f"  Port {sshd.port}", "  User root",
            f"  IdentityFile {sshd.client_key}"]


def test_include_pulls_in_other_config_files_as_openssh_does(sshd, isolated_ssh_files):
    (isolated_ssh_files / "known_hosts").write_text(sshd.known_hosts_line(hashed=True))
    conf_d = isolated_ssh_files / "conf.d"
    conf_d.mkdir()
    (conf_d / "10-gpu.conf").write_text("\n".join(_alias_lines(sshd, "incbox")) + "\n")
    (conf_d / "20-jump.conf").write_text("Host other\n  Include nested/*.conf\n  User someone\n")
    (conf_d / "nested").mkdir()
    (conf_d / "nested" / "x.conf").write_text("ConnectTimeout 3\n")
    (isolated_ssh_files / "config").write_text("Include conf.d/*.conf ~/does-not-exist/*\nConnectTimeout 7\n")
    HostStore().add(HostProfile(name="inc", host="incbox", python=sys.executable, gpus_per_node=0))
    with open_session(HostStore().get("inc")) as session:
        assert session.run("echo hi").stdout.strip() == "hi"
    # An Include inside a Host block stays inside it: `User someone` still belongs to `Host other`.
    config = load_ssh_config()
    assert config.lookup("other")["user"] == "someone" and "user" not in config.lookup("elsewhere")
    # After a top-level Include, options are global again (not part of the last Host block the file opened).
    assert config.lookup("elsewhere")["connecttimeout"] == "7"
    # A loop is one sentence, not a RecursionError.
    (isolated_ssh_files / "config").write_text("Include config\n")
    with pytest.raises(HostProfileError, match="nested more than 16 deep"):
        load_ssh_config()


def test_user_known_hosts_file_and_host_key_alias_decide_where_and_under_which_name(sshd, isolated_ssh_files):
    key = sshd.public_host_key()
    team = isolated_ssh_files / "team_known_hosts"
    # The default known_hosts is empty; the host's own file lists the key under its HostKeyAlias, no port.
    team.write_text(f"gpu-pool {key.get_name()} {key.get_base64()}\n")
    (isolated_ssh_files / "config").write_text("\n".join(
        _alias_lines(sshd, "pooled") + [f"  UserKnownHostsFile {team} none", "  HostKeyAlias gpu-pool",
                                        *_alias_lines(sshd, "aliased"), "  HostKeyAlias gpu-pool"]) + "\n")
    HostStore().add(HostProfile(name="pooled", host="pooled", python=sys.executable, gpus_per_node=0))
    HostStore().add(HostProfile(name="aliased", host="aliased", python=sys.executable, gpus_per_node=0))
    with open_session(HostStore().get("pooled")) as session:
        assert session.run("echo ok").stdout.strip() == "ok"
    # Without that file the alias is unknown: the error names the alias, and trusting records the alias.
    with pytest.raises(UnknownHostKeyError) as caught:
        open_session(HostStore().get("aliased"))
    assert caught.value.host == "gpu-pool"
    written = trust_offered_key(caught.value)
    assert written.read_text().split()[0] == "gpu-pool"
    with open_session(HostStore().get("aliased")) as session:
        assert session.run("echo ok").stdout.strip() == "ok"
