"""The demo job: the ``resources/presets/demo.json`` spec (tiny Llama, byte-level tokenizer, shipped sample data)
written into a job directory, ready for ``linguatune-worker run``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from worker.contract import JOB_FILE, JobSpec, write_json_atomic
from worker.resources import load_preset, resource_path

DEMO_PRESET = "demo.json"


def demo_spec(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The demo job spec, validated; ``overrides`` maps dotted paths (``"train.max_steps"``) to values."""
    spec = copy.deepcopy(load_preset(DEMO_PRESET))
    for dotted, value in (overrides or {}).items():
        node = spec
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return JobSpec.from_dict(spec).to_dict()


def write_demo_job(job_dir: Path, overrides: dict[str, Any] | None = None) -> Path:
    """Write the demo ``job.json`` into ``job_dir`` (created if needed; refused when it already holds a job)."""
    job_dir.mkdir(parents=True, exist_ok=True)
    target = job_dir / JOB_FILE
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose an empty directory")
    spec = demo_spec(overrides)
    missing = [p for p in _data_paths(spec) if not resource_path(*Path(p).parts).is_file()]
    if missing:
        raise FileNotFoundError(f"the demo data file {missing[0]} is missing from LinguaTune's resources folder")
    write_json_atomic(target, spec)
    return target


def _data_paths(spec: dict[str, Any]) -> list[str]:
    data = spec["data"]
    paths = [data["english_instructions"]["path"]] if data.get("english_instructions") else []
    for section in ("translated_instructions", "pairs"):
        paths += [src["path"] for src in data.get(section, {}).values() if "path" in src]
    return paths
