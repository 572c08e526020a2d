"""The measured loop, once for both faces: pilot sweeps that calibrate the laws, the next pilot worth running, and
a plan checked against what training really gives.

1. ``design_sweep`` crosses languages with pilot sizes; each pilot is a CoIT job (one language, ``pairs`` parallel
   pairs) built from a preset with ``train.subset = "prefix"``, so a larger pilot's pairs contain a smaller one's.
2. ``launch_jobs`` starts them through the ordinary launch path. On a direct host (local or SSH) the jobs share a
   host-side queue (``LaunchRequest.queue``: at most N run at once, each job's wrapper waits for a slot lock), so a
   sweep keeps going when the studio disconnects and every pilot stays an ordinary job with its own directory,
   events and exit code. On SLURM every pilot is its own batch job and the scheduler queues them (a job array
   would put several pilots behind one job id and break the one-directory-one-job protocol).
3. ``follow_jobs`` follows them together; ``sweep_measurements`` turns each finished pilot's final score (the
   chosen metric, English -> target) into a measurement with its sampling error (the worker's segment bootstrap).
4. ``suggest_pilots`` ranks candidate (language, size) pilots by how much each would narrow the spread of the
   optimal allocation under a parametric bootstrap of the laws.
5. ``comparison_plan`` / ``compare_report`` train the optimised plan and the uniform split under the same preset
   and seed and report measured against predicted, with the noise of each number.

Sweeps are stored in the job registry (``sweeps`` table), so they survive closing the studio.
"""

from __future__ import annotations

import math
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from studio.errors import FitError, LinguaTuneError
from studio.planning.allocation import LanguageRequest, allocate
from studio.planning.budget import compact_pairs, parse_budget
from studio.planning.fitting import FitResult, Measurement, fit_laws
from studio.planning.laws import ScalingLaw
from studio.remote.jobspec import build_job_spec
from studio.remote.launch import LaunchRequest, launch
from studio.session.launch import launcher_section, ranks_per_node
from studio.session.measurements import MeasurementError, measurements_from_registry
from worker.contract import direction, is_pipeline_check, parse_direction

PILOT_SWEEP = "pilot"
COMPARISON = "compare"
PILOT_PRESET = "demo-world"
# The demo world's pilot sizes: seconds each on one CPU process; 4x apart so each step shows on a log axis.
DEMO_SIZES = (200, 800, 3200)


class CalibrationError(LinguaTuneError):
    """A sweep or comparison that cannot be designed, launched or read (one sentence naming the problem)."""


# ---------------------------------------------------------------------------------------------------------- design
@dataclass(frozen=True)
class Pilot:
    """One pilot run of a sweep: ``language`` tuned alone (CoIT) on ``pairs`` parallel pairs."""

    language: str
    pairs: int
    job_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"language": self.language, "pairs": self.pairs, "job_id": self.job_id}


def parse_sizes(text: str | Sequence[int]) -> list[int]:
    """``"1k,4k,16k"`` -> ``[1000, 4000, 16000]`` (sorted, distinct, positive); one sentence on a bad entry."""
    items = text.split(",") if isinstance(text, str) else list(text)
    sizes = sorted({parse_budget(item, what="Pilot size") for item in items if str(item).strip()})
    if not sizes:
        raise CalibrationError("Give at least one pilot size, e.g. --sizes 1k,4k,16k.", field="sizes")
    return sizes


def auto_sizes(count: int, smallest: int, largest: int) -> list[int]:
    """``count`` sizes spaced evenly on a log axis from ``smallest`` to ``largest`` (rounded to 2 digits)."""
    if count < 1 or smallest < 1 or largest < smallest:
        raise CalibrationError(f"--auto needs a positive count and 1 <= smallest <= largest, got {count}, "
                               f"{smallest}, {largest}.", field="auto")
    if count == 1:
        return [largest]
    raw = np.geomspace(smallest, largest, count)
    out = sorted({int(float(f"{v:.2g}")) for v in raw})
    return out


