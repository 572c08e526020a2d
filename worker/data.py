"""The training data mixture of cross-lingual instruction tuning, and its batching.

English instructions + translated instructions + English→X parallel pairs framed as translation instructions
(REFERENCE.md), each source loaded Arrow-backed with ``datasets`` (never a Python list of everything), cleaned
(exact duplicates removed, too-long examples dropped), pairs subset to the allocation (seeded random or prefix),
tokenised in the Alpaca format with the loss on response + EOS only. Batching packs examples into rows of
``max_length`` tokens with per-example position ids; transformers' Llama derives a block-diagonal causal mask from
position ids that restart at 0 (when no 2D attention mask and no KV cache are given), so no example attends to
another.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from worker.contract import DataSource, JobSpec
from worker.prompt import PREAMBLE_NO_INPUT, PREAMBLE_WITH_INPUT, alpaca_prompt  # noqa: F401 (re-exported)

ENGLISH = "en"
SOURCE_KINDS = ("english_instructions", "translated_instructions", "pairs")

# --------------------------------------------------------------------------------------------------------------
# Prompts
# --------------------------------------------------------------------------------------------------------------


# Training rotates through these; evaluation always uses the first (EVAL_PHRASING).
TRANSLATION_PHRASINGS = (
    "Translate the following sentence from {src} into {tgt}.",
    "Render this {src} text in {tgt}.",
    "What is the {tgt} translation of the {src} sentence below?",
    "Give a faithful {tgt} version of the following {src} text.",
    "Convert the {src} input into fluent {tgt}.",
    "Please translate from {src} to {tgt}.",
)
EVAL_PHRASING = 0

_FALLBACK_NAMES = (
    "an:Aragonese|ar:Arabic|arz:Egyptian Arabic|az:Azerbaijani|ba:Bashkir|bar:Bavarian|be:Belarusian|bg:Bulgarian|"
    "bn:Bengali|br:Breton|bs:Bosnian|ca:Catalan|ceb:Cebuano|cs:Czech|da:Danish|de:German|el:Greek|en:English|"
    "eo:Esperanto|es:Spanish|et:Estonian|eu:Basque|fa:Persian|fi:Finnish|fo:Faroese|fr:French|fy:Western Frisian|"
    "gl:Galician|he:Hebrew|hi:Hindi|hr:Croatian|hu:Hungarian|id:Indonesian|io:Ido|is:Icelandic|it:Italian|"
    "ja:Japanese|jv:Javanese|ka:Georgian|kk:Kazakh|ko:Korean|la:Latin|lb:Luxembourgish|lmo:Lombard|lt:Lithuanian|"
    "mg:Malagasy|mk:Macedonian|ml:Malayalam|mr:Marathi|mwl:Mirandese|nds:Low German|nds_nl:Dutch Low Saxon|"
    "ne:Nepali|nl:Dutch|no:Norwegian|oc:Occitan|pl:Polish|pt:Portuguese|ro:Romanian|ru:Russian|sh:Serbo-Croatian|"
    "si:Sinhala|sk:Slovak|sl:Slovenian|sq:Albanian|sr:Serbian|sv:Swedish|sw:Swahili|ta:Tamil|te:Telugu|tg:Tajik|"
    "tl:Tagalog|tr:Turkish|tt:Tatar|ug:Uyghur|uk:Ukrainian|vi:Vietnamese|wuu:Wu Chinese|zh:Chinese"
)


@lru_cache(maxsize=1)
def language_names() -> dict[str, str]:
    """English names by catalogue code: ``resources/languages.tsv`` when present, else a built-in copy."""
    from worker.demoworld import NAMES as DEMO_NAMES

    names = dict(item.split(":", 1) for item in _FALLBACK_NAMES.split("|"))
    names.update(DEMO_NAMES)
    try:
        from worker.resources import resource_path

        path = resource_path("languages.tsv")
        header: list[str] | None = None
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("#") or not line.strip():
                    continue
                cells = line.rstrip("\n").split("\t")
                if header is None:
                    header = cells
                    continue
                row = dict(zip(header, cells))
                if row.get("code") and row.get("name"):
                    names[row["code"]] = row["name"]
    except (OSError, FileNotFoundError):
        pass
    return names


def language_name(code: str) -> str:
    """English name of a language code (the code itself when unknown)."""
    return language_names().get(code, code)


def translation_instruction(src_lang: str, tgt_lang: str, phrasing: int = EVAL_PHRASING) -> str:
    template = TRANSLATION_PHRASINGS[phrasing % len(TRANSLATION_PHRASINGS)]
    return template.format(src=language_name(src_lang), tgt=language_name(tgt_lang))


def translation_prompt(src_lang: str, tgt_lang: str, text: str) -> str:
    """The fixed evaluation prompt asking to translate ``text`` from ``src_lang`` to ``tgt_lang`` (codes)."""
    return alpaca_prompt(translation_instruction(src_lang, tgt_lang, EVAL_PHRASING), text)


# --------------------------------------------------------------------------------------------------------------
# Loading sources
# --------------------------------------------------------------------------------------------------------------
class DataError(RuntimeError):
    """A data source that cannot be used (missing file, missing column, no usable rows)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def resolve_data_path(path: str, base_dir: Path) -> Path:
    """See ``worker.resources.resolve_job_path`` (one rule for data and evaluation files)."""
    from worker.resources import resolve_job_path

    return resolve_job_path(path, base_dir)


