"""A large catch-up over a link that breaks in the middle of the transfer: every event of a ~10 MB log reaches the
registry exactly once (a real sshd, a relay that resets the connection after N bytes, the real EventLog writer)."""

from __future__ import annotations

import dataclasses

import pytest

from studio.remote.connection import open_session
from studio.remote.follow import Follower
from studio.remote.launch import LaunchedJob
from studio.remote.registry import JobRegistry
from tests.infra.cutting_relay import CuttingRelay
from worker.contract import EventLog, read_events

pytestmark = [pytest.mark.ssh, pytest.mark.slow]


def write_big_job(job_dir, events: int) -> int:
    """A finished job directory whose events.jsonl is written by the worker's own EventLog."""
    job_dir.mkdir(parents=True)
    log = EventLog(job_dir / "events.jsonl")
    padding = "x" * 120  # realistic line length of a train event with its fields
    for step in range(1, events):
        log.emit("train", step=step, loss=1.0 / step, lr=1e-4, tokens=2048, note=padding)
    log.emit("done", exit_code=0, step=events - 1)
    log.close()
    (job_dir / "exit_code").write_text("0\n")
    return (job_dir / "events.jsonl").stat().st_size


def follow_through(relay, sshd, ssh_profile, known_hosts, job_dir, **profile_changes):
    """Follow the finished job in ``job_dir`` to its end over ``relay`` (a trusted port serving the test sshd's key);
    returns the registry (still open) and every update the follower gave."""
    profile = dataclasses.replace(ssh_profile, port=relay.port, **profile_changes)
    key = sshd.public_host_key()  # the relay's port serves the same host key
    with open(known_hosts, "a") as fh:
        fh.write(f"[127.0.0.1]:{relay.port} {key.get_name()} {key.get_base64()}\n")
    registry = JobRegistry()
    registry.add_job(LaunchedJob("big", "big", profile.name, "direct", str(job_dir), None, None, {}))
    follower = Follower(registry.get("big"), lambda: open_session(profile), registry=registry, poll_s=0.05,
                        reconnect_max_s=0.5)
    updates = list(follower)
    relay.close()
    return registry, updates


@pytest.mark.parametrize("cuts", [[3_000_000], [2_500_000, 1_500_000], [1_200_000, 900_000, 4_000_000]])
def test_resets_during_a_large_catch_up_lose_and_duplicate_nothing(trusted, sshd, ssh_profile, work_root, cuts,
                                                                   isolated_ssh_files):
    size = write_big_job(work_root / "big", 60_000)
    assert size > 9_000_000
    relay = CuttingRelay(sshd.port, cuts)
    registry, updates = follow_through(relay, sshd, ssh_profile, isolated_ssh_files / "known_hosts", work_root / "big")
    assert relay.cut_count == len(cuts), "the link was not cut as planned"
    assert updates[-1].kind == "ended" and updates[-1].state == "finished"
    assert any(u.kind == "reconnecting" for u in updates)
    on_disk = [e.seq for e in read_events(work_root / "big" / "events.jsonl")]
    stored = [e.seq for e in registry.events("big")]
    delivered = [e.seq for u in updates if u.kind == "events" for e in u.events]
    assert stored == on_disk, f"{len(on_disk) - len(set(stored))} events lost in the registry"
    assert delivered == on_disk, "an event was lost or delivered twice"
    registry.close()


def test_a_link_gone_silent_mid_catch_up_is_detected_and_followed_to_the_end(trusted, sshd, ssh_profile, work_root,
                                                                            isolated_ssh_files):
    """No reset, just silence: the follower notices after one silence limit (two keepalive intervals), says so,
    reconnects. Closing the open file on the dead link used to wait out a second limit before anyone heard."""
    import time

    from studio.remote.connection import silence_limit

    write_big_job(work_root / "big", 30_000)
    relay = CuttingRelay(sshd.port, [1_500_000], stall=True)
    profile = dataclasses.replace(ssh_profile, port=relay.port, keepalive_s=3)
    key = sshd.public_host_key()
    with open(isolated_ssh_files / "known_hosts", "a") as fh:
        fh.write(f"[127.0.0.1]:{relay.port} {key.get_name()} {key.get_base64()}\n")
    registry = JobRegistry()
    registry.add_job(LaunchedJob("big", "big", profile.name, "direct", str(work_root / "big"), None, None, {}))
    updates, noticed = [], []
    for update in Follower(registry.get("big"), lambda: open_session(profile), registry=registry, poll_s=0.05,
                           reconnect_max_s=0.5):
        updates.append(update)
        if update.kind == "reconnecting":
            noticed.append(time.monotonic())
    relay.close()
    assert relay.cut_count == 1 and updates[-1].state == "finished"
    took = noticed[0] - relay.cut_times[0]
    assert silence_limit(3) - 0.5 <= took <= silence_limit(3) + 3, f"the silence was noticed after {took:.1f} s"
    on_disk = [e.seq for e in read_events(work_root / "big" / "events.jsonl")]
    assert [e.seq for e in registry.events("big")] == on_disk
    registry.close()
