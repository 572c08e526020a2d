"""Bad eval inputs give one clear warning naming the file and the problem, and skip the metric (never a silent 0)."""

from __future__ import annotations

import json

import pytest

from worker.contract import EventLog, read_events
from worker.evaluation import EvalInputError, evaluate
from worker.evaluation.sources import read_parallel_pair, read_parallel_tsv, read_qa_jsonl


def test_reader_messages_name_the_file_and_the_problem(tmp_path):
    cases = {
        "missing.tsv": (None, "does not exist"),
        "empty.tsv": ("", "is empty"),
        "header.tsv": ("english\tzh\nHi\t你好\n", "header"),
        "columns.tsv": ("en\tzh\nHi\t你好\nOnly one column\n", "line 3"),
        "header-only.tsv": ("en\tzh\n", "no sentence pairs"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_text(content, encoding="utf-8")
        with pytest.raises(EvalInputError) as info:
            read_parallel_tsv(path, "zh")
        assert str(path) in str(info.value) and expected in str(info.value), name
        assert info.value.source == str(path)


def test_twin_files_with_different_line_counts_are_rejected(tmp_path):
    src, tgt = tmp_path / "src.en", tmp_path / "tgt.zh"
    src.write_text("a\nb\nc\n", encoding="utf-8")
    tgt.write_text("甲\n乙\n", encoding="utf-8")
    with pytest.raises(EvalInputError, match="different line counts"):
        read_parallel_pair(src, tgt, "zh")


def test_qa_records_without_answers_are_rejected(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"id": "1", "context": "c", "question": "q", "answers": []}) + "\n", encoding="utf-8")
    with pytest.raises(EvalInputError, match="no gold answer"):
        read_qa_jsonl(path, "en")
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(EvalInputError, match="line 1"):
        read_qa_jsonl(path, "en")


def test_evaluate_warns_and_skips_bad_sets_and_an_unloadable_comet(tmp_path, tiny_llama, eval_spec,
                                                                   sacrebleu_offline):
    model, tokenizer = tiny_llama
    broken = tmp_path / "en-ar.tsv"
    broken.write_text("en\tar\nHello\tمرحبا\nno tab here\n", encoding="utf-8")
    empty = tmp_path / "en-hi.tsv"
    empty.write_text("", encoding="utf-8")
    missing_comet = tmp_path / "no-such-comet" / "checkpoints" / "model.ckpt"
    spec = dict(eval_spec)
    spec.update(
        comet_model=str(missing_comet), max_new_tokens=4, qa={},
        translation={"ar": {"path": str(broken)}, "hi": {"path": str(empty)}, "el": None,
                     "zh": eval_spec["translation"]["zh"]},
        alignment={"enabled": False},
    )
    job = tmp_path / "job"
    with EventLog(job / "events.jsonl") as log:
        result = evaluate(model, tokenizer, spec, step=1, emit=log.emit, job_dir=job)
    events = read_events(job / "events.jsonl")
    warnings = [e["message"] for e in events if e.kind == "log" and e.get("level") == "warning"]
    assert any(str(broken) in w and "line 3" in w for w in warnings)
    assert any(str(empty) in w and "empty" in w for w in warnings)
    assert any("no translation eval set for el" in w for w in warnings)
    assert any("COMET skipped" in w and str(missing_comet) in w for w in warnings)
    assert any("spBLEU skipped" in w for w in warnings)
    assert all("\n" not in w for w in warnings)
    scored = {(e["lang"], e["direction"], e["metric"]) for e in events if e.kind == "eval"}
    # Only the good language is scored, with the metrics that could run; nothing is reported for the others.
    assert scored == {("zh", d, m) for d in ("en-zh", "zh-en") for m in ("bleu", "chrf")}
    assert set(result["translation"]) == {"zh"}
    assert (job / "eval" / "step-1" / "scores.json").is_file()
    saved = json.loads((job / "eval" / "step-1" / "scores.json").read_text(encoding="utf-8"))
    assert len(saved["warnings"]) == len(warnings)
