"""Launch through SSH (and locally), follow to done, survive dropped connections, detect lost jobs, cancel."""

from __future__ import annotations

import json
import os
import stat
import threading
import time

import pytest

from studio.remote.connection import open_session
from studio.remote.follow import Follower
from studio.remote.jobs import cancel, fetch
from studio.remote.launch import LaunchRequest, launch
from studio.remote.registry import JobRegistry
from tests.infra.fake_worker import fake_worker_argv
from worker.contract import read_events

pytestmark = [pytest.mark.ssh, pytest.mark.slow]


def run_follower(follower):
    events, updates = [], []
    for update in follower:
        updates.append(update)
        events.extend(update.events)
    return events, updates


def test_launch_over_ssh_and_follow_to_done(trusted, ssh_profile, work_root):
    registry = JobRegistry()
    plan = {"schema": "linguatune.plan/1", "languages": [{"code": "ar", "pairs": 1000}, {"code": "el", "pairs": 500}]}
    with open_session(ssh_profile) as session:
        job = launch(LaunchRequest(ssh_profile, {"model": "tiny"}, name="first", languages=["ar", "el"], plan=plan,
                                   worker_argv=fake_worker_argv(30, 0.02)), session, registry=registry)
    job_dir = work_root / job.job_id
    assert job.job_id.split("-")[2:4] == ["ar", "el"]
    assert stat.S_IMODE(job_dir.stat().st_mode) == 0o700
    assert json.loads((job_dir / "job.json").read_text())["model"] == "tiny"

    events, updates = run_follower(Follower(registry.get(job.job_id), lambda: open_session(ssh_profile),
                                            registry=registry))
    assert updates[-1].kind == "ended" and updates[-1].state == "finished" and updates[-1].exit_code == 0
    on_disk = read_events(job_dir / "events.jsonl")
    assert [e.to_dict() for e in events] == [e.to_dict() for e in on_disk]
    assert len(on_disk) == 33 and on_disk[-1].kind == "done"
    record = registry.get(job.job_id)
    assert record.state == "finished" and record.plan_summary["languages"][0] == {"code": "ar", "pairs": 1000}
    assert [e.seq for e in registry.events(job.job_id)] == [e.seq for e in on_disk]
    assert record.offset == (job_dir / "events.jsonl").stat().st_size
    # The wrapper recorded the exit code after the worker ended.
    deadline = time.monotonic() + 5
    while not (job_dir / "exit_code").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (job_dir / "exit_code").read_text().strip() == "0"


def test_follow_survives_dropped_connections(trusted, sshd, ssh_profile, work_root):
    registry = JobRegistry()
    with open_session(ssh_profile) as session:
        job = launch(LaunchRequest(ssh_profile, {}, languages=["hi"], worker_argv=fake_worker_argv(120, 0.05)),
                     session, registry=registry)
    follower = Follower(registry.get(job.job_id), lambda: open_session(ssh_profile), registry=registry,
                        poll_s=0.1)
    drops = []

    def dropper():
        for _ in range(4):
            time.sleep(1.0)
            drops.append(sshd.drop_connections())

    thread = threading.Thread(target=dropper)
    thread.start()
    events, updates = run_follower(follower)
    thread.join()
    assert sum(1 for d in drops if d) >= 3
    assert follower.reconnects >= 3
    assert updates[-1].state == "finished"
    on_disk = read_events(work_root / job.job_id / "events.jsonl")
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs)), "an event was delivered twice or out of order"
    assert seqs == [e.seq for e in on_disk], "an event was lost"
    assert registry.event_count(job.job_id) == len(on_disk)


def test_follow_survives_sshd_restarts(trusted, sshd, ssh_profile, work_root):
    registry = JobRegistry()
    with open_session(ssh_profile) as session:
        job = launch(LaunchRequest(ssh_profile, {}, worker_argv=fake_worker_argv(80, 0.05)), session,
                     registry=registry)
    follower = Follower(registry.get(job.job_id), lambda: open_session(ssh_profile), registry=registry)

    def restarter():
        for _ in range(2):
            time.sleep(1.0)
            sshd.restart()  # the server goes away entirely for a moment: refused connections are retried too

    thread = threading.Thread(target=restarter)
    thread.start()
    events, updates = run_follower(follower)
    thread.join()
    assert follower.reconnects >= 2 and updates[-1].state == "finished"
    assert [e.seq for e in events] == [e.seq for e in read_events(work_root / job.job_id / "events.jsonl")]


def test_reopened_follower_resumes_where_the_registry_left(trusted, ssh_profile, work_root):
    registry = JobRegistry()
    with open_session(ssh_profile) as session:
        job = launch(LaunchRequest(ssh_profile, {}, worker_argv=fake_worker_argv(60, 0.03)), session,
                     registry=registry)
    first = Follower(registry.get(job.job_id), lambda: open_session(ssh_profile), registry=registry)
    seen = []
    for update in first:
        seen.extend(update.events)
        if len(seen) >= 10:
            first.stop()
    # A new follower (as after the studio restarts) starts from the stored offset: nothing twice, nothing missed.
    rest, updates = run_follower(Follower(registry.get(job.job_id), lambda: open_session(ssh_profile),
                                          registry=registry))
    on_disk = read_events(work_root / job.job_id / "events.jsonl")
    assert [e.seq for e in seen + rest] == [e.seq for e in on_disk]
    assert updates[-1].state == "finished"


