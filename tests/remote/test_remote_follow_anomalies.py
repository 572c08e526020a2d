"""What a follower says when the event log does what its writer never does (issue 12 item 3): truncated or
replaced, renamed away, a seq gap, a wild seq that would hide every later event, lines that are not events. Each is
reported (a ``warning`` update, stored in the registry), nothing is delivered twice, nothing dropped silently.
Real files written by the worker's EventLog, read through the real local session."""

from __future__ import annotations

import json

import pytest

from studio.remote.connection import open_session
from studio.remote.follow import Follower
from studio.remote.launch import LaunchedJob
from studio.remote.registry import JobRegistry
from worker.contract import EventLog


def _line(seq: int, step: int) -> str:
    return json.dumps({"v": 1, "seq": seq, "time": 1.0 + seq, "kind": "train", "step": step, "loss": 1.0}) + "\n"


@pytest.fixture
def job(work_root, local_profile):
    job_dir = work_root / "odd"
    job_dir.mkdir(parents=True)
    registry = JobRegistry()
    registry.add_job(LaunchedJob("odd", "odd", local_profile.name, "local", str(job_dir), None, None, {}))
    session = open_session(local_profile)
    follower = Follower(registry.get("odd"), lambda: session, registry=registry)
    yield job_dir, registry, session, follower
    session.close()
    registry.close()


def drain(follower, session):
    updates = list(follower._drain(session))
    events = [e.seq for u in updates if u.kind == "events" for e in u.events]
    warnings = [u.message for u in updates if u.kind == "warning"]
    return events, warnings


def write(job_dir, count: int) -> None:
    log = EventLog(job_dir / "events.jsonl")
    for step in range(count):
        log.emit("train", step=step, loss=1.0)
    log.close()


def test_a_truncated_and_rewritten_log_is_reported_and_read_again_without_repeats(job):
    job_dir, registry, session, follower = job
    write(job_dir, 42)  # seq 0..41
    assert drain(follower, session) == (list(range(42)), [])
    # Truncated to its first 24 lines, then the writer went on at seq 42: events 24-41 are gone from the file.
    lines = (job_dir / "events.jsonl").read_text().splitlines(keepends=True)[:24]
    (job_dir / "events.jsonl").write_text("".join(lines) + "".join(_line(s, s) for s in range(42, 46)))
    events, warnings = drain(follower, session)
    assert events == [42, 43, 44, 45]  # before: reading resumed at the old offset, in the middle of a line
    assert len(warnings) == 1 and "shrank from" in warnings[0] and "reading it again from the start" in warnings[0]
    assert registry.warnings("odd") == warnings
    assert [e.seq for e in registry.events("odd")] == list(range(46))


def test_a_log_renamed_away_is_reported_once_and_followed_again_when_back(job):
    job_dir, registry, session, follower = job
    write(job_dir, 5)
    assert drain(follower, session)[0] == [0, 1, 2, 3, 4]
    (job_dir / "events.jsonl").rename(job_dir / "events.old")
    events, warnings = drain(follower, session)
    assert events == [] and len(warnings) == 1 and "is gone (renamed or deleted)" in warnings[0]
    assert drain(follower, session) == ([], [])  # said once, not at every poll
    (job_dir / "events.old").rename(job_dir / "events.jsonl")
    with open(job_dir / "events.jsonl", "a") as fh:
        fh.write(_line(5, 5))
    assert drain(follower, session) == ([5], [])


def test_a_wild_seq_and_gaps_and_bad_lines_are_all_said(job):
    job_dir, registry, session, follower = job
    text = "".join(_line(s, s) for s in range(0, 10))
    text += _line(14, 14)                      # a gap: 10-13 missing
    text += "this is not json\n"               # a bad line
    text += _line(999999, 15)                  # a wild seq ...
    text += "".join(_line(s, s) for s in range(15, 20))  # ... that would hide these
    (job_dir / "events.jsonl").write_text(text)
    events, warnings = drain(follower, session)
    assert events == [*range(10), 14, 999999]
    assert "events 10-13 are missing from the log (seq jumped from 9 to 14)" in warnings
    assert "events 15-999998 are missing from the log (seq jumped from 14 to 999999)" in warnings
    assert "5 event(s) with seq 15..19 came after seq 999999 and were not delivered" in warnings
    assert "1 line(s) of the log are not valid events and were skipped" in warnings
    assert registry.warnings("odd") == warnings
