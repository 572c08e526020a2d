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
    assert '--rdzv-endpoint "$head:$port"' in script and 'port=$(' in script
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1' in script
    assert plan.start_command.endswith("sbatch --parsable job.sbatch")


def test_slurm_job_runs_to_completion(trusted, slurm_profile, work_root):
    registry = JobRegistry()
    with open_session(slurm_profile) as session:
        job = launch(LaunchRequest(slurm_profile, {}, languages=["vi"], worker_argv=fake_worker_argv(25, 0.02)),
                     session, registry=registry)
    assert job.slurm_job_id and job.slurm_job_id.isdigit()
    assert (work_root / job.job_id / "slurm_job_id").read_text().strip() == job.slurm_job_id
    assert job.pid is None
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
    assert registry.get(job.job_id).state == "cancelled"  # at once, not `queued` until someone follows
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


def test_two_real_jobs_on_one_node_have_their_own_rendezvous(trusted, slurm_profile, slurm_cluster, work_root,
                                                              tmp_path):
    """Issue 16 item 5: with the rendezvous on a fixed port, the second job joined the first one's store, and
    cancelling the first made the second fail with RendezvousConnectionError. Real worker, torchrun, c10d."""
    from tests.worker.jobkit import small_job, write_small_data

    data = write_small_data(tmp_path / "data")
    long = small_job(data, epochs=50, checkpoint_every_steps=0)  # about 1,000 steps: still running at the cancel
    registry = JobRegistry()
    def training(job):
        path = work_root / job.job_id / "events.jsonl"
        return path.exists() and any(e.kind == "train" for e in read_events(path))

    def wait_training(*jobs):
        deadline = time.monotonic() + 180
        while not all(training(j) for j in jobs) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert all(training(j) for j in jobs), slurm_cluster.run("squeue", check=False).stdout

    with open_session(slurm_profile) as session:
        # The first job's torchrun hosts its rendezvous store; the second starts once the first trains, so with a
        # shared port it would join that store, and lose it when the first is cancelled.
        first = launch(LaunchRequest(slurm_profile, long, name="first"), session, registry=registry)
        wait_training(first)
        second = launch(LaunchRequest(slurm_profile, small_job(data, epochs=4, checkpoint_every_steps=0),
                                      name="second"), session, registry=registry)
        wait_training(first, second)
        scripts = [(work_root / j.job_id / "job.sbatch").read_text() for j in (first, second)]
        assert all('--rdzv-endpoint "$head:$port"' in s for s in scripts)
        assert cancel(registry.get(first.job_id), session, registry=registry) == "scancelled"
    ended = list(Follower(registry.get(second.job_id), lambda: open_session(slurm_profile), registry=registry,
                          liveness_every_s=0.5))[-1]
    assert (ended.state, ended.exit_code) == ("finished", 0), ended
    # The cancelled one: one exit code (the worker's, in its done event and in exit_code) and words that agree.
    stopped = list(Follower(registry.get(first.job_id), lambda: open_session(slurm_profile), registry=registry,
                            liveness_every_s=0.5))[-1]
    assert stopped.state == "cancelled" and stopped.message.startswith("cancelled"), stopped
    done = [e for e in read_events(work_root / first.job_id / "events.jsonl") if e.kind == "done"]
    if done:
        code = (work_root / first.job_id / "exit_code").read_text().strip()
        assert code == str(done[-1].data["exit_code"]) == str(stopped.exit_code)
    events = read_events(work_root / second.job_id / "events.jsonl")
    assert not any(e.kind == "error" for e in events)
    assert events[-1].kind == "done" and events[-1].data["exit_code"] == 0
    assert events[-1].data["step"] == max(e.data["step"] for e in events if e.kind == "train") > 20


def test_a_failed_submission_leaves_no_folder_and_says_why(trusted, slurm_profile, work_root):
    """sbatch refusing the job (here a partition that does not exist): one sentence with sbatch's own reason,
    nothing on the host that the registry does not know (issue 16 item 4)."""
    from studio.remote.errors import RemoteError

    broken = HostProfile(**{**slurm_profile.to_dict(), "slurm_partition": "nope"})
    registry = JobRegistry()
    with open_session(broken) as session, pytest.raises(RemoteError) as caught:
        launch(LaunchRequest(broken, {}, worker_argv=fake_worker_argv(5, 0.01)), session, registry=registry)
    message = str(caught.value)
    assert "did not start: sbatch said" in message and "its folder was removed" in message
    assert "invalid partition specified: nope" in message
    assert "\n" not in message
    assert not [p for p in work_root.iterdir() if not p.name.startswith(".")] if work_root.exists() else True
    assert registry.jobs() == []
