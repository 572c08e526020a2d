"""Cancel signals only the job it was asked to, and all of it: a pid file that holds 1 (or junk) is refused with one
sentence, a pid reused by an unrelated process after the job ended is not signalled, and torchrun ranks (each in a
session of its own) end with the job (real local launcher, real torchrun, real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from studio.remote.connection import open_session
from studio.remote.errors import RemoteError
from studio.remote.jobs import cancel
from studio.remote.launch import LaunchRequest, launch
from studio.remote.registry import JobRegistry
from tests.infra.fake_worker import fake_worker_argv


def _finished_job(local_profile, registry, work_root):
    with open_session(local_profile) as session:
        job = launch(LaunchRequest(local_profile, {}, worker_argv=fake_worker_argv(3, 0.01)), session,
                     registry=registry)
    deadline = time.monotonic() + 20
    while not (work_root / job.job_id / "exit_code").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return job


@pytest.mark.parametrize("content", ["1", "0", "-1", "12 34", "$(reboot)", ""])
def test_a_pid_file_that_names_no_job_process_is_refused(local_profile, work_root, content):
    registry = JobRegistry()
    job = _finished_job(local_profile, registry, work_root)
    (work_root / job.job_id / "pid").write_text(content + "\n")
    with open_session(local_profile) as session, pytest.raises(RemoteError, match="nothing was signalled"):
        cancel(registry.get(job.job_id), session, grace_s=1, registry=registry)
    assert registry.get(job.job_id).state != "cancelled"


def test_a_reused_pid_is_not_signalled(local_profile, work_root, tmp_path):
    registry = JobRegistry()
    job = _finished_job(local_profile, registry, work_root)
    # An unrelated process group leader (its own session, elsewhere) now owns the number in the pid file.
    bystander = subprocess.Popen(["sleep", "30"], cwd=tmp_path, start_new_session=True)
    try:
        (work_root / job.job_id / "pid").write_text(f"{bystander.pid}\n")
        with open_session(local_profile) as session:
            # None of the job's processes is left (none works in its directory): nothing to signal, and the number in
            # the pid file is not taken for the job.
            assert cancel(registry.get(job.job_id), session, grace_s=1, registry=registry) == "not-running"
        time.sleep(0.3)
        assert bystander.poll() is None, "an unrelated process was killed"
        os.kill(bystander.pid, 0)
    finally:
        bystander.kill()
        bystander.wait()


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie holds nothing
    except FileNotFoundError:
        return True


@pytest.mark.slow
def test_cancel_ends_torchrun_ranks_that_live_in_sessions_of_their_own(local_profile, work_root):
    """torch starts each rank with start_new_session: the wrapper's process group does not reach them."""
    from pathlib import Path

    registry = JobRegistry()
    rank = str(Path(__file__).resolve().parents[1] / "infra" / "slow_rank.py")
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", rank]
    with open_session(local_profile) as session:
        job = launch(LaunchRequest(local_profile, {}, worker_argv=argv), session, registry=registry)
        job_dir = work_root / job.job_id
        deadline = time.monotonic() + 60
        while not all((job_dir / f"rank{r}.pid").exists() for r in (0, 1)) and time.monotonic() < deadline:
            time.sleep(0.1)
        ranks = [int((job_dir / f"rank{r}.pid").read_text()) for r in (0, 1)]
        assert all(os.getsid(pid) == pid for pid in ranks)  # the premise: each rank leads its own session
        outcome = cancel(registry.get(job.job_id), session, grace_s=2, registry=registry)
    assert outcome == "killed"
    assert all(_gone(pid) for pid in ranks), "a rank outlived the cancel"
    assert registry.get(job.job_id).state == "cancelled"