def design_sweep(languages: Sequence[str], sizes: Sequence[int], caps: Mapping[str, int] | None = None) -> list[Pilot]:
    """Every (language, size) pilot, smallest sizes first, so every curve gets a point early."""
    if not languages:
        raise CalibrationError("Choose at least one language to pilot.", field="languages")
    pilots = []
    for size in sorted(sizes):
        for code in languages:
            cap = (caps or {}).get(code)
            if cap is not None and size > cap:
                raise CalibrationError(f"A {compact_pairs(size)} pilot of {code} needs more pairs than exist "
                                       f"({compact_pairs(cap)}).", field="sizes")
            pilots.append(Pilot(code, int(size)))
    return pilots


def plan_document(pairs: Mapping[str, int], *, law_source: str = "") -> dict[str, Any]:
    """The smallest plan document a job spec is built from: languages with their pairs."""
    doc: dict[str, Any] = {"schema": "linguatune.plan/1",
                           "languages": [{"code": c, "pairs": int(p)} for c, p in pairs.items()]}
    if law_source:
        doc["law_source"] = law_source
    return doc


def job_request(profile, pairs: Mapping[str, int], *, preset: str = PILOT_PRESET, name: str = "",
                overrides: Mapping[str, Any] | None = None, data: Mapping[str, Any] | None = None,
                queue_slots: tuple[str, int] | None = None) -> LaunchRequest:
    """A launch request for a job that trains ``pairs`` (one language: a CoIT pilot; several: a MuIT model) with
    nested prefix subsets of the preset's data."""
    plan = plan_document(pairs)
    spec = build_job_spec(plan, preset=preset, name=name, overrides={"train.subset": "prefix", **(overrides or {})},
                          data=data, launcher=launcher_section(profile))
    return LaunchRequest(profile, spec, name=name, languages=list(pairs), plan=plan,
                         nproc_per_node=ranks_per_node(profile, preset), queue=queue_slots)


def new_sweep_id(kind: str) -> str:
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"


def launch_jobs(requests: Sequence[LaunchRequest], session, registry) -> list[str]:
    """Launch every request (each waits on the host for its queue slot, in this order); the job ids, in order."""
    ids = []
    for ticket, request in enumerate(requests):
        request.queue_ticket = ticket
        ids.append(launch(request, session, registry=registry).job_id)
    return ids


@dataclass
class Sweep:
    """A pilot sweep as stored in the registry."""

    id: str
    host: str
    preset: str
    metric: str
    pilots: list[Pilot]
    created_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "host": self.host, "preset": self.preset, "metric": self.metric,
                "created_at": self.created_at, "pilots": [p.to_dict() for p in self.pilots]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Sweep":
        pilots = [Pilot(p["language"], int(p["pairs"]), p.get("job_id")) for p in data.get("pilots", [])]
        return cls(data["id"], data.get("host", ""), data.get("preset", PILOT_PRESET), data.get("metric", "chrf"),
                   pilots, data.get("created_at", 0.0))

    @property
    def job_ids(self) -> list[str]:
        return [p.job_id for p in self.pilots if p.job_id]

    @property
    def languages(self) -> list[str]:
        return list(dict.fromkeys(p.language for p in self.pilots))


def start_sweep(pilots: Sequence[Pilot], profile, session, registry, *, preset: str = PILOT_PRESET,
                metric: str = "chrf", concurrency: int = 1, overrides: Mapping[str, Any] | None = None,
                data: Mapping[str, Any] | None = None) -> Sweep:
    """Build, launch and register a sweep: every request is built (and validated) before the first launch, so a
    bad preset or data file launches nothing."""
    if concurrency < 1:
        raise CalibrationError(f"--concurrency must be 1 or more, got {concurrency}.", field="concurrency")
    sweep_id = new_sweep_id(PILOT_SWEEP)
    slots = (sweep_id, concurrency) if profile.launcher != "slurm" else None
    requests = [job_request(profile, {p.language: p.pairs}, preset=preset, overrides=overrides, data=data,
                            name=f"pilot {p.language} {compact_pairs(p.pairs)}", queue_slots=slots)
                for p in pilots]
    sweep = Sweep(sweep_id, profile.name, preset, metric, [])
    registry.save_sweep(sweep.id, PILOT_SWEEP, sweep.to_dict())
    for ticket, (pilot, request) in enumerate(zip(pilots, requests)):
        request.queue_ticket = ticket
        job_id = launch(request, session, registry=registry).job_id
        sweep.pilots.append(Pilot(pilot.language, pilot.pairs, job_id))
        registry.save_sweep(sweep.id, PILOT_SWEEP, sweep.to_dict())  # a crash mid-launch keeps what started
    return sweep


