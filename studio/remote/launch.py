"""Launching a job: a private job directory, ``job.json``, and the worker started detached (direct/local) or
submitted to SLURM. ``preview_launch`` shows the exact command or sbatch script before anything runs.

Every value that reaches a shell is passed through ``shlex.quote``; the job id is generated here (date, language
slug, random suffix), never taken from user text, whose job name is kept as metadata only.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from studio.remote import sbatch as sbatch_mod
from studio.remote import secrets as host_secrets
from studio.remote.connection import Session, shell_join, shell_path
from studio.remote.errors import RemoteError
from studio.remote.hosts import HostProfile
from studio.remote.jobspec import build_job_spec  # noqa: F401  (re-exported: launch callers build specs here)
from worker.contract import EXIT_CODE_FILE, JOB_FILE, LOGS_DIR, PID_FILE
from worker.contract.jobdir import CANCEL_FILE, SLURM_ID_FILE  # noqa: F401  (the launchers name them)
from worker.contract.jobdir import LAUNCHER_LOG as _LAUNCHER_LOG_NAME

LAUNCH_SCRIPT = "launch.sh"
SLURM_SCRIPT = "job.sbatch"
LAUNCHER_LOG = f"{LOGS_DIR}/{_LAUNCHER_LOG_NAME}"


def new_job_id(languages: Sequence[str] = (), *, now: float | None = None) -> str:
    """``YYYYMMDD-HHMMSS-<langs>-<hex4>``: sortable, readable, and safe in a path and a shell word."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now if now is not None else time.time()))
    slug = "-".join(re.sub(r"[^a-z0-9]", "", str(code).lower())[:8] for code in languages)
    slug = re.sub(r"-+", "-", slug).strip("-")[:40] or "job"
    return f"{stamp}-{slug}-{secrets.token_hex(2)}"


def plan_summary(plan: dict[str, Any] | None) -> dict[str, Any]:
    """What the registry keeps of a plan: its languages and pair counts (the plan itself stays in job.json)."""
    if not plan:
        return {}
    langs = []
    for item in plan.get("languages", []) or []:
        if isinstance(item, dict) and "code" in item:
            langs.append({"code": item["code"], "pairs": item.get("pairs")})
    return {"schema": plan.get("schema"), "languages": langs}


@dataclass
class LaunchRequest:
    """What to launch where. ``worker_argv`` replaces the worker command (the tests run a small event writer
    through the very same launch path); ``{job_dir}`` in it is replaced by the job directory."""

    profile: HostProfile
    job_spec: dict[str, Any]
    name: str = ""
    languages: Sequence[str] = ()
    plan: dict[str, Any] | None = None
    nproc_per_node: int | None = None
    worker_argv: Sequence[str] | None = None
    # A host-side queue for direct launchers: jobs launched with the same (group, slots) run at most ``slots`` at
    # a time on the host, each waiting for a free slot lock (flock) in its own wrapper, so the queue keeps going
    # when the studio disconnects; they start in the order of ``queue_ticket``. SLURM queues jobs itself and
    # ignores this.
    queue: tuple[str, int] | None = None
    queue_ticket: int = 0


@dataclass
class LaunchPlan:
    """The resolved launch: paths and the exact shell text that will run."""

    job_id: str
    work_root: str
    job_dir: str
    worker_command: str
    script_name: str
    script: str
    start_command: str
    launcher: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class LaunchedJob:
    job_id: str
    name: str
    host: str
    launcher: str
    job_dir: str
    slurm_job_id: str | None
    pid: int | None
    plan_summary: dict[str, Any]


def worker_command(profile: HostProfile, job_dir: str, nproc_per_node: int | None = None) -> list[str]:
    """The worker under torchrun, as an argv (single node, standalone rendezvous); one process on a host without
    GPUs runs the worker directly (the same code path at world size 1, without torchrun's start-up)."""
    nproc = nproc_per_node or max(1, profile.gpus_per_node)
    if nproc == 1 and profile.gpus_per_node == 0:
        return [profile.remote_python, "-m", "worker.cli", "run", job_dir]
    return [
        profile.remote_python, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
        "--nproc-per-node", str(nproc), "-m", "worker.cli", "run", job_dir,
    ]


# Asks the head node's kernel for a free TCP port (the batch script runs on the head node).
_FREE_PORT = "import socket; s = socket.socket(); s.bind(('', 0)); print(s.getsockname()[1])"


def slurm_worker_command(profile: HostProfile, job_dir: str, nproc_per_node: int | None = None) -> str:
    """srun + torchrun with c10d rendezvous on the first node of the allocation (shell text for the sbatch script;
    ``$head`` and the SLURM variables are expanded by the batch shell). The rendezvous is the job's own: its id is
    the SLURM job id and its port one the head node has free at the start (a fixed port made two jobs on one node
    share one store, and cancelling one broke the other)."""
    nproc = nproc_per_node or max(1, profile.gpus_per_node)
    argv = [
        profile.remote_python, "-m", "torch.distributed.run", "--nnodes", str(profile.nodes),
        "--nproc-per-node", str(nproc), "--rdzv-backend", "c10d",
    ]
    tail = ["-m", "worker.cli", "run", job_dir]
    probe = shell_join([profile.remote_python, "-c", _FREE_PORT])
    return (
        f"if port=$({probe}); then\n"
        "srun --ntasks-per-node=1 --kill-on-bad-exit=1 " + shell_join(argv)
        + ' --rdzv-id "lt-$SLURM_JOB_ID" --rdzv-endpoint "$head:$port" ' + shell_join(tail) + "\n"
        "else echo 'no free port for the rendezvous on the head node' >&2; false; fi"
    )


