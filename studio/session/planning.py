"""Planning as both faces run it: the user's inputs (languages, budget, objective, floor, caps, weights, laws and
where they came from) -> a plan; a loaded plan -> inputs; inputs -> the `linguatune` command line that makes the
same plan. The Plan page holds a ``PlanInputs`` and calls these; ``linguatune plan`` builds one from its arguments.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from studio.errors import LinguaTuneError, PlanningError
from studio.planning.budget import compact_pairs, parse_budget
from studio.planning.languages import PAPER_LANGUAGES, load_catalogue
from studio.planning.laws import ScalingLaw
from studio.planning.plan import Plan, make_plan
from studio.planning.prior import prior_law
from studio.planning.replicates import Evidence

OBJECTIVES = ("sum", "maxmin")
PRIOR_SOURCE = "prior"


@dataclass
class PlanInputs:
    """Everything a plan is made from."""

    languages: list[str] = field(default_factory=lambda: list(PAPER_LANGUAGES))
    budget: int = 600_000
    objective: str = "sum"
    floor: int | None = None  # None: each measured language's smallest pilot size (0 for the prior)
    caps: dict[str, int] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    laws: dict[str, ScalingLaw] = field(default_factory=dict)
    law_source: str = PRIOR_SOURCE  # "prior", or the name of the file the laws came from
    measurements_path: str | None = None  # the pilot file the laws were fitted from, when they were
    evidence: dict[str, Evidence] = field(default_factory=dict)  # what the pilots say beyond each point law
    allocation: str = "auto"  # auto | point | robust (studio/planning/plan.py make_plan)
    max_extrapolation: float | None = None

    def effective_laws(self) -> dict[str, ScalingLaw]:
        """The fitted laws of the chosen languages (the others use the prior)."""
        chosen = set(self.languages)
        return {code: law for code, law in self.laws.items() if code in chosen}

    def to_dict(self) -> dict[str, Any]:
        return {
            "languages": list(self.languages),
            "budget": self.budget,
            "objective": self.objective,
            "floor": self.floor,
            "caps": dict(self.caps),
            "weights": dict(self.weights),
            "laws": {code: law.to_dict() for code, law in self.laws.items()},
            "law_source": self.law_source,
            "measurements_path": self.measurements_path,
            "evidence": {code: ev.to_dict() for code, ev in self.evidence.items()},
            "allocation": self.allocation,
            "max_extrapolation": self.max_extrapolation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], catalogue=None) -> "PlanInputs":
        """Inputs from ``to_dict`` output (saved settings); entries that no longer validate fall back to defaults."""
        inputs = cls()
        catalogue = catalogue or load_catalogue()
        languages = [c for c in data.get("languages", []) if isinstance(c, str) and c in catalogue]
        inputs.languages = [catalogue.get(c).code for c in languages]
        if isinstance(data.get("budget"), int) and data["budget"] > 0:
            inputs.budget = data["budget"]
        if data.get("objective") in OBJECTIVES:
            inputs.objective = data["objective"]
        if isinstance(data.get("floor"), int) and not isinstance(data["floor"], bool) and data["floor"] >= 0:
            inputs.floor = data["floor"]
        if data.get("allocation") in ("auto", "point", "robust"):
            inputs.allocation = data["allocation"]
        factor = data.get("max_extrapolation")
        if isinstance(factor, (int, float)) and not isinstance(factor, bool) and math.isfinite(factor) \
                and factor >= 1:
            inputs.max_extrapolation = float(factor)
        caps = data.get("caps") or {}
        inputs.caps = {c: v for c, v in caps.items() if isinstance(v, int) and v > 0 and c in catalogue}
        weights = data.get("weights") or {}
        inputs.weights = {c: float(v) for c, v in weights.items()
                          if isinstance(v, (int, float)) and valid_weight(v) and c in catalogue}
        for code, law in (data.get("laws") or {}).items():
            try:
                inputs.laws[code] = ScalingLaw.from_dict(law)
            except LinguaTuneError:
                continue
        for code, entry in (data.get("evidence") or {}).items():
            if code in inputs.laws:
                try:
                    inputs.evidence[code] = Evidence.from_dict(entry)
                except LinguaTuneError:
                    continue
        inputs.law_source = str(data.get("law_source") or PRIOR_SOURCE) if inputs.laws else PRIOR_SOURCE
        path = data.get("measurements_path")
        inputs.measurements_path = path if isinstance(path, str) and inputs.laws else None
        return inputs


def valid_weight(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and 1e-6 <= value <= 1e6


def parse_weight(text: str, code: str) -> float:
    """A language's objective weight from text; one sentence naming the language when it is not usable."""
    try:
        value = float(text)
    except ValueError:
        raise PlanningError(f"The weight of {code!r} must be a number, got {text!r}.", field=code) from None
    if not math.isfinite(value) or value <= 0:
        raise PlanningError(f"The weight of {code!r} must be positive, got {text}.", field=code)
    if not valid_weight(value):
        raise PlanningError(f"The weight of {code!r} must be between 1e-06 and 1e+06, got {text}.", field=code)
    return value


def plan_from_inputs(inputs: PlanInputs, catalogue=None, *, strict: bool = False) -> Plan:
    """Make the plan the inputs describe (raises ``PlanningError`` with one sentence on bad input).

    The Plan page keeps caps and weights of languages it unticked (they come back when re-ticked), so by default
    those are left out; ``strict`` (the CLI) refuses a cap or weight for a language that is not planned."""
    if not inputs.languages:
        raise PlanningError("No languages to plan for; choose at least one.", field="languages")
    chosen = set(inputs.languages)
    laws = inputs.effective_laws()
    return make_plan(
        inputs.languages,
        inputs.budget,
        laws=laws,
        objective=inputs.objective,
        floors=inputs.floor,
        caps=dict(inputs.caps) if strict else {c: v for c, v in inputs.caps.items() if c in chosen} or None,
        weights=dict(inputs.weights) if strict else {c: v for c, v in inputs.weights.items() if c in chosen} or None,
        catalogue=catalogue,
        law_source=inputs.law_source if laws else None,
        evidence={c: ev for c, ev in inputs.evidence.items() if c in laws},
        allocation=inputs.allocation,
        max_extrapolation=inputs.max_extrapolation,
    )


