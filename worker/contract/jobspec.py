"""The job spec ``job.json`` (schema ``linguatune.job/1``): what the studio asks the worker to run."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from worker.contract.jobdir import JOB_FILE, LAUNCHER_KINDS

JOB_SCHEMA = "linguatune.job/1"
PLAN_SCHEMA = "linguatune.plan/1"
JOB_MODES = ("coit", "muit")
# wikimatrix: the WikiMatrix release TSV (margin score, sentence, sentence; no header). moses: OPUS "Moses" twin
# files, one sentence a line, ``path`` the common prefix (``News-Commentary.ar-en`` for ``.en`` and ``.ar``).
SOURCE_FORMATS = ("json", "jsonl", "tsv", "csv", "parquet", "wikimatrix", "moses")
PAIR_ONLY_FORMATS = ("wikimatrix", "moses")
# Built-in data generators a source may name instead of a file: the synthetic demo world (worker/demoworld.py).
GENERATORS = ("demo-world",)
SUBSET_MODES = ("random", "prefix")
PRECISIONS = ("auto", "bf16", "fp32")
EVAL_METRICS = ("comet", "spbleu", "chrf")
# Field names a source's "fields" mapping may rename, per kind of source (value: the column in the file).
INSTRUCTION_FIELDS = ("instruction", "input", "output")
PAIR_FIELDS = ("source", "target")


class JobSpecError(ValueError):
    """A job spec that cannot be run; ``field`` is the dotted path of the offending entry (e.g. ``data.pairs.ar``)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field


def _expect_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise JobSpecError(f"expected an object, got {type(value).__name__}", where)
    return value


def _no_unknown_keys(obj: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = set(allowed)
    for key in obj:
        if key not in allowed:
            path = f"{where}.{key}" if where else str(key)
            raise JobSpecError(f"unknown field (expected one of {', '.join(sorted(allowed))})", path)


def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any, where: str,
         *, nullable: bool = False) -> Any:
    path = f"{where}.{key}" if where else key
    if key not in obj:
        return default
    value = obj[key]
    if value is None and nullable:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if bool not in kinds and isinstance(value, bool):
        raise JobSpecError(f"expected {'/'.join(k.__name__ for k in kinds)}, got a boolean", path)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kinds):
        raise JobSpecError(f"expected {'/'.join(k.__name__ for k in kinds)}, got {type(value).__name__}", path)
    if isinstance(value, float) and not math.isfinite(value):
        raise JobSpecError("expected a finite number", path)
    return value