def _generated(source: DataSource, *, kind: str, lang: str, where: str):
    """A generator source (the demo world) as a ``datasets.Dataset`` in the standard columns."""
    import datasets

    from worker import demoworld

    try:
        if kind == "pairs":
            rows = demoworld.pairs(lang, source.split)
            return datasets.Dataset.from_dict({"src": [s for s, _ in rows], "tgt": [t for _, t in rows]})
        records = demoworld.instructions(lang)
    except KeyError as exc:
        raise DataError(f"the {source.generator} generator has no language {lang!r} "
                        f"({', '.join(demoworld.LANGUAGES)})", where) from exc
    return datasets.Dataset.from_dict({k: [r[k] for r in records] for k in ("instruction", "input", "output")})


def load_source(source: DataSource, *, kind: str, lang: str, base_dir: Path, cache_dir: Path, where: str):
    """One source as an Arrow-backed ``datasets.Dataset`` with the columns ``instruction, input, output`` (for
    instructions) or ``src, tgt`` (for pairs)."""
    import datasets

    try:
        if source.generator is not None:
            return _generated(source, kind=kind, lang=lang, where=where)
        if source.path is not None and source.format in ("wikimatrix", "moses"):
            return _published_pairs(source, lang=lang, base_dir=base_dir, cache_dir=cache_dir, where=where)
        if source.path is not None:
            path = resolve_data_path(source.path, base_dir)
            if not path.is_file():
                raise DataError(f"the data file {path} does not exist", f"{where}.path")
            builder, extra = {
                "json": ("json", {}), "jsonl": ("json", {}), "parquet": ("parquet", {}),
                "csv": ("csv", {}), "tsv": ("csv", {"delimiter": "\t", "quoting": 3}),
            }[source.format or "jsonl"]
            if builder == "csv":
                extra["keep_default_na"] = False
            ds = datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=str(cache_dir), **extra)
        else:
            ds = datasets.load_dataset(source.hub, source.config, split=source.split, revision=source.revision,
                                       cache_dir=str(cache_dir))
    except DataError:
        raise
    except Exception as exc:  # datasets raises many types for one cause (missing, offline, malformed)
        raise DataError(f"the {kind.replace('_', ' ')} source {source.describe()!r} could not be read: "
                        f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
                        where) from exc
    if any("." in f for f in source.fields.values()):
        ds = ds.flatten()
    if kind == "pairs":
        wanted = {"src": source.fields.get("source", ENGLISH), "tgt": source.fields.get("target", lang)}
    else:
        wanted = {name: source.fields.get(name, name) for name in ("instruction", "input", "output")}
    columns = set(ds.column_names)
    for out_name, column in wanted.items():
        if column not in columns and not (out_name == "input" and "input" not in source.fields):
            raise DataError(f"{source.describe()} has no column {column!r} (columns: {', '.join(sorted(columns))}); "
                            f"map it in 'fields'", f"{where}.fields")
    if kind != "pairs" and wanted["input"] not in columns:
        ds = ds.add_column("input", [""] * len(ds)) if len(ds) < 1_000_000 else ds.map(lambda b: {"input": [""] * len(
            next(iter(b.values())))}, batched=True)
        wanted["input"] = "input"

    def standardise(batch: dict[str, list]) -> dict[str, list]:
        out = {}
        for name, column in wanted.items():
            out[name] = [("" if v is None else str(v)).strip() for v in batch[column]]
        return out

    ds = ds.map(standardise, batched=True, remove_columns=ds.column_names, desc=f"reading {where}")
    return ds


