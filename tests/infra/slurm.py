"""A real single-node SLURM for tests: munged (as the munge user), slurmctld and ``slurmd -N localhost`` with a
private slurm.conf, private munge socket and key, and free ports, so it never touches a system installation.

Nothing is installed here (tests/run.sh installs munge + slurm-wlm). ``SlurmCluster().start()`` returns when sinfo
shows the node idle; ``env`` holds ``SLURM_CONF`` for commands that talk to it; ``stop()`` ends the daemons.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.infra.sshd import free_port

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo", "srun")


def why_unavailable() -> str | None:
    """None when the SLURM and munge binaries and the munge user are present, else the reason."""
    missing = [b for b in BINARIES if not (shutil.which(b) or Path("/usr/sbin", b).exists())]
    if missing:
        return f"SLURM test cluster needs {', '.join(missing)} (tests/run.sh installs munge and slurm-wlm)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "the munge user does not exist (the munge package creates it)"
    if os.geteuid() != 0:
        return "the SLURM test cluster runs its daemons as root"
    return None


def _bin(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


class SlurmCluster:
    """munged + slurmctld + slurmd for one node called localhost."""

    def __init__(self):
        # Not under pytest's tmp dirs: those are 0700 root, and munged (another user) must reach its socket.
        self.base = Path(tempfile.mkdtemp(prefix="lt-slurm-"))
        os.chmod(self.base, 0o755)
        self.conf = self.base / "slurm.conf"
        self.munge_dir = self.base / "munge"
        self.socket = self.munge_dir / "munge.sock"
        self.procs: list[subprocess.Popen] = []
        self.env = {"SLURM_CONF": str(self.conf)}

    def _write_config(self) -> None:
        for sub in ("state", "spool", "log"):
            (self.base / sub).mkdir()
        cpus = os.cpu_count() or 1
        self.conf.write_text("\n".join([
            "ClusterName=linguatune-test",
            "SlurmctldHost=localhost",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.socket}",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={self.base}/state",
            f"SlurmdSpoolDir={self.base}/spool",
            f"SlurmctldPidFile={self.base}/slurmctld.pid",
            f"SlurmdPidFile={self.base}/slurmd.pid",
            f"SlurmctldLogFile={self.base}/log/slurmctld.log",
            f"SlurmdLogFile={self.base}/log/slurmd.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/filetxt",
            f"JobCompLoc={self.base}/log/jobcomp.txt",
            "JobAcctGatherType=jobacct_gather/none",
            "MpiDefault=none",
            "ReturnToService=2",
            "KillWait=2",
            "MinJobAge=600",
            f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=500 State=UNKNOWN",
            "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
            "",
        ]))

    def _start_munge(self) -> None:
        self.munge_dir.mkdir()
        key = self.munge_dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        munge = pwd.getpwnam("munge")
        for path in (self.munge_dir, key):
            os.chown(path, munge.pw_uid, munge.pw_gid)
        os.chmod(self.munge_dir, 0o711)  # munged insists that clients can reach the socket
        self.procs.append(subprocess.Popen(
            [_bin("munged"), "-F", f"--socket={self.socket}", f"--key-file={key}",
             f"--pid-file={self.munge_dir}/munged.pid", f"--log-file={self.munge_dir}/munged.log",
             f"--seed-file={self.munge_dir}/seed"],
            user=munge.pw_uid, group=munge.pw_gid, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        ))
        self._wait(lambda: self.socket.exists(), "munged did not create its socket", self.munge_dir / "munged.log")

    def _wait(self, ready, message: str, log: Path | None = None, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if ready():
                return
            for proc in self.procs:
                if proc.poll() is not None:
                    break
            time.sleep(0.1)
        detail = log.read_text()[-1500:] if log and log.exists() else ""
        raise RuntimeError(f"{message} within {limit:.0f} s. {detail}")

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(argv), capture_output=True, text=True, check=check, env={**os.environ, **self.env}, timeout=60,
        )

    def _node_idle(self) -> bool:
        result = self.run("sinfo", "-h", "-o", "%T", check=False)
        return result.returncode == 0 and result.stdout.strip().startswith("idle")

    def start(self) -> "SlurmCluster":
        self._write_config()
        self._start_munge()
        env = {**os.environ, **self.env}
        self.procs.append(subprocess.Popen(
            [_bin("slurmctld"), "-D", "-f", str(self.conf)], env=env, stdout=subprocess.DEVNULL,
            stderr=open(self.base / "log" / "slurmctld.err", "ab"), start_new_session=True,
        ))
        self.procs.append(subprocess.Popen(
            [_bin("slurmd"), "-D", "-N", "localhost", "-f", str(self.conf)], env=env, stdout=subprocess.DEVNULL,
            stderr=open(self.base / "log" / "slurmd.err", "ab"), start_new_session=True,
        ))
        self._wait(self._node_idle, "the SLURM node did not become idle", self.base / "log" / "slurmd.log")
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.procs.clear()
        shutil.rmtree(self.base, ignore_errors=True)