def _positive(value: int | float, path: str, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise JobSpecError(f"must be {'>= 0' if allow_zero else '> 0'}, got {value}", path)


def _lang_code(code: Any, path: str) -> str:
    if not isinstance(code, str) or not code or not all(c.isalnum() or c in "_-" for c in code):
        raise JobSpecError(f"not a language code: {code!r}", path)
    return code


@dataclass
class DataSource:
    """Where one data set comes from: a local file (``path``), a hub dataset (``hub``) or a built-in generator
    (``generator``: ``demo-world``, the synthetic demo world of ``worker.demoworld``), plus a column mapping."""

    path: str | None = None
    format: str | None = None
    hub: str | None = None
    config: str | None = None
    split: str = "train"
    revision: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    generator: str | None = None
    min_score: float | None = None  # wikimatrix: keep pairs whose margin score is at least this (1.04 in its paper)

    @classmethod
    def from_dict(cls, obj: Any, where: str, field_names: tuple[str, ...]) -> "DataSource":
        obj = _expect_dict(obj, where)
        _no_unknown_keys(obj, ("path", "format", "hub", "config", "split", "revision", "fields", "generator",
                               "min_score"), where)
        path = _get(obj, "path", str, None, where, nullable=True)
        hub = _get(obj, "hub", str, None, where, nullable=True)
        generator = _get(obj, "generator", str, None, where, nullable=True)
        if sum(x is not None for x in (path, hub, generator)) != 1:
            raise JobSpecError("give exactly one of 'path' (a local file), 'hub' (a dataset name) or 'generator' "
                               f"({', '.join(GENERATORS)})", where)
        if generator is not None:
            if generator not in GENERATORS:
                raise JobSpecError(f"unknown generator {generator!r} ({', '.join(GENERATORS)})", f"{where}.generator")
            split = _get(obj, "split", str, "train", where)
            if split not in ("train", "test"):
                raise JobSpecError(f"a {generator} split is 'train' or 'test', not {split!r}", f"{where}.split")
            return cls(generator=generator, split=split)
        fmt = _get(obj, "format", str, None, where, nullable=True)
        if path is not None:
            if not path.strip():
                raise JobSpecError("empty path", f"{where}.path")
            fmt = fmt or _format_from_suffix(path)
            if fmt not in SOURCE_FORMATS:
                raise JobSpecError(
                    f"cannot tell the file format of {path!r}; name it in 'format' ({', '.join(SOURCE_FORMATS)})",
                    f"{where}.format" if "format" in obj else f"{where}.path",
                )
            if fmt in PAIR_ONLY_FORMATS and field_names != PAIR_FIELDS:
                raise JobSpecError(f"the {fmt} format holds translation pairs, not instructions", f"{where}.format")
        min_score = obj.get("min_score")
        if min_score is not None:
            if fmt != "wikimatrix":
                raise JobSpecError("min_score applies to the wikimatrix format only", f"{where}.min_score")
            if isinstance(min_score, bool) or not isinstance(min_score, (int, float)) or not math.isfinite(min_score):
                raise JobSpecError(f"expected a number, got {min_score!r}", f"{where}.min_score")
        fields_obj = _expect_dict(obj.get("fields", {}), f"{where}.fields")
        _no_unknown_keys(fields_obj, field_names, f"{where}.fields")
        for key, column in fields_obj.items():
            if not isinstance(column, str) or not column:
                raise JobSpecError("a column name must be a non-empty string", f"{where}.fields.{key}")
        return cls(path=path, format=fmt, hub=hub, config=_get(obj, "config", str, None, where, nullable=True),
                   split=_get(obj, "split", str, "train", where), revision=_get(obj, "revision", str, None, where,
                   nullable=True), fields=dict(fields_obj),
                   min_score=float(min_score) if min_score is not None else None)

    def to_dict(self) -> dict[str, Any]:
        if self.generator is not None:
            return {"generator": self.generator, "split": self.split}
        if self.path is not None:
            out: dict[str, Any] = {"path": self.path, "format": self.format}
            if self.min_score is not None:
                out["min_score"] = self.min_score
        else:
            out = {"hub": self.hub, "config": self.config, "split": self.split, "revision": self.revision}
        if self.fields:
            out["fields"] = dict(self.fields)
        return out

    def describe(self) -> str:
        if self.generator is not None:
            return f"{self.generator}:{self.split}"
        return self.path if self.path is not None else f"{self.hub}:{self.config or ''}:{self.split}"


def _format_from_suffix(path: str) -> str | None:
    name = path.lower()
    for suffix in (".gz", ".bz2", ".xz", ".zst"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    if ext == "tsv" and name.rsplit("/", 1)[-1].startswith("wikimatrix."):
        return "wikimatrix"  # WikiMatrix.ar-en.tsv(.gz) as released: score, sentence, sentence, no header
    return {"jsonl": "jsonl", "json": "json", "tsv": "tsv", "csv": "csv", "parquet": "parquet", "pq": "parquet"}.get(ext)


@dataclass
class DataSpec:
    """The data of a job: English instructions, translated instructions and parallel pairs (English→X) per language."""

    english_instructions: DataSource | None = None
    translated_instructions: dict[str, DataSource] = field(default_factory=dict)
    pairs: dict[str, DataSource] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, obj: Any, where: str = "data") -> "DataSpec":
        obj = _expect_dict(obj, where)
        _no_unknown_keys(obj, ("english_instructions", "translated_instructions", "pairs"), where)
        english = obj.get("english_instructions")
        english_src = (DataSource.from_dict(english, f"{where}.english_instructions", INSTRUCTION_FIELDS)
                       if english is not None else None)
        translated = {}
        for code, src in _expect_dict(obj.get("translated_instructions", {}), f"{where}.translated_instructions").items():
            path = f"{where}.translated_instructions.{code}"
            translated[_lang_code(code, path)] = DataSource.from_dict(src, path, INSTRUCTION_FIELDS)
        pairs = {}
        for code, src in _expect_dict(obj.get("pairs", {}), f"{where}.pairs").items():
            path = f"{where}.pairs.{code}"
            pairs[_lang_code(code, path)] = DataSource.from_dict(src, path, PAIR_FIELDS)
        return cls(english_src, translated, pairs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "english_instructions": self.english_instructions.to_dict() if self.english_instructions else None,
            "translated_instructions": {k: v.to_dict() for k, v in self.translated_instructions.items()},
            "pairs": {k: v.to_dict() for k, v in self.pairs.items()},
        }


@dataclass
class ModelSpec:
    """The base model: a hub name or local path (``name_or_path``), or a tiny Llama built from ``tiny`` (the demo)."""

    name_or_path: str | None = None
    tiny: dict[str, Any] | None = None
    tokenizer: str | None = None
    attn_implementation: str = "sdpa"
    trust_remote_code: bool = False
    # auto: straight into the FSDP shards when the checkpoint allows it (worker/sharded_load.py), else every rank
    # reads it whole; sharded: insist; full: every rank reads the whole checkpoint (the old way).
    load: str = "auto"

    @classmethod
    def from_dict(cls, obj: Any, where: str = "model") -> "ModelSpec":
        obj = _expect_dict(obj, where)
        _no_unknown_keys(obj, ("name_or_path", "tiny", "tokenizer", "attn_implementation", "trust_remote_code",
                               "load"), where)
        name = _get(obj, "name_or_path", str, None, where, nullable=True)
        tiny = obj.get("tiny")
        if tiny is not None:
            tiny = dict(_expect_dict(tiny, f"{where}.tiny"))
            for key, value in tiny.items():
                if not isinstance(value, (int, float, str, bool)) or value is None:
                    raise JobSpecError("tiny model settings are numbers, strings or booleans", f"{where}.tiny.{key}")
        if (name is None) == (tiny is None):
            raise JobSpecError("give exactly one of 'name_or_path' or 'tiny'", where)
        if name is not None and not name.strip():
            raise JobSpecError("empty model name", f"{where}.name_or_path")
        attn = _get(obj, "attn_implementation", str, "sdpa", where)
        if attn not in ("sdpa", "eager", "flash_attention_2"):
            raise JobSpecError(f"unsupported attention implementation {attn!r}", f"{where}.attn_implementation")
        load = _get(obj, "load", str, "auto", where)
        if load not in ("auto", "sharded", "full"):
            raise JobSpecError(f"load is auto, sharded or full, not {load!r}", f"{where}.load")
        return cls(name, tiny, _get(obj, "tokenizer", str, None, where, nullable=True), attn,
                   _get(obj, "trust_remote_code", bool, False, where), load)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"attn_implementation": self.attn_implementation}
        if self.name_or_path is not None:
            out["name_or_path"] = self.name_or_path
        if self.tiny is not None:
            out["tiny"] = dict(self.tiny)
        if self.tokenizer is not None:
            out["tokenizer"] = self.tokenizer
        if self.trust_remote_code:
            out["trust_remote_code"] = True
        if self.load != "auto":
            out["load"] = self.load
        return out


