"""Environment check of a host (``doctor``) and installation of this exact worker version on it (``deploy``)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from studio import __version__
from studio.remote.connection import Session, shell_path
from studio.remote.errors import DeployError
from studio.remote.hosts import HostProfile

# Runs on the host with the profile's Python: standard library only, prints one JSON object.
_PROBE = r"""
import json, os, platform, shutil, subprocess, sys
out = {"python": platform.python_version(), "executable": sys.executable}
try:
    import worker
    out["worker"] = getattr(worker, "__version__", "unknown")
    out["worker_path"] = os.path.dirname(worker.__file__)
except Exception as exc:
    out["worker_error"] = f"{type(exc).__name__}: {exc}"
try:
    import torch
    out["torch"] = torch.__version__
    out["cuda"] = torch.version.cuda
    out["cuda_available"] = bool(torch.cuda.is_available())
    out["cuda_devices"] = torch.cuda.device_count() if out["cuda_available"] else 0
except Exception as exc:
    out["torch_error"] = f"{type(exc).__name__}: {exc}"
gpus = []
if shutil.which("nvidia-smi"):
    try:
        text = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30).stdout
        for line in text.strip().splitlines():
            name, _, mem = line.rpartition(",")
            gpus.append({"name": name.strip(), "memory": mem.strip()})
    except Exception as exc:
        out["nvidia_smi_error"] = str(exc)
out["gpus"] = gpus
root = os.path.expanduser(sys.argv[1])
probe = root
while probe and not os.path.exists(probe):
    probe = os.path.dirname(probe)
try:
    usage = shutil.disk_usage(probe or "/")
    out["disk_free_bytes"] = usage.free
    out["disk_path"] = probe
except OSError as exc:
    out["disk_error"] = str(exc)
out["work_root"] = root
# The filesystem under the work root (the longest mount point above it): a multi-node job needs one every node mounts.
try:
    best = ("", "")
    real = os.path.realpath(probe or "/")
    with open("/proc/mounts") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) > 2:
                point = parts[1].replace("\\040", " ")
                if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best[0]):
                    best = (point, parts[2])
    out["fs_type"], out["fs_mount"] = best[1], best[0]
except OSError:
    pass
# Every module a job imports, imported here (a missing or broken one fails the job after minutes of set-up).
deps = {}
for module in sys.argv[2].split(",") if len(sys.argv) > 2 and sys.argv[2] else []:
    try:
        mod = __import__(module)
        deps[module] = [True, str(getattr(mod, "__version__", ""))]
    except Exception as exc:
        deps[module] = [False, f"{type(exc).__name__}: {exc}"[:200]]
out["deps"] = deps
out["slurm"] = {name: shutil.which(name) for name in ("sbatch", "squeue", "scontrol", "scancel", "srun", "sinfo")}
if out["slurm"].get("scontrol"):
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
        out["slurm_ping"] = [ping.returncode, (ping.stdout + ping.stderr).strip()[:300]]
    except Exception as exc:
        out["slurm_ping"] = [1, str(exc)[:300]]
if out["slurm"].get("sinfo") and len(sys.argv) > 3 and sys.argv[3]:
    try:
        found = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=30)
        out["slurm_partitions"] = sorted(set(found.stdout.split())) if found.returncode == 0 else None
    except Exception:
        out["slurm_partitions"] = None
