"""sacrebleu and COMET figures through worker.evaluation agree with the tools' own command lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval_data import PAIRS
from worker.evaluation.errors import CometUnavailableError
from worker.evaluation.metrics import CometScorer, available_spbleu_tokenizer, string_metrics

# Hypotheses with partial overlap, so BLEU and chrF are neither 0 nor 100.
ZH_HYPS = ["雨后河水涨了。", "她买了面包。", "火车七点出发。", "博物馆关门。", "孩子们学新词。", "图书馆借书给人。"]
EN_HYPS = ["The river rose after rain.", "She bought bread.", "The train leaves at seven.",
           "The museum is closed.", "Children learn words fast.", "The library lends books."]


def _write_lines(path: Path, lines) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _sacrebleu_cli(tmp_path: Path, refs, hyps, tokenize: str, folder: Path) -> dict:
    ref = _write_lines(tmp_path / "ref.txt", refs)
    hyp = _write_lines(tmp_path / "hyp.txt", hyps)
    env = {**os.environ, "SACREBLEU": str(folder), "SACREBLEU_FORMAT": "json"}
    out = subprocess.run(
        [sys.executable, "-m", "sacrebleu", str(ref), "-i", str(hyp), "-m", "bleu", "chrf", "--chrf-word-order", "2",
         "-tok", tokenize, "-w", "6", "-f", "json"],
        capture_output=True, text=True, env=env, check=True, timeout=120,
    )
    return {entry["name"]: entry["score"] for entry in json.loads(out.stdout)}


def test_spbleu_and_chrf_match_the_sacrebleu_cli(tmp_path, sacrebleu_with_spm):
    references = [zh for _, zh in PAIRS["zh"]]
    assert available_spbleu_tokenizer() == "flores200"
    scores, warnings = string_metrics(ZH_HYPS, references, "zh", ["spbleu", "chrf"])
    assert warnings == []
    ours = {s.metric: s.value for s in scores}
    cli = _sacrebleu_cli(tmp_path, references, ZH_HYPS, "flores200", sacrebleu_with_spm)
    assert 0 < ours["spbleu"] < 100 and 0 < ours["chrf"] < 100
    assert ours["spbleu"] == pytest.approx(cli["BLEU"], abs=1e-4)
    assert ours["chrf"] == pytest.approx(cli["chrF2++"], abs=1e-4)
    extra = {s.metric: s.extra for s in scores}["spbleu"]
    assert extra["tokenize"] == "flores200" and set(extra) == {"tokenize", "se"} and extra["se"] > 0


def test_without_the_flores_model_spbleu_is_skipped_with_a_reason_and_bleu_reported(tmp_path, sacrebleu_offline):
    references = [en for en, _ in PAIRS["zh"]]
    scores, warnings = string_metrics(EN_HYPS, references, "en", ["spbleu", "chrf"])
    assert len(warnings) == 1 and "spBLEU skipped" in warnings[0] and str(sacrebleu_offline) in warnings[0]
    by_metric = {s.metric: s for s in scores}
    assert "spbleu" not in by_metric
    assert by_metric["bleu"].extra["tokenize"] == "13a" and by_metric["bleu"].extra["se"] > 0
    cli = _sacrebleu_cli(tmp_path, references, EN_HYPS, "13a", sacrebleu_offline)
    assert by_metric["bleu"].value == pytest.approx(cli["BLEU"], abs=1e-4)
    assert by_metric["chrf"].value == pytest.approx(cli["chrF2++"], abs=1e-4)
    assert not list(sacrebleu_offline.rglob("*spm*")), "no download may be attempted"
    zh_scores, _ = string_metrics(ZH_HYPS, [zh for _, zh in PAIRS["zh"]], "zh", ["spbleu"])
    assert zh_scores[0].extra["tokenize"] == "zh"


def test_tiny_comet_through_our_scorer_matches_comet_score(tmp_path, comet_cache):
    sources = [en for en, _ in PAIRS["zh"]] + [en for en, _ in PAIRS["ar"]]
    references = [zh for _, zh in PAIRS["zh"]] + [ar for _, ar in PAIRS["ar"]]
    hypotheses = ZH_HYPS + [ar[: len(ar) // 2] for _, ar in PAIRS["ar"]]
    scorer = CometScorer.load("tiny-local")
    assert scorer.note == "pipeline-check"
    ours = scorer.score(sources, hypotheses, references, batch_size=5)
    ours_half = scorer.score(sources, hypotheses, references, batch_size=5, half=True)
    src, hyp, ref = (_write_lines(tmp_path / f"{n}.txt", lines)
                     for n, lines in (("src", sources), ("hyp", hypotheses), ("ref", references)))
    ckpt = comet_cache / "comet-tiny-v1" / "checkpoints" / "model.ckpt"
    out_json = tmp_path / "comet.json"
    subprocess.run(
        ["comet-score", "-s", str(src), "-t", str(hyp), "-r", str(ref), "--model", str(ckpt), "--gpus", "0",
         "--quiet", "--to_json", str(out_json)],
        check=True, capture_output=True, text=True, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )
    cli = [row["COMET"] for row in json.loads(out_json.read_text(encoding="utf-8"))[str(hyp)]]
    # comet-score runs the model in float16 (model.half()); so does our scorer with half=True (the CUDA default).
    assert ours_half == pytest.approx(cli, abs=1e-6)
    assert ours == pytest.approx(cli, abs=2e-3)
    print("max |ours_half - cli| =", max(abs(a - b) for a, b in zip(ours_half, cli)),
          "max |ours_fp32 - cli| =", max(abs(a - b) for a, b in zip(ours, cli)))
    assert len(set(round(v, 4) for v in ours)) > 1, "segment scores should differ between segments"


def test_tiny_comet_scores_a_perfect_copy_above_an_unrelated_sentence(comet_cache):
    scorer = CometScorer.load("tiny-local")
    refs = [en for en, _ in PAIRS["ar"]]
    unrelated = refs[1:] + refs[:1]
    perfect = scorer.score(refs, refs, refs)
    wrong = scorer.score(refs, unrelated, refs)
    assert sum(perfect) / len(perfect) > sum(wrong) / len(wrong)


def test_hub_comet_name_fails_with_one_clear_sentence_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CometUnavailableError) as info:
        CometScorer.load("Unbabel/wmt22-comet-da")
    message = str(info.value)
    assert "Unbabel/wmt22-comet-da" in message and "hub" in message and "\n" not in message


def test_missing_comet_checkpoint_path_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "model.ckpt"
    with pytest.raises(CometUnavailableError) as info:
        CometScorer.load(str(missing))
    assert str(missing) in str(info.value)
    broken = tmp_path / "broken" / "checkpoints" / "model.ckpt"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(CometUnavailableError) as info:
        CometScorer.load(str(broken))
    assert str(broken) in str(info.value)


def test_the_standard_error_is_the_spread_of_resampled_corpus_scores():
    """``se`` resamples sentence statistics; recomputing each resampled corpus from its strings gives the same."""
    import numpy as np
    from sacrebleu.metrics import CHRF

    from worker.evaluation.metrics import segment_bootstrap_se

    references = [zh for _, zh in PAIRS["zh"]]
    se = segment_bootstrap_se(CHRF(word_order=2), ZH_HYPS, references, resamples=50, seed=3)
    picks = np.random.default_rng(3).integers(0, len(ZH_HYPS), size=(50, len(ZH_HYPS)))
    direct = [CHRF(word_order=2).corpus_score([ZH_HYPS[i] for i in idx], [[references[i] for i in idx]]).score
              for idx in picks]
    assert se == pytest.approx(float(np.std(direct, ddof=1)), rel=1e-9) and se > 0
