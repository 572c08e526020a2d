"""End to end: evaluate() on a tiny Llama sharded with FSDP2 over two gloo ranks (torchrun), against one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.contract import EventLog, read_events
from worker.evaluation import evaluate

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_two_rank_fsdp_evaluation_of_the_demo_sets_emits_every_metric_and_matches_one_process(
    tmp_path, tiny_llama_dir, tiny_llama, demo_eval_spec, comet_cache, sacrebleu_with_spm
):
    eval_spec = demo_eval_spec
    job = tmp_path / "job"
    job.mkdir()
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(eval_spec), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "LINGUATUNE_CACHE": str(comet_cache), "SACREBLEU": str(sacrebleu_with_spm)}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(HERE / "fsdp_eval_job.py"), str(tiny_llama_dir), str(job), str(spec_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-6000:])

    events = read_events(job / "events.jsonl")
    langs = sorted(eval_spec["translation"])
    translation = {(e["lang"], e["direction"], e["metric"]): e for e in events
                   if e.kind == "eval" and e.get("task") != "qa"}
    expected = {(lang, direction, metric) for lang in langs for direction in (f"en-{lang}", f"{lang}-en")
                for metric in ("comet", "spbleu", "chrf")}
    assert set(translation) == expected
    for key, event in translation.items():
        assert event["step"] == 5 and event["n"] == 6 and isinstance(event["value"], float)
        if key[2] == "comet":
            assert event["note"] == "pipeline-check" and event["comet_model"] == "tiny-local"
        if key[2] == "spbleu":
            assert event["tokenize"] == "flores200"
    qa = {(e["lang"], e["metric"]) for e in events if e.get("task") == "qa"}
    assert qa == {(lang, m) for lang in langs for m in ("qa_hit", "qa_em", "qa_f1")}
    alignment = [e for e in events if e.kind == "alignment"]
    assert sorted(e["metric"] for e in alignment) == ["parallel_margin", "retrieval_top1"]
    assert len(langs) == 6
    for event in alignment:
        assert event["langs"] == langs and event["layers"] == [0, 1, 2]
        assert len(event["matrix"]) == 3 and all(len(row) == len(langs) for row in event["matrix"])
    assert not [e for e in events if e.kind == "error"]

    # Both ranks made the same number of forward calls (the FSDP2 lockstep requirement); only rank 0 returned scores.
    ranks = [json.loads((job / f"rank-{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["forwards"] == ranks[1]["forwards"] > 0
    assert "translation" in ranks[0]["result_keys"] and ranks[1]["result_keys"] == []
    # ... and the sharded model still trains afterwards (no inference tensors left in FSDP2's buffers).
    assert all(r["grads_finite"] and r["train_loss"] > 0 for r in ranks)

    # The same evaluation in one process gives the same hypotheses and the same string metrics.
    single = tmp_path / "single"
    with EventLog(single / "events.jsonl") as log:
        model, tokenizer = tiny_llama
        result = evaluate(model, tokenizer, eval_spec, step=5, emit=log.emit, job_dir=single)
    for lang in langs:
        for direction in (f"en-{lang}", f"{lang}-en"):
            sharded = (job / "eval" / "step-5" / f"{direction}.jsonl").read_text(encoding="utf-8").splitlines()
            alone = (single / "eval" / "step-5" / f"{direction}.jsonl").read_text(encoding="utf-8").splitlines()
            assert [json.loads(r)["hypothesis"] for r in sharded] == [json.loads(r)["hypothesis"] for r in alone]
            for metric in ("spbleu", "chrf", "comet"):
                assert translation[(lang, direction, metric)]["value"] == pytest.approx(
                    result["translation"][lang][direction][metric], abs=1e-4)