print(json.dumps(out))
"""


# The modules a job imports, and the pip name that provides each (what `deploy --with-deps` installs).
WORKER_MODULES = {"numpy": "numpy", "torch": "torch", "transformers": "transformers", "datasets": "datasets",
                  "accelerate": "accelerate", "sacrebleu": "sacrebleu", "sentencepiece": "sentencepiece",
                  "pyarrow": "pyarrow", "comet": "unbabel-comet"}
# Filesystems that live on one machine: a work root on one of them is not shared between nodes.
LOCAL_FILESYSTEMS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "f2fs", "vfat", "ramfs"}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class DoctorReport:
    """What the host has, as named checks; ``ok`` when everything a launch needs is there."""

    host: str
    checks: list[Check] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        return [f"{'ok ' if c.ok else 'BAD'}  {c.name:<10} {c.detail}" for c in self.checks]


def doctor(profile: HostProfile, session: Session) -> DoctorReport:
    """Check the host: Python, worker version vs ours, torch/CUDA, GPUs, free disk, SLURM commands."""
    report = DoctorReport(profile.name)
    python = profile.remote_python
    partitions = profile.slurm_partition if profile.launcher == "slurm" else ""
    result = session.run(f"{shell_path(python)} -c {shlex.quote(_PROBE)} {shlex.quote(profile.work_root)} "
                         f"{shlex.quote(','.join(WORKER_MODULES))} {shlex.quote(partitions or '')}", timeout=180)
    if result.status != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        fix = (f"; `linguatune hosts deploy {profile.name} --with-deps` creates the venv {profile.venv} and "
               f"installs the worker" if profile.venv else "")
        report.checks.append(Check("python", False, f"{python} did not run: {last}{fix}"))
        return report
    try:
        facts = json.loads((result.stdout.strip().splitlines() or [""])[-1])
        if not isinstance(facts, dict) or "python" not in facts:
            raise ValueError("not the probe's report")
    except ValueError:
        # A login banner, a shell rc that prints, or another python answered: say what came back.
        last = (result.stdout.strip().splitlines() or ["no output"])[-1][:120]
        report.checks.append(Check("python", False, f"{python} answered something that is not the probe's report: "
                                                    f"{last!r}"))
        return report
    report.facts = facts
    report.checks.append(Check("python", True, f"{facts['python']} ({facts['executable']})"))
    if "worker" in facts:
        same = facts["worker"] == __version__
        report.checks.append(Check(
            "worker", same,
            f"{facts['worker']} (ours {__version__})" + ("" if same else "; run `linguatune hosts deploy`"),
        ))
    else:
        report.checks.append(Check("worker", False, f"not installed ({facts.get('worker_error')}); run "
                                                    f"`linguatune hosts deploy {profile.name} --with-deps`"))
    if "torch" in facts:
        cuda = f"CUDA {facts['cuda']}, {facts['cuda_devices']} device(s)" if facts.get("cuda_available") else "no CUDA"
        report.checks.append(Check("torch", True, f"{facts['torch']}, {cuda}"))
        if profile.gpus_per_node and profile.launcher != "slurm":  # a SLURM login node has no GPUs of its own
            devices = int(facts.get("cuda_devices") or 0)
            report.checks.append(Check(
                "cuda", bool(facts.get("cuda_available")) and devices >= profile.gpus_per_node,
                f"{devices} CUDA device(s) for a profile of {profile.gpus_per_node} GPU(s) per node"
                + ("" if facts.get("cuda_available") else f" (torch {facts['torch']} is a CPU build, or no driver)")))
    else:
        report.checks.append(Check("torch", False, f"not importable ({facts.get('torch_error')})"))
    deps = facts.get("deps") or {}
    missing = [m for m, (ok, _detail) in deps.items() if not ok]
    if deps:
        if missing:
            first = deps[missing[0]][1]
            report.checks.append(Check(
                "deps", False, f"{', '.join(WORKER_MODULES.get(m, m) for m in missing)} missing or broken ({first}); "
                               f"fix: `linguatune hosts deploy {profile.name} --with-deps`"))
        else:
            report.checks.append(Check("deps", True, f"all {len(deps)} worker dependencies import"))
    if profile.nodes > 1 and facts.get("fs_type"):
        local = facts["fs_type"] in LOCAL_FILESYSTEMS
        report.checks.append(Check(
            "shared", not local,
            f"the work root is on {facts['fs_type']} ({facts.get('fs_mount')})"
            + (", a filesystem of this machine only: the other nodes will not see checkpoints, so a multi-node "
               "job cannot resume; put the work root on a shared filesystem" if local else ", shared between nodes")))
    gpus = facts.get("gpus", [])
    if gpus:
        names = ", ".join(f"{g['name']} {g['memory']}" for g in gpus)
        report.checks.append(Check("gpus", len(gpus) >= profile.gpus_per_node, f"{len(gpus)}: {names}"))
    else:
        report.checks.append(Check("gpus", profile.gpus_per_node == 0 or profile.launcher == "slurm",
                                   "none visible (no nvidia-smi)"))
    if "disk_free_bytes" in facts:
        free_gb = facts["disk_free_bytes"] / 1e9
        report.checks.append(Check("disk", free_gb >= 1.0, f"{free_gb:.1f} GB free under {facts['disk_path']}"))
    slurm = facts.get("slurm", {})
    present = [name for name, path in slurm.items() if path]
    if profile.launcher == "slurm":
        report.checks.append(Check("slurm", len(present) == len(slurm),
                                   "all commands present" if len(present) == len(slurm)
                                   else f"missing {', '.join(n for n in slurm if not slurm[n])}"))
        ping = facts.get("slurm_ping")
        if ping is not None:
            up = ping[0] == 0 and "UP" in ping[1]
            report.checks.append(Check("slurmctld", up, ping[1].splitlines()[0] if ping[1] else
                                       "scontrol ping said nothing" if up else "no controller answered"))
        partitions = facts.get("slurm_partitions")
        if profile.slurm_partition and partitions is not None:
            wanted = profile.slurm_partition.split(",")
            unknown = [p for p in wanted if p not in partitions]
            report.checks.append(Check("partition", not unknown,
                                       f"{profile.slurm_partition} exists" if not unknown else
                                       f"no partition {unknown[0]!r} (there are: {', '.join(partitions) or 'none'})"))
    else:
        report.checks.append(Check("slurm", True, f"{'present' if present else 'absent'} (not used by this profile)"))
    return report


def source_root() -> Path:
    """The checkout this studio runs from (deploy builds the wheel from it)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / "worker").is_dir():
        raise DeployError("Deploy needs the LinguaTune source checkout (pyproject.toml not found next to studio/).")
    return root