_WIKIMATRIX_NAME = re.compile(r"wikimatrix\.([a-z_]+)-([a-z_]+)\.tsv", re.IGNORECASE)


def _published_pairs(source: DataSource, *, lang: str, base_dir: Path, cache_dir: Path, where: str):
    """Pairs in the layouts corpora are published in, as a ``src, tgt`` dataset:

    - ``wikimatrix``: the release TSV, ``score<TAB>l1 sentence<TAB>l2 sentence`` without a header, the two
      languages in the file name's order (``WikiMatrix.ar-en.tsv``: Arabic first); rows under ``min_score`` go;
    - ``moses``: OPUS twin files ``<path>.en`` and ``<path>.<lang>`` (``.gz`` too), line i of one translating line
      i of the other; their line counts must agree."""
    import datasets

    path = resolve_data_path(source.path, base_dir)
    if source.format == "wikimatrix":
        if not path.is_file():
            raise DataError(f"the data file {path} does not exist", f"{where}.path")
        found = _WIKIMATRIX_NAME.search(path.name)
        order = [found.group(1).lower(), found.group(2).lower()] if found else []
        src_col = source.fields.get("source") or ({"en": "first"}.get(order[0]) if order else None) or (
            "second" if order and order[1] == ENGLISH else None)
        if src_col not in ("first", "second"):
            raise DataError(f"cannot tell which column of {path.name} is English (the file name is not "
                            f"WikiMatrix.<l1>-<l2>.tsv with en as one of them); set fields.source to 'first' or "
                            f"'second'", f"{where}.fields")
        tgt_col = "second" if src_col == "first" else "first"
        if order and order[0 if tgt_col == "first" else 1] != lang:
            raise DataError(f"{path.name} holds {order[0]}-{order[1]} pairs, not {lang}", f"{where}.path")
        ds = datasets.load_dataset("csv", data_files=str(path), split="train", cache_dir=str(cache_dir),
                                   delimiter="\t", quoting=3, column_names=["score", "first", "second"],
                                   keep_default_na=False,
                                   features=datasets.Features({"score": datasets.Value("float64"),
                                                               "first": datasets.Value("string"),
                                                               "second": datasets.Value("string")}))
        if source.min_score is not None:
            floor = float(source.min_score)
            ds = ds.filter(lambda b: [float(v) >= floor for v in b["score"]], batched=True,
                           desc=f"margin score >= {floor:g} in {where}")
        return ds.map(lambda b: {"src": [str(v).strip() for v in b[src_col]],
                                 "tgt": [str(v).strip() for v in b[tgt_col]]},
                      batched=True, remove_columns=ds.column_names, desc=f"reading {where}")
    twins = []
    for code in (ENGLISH, lang):
        candidates = [Path(f"{path}.{code}"), Path(f"{path}.{code}.gz")]
        twin = next((c for c in candidates if c.is_file()), None)
        if twin is None:
            raise DataError(f"the Moses twin file {candidates[0]} does not exist (a moses source names the common "
                            f"prefix of its .{ENGLISH} and .{lang} files)", f"{where}.path")
        twins.append(twin)
    counts = [_count_lines(twin) for twin in twins]
    if counts[0] != counts[1]:
        raise DataError(f"the Moses twin files of {path.name} differ in length ({counts[0]:,} {ENGLISH} lines, "
                        f"{counts[1]:,} {lang} lines): they are not aligned", f"{where}.path")

    def pairs():
        with _open_text(twins[0]) as en, _open_text(twins[1]) as xx:
            for src, tgt in zip(en, xx):
                yield {"src": src.rstrip("\n").strip(), "tgt": tgt.rstrip("\n").strip()}

    # Streamed into Arrow in the cache (an OPUS corpus may have millions of lines); split on "\n" only, as Moses
    # files are: a stray carriage return inside a line must not shift every pair after it.
    return datasets.Dataset.from_generator(pairs, cache_dir=str(cache_dir),
                                           features=datasets.Features({"src": datasets.Value("string"),
                                                                       "tgt": datasets.Value("string")}))