def load_sweep(registry, sweep_id: str) -> Sweep:
    found = registry.sweep(sweep_id)
    if found is None:
        raise CalibrationError(f"No sweep {sweep_id!r} in the registry (`linguatune pilot --list` shows them).",
                               field="sweep")
    return Sweep.from_dict(found[1])


# ---------------------------------------------------------------------------------------------------------- follow
def iter_follow(job_ids: Sequence[str], registry, connect: Callable[[], Any],
                **follower_options) -> Iterator[tuple[str, Any]]:
    """Follow several jobs at once (one follower thread each) and yield ``(job_id, update)`` on the calling thread
    as updates arrive; a follower that fails yields ``(job_id, exception)``. Ends when every job has ended."""
    from studio.remote.follow import Follower

    updates: queue.Queue = queue.Queue()
    pending = [record for record in (registry.get(job_id) for job_id in job_ids) if not record.is_final]
    stop = threading.Event()

    def run(record) -> None:
        try:
            follower = Follower(record, connect, registry=registry, **follower_options)
            for update in follower:
                updates.put((record.id, update))
                if stop.is_set():
                    follower.stop()
        except Exception as exc:  # noqa: BLE001 - reported to the caller, never lost in a thread
            updates.put((record.id, exc))
        finally:
            updates.put((record.id, None))

    threads = [threading.Thread(target=run, args=(r,), daemon=True, name=f"follow-{r.id}") for r in pending]
    for thread in threads:
        thread.start()
    open_count = len(threads)
    try:
        while open_count:
            job_id, update = updates.get()
            if update is None:
                open_count -= 1
                continue
            yield job_id, update
    finally:
        stop.set()


def follow_jobs(job_ids: Sequence[str], registry, connect: Callable[[], Any],
                on_update: Callable[[str, Any], None] | None = None, **follower_options) -> dict[str, str]:
    """Follow several jobs to their end, calling ``on_update(job_id, update)`` for each update; returns each job's
    final state (``lost`` for a job whose follower failed)."""
    final: dict[str, str] = {}
    for job_id, update in iter_follow(job_ids, registry, connect, **follower_options):
        if isinstance(update, Exception):
            final[job_id] = "lost"
        elif update.kind == "ended":
            final[job_id] = update.state
        if on_update:
            on_update(job_id, update)
    for job_id in job_ids:
        final.setdefault(job_id, registry.get(job_id).state)
    return final


# ---------------------------------------------------------------------------------------------------- measurements
@dataclass(frozen=True)
class Point:
    """A measured point with its sampling error and origin."""

    language: str
    pairs: int
    value: float
    se: float | None
    metric: str
    job_id: str

    def as_measurement(self) -> Measurement:
        return Measurement(self.language, float(self.pairs), self.value, self.se)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "lang": self.language, "pairs": self.pairs, "metric": self.metric,
                "value": round(self.value, 4), "se": None if self.se is None else round(self.se, 4)}


def _final_se(registry, job_id: str, language: str, metric: str) -> float | None:
    wanted = direction("en", language)
    last = None
    for event in registry.events(job_id, kind="eval"):
        if event.get("metric") == metric and event.get("direction") == wanted:
            last = event
    se = None if last is None else last.get("se")
    return float(se) if isinstance(se, (int, float)) else None


def job_points(registry, job_id: str, metric: str) -> list[Point]:
    """One point per language of a finished job (English -> target), with the eval's segment-bootstrap error."""
    runs = measurements_from_registry(registry, job_id, metric=metric, group="en-xx")
    scale = 100.0 if metric == "comet" else 1.0
    out = []
    for run in runs:
        se = _final_se(registry, job_id, run.language, metric)
        out.append(Point(run.language, run.pairs, run.score, None if se is None else se * scale, run.metric, job_id))
    return out


def sweep_measurements(registry, ids: Iterable[str], metric: str) -> tuple[list[Point], list[str]]:
    """Points from sweeps or single jobs (ids of either), and one sentence per job that gave none (still running,
    failed, or a pipeline-check metric). A pipeline-check metric anywhere raises: it is never a measurement."""
    points: list[Point] = []
    skipped: list[str] = []
    for ident in ids:
        found = registry.sweep(ident)
        job_ids = Sweep.from_dict(found[1]).job_ids if found else [registry.find(ident).id]
        for job_id in job_ids:
            try:
                points.extend(job_points(registry, job_id, metric))
            except MeasurementError as exc:
                if "pipeline-check" in str(exc):
                    raise
                skipped.append(str(exc))
    return points, skipped


