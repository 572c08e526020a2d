"""The job spec: round trip, plan files as allocation, presets, and rejection of bad specs with field paths."""

from __future__ import annotations

import copy
import json

import pytest

from worker.contract import JobSpec, JobSpecError, load_job_spec
from worker.demo import demo_spec
from worker.resources import load_preset

from tests.worker.jobkit import small_job


def _base(tmp_path):
    return small_job(tmp_path)


def test_round_trip_keeps_every_section(tmp_path):
    spec = JobSpec.from_dict(_base(tmp_path))
    again = JobSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert spec.train.learning_rate == 1e-2 and spec.train.weight_decay == 0.0
    assert spec.data.pairs["ar"].format == "tsv"
    assert spec.eval.to_dict()["at_end"] is False


def test_defaults_are_the_papers_setup(tmp_path):
    obj = _base(tmp_path)
    del obj["train"]
    train = JobSpec.from_dict(obj).train
    assert (train.epochs, train.learning_rate, train.weight_decay, train.lr_scheduler, train.warmup_ratio) == \
        (3.0, 2e-5, 0.0, "cosine", 0.03)
    assert (train.per_device_batch_size, train.gradient_accumulation_steps, train.max_length) == (4, 4, 512)
    assert train.precision == "auto"


def test_plan_file_gives_the_allocation(tmp_path):
    obj = _base(tmp_path)
    obj["allocation"] = {"schema": "linguatune.plan/1", "budget": 200,
                         "languages": [{"code": "ar", "pairs": 150.0}, {"code": "zh", "pairs": 50}]}
    spec = JobSpec.from_dict(obj)
    assert spec.allocation == {"ar": 150, "zh": 50}
    assert spec.languages == ["ar", "zh"]


def test_presets_are_valid_specs(tmp_path):
    demo = JobSpec.from_dict(demo_spec())
    assert demo.mode == "muit" and demo.languages == ["ar", "el", "hi", "tr", "vi", "zh"]
    assert demo.model.tiny is not None and demo.eval.comet_model == "tiny-local"
    paper = load_preset("llama-7b-8xa100.json")
    merged = {**_base(tmp_path), "model": paper["model"], "train": paper["train"], "launcher": paper["launcher"]}
    spec = JobSpec.from_dict(merged)
    assert spec.train.precision == "bf16" and spec.train.per_device_batch_size * \
        spec.train.gradient_accumulation_steps * spec.launcher.gpus_per_node == 128


BAD = [
    (lambda o: o.update(mode="both"), "mode"),
    (lambda o: o.update(schema="linguatune.job/9"), "schema"),
    (lambda o: o.update(mode="coit"), "languages"),
    (lambda o: o["allocation"].update(ar=-5), "allocation.ar"),
    (lambda o: o["allocation"].update(ar="many"), "allocation.ar"),
    (lambda o: o["data"]["pairs"].pop("zh"), "data.pairs.zh"),
    (lambda o: o["data"]["pairs"]["ar"].update(path="pairs.txt"), "data.pairs.ar.path"),
    (lambda o: o["data"]["pairs"]["ar"].update(hub="x/y"), "data.pairs.ar"),
    (lambda o: o["data"]["pairs"]["ar"].update(fields={"english": "en"}), "data.pairs.ar.fields.english"),
    (lambda o: o["data"]["translated_instructions"].update(de={"path": "de.jsonl"}),
     "data.translated_instructions.de"),
    (lambda o: o["train"].update(learning_rate="fast"), "train.learning_rate"),
    (lambda o: o["train"].update(per_device_batch_size=0), "train.per_device_batch_size"),
    (lambda o: o["train"].update(warmup_ratio=1.5), "train.warmup_ratio"),
    (lambda o: o["train"].update(packing="yes"), "train.packing"),
    (lambda o: o["train"].update(lerning_rate=1e-4), "train.lerning_rate"),
    (lambda o: o["train"].update(subset="tail"), "train.subset"),
    (lambda o: o["model"].update(name_or_path="x"), "model"),
    (lambda o: o.update(eval={"metrics": ["comet", "bleurt"]}), "eval.metrics.1"),
    (lambda o: o.update(eval={"every_steps": -1}), "eval.every_steps"),
    (lambda o: o.update(eval={"translation": {"ar": {"file": "x.tsv"}}}), "eval.translation.ar.file"),
    (lambda o: o.update(eval={"alignment": {"enabled": "on"}}), "eval.alignment.enabled"),
    (lambda o: o.update(launcher={"kind": "ssh"}), "launcher.kind"),
    (lambda o: o.update(launcher={"kind": "slurm", "nodes": 2.5}), "launcher.nodes"),
    (lambda o: o.update(allocation={"schema": "linguatune.plan/1", "languages": [{"code": "ar"}]}),
     "allocation.languages.0.pairs"),
]


@pytest.mark.parametrize("mutate, field", BAD, ids=[f for _, f in BAD])
def test_bad_specs_are_rejected_with_the_field_path(tmp_path, mutate, field):
    obj = copy.deepcopy(_base(tmp_path))
    mutate(obj)
    with pytest.raises(JobSpecError) as info:
        JobSpec.from_dict(obj)
    assert info.value.field == field
    assert str(info.value).startswith(field)


def test_job_file_that_is_not_json(tmp_path):
    (tmp_path / "job.json").write_text("{mode: coit", encoding="utf-8")
    with pytest.raises(JobSpecError, match="not valid JSON"):
        load_job_spec(tmp_path)