def build_wheel(out_dir: Path, root: Path | None = None) -> Path:
    """Build the linguatune wheel of this exact version from a clean copy of the sources (no build/ left behind)."""
    root = root or source_root()
    with tempfile.TemporaryDirectory(prefix="linguatune-src-") as tmp:
        src = Path(tmp) / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
        src.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE", "setup.cfg", "MANIFEST.in"):
            if (root / name).is_file():
                shutil.copy2(root / name, src / name)
        for folder in ("studio", "worker", "resources"):
            if (root / folder).is_dir():
                shutil.copytree(root / folder, src / folder, ignore=ignore)
        out_dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out_dir),
             str(src)], capture_output=True, text=True, timeout=600,
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise DeployError(f"Building the wheel failed: {last}")
    wheels = sorted(out_dir.glob(f"linguatune-{__version__}-*.whl"))
    if not wheels:
        raise DeployError(f"Building the wheel produced no linguatune-{__version__} wheel.")
    return wheels[-1]


@dataclass
class DeployResult:
    python: str
    wheel: str
    version: str
    created_venv: bool
    installed: list[str] = field(default_factory=list)  # what pip said it installed ("name-version")
    torch: str | None = None  # the torch the host imports afterwards, and what happened to it
    torch_note: str = ""


# pip lines worth showing while it works (it prints nothing useful with -q, and much noise without it).
_PIP_PROGRESS = ("Collecting ", "Downloading ", "Installing collected packages", "Successfully installed", "ERROR",
                 "Building wheel", "Using cached ")


def _torch_version(session: Session, python: str) -> str | None:
    got = session.run(f"{shell_path(python)} -c 'import torch; print(torch.__version__)' 2>/dev/null", timeout=180)
    return got.stdout.strip().splitlines()[-1] if got.status == 0 and got.stdout.strip() else None


