"""One real demo job per test session, so studio-side tests read what the worker really writes.

The last round's studio tests were fed events hand-written in the studio's own format, and the seam broke unseen
(the worker writes eval directions ``en-ar``, the studio expected ``en-xx``). This module runs the real loop instead:
``linguatune demo`` (plan -> job spec -> local launcher -> torchrun with 2 CPU ranks, FSDP2 over gloo -> the
follower filling the registry), with a job spec shortened through ``--set`` so the whole job takes seconds, and keeps
its output in a cache folder keyed by a hash of ``worker/``, ``resources/`` and this file. Repeated runs reuse it; a
clean machine (CI) builds it once.

What the cached job holds (``tests/test_real_demo_job.py`` checks it): job.json, events.jsonl, status.json,
exit_code, eval/step-N/, final/; eval events of all six demo languages in both directions (chrF, BLEU and the
tiny pipeline-check COMET) at two steps, and alignment events (a layers x languages matrix) at those steps.

Tests never touch the cache itself: ``DemoJob.copy_to`` gives a private copy of the job directory, and
``DemoJob.register`` loads such a copy into a fresh ``JobRegistry`` as a finished local job.

Cache folder: ``$LINGUATUNE_TEST_CACHE``, else ``$XDG_CACHE_HOME/linguatune-tests``, else
``~/.cache/linguatune-tests`` (read when this module is imported, before the tests re-point XDG_CACHE_HOME).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# The languages of the demo preset and the shortened job: 6 optimizer steps, evaluation at steps 3 and 6 (two points
# per curve) of 3 segments per direction, short generations, no intermediate checkpoint. About 15 s on 2 CPU cores
# once the tiny COMET is built (about 10 s more on a clean machine).
DEMO_LANGUAGES = ("ar", "el", "hi", "tr", "vi", "zh")
EVAL_STEPS = (3, 6)
OVERRIDES: dict[str, Any] = {
    "train.max_steps": EVAL_STEPS[-1],
    "train.checkpoint_every_steps": 1000,
    "eval.every_steps": EVAL_STEPS[0],
    "eval.max_segments": 3,
    "eval.max_new_tokens": 16,
    "eval.alignment.max_sentences": 4,
}
NPROC = 2
BUILD_TIMEOUT_S = 900
KEEP_ENTRIES = 3
# Left out of each test's copy: the worker's own datasets cache (lock files, arrow shards).
COPY_IGNORE = ("cache",)

MANIFEST = "manifest.json"
CLI_OUTPUT = "demo-output.txt"

_XDG_CACHE_AT_IMPORT = os.environ.get("XDG_CACHE_HOME")


def cache_root() -> Path:
    explicit = os.environ.get("LINGUATUNE_TEST_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = Path(_XDG_CACHE_AT_IMPORT) if _XDG_CACHE_AT_IMPORT else Path.home() / ".cache"
    return base / "linguatune-tests"


def _source_files() -> list[Path]:
    files = []
    for folder in ("worker", "resources"):
        for path in sorted(ROOT.joinpath(folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
                files.append(path)
    files.append(Path(__file__).resolve())
    return files


def demo_job_key() -> str:
    """A hash of what the job's output depends on: the worker, the resources, this file, Python and torch."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = "none"
    digest.update(f"python {sys.version_info[:3]} torch {torch_version}\n".encode())
    for path in _source_files():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class DemoJob:
    """A finished real demo job in the cache (read it; copy it before changing anything)."""

    key: str
    entry: Path          # the cache entry: home/ (LINGUATUNE_HOME of the launch), manifest, CLI output
    job_id: str
    job_dir: Path        # the job directory the worker wrote
    registry_path: Path  # the registry the launch and the follower wrote
    build_seconds: float
    reused: bool         # True when this session found it in the cache

    @property
    def cli_output(self) -> str:
        """What ``linguatune demo`` printed while following the job (the CLI follow printer on real events)."""
        return (self.entry / CLI_OUTPUT).read_text(encoding="utf-8")

    def spec(self) -> dict[str, Any]:
        return json.loads((self.job_dir / "job.json").read_text(encoding="utf-8"))

    def events(self) -> list:
        from worker.contract import read_events

        return read_events(self.job_dir / "events.jsonl")

    def record(self):
        """The job's record in the registry the launch wrote (its ``remote_dir`` is the cached job directory)."""
        from studio.remote.registry import JobRegistry

        with JobRegistry(self.registry_path) as registry:
            return registry.get(self.job_id)

    def registry_events(self) -> list:
        """The events the real follower stored in the launch's registry."""
        from studio.remote.registry import JobRegistry

        with JobRegistry(self.registry_path) as registry:
            return registry.events(self.job_id)

    def copy_to(self, parent: Path) -> Path:
        """A private copy of the job directory at ``parent/<job id>`` (the worker's datasets cache left out)."""
        target = Path(parent) / self.job_id
        shutil.copytree(self.job_dir, target, ignore=shutil.ignore_patterns(*COPY_IGNORE), symlinks=True)
        return target

    def register(self, registry, job_dir: Path):
        """Record ``job_dir`` (a copy from ``copy_to``) in ``registry`` as this finished local job, with all its
        events stored as a follower would have stored them; returns the new record."""
        from studio.remote.launch import LaunchedJob
        from worker.contract import read_events

        job_dir = Path(job_dir)
        cached = self.record()
        registry.add_job(LaunchedJob(job_id=self.job_id, name=cached.name, host=cached.host, launcher=cached.launcher,
                                     job_dir=str(job_dir), slurm_job_id=None, pid=cached.pid,
                                     plan_summary=cached.plan_summary))
        events = read_events(job_dir / "events.jsonl")
        registry.append_events(self.job_id, events, (job_dir / "events.jsonl").stat().st_size,
                               max(e.seq for e in events), state=cached.state)
        exit_code = int((job_dir / "exit_code").read_text().strip())
        registry.set_state(self.job_id, cached.state, exit_code=exit_code, message=cached.message)
        return registry.get(self.job_id)


