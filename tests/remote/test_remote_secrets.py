"""Secret environment variables (issue 12 item 7): in the keyring, never in hosts.json, never on a command line.

The leak being closed: HF_TOKEN given with `--env` was stored in plain text in hosts.json and sent as
`sh -c 'export HF_TOKEN=...; ...'` with every command, visible in `ps` on the host about every 2 s while following.
Here a real job runs over the real sshd on 127.0.0.1 while a thread reads every process's command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading

import keyring
import pytest
from keyring.backends.fail import Keyring as NoKeyring

from studio.cli import main
from studio.remote.connection import open_session
from studio.remote.errors import HostProfileError
from studio.remote.follow import Follower
from studio.remote.hosts import HostProfile, HostStore
from studio.remote.launch import LaunchRequest, launch, preview_launch
from studio.remote.registry import JobRegistry
from studio.remote.secrets import KEYRING_SERVICE
from tests.infra.fake_worker import fake_worker_argv

TOKEN = "hf_SeCrEt0123456789abcdefTOKENvalue"


def _everything_under(folder) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


def test_a_secret_given_with_env_goes_to_the_keyring_not_hosts_json(memory_keyring, capsys):
    assert main(["hosts", "add", "box", "--host", "gpu.example", "--env", f"HF_TOKEN={TOKEN}",
                 "--env", "HF_HOME=/data/hf"]) == 0
    assert "HF_TOKEN went to the system keyring" in capsys.readouterr().out
    store = HostStore()
    raw = store.path.read_text()
    assert TOKEN not in raw and "/data/hf" in raw
    profile = store.get("box")
    assert profile.secret_env == ["HF_TOKEN"] and profile.env == {"HF_HOME": "/data/hf"}
    assert memory_keyring.secrets[(KEYRING_SERVICE, "env:box:HF_TOKEN")] == TOKEN
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    # Replacing the profile (another port) keeps its secret; removing it deletes the secret too.
    assert main(["hosts", "add", "box", "--host", "gpu.example", "--port", "2222", "--replace"]) == 0
    assert HostStore().get("box").secret_env == ["HF_TOKEN"]
    assert main(["hosts", "remove", "box"]) == 0
    assert memory_keyring.secrets == {}


def test_secret_names_are_told_by_whole_name_parts():
    from studio.remote.secrets import is_secret_name

    for name in ("HF_TOKEN", "WANDB_API_KEY", "AWS_SECRET_ACCESS_KEY", "HUGGING_FACE_HUB_TOKEN", "DB_PASSWORD",
                 "GOOGLE_APPLICATION_CREDENTIALS", "NGC_AUTH", "token"):
        assert is_secret_name(name), name
    for name in ("TOKENIZERS_PARALLELISM", "KEYRING_BACKEND", "HF_HOME", "OMP_NUM_THREADS", "MONKEY"):
        assert not is_secret_name(name), name


def test_hosts_secret_env_reads_the_value_from_stdin_and_forgets_it(memory_keyring, monkeypatch, capsys):
    import io

    HostStore().add(HostProfile(name="box", host="gpu.example"))
    monkeypatch.setattr("sys.stdin", io.StringIO("wandb-value-123\n"))
    assert main(["hosts", "secret", "box", "--env", "WANDB_API_KEY", "--stdin"]) == 0
    assert HostStore().get("box").secret_env == ["WANDB_API_KEY"]
    assert memory_keyring.secrets[(KEYRING_SERVICE, "env:box:WANDB_API_KEY")] == "wandb-value-123"
    assert "wandb-value-123" not in HostStore().path.read_text()
    assert main(["hosts", "secret", "box", "--env", "WANDB_API_KEY", "--delete"]) == 0
    assert HostStore().get("box").secret_env == [] and memory_keyring.secrets == {}
    capsys.readouterr()
    assert main(["hosts", "secret", "box", "--env", "WANDB_API_KEY", "--delete"]) == 2
    assert "has no secret variable 'WANDB_API_KEY'" in capsys.readouterr().err


def test_without_a_keyring_a_secret_is_refused_and_nothing_is_written(capsys):
    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    try:
        assert main(["hosts", "add", "box", "--host", "gpu.example", "--env", f"HF_TOKEN={TOKEN}"]) == 2
    finally:
        keyring.set_keyring(previous)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "The system keyring refused to store HF_TOKEN, named like a secret," in err[0]
    assert not HostStore().path.exists()


def test_a_plain_secret_left_by_an_older_version_moves_to_the_keyring_on_load(memory_keyring):
    store = HostStore()
    store.path.parent.mkdir(parents=True, exist_ok=True)
    legacy = HostProfile(name="old", host="gpu.example").to_dict()
    legacy.pop("secret_env")
    legacy["env"] = {"HF_TOKEN": TOKEN, "OMP_NUM_THREADS": "4"}
    store.path.write_text(json.dumps({"version": 1, "hosts": [legacy]}))
    os.chmod(store.path, 0o644)
    profile = store.get("old")
    assert profile.secret_env == ["HF_TOKEN"] and profile.env == {"OMP_NUM_THREADS": "4"}
    assert TOKEN not in store.path.read_text()
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    assert memory_keyring.secrets[(KEYRING_SERVICE, "env:old:HF_TOKEN")] == TOKEN


def test_the_gui_dialog_stores_a_typed_secret_and_a_rename_moves_it(qtbot, memory_keyring):
    from studio.ui.launch_page import HostProfileDialog

    store = HostStore()
    saved = []

    def save(profile, new_secrets):
        store.add(profile, replace=True, renamed_from=saved[-1] if saved else None)
        for name, value in new_secrets.items():
            store.set_secret(profile.name, name, value)
        saved.append(profile.name)

    dialog = HostProfileDialog(None, save=save)
    qtbot.addWidget(dialog)
    dialog.name.setText("box")
    dialog.secret_name.setText("HF_TOKEN")
    dialog._save()
    assert "needs both a name and a value" in dialog.error_label.text() and not store.path.exists()
    dialog.secret_value.setText(TOKEN)
    dialog._save()
    assert store.get("box").secret_env == ["HF_TOKEN"] and TOKEN not in store.path.read_text()
    again = HostProfileDialog(store.get("box"), save=save)
    qtbot.addWidget(again)
    assert "HF_TOKEN" in again.secrets_label.text()
    again.name.setText("box2")
    again._save()
    assert list(store.load()) == ["box2"] and store.get("box2").secret_env == ["HF_TOKEN"]
    assert memory_keyring.secrets == {(KEYRING_SERVICE, "env:box2:HF_TOKEN"): TOKEN}


@pytest.mark.ssh
@pytest.mark.slow
def test_a_job_gets_its_secret_and_no_command_line_ever_shows_it(trusted, ssh_profile, work_root, memory_keyring):
    store = HostStore()
    store.add(HostProfile(**{**ssh_profile.to_dict(), "env": {"LT_PLAIN": "visible"}}))
    store.set_secret(ssh_profile.name, "HF_TOKEN", TOKEN)
    profile = store.get(ssh_profile.name)
    assert "HF_TOKEN" not in preview_launch(LaunchRequest(profile, {})).script.replace("secrets.env", "")

    seen, stop = [], threading.Event()

    def watch_ps():  # sshd runs on this machine, so this is the remote host's process table
        while not stop.is_set():
            out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            seen.append(TOKEN in out)
            stop.wait(0.02)

    watcher = threading.Thread(target=watch_ps, daemon=True)
    watcher.start()
    registry = JobRegistry()
    # The job records a hash of what it got (never the value) and whether the plain variable came through.
    argv = ["sh", "-c", 'printf %s "$HF_TOKEN" | sha256sum | cut -c1-64 > token.sha; '
            'printf %s "$LT_PLAIN" > plain.txt; exec "$@"', "sh", *fake_worker_argv(40, 0.05)]
    try:
        with open_session(profile) as session:
            job = launch(LaunchRequest(profile, {}, worker_argv=argv), session, registry=registry)
        updates = list(Follower(registry.get(job.job_id), lambda: open_session(profile), registry=registry,
                                liveness_every_s=0.2))
    finally:
        stop.set()
        watcher.join()
    assert updates[-1].state == "finished"
    job_dir = work_root / job.job_id
    assert (job_dir / "token.sha").read_text().strip() == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert (job_dir / "plain.txt").read_text() == "visible"
    assert len(seen) > 20 and not any(seen), f"{sum(seen)} of {len(seen)} process listings showed the secret"
    assert not (job_dir / "secrets.env").exists()
    assert TOKEN.encode() not in _everything_under(job_dir)
    assert TOKEN.encode() not in _everything_under(store.path.parent.parent)  # hosts.json, registry, known_hosts


@pytest.mark.ssh
def test_a_secret_missing_from_the_keyring_stops_the_launch_before_anything_exists(trusted, ssh_profile, work_root,
                                                                                   memory_keyring):
    store = HostStore()
    store.add(ssh_profile)
    store.set_secret(ssh_profile.name, "HF_TOKEN", TOKEN)
    memory_keyring.secrets.clear()  # e.g. another machine's keyring, or the entry deleted by hand
    profile = store.get(ssh_profile.name)
    with open_session(profile) as session, pytest.raises(HostProfileError) as caught:
        launch(LaunchRequest(profile, {}, worker_argv=fake_worker_argv(5, 0.01)), session, registry=JobRegistry())
    assert str(caught.value) == (f"The secret HF_TOKEN of host {profile.name} is not in the system keyring; set it "
                                 f"with `linguatune hosts secret {profile.name} --env HF_TOKEN` (or remove it from "
                                 f"the profile).")
    assert not work_root.exists() or not any(work_root.iterdir())
    assert not JobRegistry().jobs()