def _custom_command(argv: Sequence[str], job_dir: str) -> list[str]:
    return [str(a).replace("{job_dir}", job_dir) for a in argv]


QUEUE_DIR = ".queue"  # under the work root: one lock file per slot of a host-side queue


def queue_wait(slot_prefix: str, slots: int, cpu_only: bool = False, ticket: int = 0) -> str:
    """Shell text that blocks until it is this job's turn and one of ``slots`` lock files ``slot_prefix.N`` is
    free, then holds that lock on fd 9 (inherited by the worker, released when the job's processes end, whatever
    way they end).

    Turns are first come, first served by ``ticket``: a waiting job leaves ``slot_prefix.wait.TICKET`` holding its
    pid and takes a slot only when no waiting job with a smaller ticket is still alive (a killed one's file is
    swept away, so it cannot block the queue).

    On a host without GPUs the queued jobs share its cores: each gets cores/slots threads (OMP_NUM_THREADS, unless
    set), because torch would otherwise start one thread per core in every job and oversubscription makes
    ``slots`` concurrent CPU jobs several times slower than running them one after another."""
    q = shell_path(slot_prefix)
    threads = (f"t=$(( $(nproc) / {int(slots)} )); [ $t -ge 1 ] || t=1; "
               "export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$t}\n") if cpu_only else ""
    mine = f"{q}.wait.{int(ticket):06d}"
    return threads + (
        f"mkdir -p \"$(dirname {q})\"\n"
        f"echo $$ > {mine}\n"
        "while :; do\n"
        "  turn=1\n"
        f"  for f in {q}.wait.*; do\n"
        f"    [ \"$f\" = {mine} ] && break\n"
        "    p=$(cat \"$f\" 2>/dev/null)\n"
        "    if [ -n \"$p\" ] && kill -0 \"$p\" 2>/dev/null; then turn=0; break; fi\n"
        "    rm -f \"$f\"\n"
        "  done\n"
        "  if [ $turn = 1 ]; then\n"
        f"    i=1; while [ $i -le {int(slots)} ]; do exec 9>{q}.$i; "
        "if flock -n 9; then break 3; fi; exec 9>&-; i=$((i+1)); done\n"
        "  fi\n"
        "  sleep 0.5\n"
        "done\n"
        f"rm -f {mine}\n"
    )


def direct_script(job_dir: str, command: str, queue: str = "", secrets_line: str = "") -> str:
    """The detached wrapper: records its pid (= process group), waits for a queue slot when ``queue`` (shell text
    from ``queue_wait``) is given, runs the worker, then always writes exit_code.

    A TERM/INT/HUP trap keeps the wrapper alive until the worker has exited, so a cancel still records how it
    ended; a SIGKILL of the whole group leaves no exit_code, which the follower reports as lost. The worker writes
    exit_code itself when it ends (its own code: torchrun's would say 1 for any failure); the wrapper writes its
    command's status only when the worker could not (killed, or it never started). ``secrets_line``
    (``host_secrets.source_secrets_line()``) loads the job's secret variables and deletes their file.
    """
    q = shell_path(job_dir)
    return (
        "#!/bin/sh\n"
        "# Written by linguatune: runs one job detached from the client.\n"
        f"cd {q} || exit 97\n"
        f"echo $$ > {PID_FILE}.tmp && mv {PID_FILE}.tmp {PID_FILE}\n"
        + (secrets_line + "\n" if secrets_line else "") +
        "trap 'echo \"signal received, waiting for the worker\" >&2' TERM INT HUP\n"
        f"{queue}"
        f"{command}\n"
        "rc=$?\n"
        # One writer: the worker records its own code (143 after a cancel); the wrapper only when it could not.
        f"[ -f {EXIT_CODE_FILE} ] || {{ echo $rc > {EXIT_CODE_FILE}.tmp && mv {EXIT_CODE_FILE}.tmp {EXIT_CODE_FILE}; }}\n"
        "exit $rc\n"
    )


def has_secrets(profile: HostProfile) -> bool:
    """Whether a launch on this profile carries secret variables (then its script loads them from a file)."""
    return bool(profile.secret_env) or any(host_secrets.is_secret_name(name) for name in profile.env)