@dataclass
class TrainSpec:
    """Hyper-parameters; the defaults are the paper's LLaMA-7B setup (REFERENCE.md)."""

    epochs: float = 3.0
    learning_rate: float = 2e-5
    weight_decay: float = 0.0
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    per_device_batch_size: int = 4
    gradient_accumulation_steps: int = 4
    max_length: int = 512
    precision: str = "auto"
    packing: bool = True
    activation_checkpointing: bool = False
    grad_clip: float | None = 1.0
    checkpoint_every_steps: int = 200
    keep_checkpoints: int = 2
    seed: int = 42
    subset: str = "random"
    max_steps: int | None = None
    collective_timeout_s: int = 1800

    _KINDS = {
        "epochs": (int, float), "learning_rate": float, "weight_decay": float, "lr_scheduler": str,
        "warmup_ratio": float, "per_device_batch_size": int, "gradient_accumulation_steps": int,
        "max_length": int, "precision": str, "packing": bool, "activation_checkpointing": bool,
        "grad_clip": float, "checkpoint_every_steps": int, "keep_checkpoints": int, "seed": int, "subset": str,
        "max_steps": int, "collective_timeout_s": int,
    }

    @classmethod
    def from_dict(cls, obj: Any, where: str = "train") -> "TrainSpec":
        obj = _expect_dict(obj, where)
        _no_unknown_keys(obj, cls._KINDS, where)
        values = {}
        for key, kind in cls._KINDS.items():
            default = getattr(cls, key)
            values[key] = _get(obj, key, kind, default, where, nullable=key in ("grad_clip", "max_steps"))
        spec = cls(**values)
        spec.epochs = float(spec.epochs)
        for key in ("epochs", "learning_rate", "per_device_batch_size", "gradient_accumulation_steps",
                    "max_length", "collective_timeout_s", "keep_checkpoints"):
            _positive(getattr(spec, key), f"{where}.{key}")
        for key in ("weight_decay", "checkpoint_every_steps"):
            _positive(getattr(spec, key), f"{where}.{key}", allow_zero=True)
        if spec.grad_clip is not None:
            _positive(spec.grad_clip, f"{where}.grad_clip")
        if spec.max_steps is not None:
            _positive(spec.max_steps, f"{where}.max_steps")
        if not 0 <= spec.warmup_ratio < 1:
            raise JobSpecError(f"must be in [0, 1), got {spec.warmup_ratio}", f"{where}.warmup_ratio")
        if spec.lr_scheduler not in ("cosine", "linear", "constant"):
            raise JobSpecError(f"unknown schedule {spec.lr_scheduler!r} (cosine, linear, constant)",
                               f"{where}.lr_scheduler")
        if spec.precision not in PRECISIONS:
            raise JobSpecError(f"unknown precision {spec.precision!r} ({', '.join(PRECISIONS)})", f"{where}.precision")
        if spec.subset not in SUBSET_MODES:
            raise JobSpecError(f"unknown subset mode {spec.subset!r} ({', '.join(SUBSET_MODES)})", f"{where}.subset")
        if spec.max_length < 16:
            raise JobSpecError(f"too short to hold a prompt: {spec.max_length}", f"{where}.max_length")
        return spec

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self._KINDS}


