"""The remote CLI end to end: launch --dry-run, jobs, follow (live and offline history), cancel, fetch."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.cli import main
from studio.remote.connection import open_session
from studio.remote.hosts import HostProfile, HostStore
from studio.remote.launch import LaunchRequest, launch
from studio.remote.registry import JobRegistry
from tests.infra.fake_worker import fake_worker_argv

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def plan_file(tmp_path):
    from studio.planning.plan import make_plan, save_plan

    return save_plan(make_plan(["ar", "zh"], 3000), tmp_path / "plan.json")


def test_launch_refuses_a_malformed_plan_in_one_line(tmp_path, capsys):
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"schema": "linguatune.plan/1", "languages": [{"code": "ar", "pairs": 1000}]}))
    assert main(["launch", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "budget" in err[0]
    assert not JobRegistry().jobs()


def test_launch_dry_run_shows_the_exact_command_and_sbatch_script(plan_file, capsys, tmp_path):
    HostStore().add(HostProfile(name="box", host="gpu.example", work_root=str(tmp_path / "a b; $(x)"),
                                python="/opt/py/bin/python", gpus_per_node=8))
    HostStore().add(HostProfile(name="cluster", host="login.example", launcher="slurm", nodes=2, gpus_per_node=4,
                                slurm_partition="gpu", slurm_time="01:00:00"))
    assert main(["launch", str(plan_file), "--host", "box", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "-ar-zh-" in out
    assert "/opt/py/bin/python -m torch.distributed.run --standalone --nnodes 1 --nproc-per-node 8 -m worker.cli run" in out
    assert "setsid nohup sh launch.sh" in out and "'" + str(tmp_path / "a b; $(x)") in out
    assert main(["launch", str(plan_file), "--host", "cluster", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "#SBATCH --nodes=2" in out and "--rdzv-backend c10d" in out and "sbatch --parsable" in out
    assert not JobRegistry().jobs()  # nothing was launched


def test_a_dry_run_with_the_default_work_root_can_be_pasted(plan_file, capsys, tmp_path, monkeypatch):
    # '~/linguatune-jobs/...' in quotes is a folder named "~"; the preview must mean the home folder.
    HostStore().add(HostProfile(name="box", host="gpu.example"))
    HostStore().add(HostProfile(name="cluster", host="login.example", launcher="slurm", gpus_per_node=0))
    for host, script in (("box", "launch.sh"), ("cluster", "job.sbatch")):
        assert main(["launch", str(plan_file), "--host", host, "--dry-run"]) == 0
        out = capsys.readouterr().out
        job_id = out.split()[2]
        home = tmp_path / f"home-{host}"
        (home / "linguatune-jobs" / job_id).mkdir(parents=True)
        cd_line = next(line for line in out.splitlines() if line.startswith("cd "))
        done = subprocess.run(["sh", "-c", cd_line.split(" || ")[0] + " && pwd"], capture_output=True, text=True,
                              env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
        assert done.stdout.strip() == str(home / "linguatune-jobs" / job_id), (script, cd_line, done.stderr)
        assert f"'~/linguatune-jobs" not in out


def test_hosts_add_ends_with_the_next_step(capsys):
    assert main(["hosts", "add", "gpubox", "--host", "gpu.example"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Next: `linguatune hosts doctor gpubox` checks it; `linguatune hosts deploy gpubox --with-deps` installs "
        "the worker there if doctor says it is missing.")


def test_jobs_follow_cancel_fetch_on_the_local_launcher(local_profile, work_root, capsys, tmp_path):
    HostStore().add(local_profile)
    registry = JobRegistry()
    with open_session(local_profile) as session:
        job = launch(LaunchRequest(local_profile, {}, name="long one", languages=["de"],
                                   worker_argv=fake_worker_argv(3000, 0.05)), session, registry=registry)
    assert main(["jobs"]) == 0
    listing = capsys.readouterr().out
    assert job.job_id in listing and "long one" in listing
    time.sleep(0.5)
    assert main(["cancel", job.job_id[:-1], "--grace", "5"]) == 0  # a unique id prefix is enough
    assert "terminated" in capsys.readouterr().out
    assert registry.get(job.job_id).state == "cancelled"
    assert main(["cancel", job.job_id]) == 2  # already ended: a user error

    quick = None
    with open_session(local_profile) as session:
        quick = launch(LaunchRequest(local_profile, {}, name="quick", worker_argv=fake_worker_argv(10, 0.01)),
                       session, registry=registry)
    assert main(["follow", "quick", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(l)["seq"] for l in lines] == list(range(13))
    # Offline history: the job directory is gone, the registry still has every event.
    import shutil
    shutil.rmtree(work_root / quick.job_id)
    assert main(["follow", quick.job_id, "--json"]) == 0
    assert [json.loads(l)["seq"] for l in capsys.readouterr().out.splitlines()] == list(range(13))


def test_remote_core_does_not_import_qt():
    code = (
        "import sys, studio.remote.connection, studio.remote.follow, studio.remote.launch, studio.remote.doctor, "
        "studio.remote.jobs, studio.remote.registry, studio.commands.remote; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cancel_kills_a_job_that_ignores_sigterm(local_profile, work_root):
    registry = JobRegistry()
    stubborn = [sys.executable, "-c",
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open('started', 'w').close(); "
                "time.sleep(120)"]
    with open_session(local_profile) as session:
        job = launch(LaunchRequest(local_profile, {}, worker_argv=stubborn), session, registry=registry)
        deadline = time.monotonic() + 20
        while not (work_root / job.job_id / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        from studio.remote.jobs import cancel

        assert cancel(registry.get(job.job_id), session, grace_s=1.0, registry=registry) == "killed"
    from studio.remote.follow import Follower

    updates = list(Follower(registry.get(job.job_id), lambda: open_session(local_profile), registry=registry,
                            liveness_every_s=0.2))
    assert updates[-1].state == "cancelled" and "grace period" in updates[-1].message


def test_fetch_copies_scores_and_the_model_only_on_request(local_profile, work_root, tmp_path, capsys):
    HostStore().add(local_profile)
    registry = JobRegistry()
    with open_session(local_profile) as session:
        job = launch(LaunchRequest(local_profile, {}, worker_argv=fake_worker_argv(3, 0.01)), session,
                     registry=registry)
    assert main(["follow", job.job_id]) == 0
    job_dir = work_root / job.job_id
    (job_dir / "eval" / "ar").mkdir(parents=True)
    (job_dir / "eval" / "scores.json").write_text('{"ar": {"comet": 0.71}}')
    (job_dir / "eval" / "ar" / "predictions.jsonl").write_text('{"hyp": "x"}\n')
    (job_dir / "final").mkdir()
    (job_dir / "final" / "model.safetensors").write_bytes(b"\0" * 1024)
    assert main(["fetch", job.job_id, "--dest", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert f"{job_dir}/final" in out and "--model" in out
    assert (tmp_path / "results" / "eval" / "scores.json").read_text() == '{"ar": {"comet": 0.71}}'
    assert (tmp_path / "results" / "eval" / "ar" / "predictions.jsonl").exists()
    assert not (tmp_path / "results" / "final").exists()
    assert main(["fetch", job.job_id, "--dest", str(tmp_path / "with-model"), "--model"]) == 0
    assert (tmp_path / "with-model" / "final" / "model.safetensors").stat().st_size == 1024
