"""SLURM: the generated sbatch script and the job state read back from squeue / scontrol."""

from __future__ import annotations

import shlex

from studio.remote.connection import shell_path
from studio.remote.hosts import HostProfile
from worker.contract import EXIT_CODE_FILE, LOGS_DIR

TERMINAL_STATES = frozenset({
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL",
    "DEADLINE", "REVOKED", "SPECIAL_EXIT",
})


def render_sbatch(profile: HostProfile, job_id: str, job_dir: str, command: str, secrets_line: str = "") -> str:
    """An sbatch script: one task per node running ``command`` (srun + torchrun), exit code recorded at the end.
    ``secrets_line`` loads the job's secret variables (srun passes the environment on to every node)."""
    q_dir = shell_path(job_dir)
    lines = [
        "#!/bin/sh",
        f"#SBATCH --job-name={('lt-' + job_id)[:64]}",
        f"#SBATCH --nodes={profile.nodes}",
        "#SBATCH --ntasks-per-node=1",
        # Relative to the submit directory (the job directory): a path in a directive is not shell-quoted.
        f"#SBATCH --output={LOGS_DIR}/slurm-%j.out",
    ]
    if profile.gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={profile.gpus_per_node}")
    if profile.slurm_partition:
        lines.append(f"#SBATCH --partition={profile.slurm_partition}")
    if profile.slurm_account:
        lines.append(f"#SBATCH --account={profile.slurm_account}")
    if profile.slurm_time:
        lines.append(f"#SBATCH --time={profile.slurm_time}")
    for extra in profile.slurm_extra:
        extra = extra.strip()
        lines.append(extra if extra.startswith("#SBATCH") else f"#SBATCH {extra}")
    lines += [
        "# Written by linguatune.",
        f"cd {q_dir} || exit 97",
        *([secrets_line] if secrets_line else []),
        "trap 'echo \"signal received, waiting for the worker\" >&2' TERM INT",
        'head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        command,
        "rc=$?",
        # The worker writes its own exit code; srun's status (1 for any failure) only stands in when it could not.
        f"[ -f {EXIT_CODE_FILE} ] || {{ echo $rc > {EXIT_CODE_FILE}.tmp && mv {EXIT_CODE_FILE}.tmp {EXIT_CODE_FILE}; }}",
        "exit $rc",
        "",
    ]
    return "\n".join(lines)


def state_command(slurm_job_id: str) -> str:
    """Shell text printing the job's state word (squeue while queued/running, scontrol afterwards)."""
    q = shlex.quote(str(slurm_job_id))
    return (
        f"s=$(squeue -h -j {q} -o %T 2>/dev/null | head -n 1); "
        f"if [ -z \"$s\" ]; then s=$(scontrol show job {q} 2>/dev/null | tr ' ' '\\n' | sed -n 's/^JobState=//p' | head -n 1); fi; "
        "echo \"slurm_state=${s:-UNKNOWN}\""
    )