@dataclass
class EvalSpec:
    """What to evaluate and when; read by ``worker.evaluation`` (this module only checks the types)."""

    every_steps: int = 0
    at_end: bool = True
    batch_size: int = 8
    max_new_tokens: int = 256
    max_segments: int | None = None
    comet_model: str | None = "Unbabel/wmt22-comet-da"
    metrics: list[str] = field(default_factory=lambda: list(EVAL_METRICS))
    translation: dict[str, dict[str, Any]] = field(default_factory=dict)
    qa: dict[str, dict[str, Any]] = field(default_factory=dict)
    alignment: dict[str, Any] = field(default_factory=lambda: {"enabled": False, "max_sentences": 200})

    @classmethod
    def from_dict(cls, obj: Any, where: str = "eval") -> "EvalSpec":
        obj = _expect_dict(obj, where)
        _no_unknown_keys(obj, ("every_steps", "at_end", "batch_size", "max_new_tokens", "max_segments",
                               "comet_model", "metrics", "translation", "qa", "alignment"), where)
        spec = cls(
            every_steps=_get(obj, "every_steps", int, 0, where),
            at_end=_get(obj, "at_end", bool, True, where),
            batch_size=_get(obj, "batch_size", int, 8, where),
            max_new_tokens=_get(obj, "max_new_tokens", int, 256, where),
            max_segments=_get(obj, "max_segments", int, None, where, nullable=True),
            comet_model=_get(obj, "comet_model", str, cls.comet_model, where, nullable=True),
        )
        _positive(spec.every_steps, f"{where}.every_steps", allow_zero=True)
        _positive(spec.batch_size, f"{where}.batch_size")
        _positive(spec.max_new_tokens, f"{where}.max_new_tokens")
        if spec.max_segments is not None:
            _positive(spec.max_segments, f"{where}.max_segments")
        metrics = obj.get("metrics", list(EVAL_METRICS))
        if not isinstance(metrics, list):
            raise JobSpecError("expected a list of metric names", f"{where}.metrics")
        for i, name in enumerate(metrics):
            if name not in EVAL_METRICS:
                raise JobSpecError(f"unknown metric {name!r} ({', '.join(EVAL_METRICS)})", f"{where}.metrics.{i}")
        spec.metrics = list(metrics)
        for section in ("translation", "qa"):
            sets = _expect_dict(obj.get(section, {}), f"{where}.{section}")
            parsed = {}
            for code, entry in sets.items():
                path = f"{where}.{section}.{code}"
                _lang_code(code, path)
                entry = _expect_dict(entry, path)
                _no_unknown_keys(entry, ("path", "generator", "flores", "split", "flores_code")
                                 if section == "translation" else ("path",), path)
                if entry.get("flores") is not None:
                    folder = entry["flores"]
                    split = entry.get("split", "devtest")
                    code_name = entry.get("flores_code")
                    if not isinstance(folder, str) or not folder or "path" in entry or "generator" in entry:
                        raise JobSpecError("give a FLORES release folder in 'flores' (and no path or generator)",
                                           f"{path}.flores")
                    if split not in ("dev", "devtest"):
                        raise JobSpecError(f"a FLORES split is dev or devtest, not {split!r}", f"{path}.split")
                    if code_name is not None and (not isinstance(code_name, str) or not code_name.replace(
                            "_", "").isalnum()):
                        raise JobSpecError(f"a FLORES file name such as arb_Arab, got {code_name!r}",
                                           f"{path}.flores_code")
                    parsed[code] = {"flores": folder, "split": split, **({"flores_code": code_name}
                                                                         if code_name else {})}
                    continue
                generator = entry.get("generator")
                if generator is not None:
                    if "path" in entry or generator not in GENERATORS:
                        raise JobSpecError(f"give a file 'path' or a 'generator' ({', '.join(GENERATORS)})", path)
                    parsed[code] = {"generator": generator}
                    continue
                file_path = _get(entry, "path", str, None, path)
                if not file_path:
                    raise JobSpecError("a file path is required", f"{path}.path")
                parsed[code] = {"path": file_path}
            setattr(spec, section, parsed)
        alignment = _expect_dict(obj.get("alignment", {}), f"{where}.alignment")
        _no_unknown_keys(alignment, ("enabled", "max_sentences", "include_special_tokens"), f"{where}.alignment")
        spec.alignment = {
            "enabled": _get(alignment, "enabled", bool, False, f"{where}.alignment"),
            "max_sentences": _get(alignment, "max_sentences", int, 200, f"{where}.alignment"),
            "include_special_tokens": _get(alignment, "include_special_tokens", bool, False, f"{where}.alignment"),
        }
        _positive(spec.alignment["max_sentences"], f"{where}.alignment.max_sentences")
        return spec

    def to_dict(self) -> dict[str, Any]:
        return {
            "every_steps": self.every_steps, "at_end": self.at_end, "batch_size": self.batch_size,
            "max_new_tokens": self.max_new_tokens, "max_segments": self.max_segments,
            "comet_model": self.comet_model, "metrics": list(self.metrics),
            "translation": {k: dict(v) for k, v in self.translation.items()},
            "qa": {k: dict(v) for k, v in self.qa.items()},
            "alignment": dict(self.alignment),
        }


