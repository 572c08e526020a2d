"""End to end on CPU with real torch FSDP2 over gloo under torchrun: a run to completion, SIGKILL then resume with
the identical loss trajectory, SIGTERM, and failures that end in an error event and a non-zero exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
import torch

from worker.contract import EVENTS_FILE, FINAL_DIR, read_events, read_status
from worker.demo import demo_spec

from tests.worker.jobkit import (
    exit_code, launch, losses_by_step, make_job, run_to_end, small_job, wait_for_event, write_small_data,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_small_data(tmp_path_factory.mktemp("worker-data"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data):
    """An uninterrupted 2-rank run of the small job (10 optimizer steps, checkpoints every 4)."""
    job = make_job(tmp_path_factory.mktemp("jobs"), "reference", small_job(data))
    code = run_to_end(job)
    return job, code


def _seqs_are_continuous(job):
    seqs = [e.seq for e in read_events(job / EVENTS_FILE)]
    return seqs == list(range(len(seqs)))


def test_two_rank_run_finishes_with_falling_loss(reference):
    job, code = reference
    events = read_events(job / EVENTS_FILE)
    assert code == 0, (job.parent / "reference.launcher.log").read_text()[-3000:]
    assert exit_code(job) == 0
    assert events[-1].kind == "done" and events[-1]["exit_code"] == 0
    train = [e for e in events if e.kind == "train"]
    assert [e["step"] for e in train] == list(range(1, 11))
    losses = [e["loss"] for e in train]
    assert sum(losses[-3:]) / 3 < 0.75 * losses[0]
    for e in train:
        assert {"epoch", "lr", "tokens", "tokens_per_s", "grad_norm"} <= set(e.data)
        assert e["real_token_share"] >= 0.85
    data = next(e for e in events if e.kind == "data")
    assert {(s["source"], s["lang"]): s["examples"] for s in data["sources"]}[("pairs", "ar")] == 120
    assert [e["step"] for e in events if e.kind == "checkpoint" and not e.get("final")] == [4, 8]
    states = [e["state"] for e in events if e.kind == "status"]
    assert states[0] == "starting" and states[-1] == "finished" and "running" in states
    status = read_status(job)
    assert status["state"] == "finished" and status["step"] == 10 and len(status["pids"]) == 2
    assert _seqs_are_continuous(job)


def test_final_model_is_in_save_pretrained_layout(reference):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    job, _ = reference
    model = AutoModelForCausalLM.from_pretrained(job / FINAL_DIR)
    tok = AutoTokenizer.from_pretrained(job / FINAL_DIR)
    ids = tok("### Response:\n", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.isfinite(model(ids).logits).all()
    assert tok.decode(tok("héllo 你好", add_special_tokens=False).input_ids) == "héllo 你好"


def test_sigkill_then_resume_gives_the_identical_loss_trajectory(reference, data, tmp_path):
    ref_job, _ = reference
    job = make_job(tmp_path, "killed", small_job(data))
    proc = launch(job)
    try:
        wait_for_event(job, lambda e: e.kind == "train" and e["step"] >= 6, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = read_events(job / EVENTS_FILE)
    assert before[-1].kind != "done"
    assert run_to_end(job) == 0
    events = read_events(job / EVENTS_FILE)
    assert _seqs_are_continuous(job) and len(events) > len(before)
    resumed = [e for e in events if e.kind == "status" and "resumed_from_step" in e.data]
    assert len(resumed) == 1 and resumed[0]["resumed_from_step"] in (4, 8)
    assert losses_by_step(job) == losses_by_step(ref_job)
    # the steps trained twice (after the checkpoint, before the kill) gave the same losses both times
    first = {e["step"]: e["loss"] for e in before if e.kind == "train"}
    assert all(losses_by_step(ref_job)[s] == loss for s, loss in first.items())
    assert exit_code(job) == 0


def test_sigterm_checkpoints_and_exits_cancelled(data, tmp_path):
    job = make_job(tmp_path, "terminated", small_job(data))
    proc = launch(job)
    try:
        wait_for_event(job, lambda e: e.kind == "train" and e["step"] >= 2, proc)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    events = read_events(job / EVENTS_FILE)
    assert exit_code(job) == 143
    assert events[-1].kind == "done" and events[-1]["exit_code"] == 143
    stopped_at = events[-1]["step"]
    assert 2 <= stopped_at < 10
    assert [e["step"] for e in events if e.kind == "checkpoint"][-1] == stopped_at
    assert read_status(job)["state"] == "cancelled"
    assert (job / "checkpoints" / "latest").read_text().strip() == f"step-{stopped_at:07d}"


def test_demo_job_trains_on_two_ranks(tmp_path):
    spec = demo_spec({"train.max_steps": 6, "eval.at_end": False, "train.checkpoint_every_steps": 0})
    job = make_job(tmp_path, "demo", spec)
    assert run_to_end(job) == 0
    train = [e for e in read_events(job / EVENTS_FILE) if e.kind == "train"]
    assert len(train) == 6 and train[-1]["loss"] < train[0]["loss"]
    data = next(e for e in read_events(job / EVENTS_FILE) if e.kind == "data")
    langs = {s["lang"] for s in data["sources"] if s["source"] == "pairs"}
    assert langs == {"ar", "el", "hi", "tr", "vi", "zh"}


@pytest.mark.parametrize("nproc", [2])
def test_missing_data_file_is_an_error_event_and_nonzero_exit(data, tmp_path, nproc):
    spec = small_job(data)
    spec["data"]["pairs"]["zh"]["path"] = str(tmp_path / "nowhere" / "en-zh.tsv")
    job = make_job(tmp_path, "missing", spec)
    code = run_to_end(job, nproc=nproc, timeout=180)
    assert code != 0
    events = read_events(job / EVENTS_FILE)
    errors = [e for e in events if e.kind == "error"]
    assert len(errors) == 1
    assert "nowhere/en-zh.tsv" in errors[0]["message"] and "data.pairs.zh" in errors[0]["message"]
    assert "Traceback" in errors[0]["traceback"]
    assert exit_code(job) == 1 and events[-1].kind == "done" and events[-1]["exit_code"] == 1
    assert read_status(job)["state"] == "failed"


def test_unloadable_model_is_an_error_event(data, tmp_path):
    spec = small_job(data)
    spec["model"] = {"name_or_path": str(tmp_path / "no-such-model")}
    job = make_job(tmp_path, "nomodel", spec)
    assert run_to_end(job, nproc=1, timeout=120) == 1
    errors = [e for e in read_events(job / EVENTS_FILE) if e.kind == "error"]
    assert len(errors) == 1 and "could not be loaded" in errors[0]["message"]
    assert exit_code(job) == 1


def test_invalid_spec_exits_2_with_the_field(data, tmp_path):
    spec = small_job(data)
    spec["train"]["learning_rate"] = "fast"
    job = make_job(tmp_path, "badspec", spec)
    assert run_to_end(job, nproc=1, timeout=120) == 2
    errors = [e for e in read_events(job / EVENTS_FILE) if e.kind == "error"]
    assert "train.learning_rate" in errors[0]["message"] and exit_code(job) == 2


def test_cli_demo_writes_a_valid_job(tmp_path):
    out = subprocess.run(["linguatune-worker", "demo", str(tmp_path / "d")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    spec = json.loads((tmp_path / "d" / "job.json").read_text())
    assert spec["schema"] == "linguatune.job/1" and spec["model"]["tiny"]
    again = subprocess.run(["linguatune-worker", "demo", str(tmp_path / "d")], capture_output=True, text=True)
    assert again.returncode == 2 and "already exists" in again.stderr
