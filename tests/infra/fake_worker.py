"""TEST FIXTURE, not the worker: a small stand-in that writes a job directory the way the real worker does
(events.jsonl through worker.contract.EventLog, status.json heartbeats, exit code), so the launch/follow/cancel
machinery can be tested end to end while the real worker is developed elsewhere.

    python fake_worker.py JOB_DIR [--events N] [--delay S] [--exit-code C] [--payload BYTES]

It honours SIGTERM: it stops, writes a `cancelled` status and a `done` event with exit code 143, and exits 143.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from pathlib import Path

from worker.contract import STATUS_FILE, EventLog, write_json_atomic

stop_requested = False


def fake_worker_argv(events: int = 20, delay: float = 0.05, *extra: str) -> list[str]:
    """This stand-in as a launch request's ``worker_argv`` (``{job_dir}`` is filled in by the launcher)."""
    return [sys.executable, os.path.abspath(__file__), "{job_dir}", "--events", str(events), "--delay", str(delay),
            *extra]


def _on_term(signum, frame):
    global stop_requested
    stop_requested = True


def heartbeat(job_dir: Path, state: str, step: int) -> None:
    write_json_atomic(job_dir / STATUS_FILE, {
        "state": state, "step": step, "updated_at": time.time(), "pids": [os.getpid()],
        "hostname": socket.gethostname(),
    })


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("job_dir")
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--payload", type=int, default=0, help="bytes of filler text in each train event")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_term)
    job_dir = Path(args.job_dir)
    filler = "x" * args.payload
    with EventLog(job_dir / "events.jsonl") as log:
        heartbeat(job_dir, "running", 0)
        log.emit("status", state="running")
        for step in range(1, args.events + 1):
            if stop_requested:
                heartbeat(job_dir, "cancelled", step)
                log.emit("status", state="cancelled")
                log.emit("done", exit_code=143)
                return 143
            data = {"filler": filler} if filler else {}
            log.emit("train", step=step, epoch=0, loss=1.0 / step, lr=1e-4, tokens=step * 512, **data)
            heartbeat(job_dir, "running", step)
            time.sleep(args.delay)
        state = "finished" if args.exit_code == 0 else "failed"
        heartbeat(job_dir, state, args.events)
        log.emit("status", state=state)
        log.emit("done", exit_code=args.exit_code)
    return args.exit_code


if __name__ == "__main__":
    sys.exit(main())