# --------------------------------------------------------------------------------------------------------- suggest
@dataclass
class Spread:
    """How uncertain the optimal allocation is: per language, the middle and the half-width (95%) of its optimal
    pairs over bootstrap replicates of the laws."""

    middle: dict[str, float]
    half_width: dict[str, float]
    replicates: int

    @property
    def total(self) -> float:
        return float(math.sqrt(sum(w * w for w in self.half_width.values())))


@dataclass
class Suggestion:
    language: str
    pairs: int
    before: float   # the language's allocation half-width now
    after: float    # expected after the pilot
    total_before: float
    total_after: float

    @property
    def narrowing(self) -> float:
        return self.total_before - self.total_after

    def sentence(self) -> str:
        return (f"next: {self.language} at {compact_pairs(self.pairs)} pairs, narrows {self.language}'s share from "
                f"±{compact_pairs(round(self.before))} to ±{compact_pairs(round(self.after))} "
                f"(all languages: ±{compact_pairs(round(self.total_before))} -> "
                f"±{compact_pairs(round(self.total_after))})")

    def to_dict(self) -> dict[str, Any]:
        return {"language": self.language, "pairs": self.pairs, "share_half_width_before": round(self.before),
                "share_half_width_after": round(self.after), "total_before": round(self.total_before),
                "total_after": round(self.total_after)}


def _replicates_of(fits: Mapping[str, FitResult]) -> dict[str, list[ScalingLaw]]:
    """Each language's calibrated replicates (studio/planning/fitting.py) as laws."""
    out = {}
    for code, fit in fits.items():
        if fit.replicates is None:
            raise CalibrationError(f"The fit of {code} has no replicates; suggestions need a bootstrap.")
        out[code] = [fit.replicates.law(i) for i in range(len(fit.replicates))]
    return out


def _spread(laws_by_language: Mapping[str, list[ScalingLaw]], budget: int, caps: Mapping[str, int]) -> Spread:
    codes = list(laws_by_language)
    count = min(len(v) for v in laws_by_language.values())
    rows = []
    for r in range(count):
        requests = [LanguageRequest(c, laws_by_language[c][r], int(caps.get(c, 10 ** 9))) for c in codes]
        rows.append([allocate(requests, budget).pairs[c] for c in codes])
    if not rows:
        raise CalibrationError("No bootstrap replicate of the laws could be fitted; add pilots.")
    pairs = np.array(rows, dtype=float)
    lo, mid, hi = np.percentile(pairs, [2.5, 50, 97.5], axis=0)
    return Spread({c: float(m) for c, m in zip(codes, mid)},
                  {c: float((h - l) / 2) for c, l, h in zip(codes, lo, hi)}, count)


FORMS = ("auto", "power", "log")


def fit_points(points: Sequence[Point], form: str = "auto", bootstrap: int = 200, seed: int = 0) -> dict[str, FitResult]:
    """Laws from measured points (``fit_laws``: a law alone where a language has 3+ sizes, pooled otherwise).

    ``auto`` fits both forms and keeps, per language, the one with the smaller RMSE (power on a tie): pilots of a
    model still in its steep early regime (score rising faster than log pairs) are fitted by the log form's
    near-linear start, which the power form can only approach with its exponent at the bound."""
    if not points:
        raise CalibrationError("No finished pilot has a measured score yet; nothing to fit.", field="jobs")
    measurements = [p.as_measurement() for p in points]
    if form != "auto":
        return fit_laws(measurements, form=form, bootstrap=bootstrap, seed=seed)
    power = fit_laws(measurements, form="power", bootstrap=bootstrap, seed=seed)
    log = fit_laws(measurements, form="log", bootstrap=bootstrap, seed=seed)
    return {code: (log[code] if log[code].rmse < power[code].rmse - 1e-9 else power[code]) for code in power}