class DemoJobBuildError(RuntimeError):
    pass


def demo_job(root: Path | None = None) -> DemoJob:
    """The cached demo job for the current sources, built first when it is missing (one builder at a time)."""
    root = Path(root) if root else cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = demo_job_key()
    entry = root / f"demo-{key}"
    with open(root / f"demo-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another pytest run (another agent, another terminal) may be building it
        found = _load(entry, key, reused=True)
        if found is not None:
            return found
        if entry.exists():
            shutil.rmtree(entry)  # a build that died half-way
        built = _build(entry, key)
    _prune(root, keep=entry)
    return built


def _load(entry: Path, key: str, *, reused: bool) -> DemoJob | None:
    try:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    job = DemoJob(key=key, entry=entry, job_id=manifest["job_id"], job_dir=Path(manifest["job_dir"]),
                  registry_path=Path(manifest["registry"]), build_seconds=manifest["build_seconds"], reused=reused)
    if manifest.get("key") != key or not (job.job_dir / "events.jsonl").is_file():
        return None
    return job


def _build(entry: Path, key: str) -> DemoJob:
    home = entry / "home"
    home.mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        LINGUATUNE_HOME=str(home),
        LINGUATUNE_CACHE=str(entry / "linguatune-cache"),  # the tiny COMET checkpoint is built here
        SACREBLEU=str(entry / "sacrebleu"),  # no FLORES model: BLEU 13a, the same on every machine
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1",
    )
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[var] = str(home / var.lower())
    command = [sys.executable, "-m", "studio.cli", "demo", "--pipeline", "--nproc", str(NPROC),
               "--languages", ",".join(DEMO_LANGUAGES)]
    for dotted, value in OVERRIDES.items():
        command += ["--set", f"{dotted}={json.dumps(value)}"]
    started = time.monotonic()
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise DemoJobBuildError(f"`linguatune demo` did not finish within {BUILD_TIMEOUT_S} s:\n"
                                f"{_tail(exc.stdout)}\n{_tail(exc.stderr)}") from None
    seconds = round(time.monotonic() - started, 1)
    (entry / CLI_OUTPUT).write_text(result.stdout, encoding="utf-8")
    if result.returncode != 0:
        raise DemoJobBuildError(f"`linguatune demo` exited {result.returncode}:\n{_tail(result.stdout)}\n"
                                f"{_tail(result.stderr)}")
    jobs = sorted((home / "data" / "jobs").iterdir())
    if len(jobs) != 1:
        raise DemoJobBuildError(f"expected one job directory under {home / 'data' / 'jobs'}, found {jobs}")
    manifest = {"key": key, "job_id": jobs[0].name, "job_dir": str(jobs[0]),
                "registry": str(home / "data" / "registry.sqlite3"), "build_seconds": seconds,
                "built_at": time.time(), "command": command[1:], "overrides": OVERRIDES}
    tmp = entry / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    tmp.replace(entry / MANIFEST)  # written last: an entry without it is an unfinished build
    job = _load(entry, key, reused=False)
    assert job is not None
    return job


def _prune(root: Path, *, keep: Path) -> None:
    """Keep the newest few entries (other checkouts may be on other sources); drop older ones."""
    entries = sorted((p for p in root.glob("demo-*") if p.is_dir() and p != keep),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP_ENTRIES - 1:]:
        lock_path = root / f"{old.name}.lock"
        with open(lock_path, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # someone is using or building it
            shutil.rmtree(old, ignore_errors=True)


def _tail(text: str | bytes | None, lines: int = 60) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join((text or "").splitlines()[-lines:])