def inputs_from_plan(plan: Plan, source: str, catalogue=None) -> PlanInputs:
    """A loaded plan's inputs; a language whose law differs from the prior keeps it as a fitted law."""
    catalogue = catalogue or load_catalogue()
    inputs = PlanInputs(languages=[lp.code for lp in plan.languages], budget=plan.budget, objective=plan.objective)
    floors = {lp.floor for lp in plan.languages}
    by_measure = all(lp.measured is not None and lp.floor == min(int(math.ceil(lp.measured[0])), lp.cap)
                     for lp in plan.languages if not lp.prior) and any(not lp.prior for lp in plan.languages)
    if by_measure and all(lp.floor == 0 for lp in plan.languages if lp.prior):
        inputs.floor = None  # the default: each language's smallest pilot
    else:
        inputs.floor = floors.pop() if len(floors) == 1 else max([0, *floors])
    for lp in plan.languages:
        language = catalogue.get(lp.code)
        if lp.cap != language.pairs:
            inputs.caps[lp.code] = lp.cap
        if lp.weight != 1.0:
            inputs.weights[lp.code] = lp.weight
        if not getattr(lp, "prior", lp.law.to_dict() == prior_law(language).to_dict()):
            inputs.laws[lp.code] = lp.law
            if lp.measured is not None:
                inputs.evidence[lp.code] = Evidence(lp.measured, None, lp.quality, tuple(lp.flags))
    if inputs.laws:
        recorded = (plan.law_source or "").split(" + prior for ")[0]
        inputs.law_source = recorded if recorded and recorded not in (PRIOR_SOURCE, "fitted") else source
    return inputs


def plan_command(inputs: PlanInputs, *, laws_file: str | None = None) -> str:
    """The `linguatune` command line that makes the same plan (with the fit step first when the laws came from a
    pilot file)."""
    args = ["linguatune", "plan", "--languages", ",".join(inputs.languages), "--budget",
            compact_pairs(inputs.budget), "--objective", inputs.objective]
    if inputs.floor is not None:
        args += ["--min", compact_pairs(inputs.floor) if inputs.floor else "0"]
    if inputs.allocation != "auto":
        args += ["--allocation", inputs.allocation]
    if inputs.max_extrapolation is not None:
        args += ["--max-extrapolation", f"{inputs.max_extrapolation:g}"]
    for code in inputs.languages:
        if code in inputs.caps:
            args += ["--cap", f"{code}={compact_pairs(inputs.caps[code])}"]
    for code in inputs.languages:
        if code in inputs.weights and inputs.weights[code] != 1.0:
            args += ["--weight", f"{code}={inputs.weights[code]:g}"]
    prefix = ""
    if inputs.effective_laws():
        if inputs.measurements_path:
            prefix = f"linguatune fit {shlex.quote(inputs.measurements_path)} -o laws.json && "
            args += ["--laws", "laws.json"]
        elif laws_file or (inputs.law_source.endswith(".json") and Path(inputs.law_source).is_file()):
            args += ["--laws", laws_file or inputs.law_source]
    return prefix + " ".join(shlex.quote(a) for a in args)


def parse_pairs_options(items: Sequence[str], option: str, parse) -> dict[str, Any]:
    """``["ar=150k", ...]`` -> ``{"ar": parse("150k", "ar")}``; one sentence for an item that is not LANG=VALUE."""
    out: dict[str, Any] = {}
    for item in items:
        code, sep, value = item.partition("=")
        if not sep or not code.strip() or not value.strip():
            raise PlanningError(f"{option} expects LANG=VALUE, got {item!r}.", field=option)
        out[code.strip()] = parse(value.strip(), code.strip())
    return out


def inputs_from_arguments(languages: str, budget: str, *, objective: str = "sum", floor: str | None = None,
                          caps: Sequence[str] = (), weights: Sequence[str] = (), laws_path: str | None = None,
                          catalogue=None, allocation: str = "auto",
                          max_extrapolation: float | None = None) -> PlanInputs:
    """``linguatune plan``'s arguments as inputs (the same validation as the Plan page's fields). ``floor`` None
    (or "auto"): each measured language's smallest pilot size."""
    from studio.planning.fitting import load_laws_with_evidence

    catalogue = catalogue or load_catalogue()
    codes = [code.strip() for code in languages.split(",") if code.strip()]
    if not codes:
        raise PlanningError("--languages names no language.", field="languages")
    resolved = [language.code for language in catalogue.resolve(codes)]
    laws, evidence = load_laws_with_evidence(laws_path, catalogue) if laws_path else ({}, {})
    auto = floor is None or floor.strip().lower() == "auto"
    return PlanInputs(
        languages=resolved,
        budget=parse_budget(budget),
        objective=objective,
        floor=None if auto else parse_budget(floor, what="--min", allow_zero=True),
        evidence=evidence,
        allocation=allocation,
        max_extrapolation=max_extrapolation,
        caps=parse_pairs_options(caps, "--cap",
                                 lambda v, c: parse_budget(v, what=f"Cap of {c!r}", allow_zero=True)),
        weights=parse_pairs_options(weights, "--weight", parse_weight),
        laws=laws,
        law_source=Path(laws_path).name if laws_path else PRIOR_SOURCE,
    )
