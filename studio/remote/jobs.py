"""Acting on launched jobs: cancel (process group TERM then KILL, or scancel) and fetch results."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from studio.paths import data_dir
from studio.remote.connection import Session
from studio.remote.errors import RemoteError
from studio.remote.launch import CANCEL_FILE, LAUNCH_SCRIPT
from studio.remote.registry import JobRecord
from studio.remote.secrets import SECRETS_FILE
from worker.contract import EVAL_DIR, EVENTS_FILE, EXIT_CODE_FILE, FINAL_DIR, JOB_FILE, LOGS_DIR, PID_FILE, STATUS_FILE


def cancel_command(job: JobRecord, grace_s: float = 10.0) -> str:
    """Shell text that cancels the job on its host and prints what it did (``terminated``, ``killed``, ...)."""
    q = shlex.quote(job.remote_dir)
    mark = f"cd {q} || {{ echo missing; exit 3; }}; date +%s > {CANCEL_FILE}; "
    if job.launcher == "slurm":
        # A job still pending has not read (and deleted) its secrets file yet: it goes now.
        return mark + (f"scancel {shlex.quote(str(job.slurm_job_id))} && rm -f {SECRETS_FILE} && echo scancelled")
    steps = max(1, int(grace_s / 0.2))
    # SIGTERM goes to the wrapper's process group (the wrapper is a session leader: its pid is the group of the job,
    # torchrun included); torchrun forwards it to the ranks. torch starts every rank in a session of its own, so the
    # group does not reach them: on a host with /proc the job's processes are found by their working directory (the
    # job directory, which the wrapper enters and every child inherits), followed through the grace period, and
    # killed one by one after it. The answer is checked: "survivors" (exit 7) if any still lives.
    # Nothing is signalled unless the pid file holds a plain pid above 1 and that process is still this job's wrapper
    # (its working directory is the job directory; without /proc its command line runs launch.sh): a reused pid is
    # refused. The cancel shell itself leaves the job directory so that it is not counted as one of the job's.
    return mark + (
        f"[ -f {PID_FILE} ] || {{ echo no-pid; exit 4; }}; p=$(cat {PID_FILE}); "
        "case \"$p\" in ''|*[!0-9]*) echo bad-pid; exit 5;; esac; [ \"$p\" -gt 1 ] || { echo bad-pid; exit 5; }; "
        "here=$(pwd -P); cd / || exit 3; "
        "if [ -d /proc/self ]; then "
        "  mine() { [ \"$(readlink \"/proc/$1/cwd\" 2>/dev/null)\" = \"$here\" ]; }; "
        "  ours() { mine \"$p\"; }; "
        "  m=''; for d in /proc/[0-9]*; do q=${d#/proc/}; mine \"$q\" && m=\"$m $q\"; done; "
        "  alive() { for q in $m; do mine \"$q\" && return 0; done; return 1; }; "
        "  finish() { kill -KILL \"-$p\" 2>/dev/null; for q in $m; do mine \"$q\" && kill -KILL \"$q\" 2>/dev/null; done; }; "
        "else "
        "  alive() { ps -eo pgid=,stat= | awk -v g=\"$p\" '$1==g && $2 !~ /^Z/ {n++} END {exit n>0?0:1}'; }; "
        f"  ours() {{ ps -o args= -p \"$p\" 2>/dev/null | grep -q {shlex.quote(LAUNCH_SCRIPT)}; }}; "
        "  finish() { kill -KILL \"-$p\" 2>/dev/null; }; "
        "fi; "
        "alive || { echo not-running; exit 0; }; "
        "ours || { echo not-this-job; exit 6; }; "
        "kill -TERM \"-$p\" 2>/dev/null; i=0; "
        f"while alive && [ $i -lt {steps} ]; do sleep 0.2; i=$((i+1)); done; "
        "alive || { echo terminated; exit 0; }; "
        "finish; i=0; while alive && [ $i -lt 25 ]; do sleep 0.2; i=$((i+1)); done; "
        "if alive; then echo survivors; exit 7; fi; echo killed"
    )


def cancel(job: JobRecord, session: Session, *, grace_s: float = 10.0, registry=None) -> str:
    """Cancel a job: SIGTERM to its process group, SIGKILL after ``grace_s``; ``scancel`` for SLURM."""
    result = session.run(cancel_command(job, grace_s), timeout=grace_s + 60)
    if result.status == 3:
        raise RemoteError(f"The job directory {job.remote_dir} of {job.id} no longer exists on {job.host}.")
    if result.status == 4:
        raise RemoteError(f"Job {job.id} has no pid file yet; it may not have started (see its launcher.log).")
    if result.status == 5:
        raise RemoteError(f"The pid file of job {job.id} does not hold a job's process id; nothing was signalled.")
    if result.status == 7:
        raise RemoteError(f"Job {job.id}: some of its processes survived SIGKILL; check the host ({job.host}).")
    if result.status == 6:
        raise RemoteError(f"The process named by the pid file of job {job.id} is no longer this job (its pid was "
                          f"reused); nothing was signalled.")
    result.check(f"cancelling job {job.id}")
    outcome = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if registry is not None and outcome in ("killed", "terminated", "scancelled"):
        # scancel returns once SLURM has taken the request; the job is over as far as the user is concerned, and
        # `jobs` must not keep showing it queued until someone follows it (a follow confirms the exit code).
        registry.set_state(job.id, "cancelled", message=f"cancelled by the user ({outcome})")
    return outcome


@dataclass
class FetchResult:
    destination: Path
    files: list[Path] = field(default_factory=list)
    model_path: str | None = None


def _safe_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\x00" not in name


def _fetch_tree(session: Session, remote: str, local: Path, out: list[Path]) -> None:
    for name, is_dir, _size in session.listdir(remote):
        if not _safe_name(name):
            continue
        if is_dir:
            _fetch_tree(session, f"{remote}/{name}", local / name, out)
        else:
            local.mkdir(parents=True, exist_ok=True)
            session.download(f"{remote}/{name}", local / name)
            out.append(local / name)


def fetch(job: JobRecord, session: Session, destination: str | Path | None = None, *,
          include_model: bool = False) -> FetchResult:
    """Copy the job's results here: spec, events, status, exit code, logs and eval/ (scores, predictions); the
    tuned model in final/ only when ``include_model``, otherwise just its remote path."""
    dest = Path(destination) if destination else data_dir() / "results" / job.id
    dest.mkdir(parents=True, exist_ok=True)
    result = FetchResult(dest)
    for name in (JOB_FILE, EVENTS_FILE, STATUS_FILE, EXIT_CODE_FILE):
        data = session.read_bytes(f"{job.remote_dir}/{name}")
        if data is not None:
            (dest / name).write_bytes(data)
            result.files.append(dest / name)
    for folder in (EVAL_DIR, LOGS_DIR):
        _fetch_tree(session, f"{job.remote_dir}/{folder}", dest / folder, result.files)
    if session.listdir(f"{job.remote_dir}/{FINAL_DIR}"):
        result.model_path = f"{job.remote_dir}/{FINAL_DIR}"
        if include_model:
            _fetch_tree(session, result.model_path, dest / FINAL_DIR, result.files)
    return result