@dataclass
class LauncherSpec:
    """How the studio started the job (filled by the studio; the worker stores it and does not act on it)."""

    kind: str = "local"
    nodes: int = 1
    gpus_per_node: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, obj: Any, where: str = "launcher") -> "LauncherSpec":
        obj = _expect_dict(obj, where)
        kind = _get(obj, "kind", str, "local", where)
        if kind not in LAUNCHER_KINDS:
            raise JobSpecError(f"unknown launcher {kind!r} ({', '.join(LAUNCHER_KINDS)})", f"{where}.kind")
        spec = cls(kind, _get(obj, "nodes", int, 1, where), _get(obj, "gpus_per_node", int, 0, where))
        _positive(spec.nodes, f"{where}.nodes")
        _positive(spec.gpus_per_node, f"{where}.gpus_per_node", allow_zero=True)
        for key in ("partition", "account", "time_limit", "python", "workdir", "host"):
            _get(obj, key, str, None, where, nullable=True)
        if "env" in obj:
            for name, value in _expect_dict(obj["env"], f"{where}.env").items():
                if not isinstance(value, str):
                    raise JobSpecError("environment values are strings", f"{where}.env.{name}")
        spec.extra = {k: v for k, v in obj.items() if k not in ("kind", "nodes", "gpus_per_node")}
        return spec

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "nodes": self.nodes, "gpus_per_node": self.gpus_per_node, **self.extra}


