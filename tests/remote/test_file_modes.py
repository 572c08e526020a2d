"""The studio's own files are the owner's only (issue 12 item 7, file modes): folders 0700, host profiles,
known_hosts and the job registry 0600, tightened when an older version left them readable by others."""

from __future__ import annotations

import os
import stat

from studio.paths import config_dir, data_dir
from studio.remote.hosts import HostProfile, HostStore
from studio.remote.knownhosts import app_known_hosts_path, known_host_lines
from studio.remote.registry import JobRegistry


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_loose_files_and_folders_are_tightened(isolated_user_dirs):
    home = isolated_user_dirs / "linguatune"
    for sub in ("config", "data"):
        (home / sub).mkdir(parents=True)
        os.chmod(home / sub, 0o755)
    hosts = home / "config" / "hosts.json"
    hosts.write_text('{"version": 1, "hosts": []}')
    os.chmod(hosts, 0o644)
    known = home / "config" / "known_hosts"
    known.write_text("")
    os.chmod(known, 0o644)
    registry_file = home / "data" / "registry.sqlite3"
    JobRegistry(registry_file).close()
    os.chmod(registry_file, 0o644)

    assert config_dir() == home / "config" and data_dir() == home / "data"
    assert mode(home / "config") == 0o700 and mode(home / "data") == 0o700
    assert HostStore().load() == {} and mode(hosts) == 0o600
    known_host_lines()
    assert mode(app_known_hosts_path()) == 0o600
    with JobRegistry() as registry:
        assert registry.jobs() == []
    assert mode(registry_file) == 0o600


def test_new_files_are_created_private(isolated_user_dirs):
    HostStore().add(HostProfile(name="box", host="gpu.example.org", user="me", work_root="/scratch/me"))
    assert mode(config_dir()) == 0o700 and mode(config_dir() / "hosts.json") == 0o600
    with JobRegistry():
        pass
    assert mode(data_dir() / "registry.sqlite3") == 0o600
