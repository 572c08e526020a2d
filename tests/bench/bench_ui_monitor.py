"""Benchmark: the Monitor page's redraw cost with a million loss points, and the longest GUI-thread stall while it
follows a job over loopback SSH (real sshd, real widgets offscreen).

    python tests/bench/bench_ui_monitor.py [--points 1000000] [--frames 60] [--backlog-steps 100000]
                                           [--follow-steps 3000] [--verbose]

Redraw: each frame appends 100 points to a 1M-point series, hands the views to the loss and rate plots, and paints
the page synchronously; timed for the whole run in view (peak downsampling) and zoomed into the last 2% (clip to
view). Stall: a 5 ms QTimer heartbeat runs while the page catches up on an existing log of many events and then
follows the job live over SSH (2 ms between steps); the largest gap between two heartbeats is the longest stall.
Targets (issue 7): redraw under 30 ms per frame, stall under 50 ms. Never fails on a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def bench_redraw(app, points: int, frames: int) -> list[tuple[str, str, str, str]]:
    import numpy as np

    from studio.remote.registry import JobRegistry
    from studio.session.monitor import EventDigest
    from studio.ui.monitor_page import MonitorPage

    base = Path(tempfile.mkdtemp(prefix="lt-bench-ui-"))
    registry = JobRegistry(base / "registry.sqlite3")
    page = MonitorPage(registry, autostart=False)
    page.resize(1400, 900)
    page.show()
    page.flush_timer.stop()
    from types import SimpleNamespace

    job = SimpleNamespace(job_id="bench-job", name="bench", host="local", launcher="local", job_dir=str(base),
                          slurm_job_id=None, pid=None, plan_summary={})
    registry.add_job(job)
    registry.set_state("bench-job", "finished")
    page.refresh_jobs()
    view = page.views["bench-job"]
    view.record.state = "running"  # drawn as a live job (room on the right), without a follower for this fake
    rng = np.random.default_rng(0)
    steps = np.arange(1, points + 1, dtype=float)
    digest = EventDigest(count=points, train_step=steps,
                         train_loss=2.0 * np.exp(-steps / points * 4) + 0.8 + rng.normal(0, 0.05, points),
                         train_lr=np.full(points, 2e-5), train_tps=40000 + rng.normal(0, 500, points))
    view.apply(digest)
    page.select_job("bench-job")
    page.flush(everything=True)
    app.processEvents()
    rows = []
    next_step = points + 1
    for label, zoom in (("whole run in view", False), ("zoomed to last 2%", True)):
        if zoom:
            lo = points * 0.98
            for plot in (page.loss_plot, page.rate_plot):
                plot.follow_x.following = False  # as after the user zoomed with the mouse
                plot.plotItem.setXRange(lo, points * 1.01, padding=0)
        else:
            for plot in (page.loss_plot, page.rate_plot):
                plot.follow_x.follow()
        times = []
        for _ in range(frames):
            batch = np.arange(next_step, next_step + 100, dtype=float)
            next_step += 100
            start = time.perf_counter()
            view.apply(EventDigest(count=100, train_step=batch, train_loss=np.full(100, 0.9),
                                   train_lr=np.full(100, 1e-5), train_tps=np.full(100, 40000.0)))
            page.flush(everything=True)
            for plot in (page.loss_plot, page.rate_plot):
                plot.viewport().repaint()
            times.append((time.perf_counter() - start) * 1000)
        rows.append((f"redraw, {len(view.train):,} loss points, {label}", f"{statistics.median(times):.1f} ms",
                     f"{_percentile(times, 0.95):.1f} ms", f"{max(times):.1f} ms"))
    page.shutdown()
    registry.close()
    return rows


def bench_stall(app, follow_steps: int, backlog_steps: int, verbose: bool = False) -> list[tuple[str, str, str, str]]:
    from PySide6.QtCore import QElapsedTimer, QTimer

    from studio.remote.connection import open_session
    from studio.remote.hosts import HostProfile, HostStore
    from studio.remote.launch import LaunchRequest, launch
    from studio.remote.registry import JobRegistry
    from studio.ui.monitor_page import MonitorPage
    from tests.infra.sshd import SSHServer
    from tests.ui_monitor.demo_event_writer import writer_argv

    base = Path(tempfile.mkdtemp(prefix="lt-bench-ui-ssh-"))
    server = SSHServer(base / "sshd").start()
    Path(os.environ["LINGUATUNE_USER_KNOWN_HOSTS"]).write_text(server.known_hosts_line())
    profile = HostProfile(name="loop", host="127.0.0.1", port=server.port, user="root",
                          identity_file=str(server.client_key), work_root=str(base / "jobs"), python=sys.executable,
                          launcher="direct", gpus_per_node=0)
    HostStore().add(profile, replace=True)
    registry = JobRegistry(base / "registry.sqlite3")
    rows = []
    try:
        # The writer first bursts a backlog (the page catches up on it over SSH while it grows), then writes live.
        argv = writer_argv(backlog_steps + follow_steps, 0.002, "--burst", str(backlog_steps), "--eval-every", "500",
                           "--heartbeat-every", "200")
        with open_session(profile) as session:
            job = launch(LaunchRequest(profile, {}, languages=["ar", "el", "hi"], worker_argv=argv), session,
                         registry=registry)
        time.sleep(1.0)
        page = MonitorPage(registry, follower_options={"poll_s": 0.05, "max_poll_s": 0.2})
        page.resize(1400, 900)
        page.show()
        for _ in range(20):  # the first layout and paint of the page are not part of following
            app.processEvents()
        gaps = []
        clock = QElapsedTimer()
        clock.start()
        last = [clock.nsecsElapsed(), time.thread_time()]

        def beat():
            now, cpu = clock.nsecsElapsed(), time.thread_time()
            # (wall gap, GUI-thread CPU time within it, when): CPU much smaller than wall means the thread waited
            # (for the GIL or a core), not that it was busy.
            gaps.append(((now - last[0]) / 1e6, (cpu - last[1]) * 1000, now / 1e9))
            last[0], last[1] = now, cpu

        heartbeat = QTimer()
        heartbeat.setInterval(5)
        heartbeat.timeout.connect(beat)
        heartbeat.start()
        view = page.views[job.job_id]
        start = time.monotonic()
        while time.monotonic() - start < 300 and not (view.record.is_final and view.connection == "finished"):
            app.processEvents()
            time.sleep(0.001)
        app.processEvents()
        heartbeat.stop()
        elapsed = time.monotonic() - start
        values = [g for g, _c, _t in gaps]
        rows.append((f"GUI heartbeat gap while following over SSH ({view.events_seen:,} events in {elapsed:.1f} s, "
                     f"{len(view.train):,} loss points)", f"{statistics.median(values):.1f} ms",
                     f"{_percentile(values, 0.99):.1f} ms (p99)", f"{max(values):.1f} ms"))
        if verbose:
            for gap, cpu, at in sorted(gaps, reverse=True)[:8]:
                print(f"  gap {gap:.1f} ms (GUI thread CPU {cpu:.1f} ms) ending at {at:.2f} s", file=sys.stderr)
        page.shutdown()
    finally:
        server.stop()
        registry.close()
        for pid_file in (base / "jobs").glob("*/pid"):
            try:
                os.killpg(int(pid_file.read_text().strip()), 9)
            except (ValueError, ProcessLookupError, PermissionError):
                pass
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--follow-steps", type=int, default=3_000)
    parser.add_argument("--backlog-steps", type=int, default=100_000)
    parser.add_argument("--skip-redraw", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="list the longest heartbeat gaps")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="lt-bench-ui-home-"))
    os.environ["LINGUATUNE_HOME"] = str(base / "home")
    os.environ["LINGUATUNE_SSH_CONFIG"] = str(base / "ssh_config")
    os.environ["LINGUATUNE_USER_KNOWN_HOSTS"] = str(base / "known_hosts")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.pop("SSH_AUTH_SOCK", None)
    (base / "ssh_config").write_text("")
    from studio.ui.app import create_application

    app = create_application([])
    rows = [] if args.skip_redraw else bench_redraw(app, args.points, args.frames)
    rows += bench_stall(app, args.follow_steps, args.backlog_steps, args.verbose)
    header = ("measure", "median", "p95", "max")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(4)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    print("targets: redraw < 30 ms per frame; longest GUI-thread stall < 50 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