@dataclass
class JobSpec:
    """A training job (``job.json``, schema ``linguatune.job/1``): languages and their pair allocation, data
    sources, model, hyper-parameters, evaluation and launcher. ``from_dict`` validates and raises ``JobSpecError``
    naming the field path."""

    mode: str
    languages: list[str]
    allocation: dict[str, int]
    data: DataSpec
    model: ModelSpec
    train: TrainSpec = field(default_factory=TrainSpec)
    eval: EvalSpec = field(default_factory=EvalSpec)
    launcher: LauncherSpec = field(default_factory=LauncherSpec)
    name: str = ""

    @classmethod
    def from_dict(cls, obj: Any) -> "JobSpec":
        obj = _expect_dict(obj, "")
        _no_unknown_keys(obj, ("schema", "name", "description", "mode", "languages", "allocation", "data", "model", "train",
                               "eval", "launcher"), "")
        schema = obj.get("schema", JOB_SCHEMA)
        if schema != JOB_SCHEMA:
            raise JobSpecError(f"unsupported job schema {schema!r} (this worker reads {JOB_SCHEMA})", "schema")
        mode = obj.get("mode")
        if mode not in JOB_MODES:
            raise JobSpecError(f"mode must be 'coit' (one target language) or 'muit' (several), got {mode!r}", "mode")
        allocation = _parse_allocation(obj.get("allocation"))
        languages_obj = obj.get("languages", list(allocation))
        if not isinstance(languages_obj, list) or not languages_obj:
            raise JobSpecError("expected a non-empty list of language codes", "languages")
        languages = [_lang_code(code, f"languages.{i}") for i, code in enumerate(languages_obj)]
        if len(set(languages)) != len(languages):
            raise JobSpecError("a language is listed twice", "languages")
        if "en" in languages:
            raise JobSpecError("English is the source language; list only target languages", "languages")
        if mode == "coit" and len(languages) != 1:
            raise JobSpecError(f"coit trains one target language, got {len(languages)}; use muit", "languages")
        for code in languages:
            if code not in allocation:
                raise JobSpecError(f"no pair allocation for {code!r}", f"allocation.{code}")
        for code in allocation:
            if code not in languages:
                raise JobSpecError(f"{code!r} is allocated pairs but is not a target language", f"allocation.{code}")
        if "data" not in obj:
            raise JobSpecError("the job has no data section", "data")
        data = DataSpec.from_dict(obj["data"])
        for code in languages:
            if allocation[code] > 0 and code not in data.pairs:
                raise JobSpecError(f"{allocation[code]} pairs allocated to {code!r} but no pair source given",
                                   f"data.pairs.{code}")
            if allocation[code] == 0 and code not in data.translated_instructions:
                raise JobSpecError(f"language {code!r} has neither pairs nor translated instructions",
                                   f"data.pairs.{code}")
        for section, sources in (("pairs", data.pairs), ("translated_instructions", data.translated_instructions)):
            for code in sources:
                if code not in languages:
                    raise JobSpecError(f"{code!r} is not a target language of this job", f"data.{section}.{code}")
        if "model" not in obj:
            raise JobSpecError("the job names no model", "model")
        name = _get(obj, "name", str, "", "")
        return cls(mode, languages, {c: allocation[c] for c in languages}, data, ModelSpec.from_dict(obj["model"]),
                   TrainSpec.from_dict(obj.get("train", {})), EvalSpec.from_dict(obj.get("eval", {})),
                   LauncherSpec.from_dict(obj.get("launcher", {})), name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": JOB_SCHEMA, "name": self.name, "mode": self.mode, "languages": list(self.languages),
            "allocation": dict(self.allocation), "data": self.data.to_dict(), "model": self.model.to_dict(),
            "train": self.train.to_dict(), "eval": self.eval.to_dict(), "launcher": self.launcher.to_dict(),
        }


