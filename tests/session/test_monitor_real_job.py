"""The Qt-free monitoring model (studio.session.monitor) on the real demo job's events: what both faces show."""

from __future__ import annotations

import re

import numpy as np
import pytest

from studio.remote.registry import JobRegistry
from studio.session.monitor import (ConnectionState, JobModel, describe_event, digest_events, metric_label,
                                    model_from_events, scores_text)
from tests.infra.demo_job import DEMO_LANGUAGES, EVAL_STEPS
from worker.contract import DIRECTION_GROUPS, direction

pytestmark = pytest.mark.slow


@pytest.fixture
def model(demo_job_record):
    with JobRegistry() as registry:
        return model_from_events(registry.get(demo_job_record.id), registry.events(demo_job_record.id))


def last_value(events, metric, pair):
    return [e for e in events if e.kind == "eval" and e["metric"] == metric and e["direction"] == pair][-1]["value"]


def test_one_chart_per_group_shows_all_six_languages(model, real_demo_job):
    events = real_demo_job.events()
    assert model.languages() == list(DEMO_LANGUAGES)
    assert model.groups("chrf") == list(DIRECTION_GROUPS) == ["en-xx", "xx-en"]
    assert model.groups("comet") == ["en-xx", "xx-en"]
    for metric in ("chrf", "comet"):
        for group in DIRECTION_GROUPS:
            series = model.series(metric, group)
            assert sorted(series) == sorted(DEMO_LANGUAGES), (metric, group)
            for lang, (steps, values) in series.items():
                pair = direction("en", lang) if group == "en-xx" else direction(lang, "en")
                written = [e for e in events if e.kind == "eval" and e["metric"] == metric and e["direction"] == pair]
                assert steps == [float(s) for s in EVAL_STEPS] == [float(e["step"]) for e in written]
                assert values == pytest.approx([e["value"] for e in written])


@pytest.mark.parametrize("group", ["en-xx", "xx-en"])
def test_final_scores_per_language_and_direction(model, real_demo_job, group):
    events = real_demo_job.events()
    for metric in ("chrf", "comet"):
        scores = model.final_scores(metric, group)
        assert list(scores) == list(DEMO_LANGUAGES) or sorted(scores) == sorted(DEMO_LANGUAGES)
        for lang, value in scores.items():
            pair = direction("en", lang) if group == "en-xx" else direction(lang, "en")
            assert value == pytest.approx(last_value(events, metric, pair))
    assert model.final_scores("chrf", group) != model.final_scores("comet", group)


def test_the_pipeline_check_comet_stays_marked(model):
    assert model.is_pipeline_check("comet") and not model.is_pipeline_check("chrf")
    assert "comet" in model.metrics() and "chrf" in model.metrics()
    assert "pipeline" in metric_label("comet", pipeline_check=True).lower()
    lines = scores_text(model)
    comet = [line for line in lines if line.startswith("COMET")]
    assert len(comet) == 2 and all("pipeline" in line.lower() for line in comet)
    chrf = [line for line in lines if "chrF" in line]
    assert len(chrf) == 2 and not any("pipeline" in line.lower() for line in chrf)
    for line in comet + chrf:
        assert all(re.search(rf"\b{lang}\b", line) for lang in DEMO_LANGUAGES), line


def test_alignment_snapshots_are_layers_by_languages(model, real_demo_job):
    written = [e for e in real_demo_job.events() if e.kind == "alignment"]
    assert len(model.alignments) == len(written) > 0
    for snap, event in zip(model.alignments, written):
        assert snap.langs == list(DEMO_LANGUAGES) and snap.layers == event["layers"]
        assert snap.matrix.shape == (len(event["layers"]), len(DEMO_LANGUAGES))
        assert np.allclose(snap.matrix, np.asarray(event["matrix"]))
    assert sorted({s.step for s in model.alignments}) == list(EVAL_STEPS)


def test_progress_log_and_pairs_of_the_finished_job(model, real_demo_job):
    spec = real_demo_job.spec()
    train = [e for e in real_demo_job.events() if e.kind == "train"]
    assert list(model.train.column(0)) == [e["step"] for e in train]
    assert list(model.train.column(1)) == pytest.approx([e["loss"] for e in train])
    assert model.last_step == model.total_steps == spec["train"]["max_steps"]
    assert model.is_final and model.record.state == "finished"
    assert model.trained_pairs == spec["allocation"]
    assert model.eta() is None and "step 6/6" in model.progress_text()
    log = "\n".join(model.log_lines)
    assert "state → finished" in log and "done (exit code 0)" in log and "spBLEU skipped" in log
    assert "data:" in log and "pairs ar" in log


def test_following_in_batches_gives_the_same_model(model, real_demo_job):
    """A follower hands the model small batches; folding them in one by one ends where one digest does."""
    events = real_demo_job.events()
    record = model.record
    batched = JobModel(record)
    changed = set()
    for start in range(0, len(events), 7):
        changed |= batched.apply(digest_events(events[start:start + 7]))
    assert {"train", "eval", "alignment", "log"} <= changed
    assert batched.evals == model.evals
    assert batched.final_scores("chrf", "en-xx") == model.final_scores("chrf", "en-xx")
    assert len(batched.alignments) == len(model.alignments)
    assert batched.log_lines == model.log_lines
    assert batched.events_seen == len(events)


def test_describe_event_covers_the_log_kinds_the_worker_writes(real_demo_job):
    events = real_demo_job.events()
    plotted = {"train", "eval", "alignment"}
    for event in events:
        line = describe_event(event)
        if event.kind in plotted:
            assert line is None, event
        else:
            assert isinstance(line, str) and line.strip(), event
    done = [describe_event(e) for e in events if e.kind == "done"]
    assert done and "exit code 0" in done[0]


def test_connection_state_of_a_finished_history():
    assert ConnectionState.FINISHED.text == "finished" and not ConnectionState.FINISHED.is_trouble
    assert ConnectionState.LOST.is_trouble and ConnectionState("reconnecting") is ConnectionState.RECONNECTING
