"""Plans: made from the catalogue and laws, round-tripped through JSON, YAML and CSV, validated with field paths."""

from __future__ import annotations

import copy
import json
import math

import pytest
import yaml

from studio.errors import PlanFormatError, PlanningError, UnknownLanguageError
from studio.planning.languages import PAPER_LANGUAGES
from studio.planning.laws import LogLaw, PowerLaw
from studio.planning.plan import PLAN_SCHEMA, Plan, load_plan, make_plan, save_plan
from studio.planning.prior import PRIOR_NOTE, efficiency_from_similarity, prior_law


@pytest.fixture
def prior_plan(catalogue):
    return make_plan(list(PAPER_LANGUAGES), "600k", catalogue=catalogue)


@pytest.fixture
def fitted_plan(catalogue):
    laws = {"ar": PowerLaw(c=88.0, a=300.0, b=0.35), "Greek": LogLaw(a=4.0, b=30.0, x0=500.0)}
    return make_plan(["ar", "el", "tr"], 300_000, laws=laws, catalogue=catalogue, caps={"tr": 50_000},
                     weights={"ar": 2.0}, floors={"el": 20_000}, law_source="laws.json")


def test_prior_plan_follows_the_json_contract(prior_plan, catalogue):
    data = prior_plan.to_dict()
    assert data["schema"] == PLAN_SCHEMA
    assert isinstance(data["budget"], int) and data["budget"] == 600_000
    assert data["objective"] == "sum" and data["prior"] is True
    assert isinstance(data["predicted_total"], float)
    assert data["prior_note"] == PRIOR_NOTE and data["law_source"] == "prior"
    assert [entry["code"] for entry in data["languages"]] == list(PAPER_LANGUAGES)
    for entry in data["languages"]:
        contract = {"code", "pairs", "cap", "weight", "predicted", "uniform_pairs", "uniform_predicted", "law"}
        assert contract <= set(entry)
        assert entry["cap"] == catalogue.get(entry["code"]).pairs
        assert entry["law"]["form"] == "power" and set(entry["law"]["params"]) == {"c", "a", "b", "g"}
        assert entry["uniform_pairs"] == 100_000 and entry["prior"] is True
    assert sum(entry["pairs"] for entry in data["languages"]) == 600_000
    assert data["predicted_total"] >= data["uniform_total"]
    assert data["predicted_total"] == pytest.approx(sum(e["predicted"] for e in data["languages"]))
    json.dumps(data, allow_nan=False)


def test_prior_is_illustrative_and_ordered_by_similarity(catalogue):
    close = prior_law(catalogue.get("de"))
    assert 50 <= close.value(1_000) <= 60 and 80 <= close.value(1_000_000) <= 90
    turkish, greek = prior_law(catalogue.get("tr")), prior_law(catalogue.get("el"))
    assert turkish.value(100_000) < greek.value(100_000) < close.value(100_000)
    assert efficiency_from_similarity(None) == efficiency_from_similarity(0.73)
    assert efficiency_from_similarity(1.0) == 1.0
    assert "UNCALIBRATED" in PRIOR_NOTE and "not available" in PRIOR_NOTE


def test_fitted_laws_caps_weights_and_floors_are_used(fitted_plan):
    by_code = {language.code: language for language in fitted_plan.languages}
    assert by_code["ar"].law == PowerLaw(c=88.0, a=300.0, b=0.35) and not by_code["ar"].prior
    assert by_code["el"].law == LogLaw(a=4.0, b=30.0, x0=500.0) and not by_code["el"].prior
    assert by_code["tr"].prior and fitted_plan.prior
    assert fitted_plan.law_source == "laws.json + prior for tr"
    assert by_code["tr"].cap == 50_000 and by_code["tr"].pairs <= 50_000
    assert by_code["ar"].weight == 2.0 and by_code["el"].floor == 20_000 and by_code["el"].pairs >= 20_000
    assert fitted_plan.allocated == 300_000
    assert fitted_plan.predicted_total == pytest.approx(sum(l.weight * l.predicted for l in fitted_plan.languages))
    assert fitted_plan.gain_per_1k == pytest.approx(1000 * fitted_plan.lam, rel=0.02)


def test_all_fitted_plan_is_not_a_prior_plan(catalogue):
    laws = {code: PowerLaw(c=85.0, a=250.0, b=0.3) for code in ("ar", "zh")}
    plan = make_plan(["ar", "zh"], "200k", laws=laws, catalogue=catalogue)
    assert plan.prior is False and "prior_note" not in plan.to_dict() and plan.law_source == "fitted"


def test_maxmin_plan(catalogue):
    plan = make_plan(list(PAPER_LANGUAGES), "1.2M", objective="maxmin", catalogue=catalogue)
    assert plan.to_dict()["lam"] is None and math.isnan(plan.lam)
    lowest = min(language.predicted for language in plan.languages)
    assert lowest >= min(language.uniform_predicted for language in plan.languages)


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml", ".csv"])
def test_plans_round_trip_in_every_format(tmp_path, prior_plan, fitted_plan, suffix):
    for plan in (prior_plan, fitted_plan):
        path = save_plan(plan, tmp_path / f"plan{suffix}")
        loaded = load_plan(path)
        assert loaded.to_dict() == plan.to_dict()
        assert loaded.languages[0].law == plan.languages[0].law
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"plan{suffix}"]


