"""The evaluate/align commands on a job directory (final model and a DCP checkpoint), doctor_report, the COMET lock."""

from __future__ import annotations

import argparse
import fcntl
import json
import shutil
import threading
import time

import torch

from worker.contract import EventLog, read_events
from worker.evaluation.cli import add_commands, doctor_report, load_job_model
from worker.evaluation.comet_tiny import ensure_tiny_comet, tiny_comet_dir

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2}


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="linguatune-worker")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def _job(tmp_path, eval_spec, tiny_llama_dir=None):
    job = tmp_path / "job"
    job.mkdir()
    spec = dict(eval_spec, metrics=["chrf"], comet_model=None, max_new_tokens=4, qa={})
    (job / "job.json").write_text(json.dumps({"model": {"tiny": TINY}, "eval": spec}), encoding="utf-8")
    if tiny_llama_dir is not None:
        shutil.copytree(tiny_llama_dir, job / "final")
    return job


def test_evaluate_command_scores_the_final_model_and_continues_the_event_log(tmp_path, eval_spec, tiny_llama_dir,
                                                                              capsys):
    job = _job(tmp_path, eval_spec, tiny_llama_dir)
    with EventLog(job / "events.jsonl") as log:
        log.emit("train", step=7, loss=1.0)
    assert _run("evaluate", str(job)) == 0
    events = read_events(job / "events.jsonl")
    first = events[0].seq
    assert events[0].kind == "train" and [e.seq for e in events] == list(range(first, first + len(events)))
    scored = {(e["lang"], e["direction"]) for e in events if e.kind == "eval"}
    assert scored == {("ar", "en-ar"), ("ar", "ar-en"), ("zh", "en-zh"), ("zh", "zh-en")}
    assert all(e["step"] == 7 for e in events if e.kind in ("eval", "alignment"))
    assert (job / "eval" / "step-7" / "scores.json").is_file()
    printed = json.loads(capsys.readouterr().out)
    assert printed["step"] == 7 and set(printed["translation"]) == {"ar", "zh"}


def test_align_command_writes_alignment_events_only(tmp_path, eval_spec, tiny_llama_dir):
    job = _job(tmp_path, eval_spec, tiny_llama_dir)
    assert _run("align", str(job)) == 0
    events = read_events(job / "events.jsonl")
    assert {e.kind for e in events} == {"alignment"}
    assert all(len(e["matrix"]) == 3 and len(e["matrix"][0]) == 2 for e in events)


def test_checkpoint_model_is_loaded_from_its_dcp_shards(tmp_path, eval_spec):
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    from worker.contract import ModelSpec
    from worker.model import load_model_and_tokenizer

    job = _job(tmp_path, eval_spec)
    model, _ = load_model_and_tokenizer(ModelSpec.from_dict({"tiny": TINY}))
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.5)  # differ from the freshly built (seeded) weights
    dcp.save({"model": get_model_state_dict(model)}, checkpoint_id=str(job / "checkpoints" / "step-0000003"))
    loaded, _, step = load_job_model(job, json.loads((job / "job.json").read_text()), checkpoint=3)
    assert step == 3
    for (name, saved), restored in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(saved, restored), name
    assert _run("evaluate", str(job), "--checkpoint", "3") == 0
    assert {e["step"] for e in read_events(job / "events.jsonl") if e.kind == "eval"} == {3}


def test_missing_model_or_checkpoint_exits_2_with_one_sentence(tmp_path, eval_spec, capsys):
    job = _job(tmp_path, eval_spec)
    assert _run("evaluate", str(job)) == 2
    assert "final" in capsys.readouterr().err
    assert _run("evaluate", str(job), "--checkpoint", "9") == 2
    err = capsys.readouterr().err
    assert "step-0000009" in err and err.count("\n") == 1
    assert _run("align", str(tmp_path / "nojob")) == 2
    assert "job.json" in capsys.readouterr().err


def test_doctor_report_says_what_evaluation_can_use(tmp_path, monkeypatch, sacrebleu_offline, comet_cache_root):
    monkeypatch.setenv("LINGUATUNE_CACHE", str(tmp_path / "empty-cache"))
    report = doctor_report()
    assert report["comet"]["importable"] is True and report["comet"]["version"] == "2.2.7"
    assert report["tiny_comet"]["cached"] is False
    assert report["sacrebleu"]["offline_tokenizers"]["flores200"] is False
    assert report["sacrebleu"]["spbleu"] is False and report["sacrebleu"]["offline_tokenizers"]["13a"] is True
    monkeypatch.setenv("LINGUATUNE_CACHE", str(comet_cache_root))
    assert doctor_report()["tiny_comet"]["cached"] is True


def test_a_waiting_builder_reuses_the_checkpoint_another_process_built(tmp_path, comet_cache_root):
    root = tmp_path / "cache"
    root.mkdir()
    final = tiny_comet_dir(root)
    result = {}
    with open(root / f"{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # stands for a rank that is building right now
        waiter = threading.Thread(target=lambda: result.setdefault("path", ensure_tiny_comet(root)))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive(), "the second builder must wait for the lock"
        shutil.copytree(tiny_comet_dir(comet_cache_root), final)
        fcntl.flock(lock, fcntl.LOCK_UN)
    waiter.join(timeout=60)
    assert result["path"] == final / "checkpoints" / "model.ckpt"
    assert sorted(p.name for p in root.iterdir()) == [final.name, f"{final.name}.lock"]
