"""SLURM through SSH on the real single-node test cluster: sbatch to completion, scancel."""

from __future__ import annotations

import time

import pytest

from studio.remote.connection import open_session
from studio.remote.follow import Follower
from studio.remote.hosts import HostProfile
from studio.remote.jobs import cancel
from studio.remote.launch import LaunchRequest, launch, preview_launch
from studio.remote.registry import JobRegistry
from tests.infra.fake_worker import fake_worker_argv
from worker.contract import read_events

pytestmark = [pytest.mark.ssh, pytest.mark.slurm, pytest.mark.slow]


@pytest.fixture
def slurm_profile(slurm_cluster, ssh_profile):
    return HostProfile(**{**ssh_profile.to_dict(), "name": "cluster", "launcher": "slurm",
                          "slurm_partition": "debug", "slurm_time": "00:10:00", "env": dict(slurm_cluster.env)})


def test_sbatch_script_preview(slurm_profile):
    multi = HostProfile(**{**slurm_profile.to_dict(), "nodes": 4, "gpus_per_node": 8, "slurm_account": "proj",
                           "slurm_extra": ["--qos=high"]})
    plan = preview_launch(LaunchRequest(multi, {}, languages=["ar"]))
    script = plan.script
    for line in ("#SBATCH --nodes=4", "#SBATCH --gpus-per-node=8", "#SBATCH --partition=debug",
                 "#SBATCH --account=proj", "#SBATCH --time=00:10:00", "#SBATCH --qos=high"):
        assert line in script.splitlines()
    assert "srun --ntasks-per-node=1" in script
    assert "--nnodes 4 --nproc-per-node 8 --rdzv-backend c10d" in script
    assert '--rdzv-endpoint "$head:29500"' in script
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1' in script
    assert plan.start_command.endswith("sbatch --parsable job.sbatch")


def test_slurm_job_runs_to_completion(trusted, slurm_profile, work_root):
    registry = JobRegistry()
    with open_session(slurm_profile) as session:
        job = launch(LaunchRequest(slurm_profile, {}, languages=["vi"], worker_argv=fake_worker_argv(25, 0.02)),
                     session, registry=registry)
    assert job.slurm_job_id and job.slurm_job_id.isdigit()
    events, updates = [], []
    for update in Follower(registry.get(job.job_id), lambda: open_session(slurm_profile), registry=registry,
                           liveness_every_s=0.5):
        updates.append(update)
        events.extend(update.events)
    assert updates[-1].state == "finished", updates[-1]
    on_disk = read_events(work_root / job.job_id / "events.jsonl")
    assert [e.seq for e in events] == [e.seq for e in on_disk] and len(on_disk) == 28
    assert list((work_root / job.job_id / "logs").glob("slurm-*.out"))


def test_scancel_cancels_a_running_job(trusted, slurm_profile, slurm_cluster, work_root):
    registry = JobRegistry()
    with open_session(slurm_profile) as session:
        job = launch(LaunchRequest(slurm_profile, {}, worker_argv=fake_worker_argv(5000, 0.05)), session,
                     registry=registry)
        events_file = work_root / job.job_id / "events.jsonl"
        deadline = time.monotonic() + 30
        while not events_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert events_file.exists(), slurm_cluster.run("squeue", check=False).stdout
        assert cancel(registry.get(job.job_id), session, registry=registry) == "scancelled"
    updates = list(Follower(registry.get(job.job_id), lambda: open_session(slurm_profile), registry=registry,
                            liveness_every_s=0.5))
    assert updates[-1].kind == "ended" and updates[-1].state == "cancelled", updates[-1]
    # slurmctld records the state a moment after scancel returns: read it until it says so, within a deadline.
    deadline = time.monotonic() + 30
    state = ""
    while "JobState=CANCELLED" not in state and time.monotonic() < deadline:
        state = slurm_cluster.run("scontrol", "show", "job", job.slurm_job_id, check=False).stdout
        if "JobState=CANCELLED" not in state:
            time.sleep(0.2)
    assert "JobState=CANCELLED" in state, state
    assert len(read_events(events_file)) < 5000
