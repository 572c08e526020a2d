"""The ``eval`` section of a job spec, read into typed settings with defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import EvalInputError
from .metrics import TRANSLATION_METRICS


@dataclass(frozen=True)
class EvalSettings:
    """What to evaluate and how. ``translation``/``qa`` map a language code to its file path (None: no set)."""

    every_steps: int | None = None
    at_end: bool = True
    batch_size: int = 8
    max_new_tokens: int = 128
    max_segments: int | None = None
    comet_model: str | None = None
    metrics: tuple[str, ...] = TRANSLATION_METRICS
    translation: dict[str, str | None] = field(default_factory=dict)
    qa: dict[str, str | None] = field(default_factory=dict)
    alignment_enabled: bool = True
    alignment_max_sentences: int = 100
    alignment_include_special: bool = False  # pool over BOS/EOS too (off: the sentence's own tokens only)
    languages: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, spec: Any) -> "EvalSettings":
        """Accept an object with ``to_dict()`` or a plain mapping (the job spec's ``eval`` section)."""
        if spec is None:
            spec = {}
        elif hasattr(spec, "to_dict"):
            spec = spec.to_dict()
        if not isinstance(spec, Mapping):
            raise EvalInputError(f"the eval section must be a mapping, got {type(spec).__name__}.")
        metrics = tuple(spec.get("metrics") or TRANSLATION_METRICS)
        unknown = [m for m in metrics if m not in TRANSLATION_METRICS]
        if unknown:
            raise EvalInputError(f"eval.metrics has unknown metric {unknown[0]!r}; use comet, spbleu or chrf.",
                                 source="eval.metrics")
        alignment = spec.get("alignment") or {}
        return cls(
            every_steps=spec.get("every_steps"),
            at_end=bool(spec.get("at_end", True)),
            batch_size=int(spec.get("batch_size") or 8),
            max_new_tokens=int(spec.get("max_new_tokens") or 128),
            max_segments=spec.get("max_segments"),
            comet_model=spec.get("comet_model"),
            metrics=metrics,
            translation={lang: _path_of(entry) for lang, entry in (spec.get("translation") or {}).items()},
            qa={lang: _path_of(entry) for lang, entry in (spec.get("qa") or {}).items()},
            alignment_enabled=bool(alignment.get("enabled", True)),
            alignment_max_sentences=int(alignment.get("max_sentences") or 100),
            alignment_include_special=bool(alignment.get("include_special_tokens", False)),
            languages=tuple(spec.get("languages") or ()),
        )


# A translation set made by a built-in generator ({"generator": "demo-world"}) travels as this prefix + its name.
GENERATED_PREFIX = "generated:"
# A FLORES release folder ({"flores": DIR, "split": "devtest"}) travels as this prefix + JSON of dir, split, code.
FLORES_PREFIX = "flores:"


def _path_of(entry: Any) -> str | None:
    if entry is None:
        return None
    if isinstance(entry, (str, Path)):
        return str(entry)
    if isinstance(entry, Mapping):
        if entry.get("generator"):
            return GENERATED_PREFIX + str(entry["generator"])
        if entry.get("flores"):
            import json

            return FLORES_PREFIX + json.dumps({"dir": str(entry["flores"]), "split": entry.get("split", "devtest"),
                                               "code": entry.get("flores_code")})
        path = entry.get("path")
        return str(path) if path else None
    raise EvalInputError(f"an eval set must be a path or {{'path': ...}}, got {entry!r}.")


def resolve_eval_path(path: str, job_dir: str | Path | None) -> Path:
    """See ``worker.resources.resolve_job_path`` (one rule for data and evaluation files)."""
    from worker.resources import resolve_job_path

    return resolve_job_path(path, job_dir)