def _parse_allocation(obj: Any) -> dict[str, int]:
    """``{code: pairs}``, or a plan file (schema ``linguatune.plan/1``) whose ``languages[]`` carry code and pairs."""
    if obj is None:
        raise JobSpecError("the job has no pair allocation", "allocation")
    obj = _expect_dict(obj, "allocation")
    if obj.get("schema") == PLAN_SCHEMA or ("schema" in obj and "languages" in obj):
        if obj.get("schema") != PLAN_SCHEMA:
            raise JobSpecError(f"unsupported plan schema {obj.get('schema')!r} (expected {PLAN_SCHEMA})",
                               "allocation.schema")
        rows = obj.get("languages")
        if not isinstance(rows, list) or not rows:
            raise JobSpecError("the plan lists no languages", "allocation.languages")
        pairs: dict[str, Any] = {}
        for i, row in enumerate(rows):
            row = _expect_dict(row, f"allocation.languages.{i}")
            code = _lang_code(row.get("code"), f"allocation.languages.{i}.code")
            pairs[code] = row.get("pairs")
        where = "allocation.languages"
        items = [(code, value, f"{where}.{i}.pairs") for i, (code, value) in enumerate(pairs.items())]
    else:
        items = [(_lang_code(code, f"allocation.{code}"), value, f"allocation.{code}") for code, value in obj.items()]
    if not items:
        raise JobSpecError("the allocation is empty", "allocation")
    allocation = {}
    for code, value, path in items:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise JobSpecError(f"pairs must be a non-negative integer, got {value!r}", path)
        allocation[code] = value
    return allocation


def load_job_spec(job_dir: str | os.PathLike[str]) -> JobSpec:
    """Read and validate ``<job_dir>/job.json``."""
    path = Path(job_dir) / JOB_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise JobSpecError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise JobSpecError(f"{path} is not valid JSON ({exc})") from None
    return JobSpec.from_dict(obj)