def plan_launch(request: LaunchRequest, work_root: str, job_id: str | None = None) -> LaunchPlan:
    """Resolve ids, paths and the shell text of a launch without touching the host (``work_root`` absolute)."""
    profile = request.profile
    job_id = job_id or new_job_id(request.languages)
    job_dir = work_root.rstrip("/") + "/" + job_id
    q_dir = shell_path(job_dir)
    secrets_line = host_secrets.source_secrets_line() if has_secrets(profile) else ""
    if profile.launcher == "slurm":
        if request.worker_argv:
            command = "srun --ntasks-per-node=1 " + shell_join(_custom_command(request.worker_argv, job_dir))
        else:
            command = slurm_worker_command(profile, job_dir, request.nproc_per_node)
        script = sbatch_mod.render_sbatch(profile, job_id, job_dir, command, secrets_line)
        start = f"cd {q_dir} && sbatch --parsable {SLURM_SCRIPT}"
        return LaunchPlan(job_id, work_root, job_dir, command, SLURM_SCRIPT, script, start, "slurm")
    argv = (
        _custom_command(request.worker_argv, job_dir) if request.worker_argv
        else worker_command(profile, job_dir, request.nproc_per_node)
    )
    command = shell_join(argv)
    queue = ""
    if request.queue is not None:
        group, slots = request.queue
        queue = queue_wait(f"{work_root.rstrip('/')}/{QUEUE_DIR}/{group}", slots, profile.gpus_per_node == 0,
                           request.queue_ticket)
    script = direct_script(job_dir, command, queue, secrets_line)
    start = (
        f"cd {q_dir} && {{ setsid nohup sh {LAUNCH_SCRIPT} > {LAUNCHER_LOG} 2>&1 < /dev/null & }} && echo started"
    )
    return LaunchPlan(job_id, work_root, job_dir, command, LAUNCH_SCRIPT, script, start, profile.launcher)


def preview_launch(request: LaunchRequest, session: Session | None = None) -> LaunchPlan:
    """The launch as it would run (paths resolved on the host when a session is given)."""
    root = session.resolve_path(request.profile.work_root) if session else request.profile.work_root
    return plan_launch(request, root)


def launch(request: LaunchRequest, session: Session, *, registry=None, wait_for_pid_s: float = 10.0) -> LaunchedJob:
    """Create the job directory (0700), upload job.json and the script, start the job; record it in the registry."""
    secret_values = host_secrets.values_for(request.profile)  # a missing one stops here, before anything exists
    root = session.resolve_path(request.profile.work_root)
    plan = plan_launch(request, root)
    q_root, q_dir = shlex.quote(root), shlex.quote(plan.job_dir)
    session.run_checked(
        f"mkdir -p {q_root} && mkdir -m 700 {q_dir} && mkdir -m 700 {q_dir}/{LOGS_DIR}",
        f"creating the job directory {plan.job_dir}",
    )
    if secret_values:  # the file's contents travel over SFTP, never as a command's argument
        session.write_bytes(f"{plan.job_dir}/{host_secrets.SECRETS_FILE}", host_secrets.secrets_file(secret_values), 0o600)
    spec = json.dumps(request.job_spec, indent=1, ensure_ascii=False).encode()
    session.write_bytes(f"{plan.job_dir}/{JOB_FILE}", spec)
    session.write_bytes(f"{plan.job_dir}/{plan.script_name}", plan.script.encode(), 0o700)
    result = session.run(plan.start_command, timeout=60)
    slurm_id = pid = None
    if plan.launcher == "slurm":
        slurm_id = result.stdout.strip().split(";")[0].strip()
    if result.status != 0 or (plan.launcher == "slurm" and not slurm_id.isdigit()):
        # Nothing may stay on the host that the registry does not know: the folder goes, the reason is said.
        session.run(f"rm -rf {q_dir}", timeout=60)
        said = (result.stderr.strip() or result.stdout.strip() or f"exit status {result.status}").splitlines()
        reason = next((line for line in said if "fatal" in line or "error" in line.lower()), said[-1])
        starter = "sbatch" if plan.launcher == "slurm" else "the launcher"
        raise RemoteError(f"Job {plan.job_id} did not start: {starter} said {reason.strip()!r}; its folder was "
                          f"removed from {session.host_label}.")
    if plan.launcher == "slurm":
        session.write_bytes(f"{plan.job_dir}/{SLURM_ID_FILE}", (slurm_id + "\n").encode())
    else:
        pid = _wait_for_pid(session, plan.job_dir, wait_for_pid_s)
    summary = plan_summary(request.plan)
    job = LaunchedJob(
        plan.job_id, request.name, request.profile.name, plan.launcher, plan.job_dir, slurm_id, pid, summary
    )
    if registry is not None:
        registry.add_job(job)
    return job


def _wait_for_pid(session: Session, job_dir: str, limit_s: float) -> int | None:
    deadline = time.monotonic() + limit_s
    delay = 0.02
    while time.monotonic() < deadline:
        data = session.read_bytes(f"{job_dir}/{PID_FILE}")
        if data and data.strip().isdigit():
            return int(data.strip())
        if session.read_bytes(f"{job_dir}/{EXIT_CODE_FILE}") is not None:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.3)
    return None



def plan_languages(plan: dict[str, Any] | None) -> list[str]:
    return [str(item["code"]) for item in (plan or {}).get("languages", []) if isinstance(item, dict) and "code" in item]
