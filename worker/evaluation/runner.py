"""``evaluate()``: one evaluation point of a training job (translation, QA, alignment), spread over the ranks.

Work split (decided with the training side): the model stays as the training loop holds it (FSDP2-sharded on every
rank, or a plain replica); all ranks build the same work list from rank 0's reading of the eval files, generate and
run alignment forwards on their share of length-sorted batches in lockstep, and COMET-score their share of segments
on their own device. Rank 0 gathers everything, computes the corpus metrics, writes ``eval/step-N/`` and emits the
events; other ranks return an empty dict.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from worker.contract import EVAL_DIR, write_json_atomic

from .alignment import ALIGNMENT_METRICS, layerwise_alignment
from .distributed import broadcast_from_rank0, distributed_active, gather_to_rank0
from .errors import CometUnavailableError, EvalInputError
from .generation import greedy_generate
from .metrics import CometScorer, string_metrics
from .prompts import qa_prompt, translation_prompt_function
from .qa import score_qa
from .settings import FLORES_PREFIX, GENERATED_PREFIX, EvalSettings, resolve_eval_path
from .sources import ParallelSet, QAItem, generated_parallel_set, read_flores, read_parallel_tsv, read_qa_jsonl

Emit = Callable[..., Any]


def evaluate(model: Any, tokenizer: Any, eval_spec: Any, *, step: int, emit: Emit, job_dir: str | os.PathLike[str],
             rank: int = 0, world_size: int = 1, device: Any = None) -> dict:
    """Evaluate ``model`` at ``step``; every rank must call it. Returns the scores on rank 0, ``{}`` elsewhere."""
    settings = EvalSettings.from_spec(eval_spec)
    started = time.time()
    if device is None:
        device = next(model.parameters()).device
    warnings: list[dict] = []

    def warn(message: str, **fields: Any) -> None:
        warnings.append({"message": message, **fields})
        if rank == 0:
            emit("log", level="warning", message=message, step=step, **fields)

    # Rank 0 reads the files and hands the same sets to everyone, so all ranks build identical work lists.
    loaded = _load_sets(settings, job_dir) if rank == 0 else None
    parallel_sets, qa_sets, load_warnings = broadcast_from_rank0(loaded, rank, world_size)
    for item in load_warnings:
        warn(**item)

    # One generation pass over every request, so batches are length-sorted across languages and directions.
    make_prompt = translation_prompt_function()
    requests: list[tuple[str, str, int]] = []  # (task, lang or direction, index)
    prompts: list[str] = []
    for lang, pairs in parallel_sets.items():
        for direction, sources in ((f"en-{lang}", pairs.english), (f"{lang}-en", pairs.foreign)):
            src, tgt = direction.split("-")
            for i, text in enumerate(sources):
                requests.append(("translation", direction, i))
                prompts.append(make_prompt(src, tgt, text))
    for lang, items in qa_sets.items():
        for i, item in enumerate(items):
            requests.append(("qa", lang, i))
            prompts.append(qa_prompt(lang, item.context, item.question))
    generation_started = time.time()
    was_training = getattr(model, "training", False)
    model.eval()
    local_answers = greedy_generate(model, tokenizer, prompts, batch_size=settings.batch_size,
                                    max_new_tokens=settings.max_new_tokens, device=device, rank=rank,
                                    world_size=world_size)
    shares = gather_to_rank0(local_answers, rank, world_size)
    generation_seconds = time.time() - generation_started
    answers: dict[int, str] = {}
    for share in shares or []:
        answers.update(share)

    hypotheses: dict[str, list[str]] = {}
    qa_predictions: dict[str, list[str]] = {}
    if rank == 0:
        for k, (task, key, i) in enumerate(requests):
            target = hypotheses if task == "translation" else qa_predictions
            target.setdefault(key, []).append(answers[k])

    comet_scores, comet_note = _comet_scores(settings, parallel_sets, hypotheses, rank=rank, world_size=world_size,
                                             device=device, warn=warn)

    results: dict[str, Any] = {}
    out_dir = Path(job_dir) / EVAL_DIR / f"step-{step}"
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        results["translation"] = _score_translation(settings, parallel_sets, hypotheses, comet_scores, comet_note,
                                                    step=step, emit=emit, warn=warn, out_dir=out_dir)
        results["qa"] = _score_qa(qa_sets, qa_predictions, step=step, emit=emit, out_dir=out_dir)

    if settings.alignment_enabled:
        pairs = {lang: list(zip(s.english, s.foreign)) for lang, s in parallel_sets.items()}
        alignment = layerwise_alignment(model, tokenizer, pairs, batch_size=settings.batch_size,
                                        max_sentences=settings.alignment_max_sentences, device=device,
                                        rank=rank, world_size=world_size,
                                        include_special=settings.alignment_include_special)
        if rank == 0 and alignment is not None:
            if alignment.langs:
                results["alignment"] = {"langs": alignment.langs, "layers": alignment.layers, "n": alignment.n}
                for metric in ALIGNMENT_METRICS:
                    matrix = alignment.matrix(metric)
                    results["alignment"][metric] = matrix
                    emit("alignment", step=step, metric=metric, langs=alignment.langs, layers=alignment.layers,
                         matrix=matrix, n=alignment.n)
            else:
                warn("alignment skipped: no language has at least two parallel eval sentences.", metric="alignment")
    if was_training:
        model.train()

    if rank != 0:
        return {}
    results.update(
        step=step, comet_model=settings.comet_model, comet_note=comet_note, warnings=warnings,
        generation_seconds=round(generation_seconds, 3), seconds=round(time.time() - started, 3),
        world_size=world_size,
    )
    write_json_atomic(out_dir / "scores.json", results)
    return results


def evaluate_alignment(model: Any, tokenizer: Any, eval_spec: Any, *, step: int, emit: Emit,
                       job_dir: str | os.PathLike[str], rank: int = 0, world_size: int = 1, device: Any = None
                       ) -> dict:
    """Only the layer-wise alignment of an eval point (``linguatune-worker align``), whatever eval.alignment says."""
    settings = EvalSettings.from_spec(eval_spec)
    loaded = _load_sets(settings, job_dir) if rank == 0 else None
    parallel_sets, _qa_sets, load_warnings = broadcast_from_rank0(loaded, rank, world_size)
    if rank == 0:
        for item in load_warnings:
            if item.get("metric") == "translation":
                emit("log", level="warning", step=step, **item)
    model.eval()
    pairs = {lang: list(zip(s.english, s.foreign)) for lang, s in parallel_sets.items()}
    result = layerwise_alignment(model, tokenizer, pairs, batch_size=settings.batch_size,
                                 max_sentences=settings.alignment_max_sentences, device=device, rank=rank,
                                 world_size=world_size, include_special=settings.alignment_include_special)
    if rank != 0 or result is None:
        return {}
    if not result.langs:
        emit("log", level="warning", step=step, metric="alignment",
             message="alignment skipped: no language has at least two parallel eval sentences.")
        return {}
    out = {"step": step, "langs": result.langs, "layers": result.layers, "n": result.n}
    for metric in ALIGNMENT_METRICS:
        out[metric] = result.matrix(metric)
        emit("alignment", step=step, metric=metric, langs=result.langs, layers=result.layers,
             matrix=result.matrix(metric), n=result.n)
    out_dir = Path(job_dir) / EVAL_DIR / f"step-{step}"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / "alignment.json", out)
    return out


# ------------------------------------------------------------------------------------------------------------------
def _load_sets(settings: EvalSettings, job_dir: Any) -> tuple[dict[str, ParallelSet], dict[str, list[QAItem]], list]:
    warnings: list[dict] = []
    parallel: dict[str, ParallelSet] = {}
    for lang, path in settings.translation.items():
        if not path:
            warnings.append({"message": f"no translation eval set for {lang}; its translation metrics are skipped.",
                             "lang": lang, "metric": "translation"})
            continue
        try:
            if path.startswith(GENERATED_PREFIX):
                parallel[lang] = generated_parallel_set(lang, limit=settings.max_segments)
                continue
            if path.startswith(FLORES_PREFIX):
                where = json.loads(path[len(FLORES_PREFIX):])
                parallel[lang] = read_flores(resolve_eval_path(where["dir"], job_dir), where["split"], lang,
                                             where.get("code"), limit=settings.max_segments)
                continue
            parallel[lang] = read_parallel_tsv(resolve_eval_path(path, job_dir), lang, limit=settings.max_segments)
        except EvalInputError as exc:
            warnings.append({"message": f"{exc} Translation metrics for {lang} are skipped.", "lang": lang,
                             "metric": "translation", "source": exc.source})
    for lang in settings.languages:
        if lang not in settings.translation:
            warnings.append({"message": f"no translation eval set for {lang}; its translation metrics are skipped.",
                             "lang": lang, "metric": "translation"})
    qa: dict[str, list[QAItem]] = {}
    for lang, path in settings.qa.items():
        if not path:
            warnings.append({"message": f"no QA eval set for {lang}; its QA metrics are skipped.", "lang": lang,
                             "metric": "qa"})
            continue
        try:
            qa[lang] = read_qa_jsonl(resolve_eval_path(path, job_dir), lang, limit=settings.max_segments)
        except EvalInputError as exc:
            warnings.append({"message": f"{exc} QA metrics for {lang} are skipped.", "lang": lang, "metric": "qa",
                             "source": exc.source})
    return parallel, qa, warnings


def _comet_scores(settings: EvalSettings, parallel_sets: dict[str, ParallelSet], hypotheses: dict[str, list[str]],
                  *, rank: int, world_size: int, device: Any, warn: Callable[..., None]
                  ) -> tuple[dict[str, list[float]] | None, str | None]:
    """Segment COMET scores per direction (rank 0), each rank scoring every world_size-th segment."""
    if "comet" not in settings.metrics or not parallel_sets:
        return None, None
    if not settings.comet_model:
        warn("COMET skipped: the job spec names no comet_model (use a hub name, a checkpoint path or tiny-local).",
             metric="comet")
        return None, None
    # Everyone needs the hypotheses; rank 0 is the only one that has them.
    segments = None
    if rank == 0:
        segments = []
        for lang, pairs in parallel_sets.items():
            for direction, src, ref in ((f"en-{lang}", pairs.english, pairs.foreign),
                                        (f"{lang}-en", pairs.foreign, pairs.english)):
                segments.extend((direction, s, h, r) for s, h, r in zip(src, hypotheses[direction], ref))
    segments = broadcast_from_rank0(segments, rank, world_size)
    scorer, problem = None, None
    try:
        scorer = CometScorer.cached(settings.comet_model)
    except CometUnavailableError as exc:
        problem = str(exc)
    problems = gather_to_rank0(problem, rank, world_size)
    first_problem = next((p for p in problems if p), None) if problems is not None else None
    first_problem = broadcast_from_rank0(first_problem, rank, world_size)
    if first_problem:
        warn(f"COMET skipped: {first_problem}", metric="comet", comet_model=settings.comet_model)
        return None, None
    mine = list(range(rank, len(segments), max(1, world_size))) if distributed_active(world_size) \
        else list(range(len(segments)))
    values = scorer.score([segments[i][1] for i in mine], [segments[i][2] for i in mine],
                          [segments[i][3] for i in mine], batch_size=max(8, settings.batch_size), device=device)
    shares = gather_to_rank0(dict(zip(mine, values)), rank, world_size)
    if rank != 0:
        return None, scorer.note
    by_index: dict[int, float] = {}
    for share in shares:
        by_index.update(share)
    per_direction: dict[str, list[float]] = {}
    for i, (direction, *_rest) in enumerate(segments):
        per_direction.setdefault(direction, []).append(by_index[i])
    return per_direction, scorer.note


def _score_translation(settings: EvalSettings, parallel_sets: dict[str, ParallelSet],
                       hypotheses: dict[str, list[str]], comet_scores: dict[str, list[float]] | None,
                       comet_note: str | None, *, step: int, emit: Emit, warn: Callable[..., None],
                       out_dir: Path) -> dict:
    results: dict[str, dict] = {}
    warned: set[str] = set()
    for lang, pairs in parallel_sets.items():
        results[lang] = {}
        for direction, sources, references, target_lang in (
            (f"en-{lang}", pairs.english, pairs.foreign, lang),
            (f"{lang}-en", pairs.foreign, pairs.english, "en"),
        ):
            hyps = hypotheses[direction]
            seg_comet = comet_scores.get(direction) if comet_scores else None
            rows = [{"source": s, "reference": r, "hypothesis": h} for s, r, h in zip(sources, references, hyps)]
            if seg_comet:
                for row, value in zip(rows, seg_comet):
                    row["comet"] = value
            _write_jsonl_atomic(out_dir / f"{direction}.jsonl", rows)
            scores, metric_warnings = string_metrics(hyps, references, target_lang, settings.metrics)
            for message in metric_warnings:
                if message not in warned:  # one warning per eval point, not one per direction
                    warned.add(message)
                    warn(message, metric="spbleu")
            direction_scores: dict[str, float] = {}
            if seg_comet:
                extra = {"comet_model": settings.comet_model}
                if comet_note:
                    extra["note"] = comet_note
                value = sum(seg_comet) / len(seg_comet)
                direction_scores["comet"] = value
                emit("eval", step=step, lang=lang, direction=direction, metric="comet", value=value,
                     n=len(seg_comet), **extra)
            for score in scores:
                direction_scores[score.metric] = score.value
                emit("eval", step=step, lang=lang, direction=direction, metric=score.metric, value=score.value,
                     n=score.n, **score.extra)
            results[lang][direction] = direction_scores
    return results


def _score_qa(qa_sets: dict[str, list[QAItem]], predictions: dict[str, list[str]], *, step: int, emit: Emit,
              out_dir: Path) -> dict:
    results: dict[str, dict] = {}
    for lang, items in qa_sets.items():
        preds = predictions[lang]
        answers = [item.answers for item in items]
        scores = score_qa(preds, answers, lang)
        _write_jsonl_atomic(out_dir / f"qa-{lang}.jsonl", [
            {"id": item.id, "question": item.question, "answers": item.answers, "prediction": pred}
            for item, pred in zip(items, preds)
        ])
        results[lang] = {"qa_hit": scores.hit, "qa_em": scores.exact_match, "qa_f1": scores.f1}
        for metric, value in results[lang].items():
            emit("eval", step=step, lang=lang, direction=lang, metric=metric, value=value, n=scores.n, task="qa")
    return results


def _write_jsonl_atomic(path: Path, rows: list[dict]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