def suggest_pilots(points: Sequence[Point], budget: int, *, caps: Mapping[str, int] | None = None,
                   sizes: Sequence[int] | None = None, form: str = "auto", replicates: int = 40,
                   seed: int = 0) -> tuple[Spread, list[Suggestion]]:
    """The allocation's spread now, and candidate pilots ranked by how much they would narrow it.

    The spread is that of the optimal allocation over the laws' calibrated replicates (the same draws that give the
    bands and the plan's interval). For a candidate (language, size) the measurement is simulated at the current
    law's prediction with that language's noise, every law is refitted with it (the languages share the noise
    estimate and the exponents' prior), and the allocation's spread is measured again. Languages measured at 2
    sizes are fitted with the exponent pooled; one size is not enough.
    """
    caps = dict(caps or {})
    by_language: dict[str, list[Point]] = {}
    for p in points:
        by_language.setdefault(p.language, []).append(p)
    thin = [c for c, pts in by_language.items() if len({p.pairs for p in pts}) < 2]
    if thin:
        raise CalibrationError(f"Suggestions need pilots at 2 or more sizes for every language; {', '.join(thin)} "
                               f"has one: pilot it first.", field="suggest")

    def fit(pts: Sequence[Point]) -> dict[str, FitResult]:
        try:
            return fit_points(pts, form=form, bootstrap=replicates, seed=seed)
        except FitError as exc:
            raise CalibrationError(f"No suggestion: {exc}", field="suggest") from None

    fits = fit(points)
    now = _spread(_replicates_of(fits), budget, caps)
    measured = sorted({p.pairs for p in points})
    candidates = sorted(set(sizes or []) | {int(v) for v in np.sqrt(np.array(measured[:-1]) * measured[1:])}
                        | {measured[-1] * 2, measured[-1] * 4})
    suggestions = []
    for code, pts in by_language.items():
        errors = [p.se for p in pts if p.se is not None]
        se = float(np.median(errors)) if errors else None
        for size in candidates:
            if size > caps.get(code, 10 ** 12) or any(p.pairs == size for p in pts):
                continue
            simulated = Point(code, size, float(fits[code].law.value(float(size))), se, pts[0].metric, "simulated")
            after = _spread(_replicates_of(fit(list(points) + [simulated])), budget, caps)
            suggestions.append(Suggestion(code, size, now.half_width[code], after.half_width[code], now.total,
                                          after.total))
    suggestions.sort(key=lambda s: (-s.narrowing, s.pairs))
    return now, suggestions


# ---------------------------------------------------------------------------------------------- live calibration
@dataclass
class Progress:
    """Where a sweep stands: its measured points, the laws fitted to them (None while too few), a sentence on the
    state, and the next pilot worth running once every language has 2 sizes and a budget is known."""

    sweep_id: str
    finished: int
    ended: int
    total: int
    points: list[Point]
    results: dict[str, FitResult] | None
    note: str
    suggestion: str | None = None

    @property
    def done(self) -> bool:
        return self.ended >= self.total


def _progress(sweep: Sweep, registry, *, budget: int | None, form: str, bootstrap: int, final: bool) -> Progress:
    states = {job_id: registry.get(job_id).state for job_id in sweep.job_ids}
    finished = sum(1 for s in states.values() if s == "finished")
    ended = sum(1 for s in states.values() if s in ("finished", "failed", "cancelled", "lost"))
    points, skipped = sweep_measurements(registry, [sweep.id], sweep.metric)
    results, suggestion = None, None
    note = f"{finished} of {len(states)} pilots measured"
    if ended - finished:
        note += f", {ended - finished} ended without a score"
    try:
        results = fit_points(points, form=form, bootstrap=bootstrap) if points else None
    except (FitError, CalibrationError) as exc:
        note += f"; no laws yet ({exc})"
    if results is not None and budget and final:
        try:
            _spread, ranked = suggest_pilots(points, budget, sizes=sorted({p.pairs for p in sweep.pilots}),
                                             form=form, replicates=20)
            suggestion = ranked[0].sentence() if ranked else None
        except (FitError, CalibrationError):
            suggestion = None
    return Progress(sweep.id, finished, ended, len(states), points, results, note, suggestion)


