"""TEST FIXTURE, not the worker: writes a job directory like a training run would, with every event kind the Monitor
page draws (train with lr and tokens/s, eval per language and metric, alignment matrices, log, checkpoint), through
worker.contract.EventLog, plus status.json heartbeats.

    python demo_event_writer.py JOB_DIR [--steps N] [--delay S] [--langs ar,el,hi] [--eval-every K] [--layers L]
                                [--burst N] [--heartbeat-every K]

SIGTERM stops it with a `cancelled` status and a `done` event with exit code 143.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from pathlib import Path

from worker.contract import STATUS_FILE, EventLog, write_json_atomic

stop_requested = False


def writer_argv(steps: int = 40, delay: float = 0.02, *extra: str) -> list[str]:
    """This script as a launch request's ``worker_argv`` (``{job_dir}`` is filled in by the launcher)."""
    return [sys.executable, os.path.abspath(__file__), "{job_dir}", "--steps", str(steps), "--delay", str(delay),
            *extra]


def _on_term(signum, frame):
    global stop_requested
    stop_requested = True


def heartbeat(job_dir: Path, state: str, step: int) -> None:
    write_json_atomic(job_dir / STATUS_FILE, {"state": state, "step": step, "updated_at": time.time(),
                                              "pids": [os.getpid()]})


def emit_eval_and_alignment(log: EventLog, step: int, langs: list[str], layers: int, progress: float) -> None:
    for i, lang in enumerate(langs):
        base = 0.55 + 0.3 * progress - 0.03 * i
        # The worker's format: the real pair (en-ar, ar-en), the language on the non-English side.
        for direction, shift in ((f"en-{lang}", 0.0), (f"{lang}-en", 0.04)):
            log.emit("eval", step=step, lang=lang, direction=direction, metric="comet", value=round(base + shift, 4),
                     n=16)
            log.emit("eval", step=step, lang=lang, direction=direction, metric="chrf",
                     value=round(100 * (base + shift) - 25, 2), n=16)
            log.emit("eval", step=step, lang=lang, direction=direction, metric="spbleu",
                     value=round(60 * (base + shift) - 20, 2), n=16)
    matrix_margin = [[round((0.2 + 0.6 * progress) * math.sin(math.pi * (layer + 1) / (layers + 1)) - 0.05 * i, 4)
                      for i in range(len(langs))] for layer in range(layers)]
    matrix_top1 = [[round(min(1.0, max(0.0, value + 0.3)), 4) for value in row] for row in matrix_margin]
    log.emit("alignment", step=step, metric="parallel_margin", langs=langs, layers=list(range(layers)),
             matrix=matrix_margin)
    log.emit("alignment", step=step, metric="retrieval_top1", langs=langs, layers=list(range(layers)),
             matrix=matrix_top1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("job_dir")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--langs", default="ar,el,hi")
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--burst", type=int, default=0, help="write the first N steps without delay (a backlog)")
    parser.add_argument("--heartbeat-every", type=int, default=1, help="steps between status.json heartbeats")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_term)
    job_dir = Path(args.job_dir)
    langs = [code for code in args.langs.split(",") if code]
    with EventLog(job_dir / "events.jsonl") as log:
        heartbeat(job_dir, "running", 0)
        log.emit("status", state="running")
        log.emit("log", message=f"demo writer: {args.steps} steps, languages {', '.join(langs)}")
        for step in range(1, args.steps + 1):
            if stop_requested:
                heartbeat(job_dir, "cancelled", step)
                log.emit("status", state="cancelled")
                log.emit("done", exit_code=143)
                return 143
            progress = step / args.steps
            lr = 1e-3 * 0.5 * (1 + math.cos(math.pi * progress))
            log.emit("train", step=step, epoch=progress, loss=round(2.5 * math.exp(-3 * progress) + 0.4, 5), lr=lr,
                     tokens=step * 2048, tokens_per_s=2048 / max(args.delay, 1e-3), grad_norm=1.0)
            if step % args.eval_every == 0 or step == args.steps:
                emit_eval_and_alignment(log, step, langs, args.layers, progress)
                log.emit("checkpoint", step=step)
            if step % args.heartbeat_every == 0:
                heartbeat(job_dir, "running", step)
            if step > args.burst:
                time.sleep(args.delay)
        state = "finished" if args.exit_code == 0 else "failed"
        heartbeat(job_dir, state, args.steps)
        log.emit("status", state=state)
        log.emit("done", exit_code=args.exit_code)
    return args.exit_code


if __name__ == "__main__":
    sys.exit(main())