def test_sigkilled_job_is_reported_lost_with_log_tail(trusted, ssh_profile, work_root):
    registry = JobRegistry()
    with open_session(ssh_profile) as session:
        job = launch(LaunchRequest(ssh_profile, {}, worker_argv=fake_worker_argv(1000, 0.05)), session,
                     registry=registry)
    job_dir = work_root / job.job_id
    deadline = time.monotonic() + 10
    while not (job_dir / "events.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pgid = int((job_dir / "pid").read_text())
    os.killpg(pgid, 9)
    events, updates = run_follower(Follower(registry.get(job.job_id), lambda: open_session(ssh_profile),
                                            registry=registry, liveness_every_s=0.5))
    end = updates[-1]
    assert end.kind == "ended" and end.state == "lost", end
    assert "process is gone" in end.message
    assert any("launcher.log" in line for line in end.log_tail)
    assert not (job_dir / "exit_code").exists()
    assert registry.get(job.job_id).state == "lost"
    assert not any(e.kind == "done" for e in events)


def test_worker_crash_still_records_exit_code(trusted, ssh_profile, work_root):
    registry = JobRegistry()
    with open_session(ssh_profile) as session:
        job = launch(LaunchRequest(ssh_profile, {}, worker_argv=[
            ssh_profile.python, "-c", "import sys; print('boom: worker crashed', file=sys.stderr); sys.exit(3)"]),
            session, registry=registry)
    _events, updates = run_follower(Follower(registry.get(job.job_id), lambda: open_session(ssh_profile),
                                             registry=registry, liveness_every_s=0.3))
    end = updates[-1]
    assert (end.state, end.exit_code) == ("failed", 3)
    assert any("boom: worker crashed" in line for line in end.log_tail)


def test_cancel_terminates_the_process_group(trusted, ssh_profile, work_root):
    registry = JobRegistry()
    with open_session(ssh_profile) as session:
        job = launch(LaunchRequest(ssh_profile, {}, worker_argv=fake_worker_argv(2000, 0.05)), session,
                     registry=registry)
        time.sleep(0.5)
        outcome = cancel(registry.get(job.job_id), session, grace_s=5, registry=registry)
    assert outcome == "terminated"
    events, updates = run_follower(Follower(registry.get(job.job_id), lambda: open_session(ssh_profile),
                                            registry=registry))
    assert updates[-1].state == "cancelled"
    assert events and events[-1].kind == "done" and events[-1]["exit_code"] == 143
    assert (work_root / job.job_id / "exit_code").read_text().strip() == "143"


def test_local_launcher_runs_the_same_job_without_ssh(local_profile, work_root, tmp_path):
    registry = JobRegistry()
    with open_session(local_profile) as session:
        job = launch(LaunchRequest(local_profile, {"model": "tiny"}, languages=["tr"],
                                   worker_argv=fake_worker_argv(25, 0.01)), session, registry=registry)
    assert job.launcher == "local" and job.pid
    events, updates = run_follower(Follower(registry.get(job.job_id), lambda: open_session(local_profile),
                                            registry=registry))
    assert updates[-1].state == "finished"
    assert [e.seq for e in events] == [e.seq for e in read_events(work_root / job.job_id / "events.jsonl")]
    with open_session(local_profile) as session:
        result = fetch(registry.get(job.job_id), session, tmp_path / "fetched")
    assert (tmp_path / "fetched" / "events.jsonl").read_bytes() == (work_root / job.job_id / "events.jsonl").read_bytes()
    assert any(p.name == "launcher.log" for p in result.files)


def test_a_failed_real_job_ends_with_the_workers_own_sentence_first(trusted, ssh_profile, work_root, tmp_path):
    """Issue 16 item 4: the worker's reason was line 7 of 48 in launcher.log while follow showed torchrun's
    ChildFailedError box. Real worker under torchrun (2 CPU ranks), data file missing."""
    from tests.worker.jobkit import small_job, write_small_data

    data = write_small_data(tmp_path / "data")
    (data / "en-zh.tsv").unlink()
    registry = JobRegistry()
    with open_session(ssh_profile) as session:
        job = launch(LaunchRequest(ssh_profile, small_job(data), nproc_per_node=2), session, registry=registry)
    end = run_follower(Follower(registry.get(job.job_id), lambda: open_session(ssh_profile), registry=registry,
                                liveness_every_s=0.5))[1][-1]
    assert end.state == "failed"
    assert "en-zh.tsv" in end.message.split(" (")[0], end.message  # the worker's sentence leads
    assert "ChildFailedError" not in end.message
    assert registry.get(job.job_id).message == end.message