def calibration_progress(sweep: Sweep, registry, connect: Callable[[], Any], *, budget: int | None = None,
                         form: str = "auto", bootstrap: int = 200, **follower_options) -> Iterator[Progress]:
    """Follow a sweep and yield its ``Progress`` now (pilots that already ended: a resumed sweep) and after every
    pilot that ends, laws refitted each time; the last one carries the next-pilot suggestion."""
    yield _progress(sweep, registry, budget=budget, form=form, bootstrap=bootstrap,
                    final=all(registry.get(j).is_final for j in sweep.job_ids))
    for _job_id, update in iter_follow(sweep.job_ids, registry, connect, **follower_options):
        if isinstance(update, Exception) or update.kind == "ended":
            last = all(registry.get(j).is_final for j in sweep.job_ids)
            yield _progress(sweep, registry, budget=budget, form=form, bootstrap=bootstrap, final=last)


# --------------------------------------------------------------------------------------------------------- compare
@dataclass
class Arm:
    """One trained side of a comparison: its plan, its job and what it measured."""

    name: str            # "optimised" or "uniform"
    pairs: dict[str, int]
    predicted: dict[str, float]
    job_id: str | None = None
    measured: dict[str, float] = field(default_factory=dict)
    se: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "pairs": self.pairs, "predicted": _rounded(self.predicted),
                "measured": _rounded(self.measured), "se": _rounded(self.se)}


def _rounded(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (None if v is None else round(float(v), 4)) for k, v in values.items()}


def arms_from_plan(plan) -> list[Arm]:
    """The optimised allocation and the uniform split of a ``Plan`` as two arms with their predictions."""
    optimised = Arm("optimised", {lp.code: lp.pairs for lp in plan.languages},
                    {lp.code: lp.predicted for lp in plan.languages})
    uniform = Arm("uniform", {lp.code: lp.uniform_pairs for lp in plan.languages},
                  {lp.code: lp.uniform_predicted for lp in plan.languages})
    return [optimised, uniform]


def final_scores(registry, job_id: str, metric: str) -> dict[str, tuple[float, float | None]]:
    """The last ``metric`` score (and its segment-bootstrap error) per language, English -> target, of a job; on
    the laws' 0-100 scale. Languages that trained on no pairs are scored too (a plan may give one nothing)."""
    scale = 100.0 if metric == "comet" else 1.0
    out: dict[str, tuple[float, float | None]] = {}
    for event in registry.events(job_id, kind="eval"):
        if event.get("metric") != metric or not isinstance(event.get("value"), (int, float)):
            continue
        if is_pipeline_check(event.to_dict()):
            raise CalibrationError(f"The {metric} of job {job_id} comes from the pipeline-check model, which is not "
                                   f"a quality measurement; compare on chrF or a real COMET checkpoint.",
                                   field="metric")
        language = direction_language(str(event.get("direction", "")))
        if language:
            se = event.get("se")
            out[language] = (float(event["value"]) * scale,
                             float(se) * scale if isinstance(se, (int, float)) else None)
    return out


def start_comparison(plan, profile, session, registry, *, preset: str = PILOT_PRESET, metric: str = "chrf",
                     concurrency: int = 2, overrides: Mapping[str, Any] | None = None,
                     data: Mapping[str, Any] | None = None) -> tuple[str, list[Arm]]:
    """Launch a plan's optimised allocation and its uniform split as two MuIT jobs under the same preset, seed and
    everything else (built and validated before either starts); stored in the registry as a comparison."""
    arms = arms_from_plan(plan)
    compare_id = new_sweep_id(COMPARISON)
    slots = (compare_id, concurrency) if profile.launcher != "slurm" else None
    requests = [job_request(profile, arm.pairs, preset=preset, name=f"{arm.name} plan", overrides=overrides,
                            data=data, queue_slots=slots) for arm in arms]
    for arm, job_id in zip(arms, launch_jobs(requests, session, registry)):
        arm.job_id = job_id
    registry.save_sweep(compare_id, COMPARISON, {
        "id": compare_id, "host": profile.name, "preset": preset, "metric": metric,
        "pilots": [{"language": ",".join(a.pairs), "pairs": sum(a.pairs.values()), "job_id": a.job_id,
                    "arm": a.name, "predicted": a.predicted} for a in arms]})
    return compare_id, arms