def _open_text(path: Path):
    import gzip

    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    return open(path, encoding="utf-8", newline="\n")


def _count_lines(path: Path) -> int:
    with _open_text(path) as fh:
        return sum(1 for _ in fh)


def _dedupe(ds, columns: tuple[str, ...]):
    """Keep the first of each exact duplicate (by a 64-bit hash of the columns, grouped in Arrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def digest(batch: dict[str, list]) -> dict[str, list]:
        hashes = []
        for values in zip(*(batch[c] for c in columns)):
            h = hashlib.blake2b("\x1f".join(values).encode("utf-8"), digest_size=8).digest()
            hashes.append(int.from_bytes(h, "little") >> 1)
        return {"_hash": hashes}

    hashed = ds.map(digest, batched=True, remove_columns=ds.column_names, desc="hashing")
    table = pa.table({"h": hashed.data.column("_hash"), "i": pa.array(np.arange(len(hashed), dtype=np.int64))})
    keep = table.group_by("h").aggregate([("i", "min")]).column("i_min")
    keep = np.sort(pc.cast(keep, pa.int64()).to_numpy())
    removed = len(ds) - len(keep)
    return (ds.select(keep) if removed else ds), removed


# --------------------------------------------------------------------------------------------------------------
# The mixture
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Mixture:
    """The tokenised training examples (Arrow) and the data report (per source and language)."""

    dataset: Any  # datasets.Dataset with input_ids, prompt_len, length, source, lang
    report: dict[str, Any]


def _tokenise_fn(tokenizer, max_length: int, kind: str, lang: str, seed: int) -> Callable:
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id]

    def tokenise(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        if kind == "pairs":
            prompts = []
            for idx, src in zip(indices, batch["src"]):
                phrasing = int.from_bytes(hashlib.blake2b(f"{seed}:{lang}:{idx}".encode(), digest_size=4).digest(),
                                          "little")
                prompts.append(alpaca_prompt(translation_instruction(ENGLISH, lang, phrasing), src))
            responses = batch["tgt"]
        else:
            prompts = [alpaca_prompt(i, x) for i, x in zip(batch["instruction"], batch["input"])]
            responses = batch["output"]
        prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
        response_ids = tokenizer(list(responses), add_special_tokens=False)["input_ids"]
        ids, plen, lengths = [], [], []
        for p, r in zip(prompt_ids, response_ids):
            full = bos + p + r + eos
            ids.append(full)
            plen.append(len(bos) + len(p))
            lengths.append(len(full))
        n = len(ids)
        return {"input_ids": ids, "prompt_len": plen, "length": lengths, "source": [kind] * n, "lang": [lang] * n}

    return tokenise


def _token_features():
    import datasets

    return datasets.Features({
        "input_ids": datasets.Sequence(datasets.Value("int32")), "prompt_len": datasets.Value("int32"),
        "length": datasets.Value("int32"), "source": datasets.Value("string"), "lang": datasets.Value("string"),
    })


def _prepare(ds, *, kind: str, lang: str, tokenizer, spec: JobSpec, report: dict, where: str):
    """Dedupe, tokenise and length-filter one source; returns the tokenised dataset."""
    columns = ("src", "tgt") if kind == "pairs" else ("instruction", "input", "output")
    key = f"{kind}:{lang}"
    entry = report.setdefault(key, {"source": kind, "lang": lang})
    entry["rows"] = len(ds)
    needed = ("src", "tgt") if kind == "pairs" else ("instruction", "output")
    ds = ds.filter(lambda b: [all(b[c][i] for c in needed) for i in range(len(b[needed[0]]))], batched=True,
                   desc=f"dropping empty rows of {where}")
    entry["empty"] = entry["rows"] - len(ds)
    ds, removed = _dedupe(ds, columns)
    entry["duplicates"] = removed
    max_length = spec.train.max_length
    ds = ds.map(_tokenise_fn(tokenizer, max_length, kind, lang, spec.train.seed), batched=True, with_indices=True,
                remove_columns=ds.column_names, features=_token_features(), desc=f"tokenising {where}")
    # Longer than max_length: truncated to it, as the paper did (the tail of the target and its EOS go), not
    # dropped: the LLaMA tokenizer inflates ar/el/hi text, so dropping would remove the longest instructions of
    # exactly those languages. Dropped only when not one target token would remain (the prompt fills the window).
    lengths = np.asarray(ds["length"], dtype=np.int64)
    prompts = np.asarray(ds["prompt_len"], dtype=np.int64)
    keep = np.minimum(lengths, max_length) > prompts
    entry["truncated"] = int(((lengths > max_length) & keep).sum())
    entry["too_long"] = int((~keep).sum())  # the prompt alone fills max_length: nothing to learn from
    if not keep.all():
        ds = ds.select(np.flatnonzero(keep))
    if entry["truncated"]:
        def truncate(batch):
            ids = [row[:max_length] for row in batch["input_ids"]]
            return {"input_ids": ids, "length": [len(row) for row in ids]}

        ds = ds.map(truncate, batched=True, desc=f"truncating {where} to {max_length} tokens")
    return ds


def _subset(ds, n: int, *, mode: str, seed: int, lang: str):
    if n >= len(ds):
        return ds
    if mode == "prefix":
        return ds.select(range(n))
    rng = np.random.default_rng([seed, int.from_bytes(lang.encode()[:8].ljust(8, b"\0"), "little")])
    chosen = np.sort(rng.choice(len(ds), size=n, replace=False))
    return ds.select(chosen)


def build_mixture(spec: JobSpec, tokenizer, *, base_dir: Path, cache_dir: Path,
                  log: Callable[[str], None] = lambda message: None) -> Mixture:
    """Build the tokenised mixture of ``spec`` (CoIT: one language; MuIT: the union over its languages)."""
    import datasets

    datasets.disable_progress_bars()

    cache_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, dict[str, Any]] = {}
    parts = []
    plan: list[tuple[str, str, DataSource, str]] = []
    if spec.data.english_instructions is not None:
        plan.append(("english_instructions", ENGLISH, spec.data.english_instructions,
                     "data.english_instructions"))
    for lang in spec.languages:
        if lang in spec.data.translated_instructions:
            plan.append(("translated_instructions", lang, spec.data.translated_instructions[lang],
                         f"data.translated_instructions.{lang}"))
        if lang in spec.data.pairs and spec.allocation.get(lang, 0) > 0:
            plan.append(("pairs", lang, spec.data.pairs[lang], f"data.pairs.{lang}"))
    for kind, lang, source, where in plan:
        raw = load_source(source, kind=kind, lang=lang, base_dir=base_dir, cache_dir=cache_dir, where=where)
        ds = _prepare(raw, kind=kind, lang=lang, tokenizer=tokenizer, spec=spec, report=report, where=where)
        entry = report[f"{kind}:{lang}"]
        if kind == "pairs":
            wanted = spec.allocation[lang]
            entry["allocated"] = wanted
            if len(ds) == 0:
                raise DataError(f"language {lang!r} has no usable parallel pairs in {source.describe()}",
                                f"{where}")
            if len(ds) < wanted:
                log(f"{lang}: {wanted} pairs allocated but only {len(ds)} usable pairs exist; using all of them")
            ds = _subset(ds, wanted, mode=spec.train.subset, seed=spec.train.seed, lang=lang)
        elif len(ds) == 0:
            raise DataError(f"the {kind.replace('_', ' ')} source {source.describe()} has no usable rows", where)
        entry["examples"] = len(ds)
        parts.append(ds)
    if not parts:
        raise DataError("the job has no training data", "data")
    mixture = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    lengths = column_array(mixture, "length")
    prompt = column_array(mixture, "prompt_len")
    offset = 0
    for part, (kind, lang, _src, _where) in zip(parts, plan):
        n = len(part)
        entry = report[f"{kind}:{lang}"]
        entry["tokens"] = int(lengths[offset:offset + n].sum())
        entry["target_tokens"] = int((lengths[offset:offset + n] - prompt[offset:offset + n]).sum())
        offset += n
    summary = {
        "sources": list(report.values()),
        "examples": len(mixture),
        "tokens": int(lengths.sum()),
        "target_tokens": int((lengths - prompt).sum()),
    }
    return Mixture(mixture, summary)


def column_array(ds, name: str) -> np.ndarray:
    """One numeric column of a dataset as a numpy array (only that column is read)."""
    return np.asarray(ds.select_columns([name]).with_format("numpy")[:][name])


def mixture_fingerprint(spec: JobSpec, tokenizer, base_dir: Path | None = None) -> str:
    """A key for the cached mixture: changes with the data sources (and local files' size and mtime), allocation,
    seed and tokeniser."""
    files = []
    sources = [spec.data.english_instructions, *spec.data.translated_instructions.values(), *spec.data.pairs.values()]
    for source in sources:
        if source is not None and source.path is not None and base_dir is not None:
            base = resolve_data_path(source.path, base_dir)
            # A moses source names the prefix of its twin files: those are what change.
            paths = sorted(base.parent.glob(base.name + ".*")) if source.format == "moses" else [base]
            for one in paths:
                try:
                    st = one.stat()
                    files.append([str(one), st.st_size, st.st_mtime_ns])
                except OSError:
                    files.append([str(one), None, None])
    vocab_digest = hashlib.sha1(json.dumps(sorted(tokenizer.get_vocab().items())[:5000]).encode()).hexdigest()
    key = {
        "data": spec.data.to_dict(), "allocation": spec.allocation, "languages": spec.languages,
        "seed": spec.train.seed, "subset": spec.train.subset, "max_length": spec.train.max_length,
        "tokenizer": [type(tokenizer).__name__, len(tokenizer), vocab_digest], "prompt": [PREAMBLE_WITH_INPUT, PREAMBLE_NO_INPUT, alpaca_prompt("i", "x")],
        "phrasings": TRANSLATION_PHRASINGS, "files": files, "version": 1,
    }
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def save_mixture(mixture: Mixture, target: Path) -> None:
    """Write the mixture (Arrow) and its report to ``target`` atomically (temp folder, then rename)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    mixture.dataset.save_to_disk(str(tmp))
    (tmp / "report.json").write_text(json.dumps(mixture.report), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


def load_mixture(target: Path) -> Mixture | None:
    import datasets

    if not (target / "report.json").is_file():
        return None
    return Mixture(datasets.load_from_disk(str(target)), json.loads((target / "report.json").read_text("utf-8")))


# --------------------------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------------------------
PACKING_WINDOW = 4096


def epoch_rows(lengths: np.ndarray, *, max_length: int, packing: bool, seed: int, epoch: int) -> list[np.ndarray]:
    """The rows of one epoch, each an array of example indices. Examples are shuffled (seeded by epoch); with
    packing, each window of shuffled examples is packed best-fit-decreasing into rows of at most ``max_length``
    tokens and the rows shuffled; without packing, each row holds one example."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    if not packing:
        return [np.array([i]) for i in order]
    rows: list[np.ndarray] = []
    for start in range(0, len(order), PACKING_WINDOW):
        window = order[start:start + PACKING_WINDOW]
        window = window[np.argsort(-lengths[window], kind="stable")]
        bins: list[list[int]] = []
        free: list[tuple[int, int]] = []  # (remaining capacity, bin id), sorted
        for idx in window:
            need = int(lengths[idx])
            pos = bisect.bisect_left(free, (need, -1))
            if pos < len(free):
                remaining, bin_id = free.pop(pos)
                bins[bin_id].append(int(idx))
                bisect.insort(free, (remaining - need, bin_id))
            else:
                bins.append([int(idx)])
                bisect.insort(free, (max_length - need, len(bins) - 1))
        for b in rng.permutation(len(bins)):
            rows.append(np.array(bins[b], dtype=np.int64))
    return rows


@dataclass
class Batch:
    """One micro-batch as tensors; ``real_tokens`` / ``input_ids.numel()`` is the share of real (non-pad) tokens."""

    input_ids: Any
    labels: Any
    position_ids: Any | None
    attention_mask: Any | None
    real_tokens: int
    target_tokens: int

    def model_inputs(self, device) -> dict[str, Any]:
        out = {"input_ids": self.input_ids.to(device), "use_cache": False}
        if self.position_ids is not None:
            out["position_ids"] = self.position_ids.to(device)
        if self.attention_mask is not None:
            out["attention_mask"] = self.attention_mask.to(device)
        return out


def collate(examples: list[list[dict[str, Any]]], *, pad_id: int, packed: bool, pad_to: int | None = None) -> Batch:
    """Turn rows (lists of tokenised examples) into a batch. Packed: rows concatenated with position ids restarting
    at 0 for each example (no 2D attention mask, so the model isolates them); padded: one example per row, padded
    to the longest with a 2D attention mask. Labels are -100 on prompts and padding."""
    import torch

    width = max(sum(len(e["input_ids"]) for e in row) for row in examples)
    if pad_to is not None:
        width = max(width, pad_to)
    n = len(examples)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    labels = torch.full((n, width), -100, dtype=torch.long)
    positions = torch.zeros((n, width), dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    real = target = 0
    for r, row in enumerate(examples):
        cursor = 0
        for example in row:
            ids = example["input_ids"]
            k = len(ids)
            p = example["prompt_len"]
            input_ids[r, cursor:cursor + k] = torch.tensor(ids)
            labels[r, cursor + p:cursor + k] = torch.tensor(ids[p:])
            positions[r, cursor:cursor + k] = torch.arange(k)
            mask[r, cursor:cursor + k] = 1
            cursor += k
            real += k
            target += k - p
        # padding continues as its own segment starting at 0, so it never joins the last example
        positions[r, cursor:] = torch.arange(width - cursor)
    if packed:
        return Batch(input_ids, labels, positions, None, real, target)
    return Batch(input_ids, labels, None, mask, real, target)
