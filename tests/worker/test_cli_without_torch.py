"""A worker on a machine without torch (and the rest of the worker extra) answers with one sentence, not a
traceback. Run with site-packages off, so the libraries are really absent; the first missing one is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _worker(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from worker.cli import main; sys.exit(main({list(args)!r}))"
    # -S: no site-packages, so torch, transformers and datasets are really absent.
    return subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_run_without_torch_says_what_to_install(tmp_path):
    job = tmp_path / "job"
    written = _worker("demo", str(job), cwd=tmp_path)  # writing the spec needs no torch
    assert written.returncode == 0, written.stderr
    result = _worker("run", str(job), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert " is not installed in " in lines[0] and "pip install 'linguatune[worker]'" in lines[0]
    assert not (job / "events.jsonl").exists()  # nothing half-started
