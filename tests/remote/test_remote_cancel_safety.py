"""Cancel signals only the job it was asked to: a pid file that holds 1 (or junk) or a pid reused by an unrelated
process after the job ended is refused with one sentence and nothing is signalled (real local launcher, real
processes)."""

from __future__ import annotations

import os
import subprocess
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
        with open_session(local_profile) as session, pytest.raises(RemoteError, match="reused"):
            cancel(registry.get(job.job_id), session, grace_s=1, registry=registry)
        time.sleep(0.3)
        assert bystander.poll() is None, "an unrelated process was killed"
        os.kill(bystander.pid, 0)
    finally:
        bystander.kill()
        bystander.wait()