def measure_arm(arm: Arm, registry, metric: str) -> None:
    """Fill an arm's measured scores from its finished job's events."""
    record = registry.get(arm.job_id)
    if record.state != "finished":
        raise CalibrationError(f"The {arm.name} job {arm.job_id} is {record.state}; it has no final scores.")
    scores = final_scores(registry, arm.job_id, metric)
    missing = [code for code in arm.pairs if code not in scores]
    if missing:
        raise CalibrationError(f"The {arm.name} job {arm.job_id} has no {metric} for {', '.join(missing)}.")
    for code in arm.pairs:
        arm.measured[code], arm.se[code] = scores[code]


def _total_se(arm: Arm) -> float | None:
    values = [s for s in arm.se.values() if s is not None]
    if len(values) != len(arm.se) or not values:
        return None
    return float(math.sqrt(sum(v * v for v in values)))


@dataclass
class Comparison:
    """Optimised against uniform, measured and predicted. ``noise`` of a total is the segment-bootstrap standard
    error summed over languages (independent test sets per language); the difference's noise combines both arms'."""

    metric: str
    arms: list[Arm]

    def totals(self) -> dict[str, dict[str, float | None]]:
        out = {}
        for arm in self.arms:
            complete = bool(arm.measured) and all(code in arm.measured for code in arm.pairs)
            out[arm.name] = {"predicted": sum(arm.predicted.values()),
                             "measured": sum(arm.measured.values()) if complete else None,
                             "se": _total_se(arm)}
        return out

    def difference(self) -> dict[str, float | None]:
        opt, uni = self.arms
        totals = self.totals()
        measured = None
        if totals[opt.name]["measured"] is not None and totals[uni.name]["measured"] is not None:
            measured = totals[opt.name]["measured"] - totals[uni.name]["measured"]
        ses = [totals[a.name]["se"] for a in self.arms]
        se = math.sqrt(sum(s * s for s in ses)) if all(s is not None for s in ses) else None
        return {"predicted": totals[opt.name]["predicted"] - totals[uni.name]["predicted"], "measured": measured,
                "se": se}

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, **{arm.name: arm.to_dict() for arm in self.arms},
                "totals": {k: _rounded(v) for k, v in self.totals().items()},
                "difference": _rounded(self.difference())}

    def table(self) -> list[list[str]]:
        """Rows: language, then per arm pairs / predicted / measured ± se, for the CLI and the GUI."""
        opt, uni = self.arms
        rows = []
        for code in opt.pairs:
            row = [code]
            for arm in (opt, uni):
                row += [compact_pairs(arm.pairs[code]), f"{arm.predicted[code]:.1f}", _pm(arm.measured.get(code),
                                                                                         arm.se.get(code))]
            rows.append(row)
        totals = self.totals()
        row = ["total"]
        for arm in (opt, uni):
            t = totals[arm.name]
            row += [compact_pairs(sum(arm.pairs.values())), f"{t['predicted']:.1f}", _pm(t["measured"], t["se"])]
        rows.append(row)
        return rows


def _pm(value: float | None, se: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" + (f" ± {se:.1f}" if se is not None else "")


def verdict(comparison: Comparison) -> str:
    """One sentence: what the measured difference is, against its noise and the prediction."""
    diff = comparison.difference()
    if diff["measured"] is None:
        return "The comparison has no measured totals yet."
    measured, se, predicted = diff["measured"], diff["se"], diff["predicted"]
    noise = f" ± {se:.1f} (1 s.e. of test-set sampling; one training seed adds its own noise)" if se is not None \
        else ""
    if se is not None and abs(measured) <= 2 * se:
        call = "not distinguishable from uniform (|difference| <= 2 s.e.)"
    elif measured > 0:
        call = "the optimised plan measured better"
    else:
        call = "the uniform split measured better"
    # Against the prediction too: "within the noise" of zero can still be far from what the plan promised.
    if se is not None and abs(measured - predicted) > 2 * se:
        side = "below" if measured < predicted else "above"
        call += f", and {abs(measured - predicted):.1f} {side} the prediction (more than 2 s.e.)"
    elif se is not None:
        call += ", and consistent with the prediction"
    return (f"Optimised minus uniform: measured {measured:+.1f}{noise} {comparison.metric} summed over languages, "
            f"predicted {predicted:+.1f}; {call}.")


def direction_language(text: str) -> str | None:
    """The target language of an English -> target direction (``en-ar`` -> ``ar``), else None."""
    pair = parse_direction(text)
    return pair[1] if pair and pair[0] == "en" else None
