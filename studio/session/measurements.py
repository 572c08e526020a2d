"""Measurements from finished runs: one (language, pairs, score) point per language, ready for ``fit_laws``.

The pairs are those the run really trained on (the worker's ``data`` event), not the plan's request: the demo
preset, for one, scales a plan down to its sample data. Scores are put on the planning laws' scale (COMET x 100;
chrF, BLEU and spBLEU as they are). A metric scored by the pipeline-check model is refused: it checks that the
pipeline runs and says nothing about quality.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from studio.errors import LinguaTuneError
from studio.planning.fitting import Measurement, load_measurements, merge_measurements, save_measurements
from studio.session.monitor import DetachedRecord, JobModel, metric_label, model_from_events
from worker.contract import EVENTS_FILE, JOB_FILE, read_events

# Metrics whose events are on a 0-1 scale while the planning laws use 0-100.
UNIT_SCALE = {"comet": 100.0}
MEASURABLE = ("comet", "chrf", "spbleu", "bleu")


class MeasurementError(LinguaTuneError):
    """A run that cannot give measurements (pipeline-check metric, no scores, no pair counts)."""


@dataclass(frozen=True)
class RunMeasurement:
    """One measured point with where it came from."""

    language: str
    pairs: int
    score: float
    metric: str
    job_id: str

    def as_measurement(self) -> Measurement:
        return Measurement(self.language, float(self.pairs), self.score)


def measurements_from_model(model: JobModel, *, metric: str = "comet", group: str = "en-xx") -> list[RunMeasurement]:
    """One point per language of a finished run: its last ``metric`` in ``group`` against the pairs it trained on.

    Raises ``MeasurementError`` (one sentence) for a pipeline-check metric, a run without that metric, or a run
    whose pair counts are unknown.
    """
    job = model.job_id
    if metric not in MEASURABLE:
        raise MeasurementError(f"{metric!r} is not a translation metric to fit laws to; choose one of "
                               f"{', '.join(MEASURABLE)}.", field="metric")
    if model.is_pipeline_check(metric):
        raise MeasurementError(
            f"The {metric_label(metric)} of job {job} comes from the pipeline-check model (a tiny locally built "
            f"checkpoint), which is not a quality measurement; fit from chrF or from a run scored with a real "
            f"COMET checkpoint.", field="metric")
    scores = model.final_scores(metric, group)
    if not scores:
        seen = ", ".join(model.metrics()) or "none"
        raise MeasurementError(f"Job {job} has no {metric_label(metric)} scores for {group} (metrics seen: {seen}).",
                               field="metric")
    pairs = dict(_plan_pairs(model.record.plan_summary))
    pairs.update(model.trained_pairs)  # what the worker reports it trained on wins
    scale = UNIT_SCALE.get(metric, 1.0)
    rows = [RunMeasurement(lang, int(pairs[lang]), float(value) * scale, metric, job)
            for lang, value in scores.items() if pairs.get(lang)]
    if not rows:
        raise MeasurementError(f"Job {job} trained no parallel pairs for the languages it scored "
                               f"({', '.join(scores)}), so its scores cannot place a point on a law.")
    return rows


def measurements_from_events(record: Any, events: Iterable, **options) -> list[RunMeasurement]:
    return measurements_from_model(model_from_events(record, events), **options)


def measurements_from_registry(registry, job_id: str, **options) -> list[RunMeasurement]:
    """Points from a job in the local registry (its cached events; the job must have finished)."""
    record = registry.get(job_id)
    if record.state != "finished":
        raise MeasurementError(f"Job {job_id} is {record.state}; only a finished run gives measurements.")
    return measurements_from_events(record, registry.events(job_id), **options)


def measurements_from_job_dir(job_dir: str | Path, **options) -> list[RunMeasurement]:
    """Points from a job directory on this machine (``events.jsonl`` and ``job.json``)."""
    import json

    job_dir = Path(job_dir)
    events_path = job_dir / EVENTS_FILE
    if not events_path.is_file():
        raise MeasurementError(f"{job_dir} has no {EVENTS_FILE}; is it a job directory?")
    try:
        spec = json.loads((job_dir / JOB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        spec = {}
    allocation = spec.get("allocation") if isinstance(spec, dict) else None
    summary = {"languages": [{"code": c, "pairs": p} for c, p in allocation.items()]} \
        if isinstance(allocation, dict) else {}
    record = DetachedRecord(job_dir.name, summary, state="finished")
    return measurements_from_events(record, read_events(events_path), **options)


def _plan_pairs(summary: dict | None) -> dict[str, int]:
    out = {}
    for item in (summary or {}).get("languages", []) or []:
        if isinstance(item, dict) and isinstance(item.get("pairs"), int):
            out[str(item.get("code"))] = item["pairs"]
    return out


def merge_into_file(base_path: str | None, runs: Sequence[RunMeasurement], target: str | Path) -> Path:
    """Write ``base_path``'s pilot points (if any, and readable) plus ``runs`` to ``target`` (CSV), for a refit.

    A run's point replaces a base point of the same language and pairs.
    """
    base: list[Measurement] = []
    if base_path:
        try:
            base = load_measurements(base_path)
        except (LinguaTuneError, OSError):
            base = []  # the pilot file moved away: fit from the runs alone
    jobs = sorted({r.job_id for r in runs})
    metrics = sorted({r.metric for r in runs})
    target = Path(target)
    save_measurements(merge_measurements(base, [r.as_measurement() for r in runs]), target,
                      comment=f"Pilot measurements plus finished runs' {', '.join(metrics)} per language "
                              f"(runs: {', '.join(jobs)}).")
    return target
