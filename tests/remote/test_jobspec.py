"""Plan -> job.json: the worker's own validation, the demo's scaled allocation, presets, overrides, data."""

from __future__ import annotations

import pytest

from studio.planning.plan import make_plan
from studio.remote.jobspec import JobSpecBuildError, build_job_spec, scale_allocation
from worker.contract import JobSpec


def test_demo_keeps_the_plans_proportions_on_the_shipped_sample():
    plan = make_plan(["ar", "hi", "zh"], "600k").to_dict()
    spec = build_job_spec(plan, preset="demo", name="t", launcher={"kind": "local", "nodes": 1, "gpus_per_node": 0})
    JobSpec.from_dict(spec)  # the worker accepts it as is
    assert spec["languages"] == ["ar", "hi", "zh"] and spec["mode"] == "muit"
    demo_total = sum(build_job_spec(None)["allocation"].values())
    assert sum(spec["allocation"].values()) == demo_total
    planned = {row["code"]: row["pairs"] for row in plan["languages"]}
    for code, pairs in spec["allocation"].items():
        assert pairs == pytest.approx(planned[code] * demo_total / sum(planned.values()), abs=1)
    # Sources and eval sets of languages outside the plan are dropped, so the job reads only what it trains.
    assert set(spec["data"]["pairs"]) == {"ar", "hi", "zh"}
    assert set(spec["eval"]["translation"]) <= {"ar", "hi", "zh"}
    assert spec["launcher"]["kind"] == "local"


def test_one_language_is_a_coit_job():
    spec = build_job_spec(make_plan(["vi"], 1000).to_dict())
    assert spec["mode"] == "coit" and list(spec["allocation"]) == ["vi"]


def test_scaling_sums_exactly_and_keeps_every_planned_language():
    scaled = scale_allocation({"a": 1, "b": 10_000, "c": 333}, 900)
    assert sum(scaled.values()) in (900, 901) and all(v >= 1 for v in scaled.values())


def test_errors_name_the_problem():
    with pytest.raises(JobSpecBuildError, match="sample data only for .*plan also names de"):
        build_job_spec(make_plan(["de", "ar"], 1000).to_dict())
    with pytest.raises(JobSpecBuildError, match="preset names no data"):
        build_job_spec(make_plan(["ar"], 1000).to_dict(), preset="llama-7b-8xa100")
    with pytest.raises(JobSpecBuildError, match="at train.epochs"):
        build_job_spec(None, overrides={"train.epochs": -1})
    with pytest.raises(JobSpecBuildError, match="Unknown preset 'gpt'"):
        build_job_spec(None, preset="gpt")


def test_paper_preset_with_user_data_sources():
    data = {"english_instructions": {"path": "/data/alpaca_en.json"},
            "translated_instructions": {"ar": {"path": "/data/alpaca_ar.json"}},
            "pairs": {"ar": {"path": "/data/en-ar.tsv"}}}
    spec = build_job_spec(make_plan(["ar"], "200k").to_dict(), preset="llama-7b-8xa100", data=data,
                          overrides={"train.epochs": 1})
    assert spec["allocation"] == {"ar": 200_000}  # real presets take the plan's pairs as they are
    assert spec["train"]["learning_rate"] == 2e-5 and spec["train"]["epochs"] == 1
    assert spec["data"]["pairs"]["ar"]["path"] == "/data/en-ar.tsv"
