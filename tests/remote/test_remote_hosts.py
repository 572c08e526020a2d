"""Host keys, ~/.ssh/config aliases, ProxyJump / ProxyCommand, profiles and the CLI's one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.remote.connection import SSHSession, open_session
from studio.remote.errors import AuthenticationError, HostKeyChangedError, HostProfileError, HostUnreachableError, UnknownHostKeyError
from studio.remote.hosts import HostProfile, HostStore
from studio.remote.knownhosts import app_known_hosts_path, fingerprint, trust_host_key
from tests.infra.sshd import SSHServer, free_port

pytestmark = pytest.mark.ssh
ROOT = Path(__file__).resolve().parents[2]
RELAY = ROOT / "tests" / "infra" / "tcp_relay.py"


def cli(*argv: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "studio.cli", *argv], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120, stdin=subprocess.DEVNULL)


def test_unknown_host_key_refused_until_trusted(sshd, ssh_profile, isolated_ssh_files):
    expected = fingerprint(sshd.public_host_key())
    with pytest.raises(UnknownHostKeyError) as info:
        open_session(ssh_profile)
    assert info.value.fingerprint == expected and info.value.key_type == "ssh-ed25519"
    assert f"[127.0.0.1]:{sshd.port}" in str(info.value)
    assert not app_known_hosts_path().exists()

    HostStore().add(ssh_profile)
    refused = cli("hosts", "doctor", "testbox")
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and expected in refused.stderr
    wrong = cli("hosts", "doctor", "testbox", "--trust", "SHA256:" + "A" * 43)
    assert wrong.returncode == 2 and "not trusted" in wrong.stderr
    assert not app_known_hosts_path().exists()

    ok = cli("hosts", "doctor", "testbox", "--trust", expected)
    assert ok.returncode == 0, ok.stderr
    assert "python" in ok.stdout and "worker" in ok.stdout
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519" in app_known_hosts_path().read_text()
    assert (isolated_ssh_files / "known_hosts").read_text() == ""  # the user's file is never written
    with open_session(ssh_profile) as session:
        assert session.run("echo ok").stdout == "ok\n"


def test_changed_host_key_is_refused_with_both_fingerprints(tmp_path, ssh_profile):
    server = SSHServer(tmp_path / "rotating").start()
    try:
        profile = HostProfile(**{**ssh_profile.to_dict(), "port": server.port,
                                 "identity_file": str(server.client_key)})
        old = server.public_host_key()
        trust_host_key("127.0.0.1", server.port, old)
        with open_session(profile) as session:
            assert session.run("true").status == 0
        server.rotate_host_key()
        with pytest.raises(HostKeyChangedError) as info:
            open_session(profile)
        assert info.value.expected_fingerprint == fingerprint(old)
        assert info.value.actual_fingerprint == fingerprint(server.public_host_key())
        HostStore().add(profile)
        result = cli("hosts", "doctor", profile.name)
        assert result.returncode == 2 and "has changed" in result.stderr
        assert fingerprint(old) in result.stderr and fingerprint(server.public_host_key()) in result.stderr
    finally:
        server.stop()


def test_unreachable_host_is_one_sentence_and_exit_2(ssh_profile):
    closed = free_port()
    HostStore().add(HostProfile(**{**ssh_profile.to_dict(), "name": "nowhere", "port": closed}))
    result = cli("hosts", "doctor", "nowhere")
    assert result.returncode == 2
    assert result.stderr.strip() == f"linguatune: error: Cannot reach 127.0.0.1 port {closed}: connection refused."
    with pytest.raises(HostUnreachableError):
        open_session(HostProfile(**{**ssh_profile.to_dict(), "host": "no-such-host.invalid"}))


def test_ssh_config_alias_and_proxy_jump(trusted, sshd, isolated_ssh_files, work_root):
    (isolated_ssh_files / "config").write_text(
        f"Host gpubox\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n  IdentityFile {sshd.client_key}\n"
        f"Host bastion\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n  IdentityFile {sshd.client_key}\n"
    )
    direct = HostProfile(name="alias", host="gpubox", work_root=str(work_root), python=sys.executable)
    with open_session(direct) as session:
        assert session.run("echo via-alias").stdout == "via-alias\n"
        assert session.target.port == sshd.port and session.target.user == "root"
    before = sshd.log.read_text().count("Accepted publickey")
    jumped = HostProfile(name="jumped", host="gpubox", proxy_jump="bastion", work_root=str(work_root))
    with open_session(jumped) as session:
        assert isinstance(session, SSHSession) and len(session._hops) == 1
        assert session.run("echo through-the-jump").stdout == "through-the-jump\n"
        assert session.read_bytes("/etc/hostname") is not None
    # Two authentications: the bastion, then the target over the bastion's direct-tcpip channel.
    assert sshd.log.read_text().count("Accepted publickey") - before == 2
    before += 2
    two_hops = HostProfile(name="two", host="gpubox", proxy_jump="bastion,bastion", work_root=str(work_root))
    with open_session(two_hops) as session:
        assert len(session._hops) == 2 and session.run("echo two-hops").stdout == "two-hops\n"
    assert sshd.log.read_text().count("Accepted publickey") - before == 3


def test_proxy_command(trusted, sshd, ssh_profile):
    profile = HostProfile(**{**ssh_profile.to_dict(), "proxy_command": f"{sys.executable} {RELAY} %h %p"})
    with open_session(profile) as session:
        assert session.run("echo relayed").stdout == "relayed\n"


def test_encrypted_key_without_opt_in_is_a_clear_error(trusted, sshd, ssh_profile, tmp_path):
    key = sshd.add_client_key(tmp_path / "locked_key", passphrase="correct horse battery")
    profile = HostProfile(**{**ssh_profile.to_dict(), "identity_file": str(key)})
    with pytest.raises(AuthenticationError) as info:
        open_session(profile)
    assert "encrypted" in str(info.value)


def test_host_profiles_round_trip_and_validation(sshd, ssh_profile):
    store = HostStore()
    store.add(ssh_profile)
    slurm = HostProfile(name="cluster", host="login.example", launcher="slurm", nodes=2, gpus_per_node=8,
                        slurm_partition="gpu", slurm_time="02:00:00", slurm_extra=["--qos=high"],
                        env={"SLURM_CONF": "/etc/slurm/x.conf"})
    store.add(slurm)
    loaded = HostStore().load()
    assert loaded["cluster"] == slurm and loaded["testbox"] == ssh_profile
    with pytest.raises(HostProfileError):
        store.add(slurm)
    with pytest.raises(HostProfileError):
        HostProfile(name="bad name; rm", host="x")
    with pytest.raises(HostProfileError):
        HostProfile(name="x", host="h", launcher="kubernetes")
    with pytest.raises(HostProfileError):
        HostProfile(name="x", host="h", env={"BAD NAME": "1"})
    store.remove("cluster")
    assert list(HostStore().load()) == ["testbox"]
    listing = cli("hosts", "list")
    assert listing.returncode == 0 and "testbox" in listing.stdout
