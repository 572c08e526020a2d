"""What the real demo job fixture promises (tests/infra/demo_job.py), and the CLI's printers on its output.

The studio's tests read this job instead of events written by hand, so the worker's side of the seam is pinned
here: eval events name the real pair (``direction="en-ar"``, ``lang="ar"``), the tiny COMET carries
``note="pipeline-check"``, alignment events carry a layers x languages matrix.
"""

from __future__ import annotations

import json
import math

import pytest

from tests.infra.demo_job import DEMO_LANGUAGES, EVAL_STEPS, demo_job
from worker.contract import (DIRECTION_GROUPS, PIPELINE_CHECK_NOTE, direction, direction_group, is_pipeline_check,
                             read_events)

pytestmark = pytest.mark.slow

DIRECTIONS = {(lang, d) for lang in DEMO_LANGUAGES for d in (direction("en", lang), direction(lang, "en"))}


def evals(job, metric=None):
    return [e for e in job.events() if e.kind == "eval" and (metric is None or e["metric"] == metric)]


def test_the_job_ran_to_the_end_through_the_local_launcher(real_demo_job):
    job = real_demo_job
    assert (job.job_dir / "exit_code").read_text().strip() == "0"
    events = job.events()
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs)) and seqs[0] == 0
    assert events[-1].kind == "done" and events[-1]["exit_code"] == 0
    states = [e["state"] for e in events if e.kind == "status"]
    assert states[-1] == "finished" and "running" in states and "evaluating" in states
    assert [e["step"] for e in events if e.kind == "train"] == list(range(1, EVAL_STEPS[-1] + 1))
    spec = job.spec()
    assert spec["languages"] == list(DEMO_LANGUAGES) and set(spec["allocation"]) == set(DEMO_LANGUAGES)
    assert spec["launcher"]["kind"] == "local"
    # The plan's allocation really reached the data: the worker's data event reports what it took per language.
    (data,) = [e for e in events if e.kind == "data"]
    pairs = {s["lang"]: s["examples"] for s in data["sources"] if s["source"] == "pairs"}
    assert pairs == spec["allocation"]
    record = job.record()
    assert record.state == "finished" and record.exit_code == 0 and record.launcher == "local"
    assert record.remote_dir == str(job.job_dir)
    assert [item["code"] for item in record.plan_summary["languages"]] == list(DEMO_LANGUAGES)


def test_eval_events_cover_six_languages_in_both_directions_at_two_steps(real_demo_job):
    for metric in ("chrf", "comet"):
        found = {}
        for event in evals(real_demo_job, metric):
            found.setdefault((event["lang"], event["direction"]), []).append(event["step"])
            assert direction_group(event["direction"]) in DIRECTION_GROUPS
            assert event["lang"] in event["direction"].split("-") and event["lang"] != "en"
            assert math.isfinite(event["value"]) and event["n"] > 0
        assert set(found) == DIRECTIONS, metric
        assert all(steps == list(EVAL_STEPS) for steps in found.values()), found
    groups = {direction_group(e["direction"]) for e in evals(real_demo_job)}
    assert groups == set(DIRECTION_GROUPS)


def test_the_tiny_comet_is_marked_pipeline_check_and_nothing_else_is(real_demo_job):
    comet = evals(real_demo_job, "comet")
    assert comet and all(e.get("note") == PIPELINE_CHECK_NOTE and is_pipeline_check(e.data) for e in comet)
    assert all(e.get("comet_model") == "tiny-local" for e in comet)
    others = [e for e in evals(real_demo_job) if e["metric"] != "comet"]
    assert others and not any(is_pipeline_check(e.data) for e in others)


def test_alignment_events_carry_a_layers_by_languages_matrix(real_demo_job):
    alignment = [e for e in real_demo_job.events() if e.kind == "alignment"]
    assert alignment
    assert {e["step"] for e in alignment} == set(EVAL_STEPS)
    for event in alignment:
        assert event["langs"] == list(DEMO_LANGUAGES)
        matrix = event["matrix"]
        assert len(matrix) == len(event["layers"]) >= 2
        assert all(len(row) == len(DEMO_LANGUAGES) for row in matrix)
        assert all(math.isfinite(v) for row in matrix for v in row)


