"""Benchmark: following a job over loopback SSH (real sshd, paramiko, SFTP).

    python tests/bench/bench_remote_follow.py [--events 100000] [--latency-events 120]

Prints a table: event-write -> delivery latency (p50/p95) with the default polling, and the catch-up rate on a
large existing log (events/s), with and without the SQLite registry, over SSH and on the local launcher.
Targets (issue 5): p50 < 0.5 s, catch-up > 50k events/s. Never fails on a time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--latency-events", type=int, default=120)
    args = parser.parse_args()

    from tests.infra.bench_home import isolated_home

    base = isolated_home("lt-bench-remote-")

    from studio.remote.connection import open_session
    from studio.remote.follow import Follower, FollowTarget
    from studio.remote.hosts import HostProfile
    from studio.remote.registry import JobRegistry
    from tests.infra.sshd import SSHServer
    from worker.contract import EventLog, EventStream

    server = SSHServer(base / "sshd").start()
    (base / "known_hosts").write_text(server.known_hosts_line())
    ssh = HostProfile(name="loop", host="127.0.0.1", port=server.port, user="root",
                      identity_file=str(server.client_key), work_root=str(base / "jobs"), launcher="direct")
    local = HostProfile(name="here", launcher="local", work_root=str(base / "jobs"))
    rows: list[tuple[str, str, str]] = []
    try:
        # 1. Latency with the default polling: events written at irregular intervals (0.05-0.8 s, some idle gaps).
        job_dir = base / "jobs" / "latency"
        job_dir.mkdir(parents=True)
        rng = random.Random(7)
        latencies: list[float] = []

        def writer():
            with EventLog(job_dir / "events.jsonl") as log:
                for step in range(args.latency_events):
                    time.sleep(rng.choice([0.05, 0.1, 0.2, 0.4, 0.8]) if step % 30 else 3.0)
                    log.emit("train", step=step, loss=1.0, lr=1e-4)
                log.emit("done", exit_code=0)

        registry = JobRegistry()
        target = FollowTarget("latency", "direct", str(job_dir))
        registry.add_job(type("J", (), dict(job_id="latency", name="", host="loop", launcher="direct",
                                            job_dir=str(job_dir), plan_summary={}, slurm_job_id=None, pid=None)))
        thread = threading.Thread(target=writer)
        thread.start()
        for update in Follower(target, lambda: open_session(ssh), registry=registry):
            now = time.time()
            latencies.extend(now - e.time for e in update.events if e.kind == "train")
        thread.join()
        q = statistics.quantiles(latencies, n=20)
        rows.append(("latency p50 (ssh, default polling)", f"{statistics.median(latencies) * 1000:.0f} ms", "< 500 ms"))
        rows.append(("latency p95 (ssh, default polling)", f"{q[18] * 1000:.0f} ms", ""))
        rows.append(("latency max", f"{max(latencies) * 1000:.0f} ms", f"n={len(latencies)}"))

        # 2. Catch-up on a large existing log.
        big = base / "jobs" / "big"
        big.mkdir()
        with EventLog(big / "events.jsonl") as log:
            for step in range(args.events - 1):
                log.emit("train", step=step, epoch=0, loss=1.0 / (step + 1), lr=1e-4, tokens=step * 4096,
                         tokens_per_s=51234.5, grad_norm=0.93)
            log.emit("done", exit_code=0)
        size_mb = (big / "events.jsonl").stat().st_size / 1e6
        # Where the time goes: the raw SFTP transfer, and decoding alone (EventStream in memory).
        with open_session(ssh) as session:
            t0 = time.perf_counter()
            pos, size = 0, (big / "events.jsonl").stat().st_size
            while pos < size:
                pos += len(session.read_range(str(big / "events.jsonl"), pos, min(4 << 20, size - pos)))
            rows.append((f"raw SFTP read of the {size_mb:.0f} MB log (ssh)",
                         f"{size_mb / (time.perf_counter() - t0):,.0f} MB/s", ""))
        raw = (big / "events.jsonl").read_bytes()
        t0 = time.perf_counter()
        decoded = len(EventStream().feed(raw))
        rows.append(("decode only (EventStream.feed, in memory)",
                     f"{decoded / (time.perf_counter() - t0):,.0f} events/s", ""))
        for label, profile, with_registry in (("ssh", ssh, False), ("ssh + registry", ssh, True),
                                              ("local", local, False), ("local + registry", local, True)):
            reg = None
            if with_registry:
                reg = JobRegistry(base / f"reg-{label.replace(' ', '')}.sqlite3")
                reg.add_job(type("J", (), dict(job_id="big", name="", host=profile.name, launcher=profile.launcher,
                                               job_dir=str(big), plan_summary={}, slurm_job_id=None, pid=None)))
            session = open_session(profile)  # connection set-up is not part of the rate
            t0 = time.perf_counter()
            count = 0
            for update in Follower(FollowTarget("big", profile.launcher, str(big)), lambda: session, registry=reg):
                count += len(update.events)
            elapsed = time.perf_counter() - t0
            rows.append((f"catch-up, {args.events} events, {size_mb:.0f} MB ({label})",
                         f"{count / elapsed:,.0f} events/s", "> 50,000 events/s" if label == "ssh" else ""))
            assert count == args.events, count
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)

    load = os.getloadavg()[0]
    print(f"# {os.cpu_count()} CPUs, load average {load:.1f} while measuring (shared machine: rates are CPU-bound)")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>18}  target")
    print("-" * (width + 38))
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>18}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
