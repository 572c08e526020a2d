"""Plans: the allocation a user decided on, as a versioned document other tools (and the worker) read.

JSON is canonical (schema ``linguatune.plan/1``); YAML and CSV carry the same fields and load back to the same plan;
Markdown is a readable summary only. Loading validates every field and names the path of the first bad one, e.g.
``languages[2].law.params.b``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import yaml

from studio.errors import PlanFormatError, PlanningError, short_repr
from studio.planning.allocation import (
    OBJECTIVES,
    LanguageRequest,
    allocate,
    marginal_value,
    uniform_allocation,
)
from studio.planning.budget import format_pairs, parse_budget
from studio.planning.laws import ScalingLaw
from studio.planning import robust
from studio.planning.prior import PRIOR_NOTE, prior_law
from studio.planning.replicates import LEVEL, Evidence

PLAN_SCHEMA = "linguatune.plan/1"
PLAN_FORMATS = (".json", ".yaml", ".yml", ".csv", ".md")
MARGINAL_STEP = 1000
ALLOCATIONS = ("auto", "point", "robust")
# A language given more than this multiple of its largest measured size is marked (warning + plan field).
EXTRAPOLATION_MARK = 10.0
"""The extra budget the plan's marginal value is quoted for ("1k more pairs buys ...")."""

_LAW_COLUMNS = ("c", "a", "b", "g", "x0")
_CSV_COLUMNS = (
    "code", "name", "pairs", "cap", "floor", "weight", "predicted", "uniform_pairs", "uniform_predicted", "prior",
    "law_form", *_LAW_COLUMNS, "measured_min", "measured_max", "quality", "flags",
)
_CSV_PLAN_KEYS = (
    "schema", "budget", "objective", "prior", "predicted_total", "uniform_total", "lam", "gain_per_1k",
    "law_source", "created_at", "warnings", "prior_note", "allocation", "headline",
)


@dataclass
class LanguagePlan:
    """One language of a plan: its pairs under the plan and under the uniform split, and what its law predicts."""

    code: str
    pairs: int
    cap: int
    weight: float
    floor: int
    predicted: float
    uniform_pairs: int
    uniform_predicted: float
    law: ScalingLaw
    name: str | None = None
    prior: bool = False
    measured: tuple[float, float] | None = None  # the smallest and largest pilot sizes of its law
    flags: tuple[str, ...] = ()
    quality: str = ""

    @property
    def gain(self) -> float:
        """Predicted score gained over the uniform split."""
        return self.predicted - self.uniform_predicted

    @property
    def extrapolation(self) -> dict[str, Any] | None:
        """None when the plan's pairs lie within the measured sizes; else which side and by what factor."""
        if self.measured is None:
            return None
        low, high = self.measured
        if self.pairs > high:
            return {"side": "above", "factor": self.pairs / high}
        if self.pairs < low:
            return {"side": "below", "factor": self.pairs / low}
        return None

    def extrapolation_text(self) -> str:
        if self.prior or self.measured is None:
            return "prior: not measured"
        found = self.extrapolation
        if found is None:
            return "within pilots"
        return f"{found['factor']:.1f}x the largest pilot" if found["side"] == "above" else (
            f"{found['factor']:.2f}x the smallest pilot")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code}
        if self.name is not None:
            data["name"] = self.name
        data.update(
            pairs=self.pairs, cap=self.cap, floor=self.floor, weight=self.weight, predicted=self.predicted,
            uniform_pairs=self.uniform_pairs, uniform_predicted=self.uniform_predicted, prior=self.prior,
            law=self.law.to_dict(),
        )
        if self.measured is not None:
            data["measured"] = [self.measured[0], self.measured[1]]
            data["extrapolation"] = self.extrapolation
        if self.quality:
            data["quality"] = self.quality
        if self.flags:
            data["flags"] = list(self.flags)
        return data