def test_eval_folder_holds_scores_and_predictions_per_step(real_demo_job):
    for step in EVAL_STEPS:
        folder = real_demo_job.job_dir / "eval" / f"step-{step}"
        scores = json.loads((folder / "scores.json").read_text())
        assert scores["step"] == step and scores["comet_note"] == PIPELINE_CHECK_NOTE
        assert set(scores["translation"]) == set(DEMO_LANGUAGES)
        for _lang, pair in DIRECTIONS:
            rows = (folder / f"{pair}.jsonl").read_text(encoding="utf-8").splitlines()
            assert rows and all({"source", "reference", "hypothesis"} <= set(json.loads(r)) for r in rows)
    assert (real_demo_job.job_dir / "final").is_dir()


def test_the_real_follower_stored_every_event_in_the_registry(real_demo_job):
    on_disk = [e.to_dict() for e in real_demo_job.events()]
    assert [e.to_dict() for e in real_demo_job.registry_events()] == on_disk


def test_copies_and_registrations_leave_the_cache_alone(real_demo_job, tmp_path):
    from studio.remote.registry import JobRegistry

    before = (real_demo_job.job_dir / "events.jsonl").read_bytes()
    copy = real_demo_job.copy_to(tmp_path)
    assert copy != real_demo_job.job_dir and (copy / "events.jsonl").read_bytes() == before
    assert not (copy / "cache").exists()
    (copy / "events.jsonl").write_text("")  # a test may do what it likes with its copy
    assert (real_demo_job.job_dir / "events.jsonl").read_bytes() == before
    other = real_demo_job.copy_to(tmp_path / "again")
    with JobRegistry(tmp_path / "registry.sqlite3") as registry:
        record = real_demo_job.register(registry, other)
        assert record.remote_dir == str(other) and record.state == "finished" and record.exit_code == 0
        assert registry.event_count(record.id) == len(read_events(other / "events.jsonl"))
        assert record.last_seq == real_demo_job.events()[-1].seq
        assert record.offset == (other / "events.jsonl").stat().st_size
    assert real_demo_job.record().remote_dir == str(real_demo_job.job_dir)


def test_the_cache_is_reused(real_demo_job):
    again = demo_job()
    assert again.reused and again.job_dir == real_demo_job.job_dir and again.key == real_demo_job.key


def test_follow_prints_the_real_history(demo_job_record, capsys):
    """``linguatune follow`` on a finished real job: every eval event shows its pair; --json is the file."""
    from pathlib import Path

    from studio.cli import main

    on_disk = read_events(Path(demo_job_record.remote_dir) / "events.jsonl")
    assert main(["follow", demo_job_record.id, "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == [e.to_dict() for e in on_disk]

    assert main(["follow", demo_job_record.id]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    for _lang, pair in DIRECTIONS:
        mine = [line for line in lines if pair in line]
        assert any("chrf" in line.lower() for line in mine), pair
        comet = [line for line in mine if "comet" in line.lower()]
        assert comet and all("pipeline" in line.lower() for line in comet), comet


def test_the_demo_printer_on_the_real_events(real_demo_job):
    """``linguatune demo``'s live printer: each pair's scores, the pipeline-check COMET marked as such."""
    import io

    from studio.commands.demo import ProgressPrinter

    out = io.StringIO()
    printer = ProgressPrinter(every_s=0.0, stream=out)
    for event in real_demo_job.events():
        printer.show(event)
    lines = out.getvalue().splitlines() + printer.summary().splitlines()
    for _lang, pair in DIRECTIONS:
        assert any(pair in line and "chrf" in line.lower() for line in lines), pair
    comet = [line for line in lines if "comet" in line.lower() and "eval" in line]
    assert comet and all("pipeline" in line.lower() for line in comet), comet[:3]
    assert "Training loss" in printer.summary()
    # The real run printed through the same printer while it followed the job.
    assert all(pair in real_demo_job.cli_output for _lang, pair in DIRECTIONS)