def deploy(profile: HostProfile, session: Session, *, with_deps: bool = False, wheel: Path | None = None,
           system_site_packages: bool = True, torch: str = "keep", torch_index: str | None = None,
           progress=None) -> DeployResult:
    """Install this exact worker version on the host: build (or take) the wheel, upload it, pip install it into
    the profile's Python, creating the profile's venv first when it has one and it does not exist yet.

    With ``with_deps`` the worker's dependencies come too, the ``worker`` extra only (never the studio's PySide6,
    pyqtgraph, paramiko or keyring). ``torch``: ``keep`` (default) keeps a torch the host already imports (pip is
    held to that exact version, so no dependency can replace it with another build); a version such as ``2.13.0``
    installs that one, from ``torch_index`` when given (a CUDA or CPU wheel index); without a torch on the host and
    no choice, pip takes PyPI's default build (a CUDA one on Linux). ``progress`` gets one line per step and pip's
    own progress (what it collects and downloads, with sizes)."""
    say = progress or (lambda line: None)
    created = False
    if profile.venv:
        venv = session.resolve_path(profile.venv)
        probe = session.run(f"test -x {shlex.quote(venv + '/bin/python')}")
        if probe.status != 0:
            flag = " --system-site-packages" if system_site_packages else ""
            say(f"creating the venv {venv}{' (seeing the system packages)' if system_site_packages else ''}")
            session.run_checked(f"{shell_path(profile.python)} -m venv{flag} {shlex.quote(venv)}",
                                f"creating the venv {venv}", timeout=300)
            created = True
        python = venv + "/bin/python"
    else:
        python = profile.python
    with tempfile.TemporaryDirectory(prefix="linguatune-wheel-") as tmp:
        say("building the wheel of this exact version" if wheel is None else f"using {wheel.name}")
        wheel = wheel or build_wheel(Path(tmp))
        root = session.resolve_path(profile.work_root)
        remote_dir = f"{root}/.deploy"
        session.run_checked(f"mkdir -p {shlex.quote(remote_dir)}", "creating the deploy folder")
        remote_wheel = f"{remote_dir}/{wheel.name}"
        say(f"uploading {wheel.name}")
        session.upload(wheel, remote_wheel)
    installed: list[str] = []

    def pip(args: str, what: str, timeout: float) -> None:
        def line(text: str) -> None:
            text = text.strip()
            if text.startswith(_PIP_PROGRESS):
                say(f"pip: {text}")
            if text.startswith("Successfully installed"):
                installed.extend(text.split()[2:])

        try:
            result = session.run(f"{shell_path(python)} -m pip install --progress-bar off {args}",
                                 timeout=timeout, on_line=line)
        except (TimeoutError, OSError) as exc:  # socket.timeout is a TimeoutError
            raise DeployError(f"{what} on {session.host_label} did not finish within {timeout:g} s ({exc}).") from None
        if result.status != 0:
            reason = next((l for l in reversed(result.stderr.strip().splitlines()) if l.startswith("ERROR")),
                          (result.stderr.strip().splitlines() or ["no output"])[-1])
            raise DeployError(f"{what} failed on {session.host_label}: {reason.strip()}")

    # The package itself is always replaced (same version number, maybe other code); dependencies are only
    # added when asked, never force-reinstalled.
    pip(f"--force-reinstall --no-deps {shlex.quote(remote_wheel)}", f"Installing {wheel.name}", 600)
    present = _torch_version(session, python) if with_deps or torch != "keep" else None
    note = ""
    constraint = ""
    if torch != "keep":
        index = f" --index-url {shlex.quote(torch_index)}" if torch_index else ""
        say(f"installing torch {torch}" + (f" from {torch_index}" if torch_index else ""))
        pip(f"{shlex.quote('torch==' + torch)}{index}", f"Installing torch {torch}", 3600)
        present = _torch_version(session, python)
        note = f"installed torch {present}"
    elif with_deps and present:
        note = f"kept torch {present}"
    elif with_deps and torch_index:
        say(f"installing torch from {torch_index}")
        pip(f"torch --index-url {shlex.quote(torch_index)}", "Installing torch", 3600)
        present = _torch_version(session, python)
        note = f"installed torch {present} from {torch_index}"
    if with_deps:
        if present:
            # Hold pip to the torch that is there: a dependency asking for another would otherwise bring its own
            # build (and CUDA packages) in. A conflict fails here, with pip's reason, instead of replacing it.
            pin = f"{remote_dir}/torch-constraint.txt"
            session.write_bytes(pin, f"torch=={present}\n".encode())
            constraint = f" -c {shlex.quote(pin)}"
        elif not torch_index:
            say("no torch on the host: pip installs PyPI's default build (on Linux a CUDA one, several GB); "
                "--torch VERSION --torch-index URL chooses another")
        say("installing the worker's dependencies (the worker extra only)")
        pip(f"{shlex.quote(remote_wheel + '[worker]')}{constraint}", f"Installing the dependencies of {wheel.name}",
            3600)
        present = _torch_version(session, python)
        note = note or (f"installed torch {present}" if present else "")
    version = session.run_checked(
        f"{shell_path(python)} -c 'import worker; print(worker.__version__)'", "importing the installed worker"
    ).stdout.strip()
    if version != __version__:
        raise DeployError(f"The host still imports worker {version}, not {__version__}, after installing.")
    return DeployResult(python, wheel.name, version, created, installed, present, note)
