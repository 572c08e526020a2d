"""Locate the data files of ``resources/`` in a source checkout and in an installed wheel.

In the source tree ``resources/`` sits beside ``worker/``; the wheel ships the same files as the
``linguatune_resources`` package (see pyproject.toml). Both the studio and the worker use this module, which imports
nothing but the standard library.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    """The folder holding LinguaTune's data files (language catalogue, presets, demo data)."""
    checkout = Path(__file__).resolve().parent.parent / "resources"
    if (checkout / "languages.tsv").is_file():
        return checkout
    spec = importlib.util.find_spec("linguatune_resources")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            path = Path(location)
            if (path / "languages.tsv").is_file():
                return path
    raise FileNotFoundError(
        "LinguaTune's resources folder was not found; reinstall the package (pip install linguatune)."
    )


def resource_path(*parts: str) -> Path:
    """Path of a file inside the resources folder, e.g. ``resource_path("demo", "pairs_ar.tsv")``."""
    return resources_dir().joinpath(*parts)


def resolve_job_path(path: str, job_dir: str | Path | None) -> Path:
    """Where a path named in a job spec points: absolute paths as given; relative ones against the job directory,
    then the resources folder (so a job can name the shipped demo files as ``demo/pairs/en-ar.tsv``). A path found
    in neither stays relative to the job directory, so an error names where it was looked for."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    if job_dir is not None and (Path(job_dir) / candidate).exists():
        return Path(job_dir) / candidate
    try:
        bundled = resource_path(*candidate.parts)
        if bundled.exists():
            return bundled
    except FileNotFoundError:
        pass
    return Path(job_dir) / candidate if job_dir is not None else candidate


def load_preset(name: str) -> dict[str, Any]:
    """A job-spec preset from ``resources/presets`` (``demo.json``, ``llama-7b-8xa100.json``) as a dict."""
    with open(resource_path("presets", name), encoding="utf-8") as fh:
        return json.load(fh)
