"""Benchmark: following a 100k-event job through a failing link (real sshd, paramiko, SFTP, the real EventLog
writer, the registry).

    python tests/bench/bench_follow_chaos.py [--events 100000] [--rate 3e6] [--keepalive 5]

The job is live: half its events exist when following starts (a catch-up larger than one read), the rest are
written while it is followed, then `done`. Every connection goes through a relay throttled to ``--rate`` bytes/s,
and the first connections fail by plan: resets and silences (nothing forwarded, nothing closed) at different points
of the transfer. Prints, per fault, when it struck and how long until events flowed again, then events lost and
duplicated (both must be 0), in what the follower delivered and in the registry. A silence is noticed by the SSH
keepalive (``--keepalive`` s; profiles default to 15). Never fails on a time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

FAULTS = [("reset", 3_000_000), ("silence", 2_000_000), ("reset", 500_000), ("silence", 4_000_000),
          ("reset", 1_500_000), ("reset", 6_000_000)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=3e6, help="link throughput, bytes/s")
    parser.add_argument("--keepalive", type=int, default=5, help="SSH keepalive of the profile, s")
    args = parser.parse_args()

    from tests.infra.bench_home import isolated_home

    base = isolated_home("lt-bench-chaos-")

    from studio.remote.connection import open_session
    from studio.remote.follow import Follower
    from studio.remote.hosts import HostProfile
    from studio.remote.launch import LaunchedJob
    from studio.remote.registry import JobRegistry
    from tests.infra.chaos_relay import ChaosRelay
    from tests.infra.sshd import SSHServer
    from worker.contract import EventLog, read_events

    server = SSHServer(base / "sshd").start()
    relay = ChaosRelay(server.port, FAULTS, rate=args.rate)
    key = server.public_host_key()
    (base / "known_hosts").write_text(f"[127.0.0.1]:{relay.port} {key.get_name()} {key.get_base64()}\n")
    profile = HostProfile(name="chaos", host="127.0.0.1", port=relay.port, user="root",
                          identity_file=str(server.client_key), work_root=str(base / "jobs"), launcher="direct",
                          keepalive_s=args.keepalive)
    job_dir = base / "jobs" / "big"
    job_dir.mkdir(parents=True)
    padding = "x" * 120  # a train event's realistic length with its fields
    log = EventLog(job_dir / "events.jsonl")
    half = args.events // 2
    for step in range(1, half):
        log.emit("train", step=step, loss=1.0 / step, lr=1e-4, tokens=2048, note=padding)

    def write_rest():
        for step in range(half, args.events):
            log.emit("train", step=step, loss=1.0 / step, lr=1e-4, tokens=2048, note=padding)
            if step % 500 == 0:
                time.sleep(0.05)  # ~10k events/s: the tail is live, not one more catch-up
        log.emit("done", exit_code=0, step=args.events)
        log.close()
        (job_dir / "exit_code").write_text("0\n")

    registry = JobRegistry()
    registry.add_job(LaunchedJob("big", "big", profile.name, "direct", str(job_dir), None, None, {}))
    follower = Follower(registry.get("big"), lambda: open_session(profile), registry=registry, poll_s=0.05,
                        reconnect_max_s=1.0)
    writer = threading.Thread(target=write_rest)
    delivered: list[int] = []
    flow: list[float] = []  # when each batch of events arrived
    noticed: list[float] = []  # when the follower said the link dropped
    back: list[float] = []  # when it said it was connected again
    warnings = 0
    started = time.monotonic()
    writer.start()
    try:
        for update in follower:
            if update.kind == "events" and update.events:
                delivered.extend(e.seq for e in update.events)
                flow.append(time.monotonic())
            elif update.kind == "reconnecting":
                noticed.append(time.monotonic())
            elif update.kind == "reconnected":
                back.append(time.monotonic())
            elif update.kind == "warning":
                warnings += 1
                print(f"  warning: {update.message}")
        writer.join()
        elapsed = time.monotonic() - started
        on_disk = [e.seq for e in read_events(job_dir / "events.jsonl")]
        stored = [e.seq for e in registry.events("big")]
    finally:
        relay.close()
        server.stop()
        registry.close()
    size_mb = (job_dir / "events.jsonl").stat().st_size / 1e6

    print(f"bench_follow_chaos: {len(on_disk):,} events ({size_mb:.0f} MB), link {args.rate / 1e6:g} MB/s, "
          f"keepalive {args.keepalive} s, {len(FAULTS)} planned faults, {relay.connections} connections, "
          f"{elapsed:.1f} s\n")
    rows = []
    def first_after(times, when):
        found = next((t for t in times if t > when), None)
        return f"{found - when:.1f} s" if found is not None else "never"

    for (kind, at), (_, when) in zip(FAULTS, relay.fault_times):
        rows.append([kind, f"after {at / 1e6:g} MB", f"{when - started:.1f} s", first_after(noticed, when),
                     first_after(back, when), first_after(flow, when)])
    print_table(["fault", "on its connection", "struck at", "noticed after", "reconnected after",
                 "events flowing again after"], rows)
    print()
    lost = len(set(on_disk) - set(delivered))
    duplicated = len(delivered) - len(set(delivered))
    lost_registry = len(set(on_disk) - set(stored))
    duplicated_registry = len(stored) - len(set(stored))
    print_table(["", "events", "lost", "duplicated", "in order"], [
        ["delivered by the follower", f"{len(delivered):,}", lost, duplicated, delivered == sorted(delivered)],
        ["stored in the registry", f"{len(stored):,}", lost_registry, duplicated_registry, stored == on_disk],
    ])
    print(f"\nreconnects reported: {len(noticed)}; warnings: {warnings}; faults that struck: "
          f"{len(relay.fault_times)}")
    shutil.rmtree(base, ignore_errors=True)
    return 0


def print_table(header, rows) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))


if __name__ == "__main__":
    sys.exit(main())
