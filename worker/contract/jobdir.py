"""The job directory: every file name of the protocol, who writes it, and the one atomic-write helper.

Layout (DESIGN.md)::

    <root>/<job-id>/
      job.json          the job spec                      written by the studio (launch), read by the worker
      events.jsonl      append-only event log             written by rank 0 of the worker only
      status.json       heartbeat, replaced atomically    written by rank 0 of the worker
      pid               the launch wrapper's pid          written by the direct/local launch wrapper
      slurm_job_id      the SLURM job id                  written by the studio after sbatch
      cancel_requested  a cancel marker (unix time)       written by the studio's cancel
      exit_code         the job's exit code               written once, by the launch wrapper (sbatch script)
      logs/             stdout/stderr of each rank        written by the launcher
      checkpoints/      resumable shards + ``latest``     written by the worker
      final/            the tuned model                   written by the worker
      eval/             predictions and scores            written by the worker

Standard library only: the studio imports this without torch.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

JOB_FILE = "job.json"
EVENTS_FILE = "events.jsonl"
STATUS_FILE = "status.json"
EXIT_CODE_FILE = "exit_code"
PID_FILE = "pid"
SLURM_ID_FILE = "slurm_job_id"
CANCEL_FILE = "cancel_requested"
LOGS_DIR = "logs"
CHECKPOINTS_DIR = "checkpoints"
LATEST_FILE = "latest"
FINAL_DIR = "final"
EVAL_DIR = "eval"
LAUNCHER_LOG = "launcher.log"

# Job states, as written in status.json and `status` events. `lost` is decided by a reader, never written.
JOB_STATES = ("queued", "starting", "running", "evaluating", "checkpointing", "finished", "failed", "cancelled")
FINAL_STATES = frozenset({"finished", "failed", "cancelled", "lost"})
# How a job is started; the studio's host profiles and the job spec's launcher section use the same names.
LAUNCHER_KINDS = ("direct", "slurm", "local")


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o644, fsync: bool = True) -> Path:
    """Replace ``path`` with ``data`` so that a reader sees the old file or the new one, never a part.

    Writes a temporary file in the same folder, fsyncs it (unless ``fsync=False``), sets ``mode``, renames it over
    ``path`` and fsyncs the folder. On any error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if fsync:
        try:
            dir_fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return path
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)
    return path


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, mode: int = 0o644, fsync: bool = True) -> Path:
    """``write_atomic`` of ``obj`` as JSON (no NaN: JSON has none)."""
    text = json.dumps(obj, ensure_ascii=False, indent=1, allow_nan=False) + "\n"
    return write_atomic(path, text, mode=mode, fsync=fsync)


def read_status(job_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The job's ``status.json`` (state, step, updated_at, pids, ...), or None when absent or unreadable."""
    try:
        with open(Path(job_dir) / STATUS_FILE, encoding="utf-8") as fh:
            obj = json.load(fh)
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def read_exit_code(job_dir: str | os.PathLike[str]) -> int | None:
    """The integer in ``exit_code``, or None when the job has not ended (or the file is unreadable)."""
    try:
        text = (Path(job_dir) / EXIT_CODE_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None
