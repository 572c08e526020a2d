"""Measurements from a finished real demo job (studio.session.measurements): the refit path on worker output.

chrF gives one row per language with the pairs the worker trained on; the demo's COMET comes from the tiny
pipeline-check model and is refused in one sentence.
"""

from __future__ import annotations

import re

import pytest

from studio.errors import LinguaTuneError
from studio.planning.fitting import load_measurements
from studio.remote.registry import JobRegistry
from studio.session.measurements import (measurements_from_job_dir, measurements_from_registry, merge_into_file)
from tests.infra.demo_job import DEMO_LANGUAGES
from worker.contract import direction

pytestmark = pytest.mark.slow


def trained_pairs(job):
    (data,) = [e for e in job.events() if e.kind == "data"]
    return {s["lang"]: s["examples"] for s in data["sources"] if s["source"] == "pairs"}


def final(job, metric, pair):
    return [e for e in job.events() if e.kind == "eval" and e["metric"] == metric and e["direction"] == pair][-1]


def one_sentence(text: str) -> bool:
    return "\n" not in text and text.rstrip().endswith(".") and not re.search(r"[.!?]\s+[A-Z]", text)


@pytest.mark.parametrize("group", ["en-xx", "xx-en"])
def test_chrf_gives_one_row_per_language_with_the_pairs_trained(real_demo_job, demo_job_dir, group):
    rows = measurements_from_job_dir(demo_job_dir, metric="chrf", group=group)
    assert sorted(r.language for r in rows) == sorted(DEMO_LANGUAGES)
    pairs = trained_pairs(real_demo_job)
    assert pairs == real_demo_job.spec()["allocation"]
    for row in rows:
        pair = direction("en", row.language) if group == "en-xx" else direction(row.language, "en")
        assert row.pairs == pairs[row.language]
        assert row.score == pytest.approx(final(real_demo_job, "chrf", pair)["value"])
        assert row.metric == "chrf" and row.job_id == real_demo_job.job_id


def test_the_registry_gives_the_same_rows_as_the_job_directory(demo_job_record, demo_job_dir):
    with JobRegistry() as registry:
        from_registry = measurements_from_registry(registry, demo_job_record.id, metric="chrf", group="en-xx")
    from_dir = measurements_from_job_dir(demo_job_dir, metric="chrf", group="en-xx")
    assert sorted(from_registry, key=lambda r: r.language) == sorted(from_dir, key=lambda r: r.language)


@pytest.mark.parametrize("options", [{"metric": "comet"}, {"metric": "comet", "group": "xx-en"}, {}])
def test_the_pipeline_check_comet_is_refused_in_one_sentence(demo_job_dir, demo_job_record, options):
    with pytest.raises(LinguaTuneError) as caught:
        measurements_from_job_dir(demo_job_dir, **options)
    message = str(caught.value)
    assert "pipeline" in message.lower() and one_sentence(message), message
    with JobRegistry() as registry, pytest.raises(LinguaTuneError) as again:
        measurements_from_registry(registry, demo_job_record.id, **options)
    assert str(again.value) == message


def test_chrf_rows_become_a_measurements_file(demo_job_dir, tmp_path):
    rows = measurements_from_job_dir(demo_job_dir, metric="chrf", group="en-xx")
    target = merge_into_file(None, rows, tmp_path / "measurements.csv")
    points = load_measurements(target)
    assert sorted((p.language, p.pairs) for p in points) == sorted((r.language, float(r.pairs)) for r in rows)