def test_markdown_is_a_summary_not_a_plan(tmp_path, prior_plan):
    path = save_plan(prior_plan, tmp_path / "plan.md")
    text = path.read_text()
    assert "UNCALIBRATED PRIOR" in text
    assert "| Language | Pairs | Uniform pairs | Predicted | Uniform predicted | Gain | Cap | Law |" in text
    assert "| Arabic (ar) |" in text and "1k more pairs buys" in text
    with pytest.raises(PlanFormatError, match="Markdown summary"):
        load_plan(path)


def _mutated(plan, change):
    data = copy.deepcopy(plan.to_dict())
    change(data)
    return data


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d["languages"][2]["law"]["params"].__setitem__("b", -1.0), "languages[2].law.params.b"),
        (lambda d: d["languages"][1]["law"].__setitem__("form", "cubic"), "languages[1].law.form"),
        (lambda d: d["languages"][0]["law"]["params"].pop("c"), "languages[0].law.params.c"),
        (lambda d: d["languages"][1].__setitem__("pairs", 10**9), "languages[1].pairs"),
        (lambda d: d["languages"][1].__setitem__("pairs", 1.5), "languages[1].pairs"),
        (lambda d: d["languages"][3].__setitem__("weight", 0), "languages[3].weight"),
        (lambda d: d["languages"][4].pop("predicted"), "languages[4].predicted"),
        (lambda d: d["languages"][5].__setitem__("code", "ar"), "languages[5].code"),
        (lambda d: d.pop("budget"), "budget"),
        (lambda d: d.__setitem__("budget", "600k"), "budget"),
        (lambda d: d.__setitem__("objective", "median"), "objective"),
        (lambda d: d.__setitem__("schema", "linguatune.plan/9"), "schema"),
        (lambda d: d.__setitem__("prior", "yes"), "prior"),
        (lambda d: d.__setitem__("languages", []), "languages"),
        (lambda d: d.__setitem__("budget", 1000), "languages"),
        (lambda d: d.__setitem__("predicted_total", float("nan")), "predicted_total"),
    ],
)
def test_invalid_plans_name_the_field(prior_plan, change, field):
    with pytest.raises(PlanFormatError) as info:
        Plan.from_dict(_mutated(prior_plan, change))
    assert info.value.field == field
    assert field in str(info.value)


def test_minimal_contract_document_loads(prior_plan):
    """A tool writing only the contract fields of the issue produces a loadable plan."""
    keep = {"schema", "budget", "objective", "prior", "predicted_total", "languages"}
    data = {k: v for k, v in prior_plan.to_dict().items() if k in keep}
    data["languages"] = [{k: v for k, v in e.items() if k in {"code", "pairs", "cap", "weight", "predicted",
                                                              "uniform_pairs", "uniform_predicted", "law"}}
                         for e in data["languages"]]
    plan = Plan.from_dict(data)
    assert plan.allocated == 600_000 and plan.uniform_total == pytest.approx(prior_plan.uniform_total)


def test_file_errors_name_the_field(tmp_path, prior_plan):
    path = save_plan(prior_plan, tmp_path / "plan.csv")
    text = path.read_text().splitlines()
    header_at = next(i for i, line in enumerate(text) if line.startswith("code,"))
    cells = text[header_at + 2].split(",")
    cells[2] = "many"
    text[header_at + 2] = ",".join(cells)
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(PlanFormatError) as info:
        load_plan(path)
    assert info.value.field == "languages[1].pairs"

    yaml_path = tmp_path / "plan.yaml"
    data = prior_plan.to_dict()
    data["languages"][3]["law"]["params"]["g"] = 0
    yaml_path.write_text(yaml.safe_dump(data))
    with pytest.raises(PlanFormatError) as info:
        load_plan(yaml_path)
    assert info.value.field == "languages[3].law.params.g"

    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": ')
    with pytest.raises(PlanFormatError, match="not valid JSON"):
        load_plan(broken)
    with pytest.raises(PlanFormatError, match="does not exist"):
        load_plan(tmp_path / "missing.json")
    with pytest.raises(PlanFormatError, match="Unknown plan format"):
        save_plan(prior_plan, tmp_path / "plan.txt")


def test_make_plan_user_errors(catalogue):
    with pytest.raises(UnknownLanguageError) as info:
        make_plan(["ar", "arabc"], "600k", catalogue=catalogue)
    assert info.value.code == "arabc" and "ar" in info.value.suggestions
    with pytest.raises(PlanningError, match="listed twice"):
        make_plan(["ar", "Arabic"], "600k", catalogue=catalogue)
    with pytest.raises(PlanningError, match="negative"):
        make_plan(["ar"], "-5", catalogue=catalogue)
    with pytest.raises(PlanningError, match="not one of the plan's languages"):
        make_plan(["ar"], "600k", caps={"el": 10}, catalogue=catalogue)
    with pytest.raises(PlanningError, match="below the sum of floors 200,000"):
        make_plan(["ar", "el"], "100k", floors=100_000, catalogue=catalogue)
    with pytest.raises(PlanningError, match="No languages"):
        make_plan([], "100k", catalogue=catalogue)
