"""From a plan to a worker job spec (``job.json``): a preset, the plan's allocation, data sources, launcher fields.

The spec is validated here with the worker's own ``JobSpec`` (``worker.contract``), so a job the studio uploads is
one the worker accepts; a validation failure becomes one sentence naming the field.

Presets live in ``resources/presets``: ``demo`` (tiny Llama on the shipped sample data; runs anywhere on CPU) and
``llama-7b-8xa100`` (the paper's hyper-parameters; the user supplies model access and data sources).
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from studio.errors import LinguaTuneError
from worker.contract import JobSpec, JobSpecError
from worker.resources import load_preset

PRESETS: dict[str, str] = {"demo": "demo.json", "demo-world": "demo-world.json",
                           "llama-7b-8xa100": "llama-7b-8xa100.json"}
DEFAULT_PRESET = "demo"


class JobSpecBuildError(LinguaTuneError):
    """A plan, preset or override that does not make a valid job."""


def load_preset_spec(preset: str) -> dict[str, Any]:
    if preset not in PRESETS:
        raise JobSpecBuildError(
            f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.", field="preset"
        )
    return copy.deepcopy(load_preset(PRESETS[preset]))


def plan_allocation(plan: Mapping[str, Any]) -> dict[str, int]:
    """``{code: pairs}`` in the plan's order (plan schema ``linguatune.plan/1``)."""
    rows = plan.get("languages")
    if not isinstance(rows, list) or not rows:
        raise JobSpecBuildError("The plan lists no languages.", field="languages")
    allocation: dict[str, int] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or not isinstance(row.get("code"), str):
            raise JobSpecBuildError(f"Plan entry languages[{i}] has no language code.", field=f"languages[{i}]")
        pairs = row.get("pairs")
        if not isinstance(pairs, int) or isinstance(pairs, bool) or pairs < 0:
            raise JobSpecBuildError(
                f"Plan entry languages[{i}].pairs must be a non-negative integer, got {pairs!r}.",
                field=f"languages[{i}].pairs",
            )
        allocation[row["code"]] = pairs
    return allocation


def scale_allocation(allocation: Mapping[str, int], total: int) -> dict[str, int]:
    """The same proportions over ``total`` pairs (largest remainders; a language with pairs keeps at least one)."""
    current = sum(allocation.values())
    if current <= 0:
        return {code: 0 for code in allocation}
    exact = {code: pairs * total / current for code, pairs in allocation.items()}
    scaled = {code: int(value) for code, value in exact.items()}
    for code in sorted(exact, key=lambda c: exact[c] - scaled[c], reverse=True)[: total - sum(scaled.values())]:
        scaled[code] += 1
    for code, pairs in allocation.items():
        if pairs > 0 and scaled[code] == 0:
            scaled[code] = 1
    return scaled


def _set_dotted(spec: dict[str, Any], dotted: str, value: Any) -> None:
    node = spec
    *parents, leaf = dotted.split(".")
    for key in parents:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise JobSpecBuildError(f"Cannot set {dotted!r}: {key!r} is not a section.", field=dotted)
        node = child
    node[leaf] = value


def _keep_languages(section: Any, languages: list[str]) -> Any:
    if isinstance(section, dict):
        return {code: value for code, value in section.items() if code in languages}
    return section


def build_job_spec(
    plan: Mapping[str, Any] | None,
    *,
    preset: str | None = DEFAULT_PRESET,
    name: str = "",
    overrides: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    launcher: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The validated content of ``job.json`` for ``plan`` under ``preset``.

    - ``demo``: the plan's languages must be among the demo's six; its allocation is scaled, proportions kept, to
      the demo's small sample so the job runs in minutes on CPU (the plan's real budget is for real data).
    - other presets: the plan's allocation as is; ``data`` supplies the sources (``english_instructions``,
      ``translated_instructions``, ``pairs``) that the preset leaves open.
    ``overrides`` maps dotted paths (``"train.epochs"``) to values; ``launcher`` fills the launcher section.
    """
    spec = load_preset_spec(preset or DEFAULT_PRESET)
    spec.pop("description", None)
    if plan is not None:
        allocation = plan_allocation(plan)
        languages = list(allocation)
        if preset in (None, "demo"):
            available = list(spec["allocation"])
            missing = [code for code in languages if code not in available]
            if missing:
                raise JobSpecBuildError(
                    f"The demo has sample data only for {', '.join(available)}; "
                    f"the plan also names {', '.join(missing)}.",
                    field="languages",
                )
            allocation = scale_allocation(allocation, sum(spec["allocation"].values()))
        spec["languages"] = languages
        spec["allocation"] = allocation
        spec["mode"] = "muit" if len(languages) > 1 else "coit"
        for section in ("translated_instructions", "pairs"):
            if section in spec.get("data", {}):
                spec["data"][section] = _keep_languages(spec["data"][section], languages)
        for section in ("translation", "qa"):
            if section in spec.get("eval", {}):
                spec["eval"][section] = _keep_languages(spec["eval"][section], languages)
    if data:
        spec.setdefault("data", {})
        for key, value in data.items():
            if isinstance(value, Mapping) and isinstance(spec["data"].get(key), dict):
                spec["data"][key].update(copy.deepcopy(dict(value)))
            else:
                spec["data"][key] = copy.deepcopy(value)
    if launcher:
        spec.setdefault("launcher", {}).update(copy.deepcopy(dict(launcher)))
    if name:
        spec["name"] = name
    for dotted, value in (overrides or {}).items():
        _set_dotted(spec, dotted, value)
    if "data" not in spec or not spec["data"].get("pairs"):
        wanted = ", ".join(code for code, pairs in spec.get("allocation", {}).items() if pairs > 0)
        raise JobSpecBuildError(
            f"The {preset} preset names no data: give parallel-pair sources for {wanted} "
            "(and English and translated instruction sources) in a data file.",
            field="data",
        )
    try:
        return JobSpec.from_dict(spec).to_dict()
    except JobSpecError as exc:
        where = f" at {exc.field}" if exc.field else ""
        raise JobSpecBuildError(f"The {preset} job is not valid{where}: {exc.message}.", field=exc.field) from None
