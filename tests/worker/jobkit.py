"""Helpers of the worker tests: small data files, job specs, and real launches of the worker (torchrun or plain)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from worker.contract import EVENTS_FILE, EXIT_CODE_FILE, JOB_FILE, read_events

REPO = Path(__file__).resolve().parents[2]
WORDS = ("the cat dog sees a house big small river runs over under green red bird sings old tree near "
         "stone bridge wind blows cold warm").split()


def write_pairs(path: Path, lang: str, n: int, *, seed: int = 0, duplicates: int = 0) -> None:
    """A TSV with header ``en<TAB>lang``: made-up English sentences and a learnable 'translation' (reversed)."""
    rng = random.Random(seed)
    lines = [f"en\t{lang}"]
    for _ in range(n):
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
        lines.append(f"{sentence}\t{lang}: {sentence[::-1]}")
    lines += [lines[1]] * duplicates
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_instructions(path: Path, n: int, *, prefix: str = "") -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            record = {"instruction": f"{prefix}Count to {i % 7 + 1}.", "input": "" if i % 2 else f"item {i}",
                      "output": " ".join(str(k) for k in range(1, i % 7 + 2)) + f" ({prefix}{i})"}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_small_data(d: Path) -> Path:
    """Pairs for ar (200 + 5 duplicates) and zh (150), 30 English and 20+20 translated instructions."""
    d.mkdir(parents=True, exist_ok=True)
    write_pairs(d / "en-ar.tsv", "ar", 200, seed=1, duplicates=5)
    write_pairs(d / "en-zh.tsv", "zh", 150, seed=2)
    write_instructions(d / "en.jsonl", 30)
    write_instructions(d / "ar.jsonl", 20, prefix="ar-")
    write_instructions(d / "zh.jsonl", 20, prefix="zh-")
    return d


def small_job(data: Path, **train: Any) -> dict[str, Any]:
    """A MuIT job over ar and zh with a tiny model; ``train`` overrides hyper-parameters."""
    return {
        "schema": "linguatune.job/1", "name": "test", "mode": "muit", "allocation": {"ar": 120, "zh": 80},
        "data": {
            "english_instructions": {"path": str(data / "en.jsonl")},
            "translated_instructions": {"ar": {"path": str(data / "ar.jsonl")}, "zh": {"path": str(data / "zh.jsonl")}},
            "pairs": {"ar": {"path": str(data / "en-ar.tsv")}, "zh": {"path": str(data / "en-zh.tsv")}},
        },
        "model": {"tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                           "num_attention_heads": 4, "num_key_value_heads": 2}},
        "train": {"epochs": 1, "learning_rate": 1e-2, "per_device_batch_size": 2, "gradient_accumulation_steps": 2,
                  "max_length": 1024, "checkpoint_every_steps": 4, "warmup_ratio": 0.1, **train},
        "eval": {"at_end": False},
    }


def make_job(root: Path, name: str, spec: dict[str, Any]) -> Path:
    job = root / name
    job.mkdir(parents=True)
    (job / JOB_FILE).write_text(json.dumps(spec), encoding="utf-8")
    return job


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    return env


def launch(job: Path, nproc: int = 2) -> subprocess.Popen:
    """Start the worker on ``job`` (torchrun with ``nproc`` CPU ranks, or one plain process) in its own session."""
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
               "-m", "worker.cli", "run", str(job)]
    else:
        cmd = [sys.executable, "-m", "worker.cli", "run", str(job)]
    log = open(job.parent / f"{job.name}.launcher.log", "ab")
    return subprocess.Popen(cmd, cwd=REPO, env=worker_env(), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def run_to_end(job: Path, nproc: int = 2, timeout: float = 240) -> int:
    proc = launch(job, nproc)
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_event(job: Path, predicate, proc: subprocess.Popen, timeout: float = 240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (job / EVENTS_FILE).exists():
            for event in read_events(job / EVENTS_FILE):
                if predicate(event):
                    return event
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited with {proc.returncode} before the awaited event")
        time.sleep(0.2)
    raise AssertionError("timed out waiting for an event")


def losses_by_step(job: Path) -> dict[int, float]:
    """The loss of each step (the last event per step wins: steps after a checkpoint repeat after a resume)."""
    return {e["step"]: e["loss"] for e in read_events(job / EVENTS_FILE) if e.kind == "train"}


def exit_code(job: Path) -> int:
    return int((job / EXIT_CODE_FILE).read_text().strip())

