"""Hostile names and paths do no harm; no secret ends up in any file the app writes; deploy; the real worker."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from studio.remote.connection import open_session
from studio.remote.doctor import deploy, doctor
from studio.remote.follow import Follower
from studio.remote.hosts import HostProfile, HostStore
from studio.remote.launch import LaunchRequest, launch
from studio.remote.registry import JobRegistry
from tests.infra.fake_worker import fake_worker_argv
from worker.contract import read_events

pytestmark = [pytest.mark.ssh, pytest.mark.slow]


def all_files_under(*roots: Path):
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                yield Path(dirpath) / name


ROOT = Path(__file__).resolve().parents[2]


def test_shell_metacharacters_in_job_name_and_work_root_are_harmless(trusted, ssh_profile, tmp_path):
    canary = tmp_path / "pwned"
    # A folder a successful injection would delete (a stand-in for `rm -rf ~`, which must not be risked here).
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("still here")
    nasty = f"; rm -rf {victim} $(touch {canary}) ' \" `touch {canary}2` && touch {canary}3 | ~ * \\ $HOME"
    root = tmp_path / f"jobs; $(touch {canary}4) `touch {canary}5` ' \" & x"
    profile = HostProfile(**{**ssh_profile.to_dict(), "work_root": str(root)})
    registry = JobRegistry()
    with open_session(profile) as session:
        job = launch(LaunchRequest(profile, {"name": nasty}, name=nasty, languages=[nasty, "el"],
                                   worker_argv=fake_worker_argv(5, 0.01)), session, registry=registry)
    updates = list(Follower(registry.get(job.job_id), lambda: open_session(profile), registry=registry))
    assert updates[-1].state == "finished"
    job_dir = root / job.job_id
    assert job_dir.is_dir() and len(read_events(job_dir / "events.jsonl")) == 8
    assert json.loads((job_dir / "job.json").read_text())["name"] == nasty
    assert registry.get(job.job_id).name == nasty
    assert all(c.isalnum() or c == "-" for c in job.job_id)
    assert (victim / "keep.txt").read_text() == "still here"
    assert not list(tmp_path.glob("pwned*"))
    assert not list(Path("/tmp").glob("pwned*"))


def test_no_secret_in_any_file_the_app_writes(trusted, sshd, ssh_profile, work_root, tmp_path, memory_keyring,
                                              monkeypatch):
    secret = "Zq8-unmistakable-passphrase-4417"
    key = sshd.add_client_key(tmp_path / "locked_key", passphrase=secret)
    profile = HostProfile(**{**ssh_profile.to_dict(), "name": "locked", "identity_file": str(key),
                             "use_keyring": True})
    HostStore().add(profile)
    monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
    from studio.cli import main

    assert main(["hosts", "secret", "locked", "--stdin"]) == 0
    assert memory_keyring.secrets == {("linguatune", f"passphrase:{key}"): secret}
    env = {**os.environ}
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"schema": "linguatune.plan/1", "languages": [{"code": "ar", "pairs": 10}]}))
    # In-process CLI: the in-memory keyring is only visible here.
    assert main(["hosts", "doctor", "locked"]) in (0, 1)
    with open_session(profile) as session:
        job = launch(LaunchRequest(profile, {"plan": "x"}, worker_argv=fake_worker_argv(5, 0.01)), session,
                     registry=JobRegistry())
    assert main(["follow", job.job_id]) == 0
    assert main(["jobs"]) == 0
    assert main(["fetch", job.job_id, "--dest", str(tmp_path / "fetched")]) == 0
    written = list(all_files_under(Path(env["LINGUATUNE_HOME"]), work_root, tmp_path / "fetched"))
    assert any(p.name == "registry.sqlite3" for p in written) and any(p.name == "hosts.json" for p in written)
    assert any(p.name == "job.json" for p in written)
    for path in written:
        assert secret.encode() not in path.read_bytes(), path


def test_deploy_into_a_fresh_venv_over_ssh(trusted, ssh_profile, tmp_path):
    venv = tmp_path / "remote-venv"
    profile = HostProfile(**{**ssh_profile.to_dict(), "venv": str(venv)})
    with open_session(profile) as session:
        result = deploy(profile, session, with_deps=False)
        assert result.created_venv and result.python == f"{venv}/bin/python"
        where = session.run_checked(f"{venv}/bin/python -c 'import worker; print(worker.__file__)'", "import")
        assert where.stdout.strip().startswith(str(venv)), where.stdout
        report = doctor(profile, session)
    checks = {c.name: c for c in report.checks}
    assert checks["worker"].ok and checks["python"].ok
    assert report.facts["worker_path"].startswith(str(venv))
    # A bare venv (no system packages) with the worker installed without its dependencies: doctor no longer says
    # all is well (the job would fail on `import torch`); it names what is missing and the one command that fixes it.
    bare = HostProfile(**{**ssh_profile.to_dict(), "venv": str(tmp_path / "bare-venv")})
    with open_session(bare) as session:
        deploy(bare, session, with_deps=False, system_site_packages=False)
        report = doctor(bare, session)
    checks = {c.name: c for c in report.checks}
    assert checks["worker"].ok and not report.ok and not checks["torch"].ok
    assert not checks["deps"].ok and "torch" in checks["deps"].detail and "unbabel-comet" in checks["deps"].detail
    assert checks["deps"].detail.endswith(f"fix: `linguatune hosts deploy {bare.name} --with-deps`")
    assert list(venv.glob("lib/python*/site-packages/linguatune-*.dist-info"))


def test_real_worker_demo_through_the_local_launcher(local_profile, work_root):
    from worker.demo import demo_spec

    profile = HostProfile(**{**local_profile.to_dict(), "gpus_per_node": 0})
    registry = JobRegistry()
    with open_session(profile) as session:
        # A short demo: COMET is covered by the worker's and evaluation's own tests; this one is about launching
        # the real worker under torchrun through the launcher and following it.
        spec = demo_spec({"train.max_steps": 4, "eval.metrics": ["chrf"]})
        job = launch(LaunchRequest(profile, spec, languages=["demo"],
                                   nproc_per_node=2), session, registry=registry)
    updates = list(Follower(registry.get(job.job_id), lambda: open_session(profile), registry=registry))
    assert updates[-1].state == "finished", updates[-1]
    kinds = {e.kind for u in updates for e in u.events}
    assert {"train", "eval", "done"} <= kinds
    assert registry.get(job.job_id).state == "finished"