@dataclass
class Plan:
    """A budget split across languages, with the uniform baseline beside it and where its laws came from.

    ``prior`` is True when any language's law is the uncalibrated prior; ``lam`` is the common weighted marginal
    gain per pair (nan for maxmin); ``gain_per_1k`` is what 1,000 more pairs of budget would add to the objective.
    """

    budget: int
    objective: str
    prior: bool
    predicted_total: float
    uniform_total: float
    lam: float
    languages: list[LanguagePlan]
    warnings: list[str] = field(default_factory=list)
    created_at: str = ""
    law_source: str = "prior"
    gain_per_1k: float | None = None
    allocation: str = "point"  # "point": on the laws' point estimates; "robust": expected score over replicates
    gain_interval: tuple[float, float] | None = None  # of the headline gain, over the laws' replicates
    gain_expected: float | None = None
    gain_level: float = LEVEL
    replicates: int = 0

    @property
    def allocated(self) -> int:
        return sum(language.pairs for language in self.languages)

    @property
    def total_gain(self) -> float:
        """Predicted sum (weighted) gained over the uniform split."""
        return self.predicted_total - self.uniform_total

    @property
    def minimum(self) -> float:
        return min(language.predicted for language in self.languages)

    @property
    def uniform_minimum(self) -> float:
        return min(language.uniform_predicted for language in self.languages)

    @property
    def headline_name(self) -> str:
        """What the plan optimised: the lowest score for maxmin, the (weighted) sum otherwise."""
        return "lowest score" if self.objective == "maxmin" else "sum of scores"

    @property
    def headline_gain(self) -> float:
        """The optimised objective's predicted gain over the uniform split (the minimum's for maxmin)."""
        if self.objective == "maxmin":
            return self.minimum - self.uniform_minimum
        return self.total_gain

    @property
    def distinguishable(self) -> bool | None:
        """False when the gain interval contains 0 (None without replicates)."""
        if self.gain_interval is None:
            return None
        return not (self.gain_interval[0] <= 0.0 <= self.gain_interval[1])

    def headline(self) -> str:
        """One line: the optimised objective's gain with its interval, and the sum beside a maxmin plan."""
        if self.gain_interval is None or self.gain_expected is None:
            text = f"{self.headline_name} {self.headline_gain:+.2f} over uniform"
        else:
            lo, hi = self.gain_interval
            text = (f"{self.headline_name} {self.gain_expected:+.2f} over uniform ({100 * self.gain_level:.0f}% "
                    f"interval {lo:+.2f} to {hi:+.2f}; the laws' point estimates say {self.headline_gain:+.2f})")
            if not self.distinguishable:
                text += ", not distinguishable from uniform"
        if self.objective == "maxmin":
            text += f"; sum {self.total_gain:+.2f}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON document."""
        data: dict[str, Any] = {
            "schema": PLAN_SCHEMA,
            "budget": self.budget,
            "objective": self.objective,
            "prior": self.prior,
            "predicted_total": self.predicted_total,
            "uniform_total": self.uniform_total,
            "lam": None if not math.isfinite(self.lam) else self.lam,
            "gain_per_1k": self.gain_per_1k,
            "law_source": self.law_source,
            "created_at": self.created_at,
            "warnings": list(self.warnings),
            "allocation": self.allocation,
            "headline": {
                "objective": "minimum" if self.objective == "maxmin" else "sum",
                "gain": self.headline_gain,
                "interval": None if self.gain_interval is None else list(self.gain_interval),
                "level": self.gain_level,
                "expected": self.gain_expected,
                "distinguishable": self.distinguishable,
                "replicates": self.replicates,
            },
        }
        if self.prior:
            data["prior_note"] = PRIOR_NOTE
        data["languages"] = [language.to_dict() for language in self.languages]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "Plan":
        """Validate a plan document; PlanFormatError carries the path of the first bad field."""
        return _plan_from_dict(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=120)

    def to_csv(self) -> str:
        """Plan-level fields as ``# key: <json value>`` comment lines, then one row per language."""
        data = self.to_dict()
        out = io.StringIO()
        for key in _CSV_PLAN_KEYS:
            if key in data:
                out.write(f"# {key}: {json.dumps(data[key], ensure_ascii=False)}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(_CSV_COLUMNS)
        for language in self.languages:
            params = language.law.params()
            writer.writerow(
                [
                    language.code, language.name or "", language.pairs, language.cap, language.floor,
                    repr(language.weight), repr(language.predicted), language.uniform_pairs,
                    repr(language.uniform_predicted), "true" if language.prior else "false", language.law.form,
                    *[repr(params[name]) if name in params else "" for name in _LAW_COLUMNS],
                    "" if language.measured is None else repr(language.measured[0]),
                    "" if language.measured is None else repr(language.measured[1]),
                    language.quality, json.dumps(list(language.flags)) if language.flags else "",
                ]
            )
        return out.getvalue()

    def to_markdown(self) -> str:
        """A readable summary (not loadable)."""
        lines = [f"# LinguaTune plan: {format_pairs(self.budget)} pairs, objective {self.objective}", ""]
        if self.prior:
            lines += [f"> **{PRIOR_NOTE}**", ""]
        lines += [
            f"- Languages: {', '.join(language.code for language in self.languages)}",
            f"- Pairs allocated: {format_pairs(self.allocated)} of a budget of {format_pairs(self.budget)}",
            f"- Predicted: {self.headline()}",
            f"- Predicted total: {self.predicted_total:.2f} (uniform split: {self.uniform_total:.2f}, "
            f"gain {self.total_gain:+.2f})",
            f"- Allocation: {self.allocation}",
        ]
        if self.gain_per_1k is not None:
            lines.append(f"- Marginal value: {marginal_sentence(self)}")
        lines.append(f"- Laws: {self.law_source}")
        if self.created_at:
            lines.append(f"- Created: {self.created_at}")
        for warning in self.warnings:
            lines.append(f"- Warning: {warning}")
        lines += [
            "",
            "| Language | Pairs | Uniform pairs | Predicted | Uniform predicted | Gain | Cap | Law | Measured |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for language in self.languages:
            label = f"{language.name} ({language.code})" if language.name else language.code
            law = language.law.form + (" (prior)" if language.prior else "")
            lines.append(
                f"| {label} | {format_pairs(language.pairs)} | {format_pairs(language.uniform_pairs)} | "
                f"{language.predicted:.2f} | {language.uniform_predicted:.2f} | {language.gain:+.2f} | "
                f"{format_pairs(language.cap)} | {law} | {language.extrapolation_text()} |"
            )
        return "\n".join(lines) + "\n"


def marginal_sentence(plan: Plan) -> str:
    """'1k more pairs buys +X total' (or raises the lowest score, for maxmin)."""
    if plan.gain_per_1k is None:
        return "n/a"
    if plan.objective == "maxmin":
        return f"1k more pairs raises the lowest predicted score by {plan.gain_per_1k:+.4f}"
    if not math.isfinite(plan.lam):  # a robust plan: the expected total, no common lambda
        return f"1k more pairs buys {plan.gain_per_1k:+.4f} expected total"
    return f"1k more pairs buys {plan.gain_per_1k:+.4f} total (lambda = {plan.lam:.3g} per pair)"


# ---------------------------------------------------------------------------------------------------------------
# Making a plan


def _by_code(option: str, values: Mapping[str, Any] | None, catalogue, codes: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (values or {}).items():
        code = catalogue.get(key).code
        if code not in codes:
            raise PlanningError(f"{option} names {code!r}, which is not one of the plan's languages.", field=code)
        out[code] = value
    return out


def make_plan(
    languages: Sequence[str],
    budget: int | str,
    *,
    laws: Mapping[str, ScalingLaw] | None = None,
    objective: str = "sum",
    floors: Mapping[str, int] | int | None = None,
    caps: Mapping[str, int] | None = None,
    weights: Mapping[str, float] | None = None,
    catalogue=None,
    law_source: str | None = None,
    evidence: Mapping[str, Evidence] | None = None,
    fits: Mapping[str, Any] | None = None,
    allocation: str = "auto",
    max_extrapolation: float | None = None,
    quantile: float | None = None,
) -> Plan:
    """Plan ``budget`` pairs across ``languages`` (codes or names). Languages without a fitted law in ``laws`` use the
    uncalibrated prior, and the plan records ``prior=True``. Caps default to the catalogue's available pairs.

    ``evidence`` (or ``fits``, fit results that carry it) says where each law was measured and gives its bootstrap
    replicates. Then: a language's floor defaults to its smallest measured size (``floors`` None; an explicit number
    overrides it); ``allocation`` "auto" (default) allocates for the expected objective over the replicates
    ("robust") whenever a language has them, else on the point estimates ("point"); ``quantile`` makes the robust
    plan optimise that lower quantile of each language's score instead of its mean; the headline gain gets an
    interval over the replicates; ``max_extrapolation`` caps a measured language at that multiple of its largest
    pilot, and any language beyond ``EXTRAPOLATION_MARK`` times is marked with a warning."""
    if catalogue is None:
        from studio.planning.languages import load_catalogue

        catalogue = load_catalogue()
    if objective not in OBJECTIVES:
        raise PlanningError(f"Unknown objective {objective!r}; expected sum or maxmin.", field="objective")
    if allocation not in ALLOCATIONS:
        raise PlanningError(f"Unknown allocation {allocation!r}; expected auto, point or robust.", field="allocation")
    if quantile is not None and not (0.0 < quantile < 1.0):
        raise PlanningError(f"The robust quantile must be between 0 and 1, got {quantile:g}.", field="quantile")
    if max_extrapolation is not None and not (math.isfinite(max_extrapolation) and max_extrapolation >= 1.0):
        raise PlanningError(f"--max-extrapolation must be a factor of 1 or more, got {max_extrapolation:g}.",
                            field="max_extrapolation")
    resolved = catalogue.resolve(list(languages))
    if not resolved:
        raise PlanningError("No languages to plan for; choose at least one.", field="languages")
    codes = [language.code for language in resolved]
    budget_pairs = parse_budget(budget)
    if fits:
        laws = {**{code: fit.law for code, fit in fits.items()}, **(laws or {})}
        evidence = {**{code: fit.evidence() for code, fit in fits.items()}, **(evidence or {})}
    fitted = {catalogue.get(code).code: law for code, law in (laws or {}).items()}
    known = {catalogue.get(code).code: ev for code, ev in (evidence or {}).items()
             if catalogue.get(code).code in fitted}
    cap_of = _by_code("--cap", caps, catalogue, codes)
    weight_of = _by_code("--weight", weights, catalogue, codes)
    if isinstance(floors, Mapping):
        floor_of = _by_code("--min", floors, catalogue, codes)
        default_floor = None
    else:
        floor_of, default_floor = {}, floors
    requests = []
    used_prior = []
    auto_floors = []
    warnings: list[str] = []
    for language in resolved:
        code = language.code
        law = fitted.get(code)
        if law is None:
            law = prior_law(language)
            used_prior.append(code)
        cap = int(cap_of.get(code, language.pairs))
        measured = known[code].measured if code in known else None
        if max_extrapolation is not None and measured is not None:
            cap = min(cap, int(math.floor(max_extrapolation * measured[1])))
        floor = floor_of.get(code, default_floor)
        if floor is None:
            floor = min(int(math.ceil(measured[0])), cap) if measured is not None else 0
            if floor:
                auto_floors.append(floor)
        requests.append(LanguageRequest(code=code, law=law, cap=cap, floor=int(floor),
                                        weight=float(weight_of.get(code, 1.0))))
    if auto_floors and budget_pairs < sum(r.floor for r in requests):
        raise PlanningError(
            f"The budget of {format_pairs(budget_pairs)} is below the default floors (each language's smallest "
            f"measured size, {format_pairs(sum(r.floor for r in requests))} in all); give a larger budget or a "
            f"lower minimum (--min).", field="budget")
    with_replicates = {c: ev.replicates for c, ev in known.items() if ev.replicates is not None}
    method = allocation
    if method == "auto":
        method = "robust" if with_replicates else "point"
    if method == "robust" and not with_replicates:
        raise PlanningError("A robust allocation needs laws with bootstrap replicates (fit with --bootstrap).",
                            field="allocation")
    best = allocate(requests, budget_pairs, objective)
    uniform = uniform_allocation(requests, budget_pairs)
    warnings += list(best.warnings)
    joint = None
    if with_replicates:
        count = min(len(r) for r in with_replicates.values())
        joint = robust.by_code(codes, with_replicates, {r.code: r.law for r in requests}, count)
    pairs = dict(best.pairs)
    gain = marginal_value(best, requests, per=MARGINAL_STEP)
    if method == "robust":
        lo, hi, w = [r.floor for r in requests], [r.cap for r in requests], [r.weight for r in requests]

        def robust_pairs(total: int) -> np.ndarray:
            whole = robust.robust_allocation(joint, lo, hi, w, total, objective, quantile)
            even = uniform_allocation(requests, total)
            return robust.hedge(joint, whole, np.array([even.pairs[r.code] for r in requests]), w, objective, lo, hi)

        chosen = robust_pairs(budget_pairs)
        pairs = {r.code: int(n) for r, n in zip(requests, chosen)}
        # What 1k more pairs buy, by the same rule and in the same currency: the expected objective.
        richer = robust_pairs(budget_pairs + MARGINAL_STEP)
        gain = float(robust.gain_samples(joint, richer, chosen, w, objective).mean())
    predicted = {r.code: float(r.law.value(float(max(pairs[r.code], 1e-9)))) for r in requests}
    if not used_prior:
        source = law_source or "fitted"
    elif len(used_prior) == len(codes):
        source = "prior"
    else:
        source = f"{law_source or 'fitted'} + prior for {', '.join(used_prior)}"
    language_plans = []
    for req, language in zip(requests, resolved):
        ev = known.get(req.code)
        language_plans.append(LanguagePlan(
            code=req.code, pairs=pairs[req.code], cap=req.cap, weight=req.weight, floor=req.floor,
            predicted=predicted[req.code], uniform_pairs=uniform.pairs[req.code],
            uniform_predicted=uniform.predicted[req.code], law=req.law, name=language.name,
            prior=req.code in used_prior, measured=ev.measured if ev else None,
            flags=tuple(ev.flags) if ev else (), quality=ev.quality if ev else "",
        ))
    far = [lp for lp in language_plans if lp.extrapolation and lp.extrapolation["side"] == "above"
           and lp.extrapolation["factor"] > EXTRAPOLATION_MARK]
    if far:
        warnings.append(
            f"{len(far)} language(s) get more than {EXTRAPOLATION_MARK:g}x their largest pilot, where their laws "
            f"are extrapolated: " + ", ".join(f"{lp.code} {lp.extrapolation['factor']:.0f}x" for lp in far[:8])
            + ("..." if len(far) > 8 else "") + " (pilot larger sizes, or cap them with --max-extrapolation).")
    flagged = [lp.code for lp in language_plans if lp.flags]
    if flagged:
        warnings.append(f"The laws of {', '.join(flagged)} are flagged (see each language's flags); their "
                        f"predictions deserve little trust.")
    plan = Plan(
        budget=budget_pairs,
        objective=objective,
        prior=bool(used_prior),
        predicted_total=float(sum(r.weight * predicted[r.code] for r in requests)),
        uniform_total=uniform.total,
        lam=best.lam if method == "point" else math.nan,
        languages=language_plans,
        warnings=warnings,
        created_at=datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        law_source=source,
        gain_per_1k=gain,
        allocation=method,
    )
    if joint is not None:
        baseline = [uniform.pairs[r.code] for r in requests]
        samples = robust.gain_samples(joint, [pairs[r.code] for r in requests], baseline,
                                      [r.weight for r in requests], objective)
        # The replicates are draws of each law given its pilots (and, with 5+ languages of 3+ sizes, the spread of
        # exponents across languages), so their mean gain is the plan's expected gain and their percentiles its
        # interval. The point estimates' own gain is kept beside it: chosen on those estimates, it flatters.
        low, high = robust.interval(samples, LEVEL)
        plan.gain_expected = float(samples.mean())
        plan.gain_interval = (low, high)
        plan.replicates = int(len(samples))
    return plan


# ---------------------------------------------------------------------------------------------------------------
# Validation


def _fail(path: str, message: str) -> PlanFormatError:
    return PlanFormatError(f"Plan field {path}: {message}", field=path)


def _int(data: Mapping[str, Any], key: str, path: str, *, minimum: int = 0, default: Any = ...) -> int:
    if key not in data:
        if default is not ...:
            return default
        raise _fail(path, "is missing.")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise _fail(path, f"must be a whole number, got {short_repr(value)}.")
    if value < minimum:
        raise _fail(path, f"must be at least {minimum}, got {value}.")
    return value


def _float(data: Mapping[str, Any], key: str, path: str, *, positive: bool = False, default: Any = ...,
           nullable: bool = False) -> float:
    if key not in data:
        if default is not ...:
            return default
        raise _fail(path, "is missing.")
    value = data[key]
    if value is None and nullable:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, f"must be a finite number, got {short_repr(value)}.")
    if isinstance(value, int) and value.bit_length() > 1000:  # float() would overflow
        raise _fail(path, f"must be a finite number, got {short_repr(value)}.")
    if not math.isfinite(value):
        raise _fail(path, f"must be a finite number, got {short_repr(value)}.")
    if positive and value <= 0:
        raise _fail(path, f"must be positive, got {short_repr(value)}.")
    return float(value)


def _str(data: Mapping[str, Any], key: str, path: str, *, default: Any = ...) -> str:
    if key not in data:
        if default is not ...:
            return default
        raise _fail(path, "is missing.")
    value = data[key]
    if not isinstance(value, str):
        raise _fail(path, f"must be text, got {short_repr(value)}.")
    return value


def _bool(data: Mapping[str, Any], key: str, path: str, *, default: Any = ...) -> bool:
    if key not in data:
        if default is not ...:
            return default
        raise _fail(path, "is missing.")
    value = data[key]
    if not isinstance(value, bool):
        raise _fail(path, f"must be true or false, got {short_repr(value)}.")
    return value


def _language_from_dict(entry: Any, path: str, plan_prior: bool) -> LanguagePlan:
    if not isinstance(entry, dict):
        raise _fail(path, f"must be an object, got {short_repr(entry)}.")
    code = _str(entry, "code", f"{path}.code")
    if not code.strip():
        raise _fail(f"{path}.code", "must not be empty.")
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        raise _fail(f"{path}.name", f"must be text, got {short_repr(name)}.")
    cap = _int(entry, "cap", f"{path}.cap")
    floor = _int(entry, "floor", f"{path}.floor", default=0)
    pairs = _int(entry, "pairs", f"{path}.pairs")
    uniform_pairs = _int(entry, "uniform_pairs", f"{path}.uniform_pairs")
    for key, value in (("pairs", pairs), ("uniform_pairs", uniform_pairs), ("floor", floor)):
        if value > cap:
            raise _fail(f"{path}.{key}", f"{format_pairs(value)} is above the cap of {format_pairs(cap)}.")
    for key, value in (("pairs", pairs), ("uniform_pairs", uniform_pairs)):
        if value < floor:
            raise _fail(f"{path}.{key}", f"{format_pairs(value)} is below the floor of {format_pairs(floor)}.")
    if "law" not in entry:
        raise _fail(f"{path}.law", "is missing.")
    try:
        law = ScalingLaw.from_dict(entry["law"])
    except PlanningError as exc:
        where = f"{path}.law" + (f".{exc.field}" if exc.field else "")
        raise _fail(where, exc.message) from None
    measured = entry.get("measured")
    if measured is not None:
        if not (isinstance(measured, list) and len(measured) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                for v in measured) and measured[0] <= measured[1]):
            raise _fail(f"{path}.measured",
                        f"must be [smallest, largest] positive pair counts, got {short_repr(measured)}.")
        measured = (float(measured[0]), float(measured[1]))
    flags = entry.get("flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise _fail(f"{path}.flags", f"must be a list of text, got {short_repr(flags)}.")
    quality = entry.get("quality", "")
    if not isinstance(quality, str):
        raise _fail(f"{path}.quality", f"must be text, got {short_repr(quality)}.")
    return LanguagePlan(
        measured=measured,
        flags=tuple(flags),
        quality=quality,
        code=code,
        pairs=pairs,
        cap=cap,
        weight=_float(entry, "weight", f"{path}.weight", positive=True),
        floor=floor,
        predicted=_float(entry, "predicted", f"{path}.predicted"),
        uniform_pairs=uniform_pairs,
        uniform_predicted=_float(entry, "uniform_predicted", f"{path}.uniform_predicted"),
        law=law,
        name=name,
        prior=_bool(entry, "prior", f"{path}.prior", default=plan_prior),
    )


def _plan_from_dict(data: Any) -> Plan:
    if not isinstance(data, dict):
        raise PlanFormatError("A plan must be an object with schema, budget, objective and languages.", field="")
    schema = data.get("schema")
    if schema != PLAN_SCHEMA:
        raise _fail("schema", f"must be {PLAN_SCHEMA!r}, got {short_repr(schema)}.")
    budget = _int(data, "budget", "budget", minimum=1)
    objective = _str(data, "objective", "objective")
    if objective not in OBJECTIVES:
        raise _fail("objective", f"must be one of {', '.join(OBJECTIVES)}, got {short_repr(objective)}.")
    prior = _bool(data, "prior", "prior")
    predicted_total = _float(data, "predicted_total", "predicted_total")
    entries = data.get("languages")
    if not isinstance(entries, list) or not entries:
        raise _fail("languages", "must be a non-empty list of languages.")
    languages = [_language_from_dict(entry, f"languages[{i}]", prior) for i, entry in enumerate(entries)]
    seen: set[str] = set()
    for i, language in enumerate(languages):
        if language.code in seen:
            raise _fail(f"languages[{i}].code", f"language {language.code!r} is listed twice.")
        seen.add(language.code)
    allocated = sum(language.pairs for language in languages)
    if allocated > budget:
        raise _fail("languages", f"the pairs add up to {format_pairs(allocated)}, above the budget of "
                                 f"{format_pairs(budget)}.")
    uniform_default = sum(language.weight * language.uniform_predicted for language in languages)
    warnings = data.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise _fail("warnings", f"must be a list of text, got {short_repr(warnings)}.")
    gain = data.get("gain_per_1k")
    if gain is not None:
        gain = _float(data, "gain_per_1k", "gain_per_1k")
    allocation = data.get("allocation", "point")
    if allocation not in ("point", "robust"):
        raise _fail("allocation", f"must be point or robust, got {short_repr(allocation)}.")
    headline = data.get("headline") or {}
    if not isinstance(headline, dict):
        raise _fail("headline", f"must be an object, got {short_repr(headline)}.")
    interval = headline.get("interval")
    if interval is not None:
        if not (isinstance(interval, list) and len(interval) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in interval)
                and interval[0] <= interval[1]):
            raise _fail("headline.interval", f"must be [low, high], got {short_repr(interval)}.")
        interval = (float(interval[0]), float(interval[1]))
    level = headline.get("level", LEVEL)
    if not (isinstance(level, (int, float)) and not isinstance(level, bool) and 0 < level < 1):
        raise _fail("headline.level", f"must be a number between 0 and 1, got {short_repr(level)}.")
    expected = headline.get("expected")
    if expected is not None and not (isinstance(expected, (int, float)) and not isinstance(expected, bool)
                                     and math.isfinite(expected)):
        raise _fail("headline.expected", f"must be a number, got {short_repr(expected)}.")
    replicates = headline.get("replicates", 0)
    if not (isinstance(replicates, int) and not isinstance(replicates, bool) and replicates >= 0):
        raise _fail("headline.replicates", f"must be a whole number, got {short_repr(replicates)}.")
    return Plan(
        allocation=allocation,
        gain_interval=interval,
        gain_level=float(level),
        gain_expected=None if expected is None else float(expected),
        replicates=replicates,
        budget=budget,
        objective=objective,
        prior=prior,
        predicted_total=predicted_total,
        uniform_total=_float(data, "uniform_total", "uniform_total", default=uniform_default),
        lam=_float(data, "lam", "lam", default=math.nan, nullable=True),
        languages=languages,
        warnings=list(warnings),
        created_at=_str(data, "created_at", "created_at", default=""),
        law_source=_str(data, "law_source", "law_source", default="prior" if prior else "unknown"),
        gain_per_1k=gain,
    )


# ---------------------------------------------------------------------------------------------------------------
# Files


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place (never half-written)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise PlanningError(f"Folder {str(directory)!r} does not exist.", field=str(path))
    if path.is_dir():
        raise PlanningError(f"{str(path)!r} is a folder; give a file name.", field=str(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise PlanningError(f"Cannot write in {str(directory)!r}: {exc.strerror or exc}.", field=str(path)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):  # a full disk, a read-only file system: nothing was half-written
            raise PlanningError(f"Cannot write {str(path)!r}: {exc.strerror or exc}; nothing was written.",
                                field=str(path)) from None
        raise


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in PLAN_FORMATS:
        raise PlanFormatError(
            f"Unknown plan format {suffix or '(no extension)'!r} for {path.name}; use .json, .yaml, .csv or .md.",
            field=str(path),
        )
    return ".yaml" if suffix == ".yml" else suffix


def save_plan(plan: Plan, path) -> Path:
    """Write ``plan`` in the format its extension names (.json, .yaml/.yml, .csv, .md), atomically."""
    path = Path(path)
    if path.is_dir():
        raise PlanningError(f"{str(path)!r} is a folder; give a file name such as plan.json.", field=str(path))
    kind = _format_of(path)
    text = {".json": plan.to_json, ".yaml": plan.to_yaml, ".csv": plan.to_csv, ".md": plan.to_markdown}[kind]()
    write_text_atomic(path, text)
    return path


def load_plan(path) -> Plan:
    """Read and validate a plan (.json, .yaml/.yml or .csv); PlanFormatError names the first bad field."""
    path = Path(path)
    kind = _format_of(path)
    if kind == ".md":
        raise PlanFormatError(
            f"{path.name} is a Markdown summary, which cannot be loaded; use the .json, .yaml or .csv plan.",
            field=str(path),
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanFormatError(f"Plan file {str(path)!r} does not exist.", field=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFormatError(f"Plan file {str(path)!r} cannot be read: {exc}.", field=str(path)) from None
    try:
        return Plan.from_dict(_parse_plan_text(text, kind, path.name))
    except RecursionError:
        raise PlanFormatError(f"{path.name} is nested too deeply to be a plan.", field="") from None


def _parse_plan_text(text: str, kind: str, name: str) -> Any:
    if kind == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanFormatError(f"{name} is not valid JSON (line {exc.lineno}: {exc.msg}).", field="") from None
        except ValueError as exc:  # e.g. an integer longer than Python converts (4,300 digits)
            raise PlanFormatError(f"{name} is not a usable plan: {exc}.", field="") from None
    elif kind == ".yaml":
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise PlanFormatError(f"{name} is not valid YAML{where}.", field="") from None
        except ValueError as exc:
            raise PlanFormatError(f"{name} is not a usable plan: {exc}.", field="") from None
    else:
        try:
            data = _dict_from_csv(text, name)
        except csv.Error as exc:
            raise PlanFormatError(f"{name} is not a usable CSV plan: {exc}.", field="") from None
    return data


def _dict_from_csv(text: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    rows: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            key = key.strip()
            if not sep or key not in _CSV_PLAN_KEYS:
                continue
            try:
                data[key] = json.loads(value.strip())
            except json.JSONDecodeError:
                raise _fail(key, f"the '# {key}:' line of {name} does not hold a valid value.") from None
        elif line.strip():
            rows.append(line)
    reader = csv.DictReader(io.StringIO("\n".join(rows)))
    missing = [column for column in ("code", "pairs", "cap", "weight", "predicted", "uniform_pairs",
                                     "uniform_predicted", "law_form") if column not in (reader.fieldnames or [])]
    if missing:
        raise _fail(f"languages[0].{missing[0]}", f"column {missing[0]!r} is missing from {name}.")
    languages = []
    for i, row in enumerate(reader):
        path = f"languages[{i}]"
        entry: dict[str, Any] = {"code": row["code"]}
        if row.get("name"):
            entry["name"] = row["name"]
        for key in ("pairs", "cap", "floor", "uniform_pairs"):
            if key == "floor" and not row.get(key):
                continue
            entry[key] = _csv_number(row.get(key), f"{path}.{key}", whole=True)
        for key in ("weight", "predicted", "uniform_predicted"):
            entry[key] = _csv_number(row.get(key), f"{path}.{key}", whole=False)
        if row.get("prior"):
            flag = row["prior"].strip().lower()
            if flag not in ("true", "false"):
                raise _fail(f"{path}.prior", f"must be true or false, got {row['prior']!r}.")
            entry["prior"] = flag == "true"
        params = {
            key: _csv_number(row[key], f"{path}.law.params.{key}", whole=False)
            for key in _LAW_COLUMNS
            if row.get(key) not in (None, "")
        }
        entry["law"] = {"form": row["law_form"], "params": params}
        if row.get("measured_min") or row.get("measured_max"):
            entry["measured"] = [_csv_number(row.get("measured_min"), f"{path}.measured", whole=False),
                                 _csv_number(row.get("measured_max"), f"{path}.measured", whole=False)]
        if row.get("quality"):
            entry["quality"] = row["quality"]
        if row.get("flags"):
            try:
                entry["flags"] = json.loads(row["flags"])
            except json.JSONDecodeError:
                raise _fail(f"{path}.flags", f"must be a JSON list of text, got {row['flags']!r}.") from None
        languages.append(entry)
    data["languages"] = languages
    return data


def _csv_number(text: str | None, path: str, *, whole: bool) -> Any:
    if text is None or not text.strip():
        raise _fail(path, "is missing.")
    try:
        return int(text) if whole else float(text)
    except ValueError:
        raise _fail(path, f"must be a {'whole number' if whole else 'number'}, got {text!r}.") from None
