"""The planning commands end to end, through a fresh interpreter as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.planning.laws import PowerLaw
from studio.planning.plan import load_plan

ROOT = Path(__file__).resolve().parents[2]


def linguatune(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "studio.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=120)


def assert_user_error(result, words):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("linguatune: error: ")
    assert words in lines[0]


def test_languages_lists_and_searches():
    result = linguatune("languages")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["code", "name", "script", "family", "pairs", "similarity"]
    assert len(lines) >= 2 + 78
    found = linguatune("languages", "turkic")
    rows = [line.split()[0] for line in found.stdout.splitlines()[2:]]
    assert "tr" in rows and "ar" not in rows
    assert "477,735" in found.stdout
    assert_user_error(linguatune("languages", "klingon"), "No language matches 'klingon'")


def test_plan_prints_table_writes_every_format_and_show_reads_them(tmp_path):
    result = linguatune("plan", "--languages", "ar,el,hi,tr,vi,zh", "--budget", "600k", "-o", tmp_path / "plan.json")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "UNCALIBRATED PRIOR" in out
    assert "language" in out and "uniform pairs" in out and "gain" in out and "cap" in out
    assert "1k more pairs buys +" in out and "Predicted gain over the uniform split: sum of scores +" in out
    assert "prior: not measured" in out  # the measured column: the prior was never measured anywhere
    plan = load_plan(tmp_path / "plan.json")
    assert plan.allocated == 600_000 and plan.prior
    for suffix in (".yaml", ".csv", ".md"):
        again = linguatune("plan", "--languages", "ar,el,hi,tr,vi,zh", "--budget", "600000", "-o",
                           tmp_path / f"plan{suffix}")
        assert again.returncode == 0, again.stderr
    for suffix in (".json", ".yaml", ".csv"):
        shown = linguatune("show", tmp_path / f"plan{suffix}")
        assert shown.returncode == 0, shown.stderr
        assert "UNCALIBRATED PRIOR" in shown.stdout
        assert f"{plan.languages[0].pairs:,}" in shown.stdout


def test_plan_options(tmp_path):
    result = linguatune("plan", "--languages", "ar,el,tr", "--budget", "1.2M", "--objective", "maxmin", "--min", "10k",
                        "--cap", "tr=50k", "--cap", "el=700000", "-o", tmp_path / "plan.yaml")
    assert result.returncode == 0, result.stderr
    plan = load_plan(tmp_path / "plan.yaml")
    by_code = {language.code: language for language in plan.languages}
    assert plan.objective == "maxmin" and plan.budget == 1_200_000
    assert by_code["tr"].cap == 50_000 and by_code["tr"].pairs == 50_000
    assert by_code["el"].cap == 700_000
    assert all(language.floor == 10_000 for language in plan.languages)
    assert "raises the lowest predicted score" in result.stdout
    weighted = linguatune("plan", "--languages", "ar,el", "--budget", "100k", "--weight", "ar=3", "-o",
                          tmp_path / "w.json")
    assert weighted.returncode == 0
    assert json.loads((tmp_path / "w.json").read_text())["languages"][0]["weight"] == 3.0


def test_fit_then_plan_with_the_laws(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["# pilot measurements", "language,pairs,score"]
    for code, law in (("ar", PowerLaw(c=86, a=320, b=0.33)), ("el", PowerLaw(c=88, a=180, b=0.3))):
        for x in np.geomspace(1_000, 500_000, 6):
            lines.append(f"{code},{int(x)},{law.value(x) + rng.normal(0, 0.3):.3f}")
    points = tmp_path / "points.csv"
    points.write_text("\n".join(lines) + "\n")
    fitted = linguatune("fit", points, "-o", tmp_path / "laws.json", "--bootstrap", "50")
    assert fitted.returncode == 0, fitted.stderr
    assert fitted.stdout.splitlines()[0].split() == ["language", "form", "parameters", "points", "fit", "RMSE",
                                                     "pooled", "flags"]
    assert "R2 0.99" in fitted.stdout and "Bands: 95% pointwise, parametric bootstrap" in fitted.stdout
    assert "Wrote 2 law(s)" in fitted.stdout
    laws = json.loads((tmp_path / "laws.json").read_text())
    assert set(laws["laws"]) == {"ar", "el"}
    planned = linguatune("plan", "--languages", "ar,el", "--budget", "300k", "--laws", tmp_path / "laws.json",
                         "-o", tmp_path / "plan.json")
    assert planned.returncode == 0, planned.stderr
    assert "UNCALIBRATED" not in planned.stdout and "laws: laws.json" in planned.stdout
    plan = load_plan(tmp_path / "plan.json")
    assert not plan.prior and plan.law_source == "laws.json"
    assert plan.languages[0].law.params()["c"] == pytest.approx(laws["laws"]["ar"]["params"]["c"])
    # The laws came with replicates: the default plan is robust, its gain has an interval, floors are the pilots'.
    assert plan.allocation == "robust" and plan.gain_interval is not None and plan.replicates == 50
    assert "95% interval" in planned.stdout and "Allocation: robust" in planned.stdout
    assert "1k more pairs buys +" in planned.stdout and "expected total" in planned.stdout and plan.gain_per_1k > 0
    assert all(lp.floor == 1000 and lp.measured == (1000.0, 500_000.0) for lp in plan.languages)
    point = linguatune("plan", "--languages", "ar,el", "--budget", "300k", "--laws", tmp_path / "laws.json",
                       "--allocation", "point", "--min", "0", "-o", tmp_path / "point.json")
    assert point.returncode == 0, point.stderr
    assert load_plan(tmp_path / "point.json").allocation == "point"
    assert all(lp.floor == 0 for lp in load_plan(tmp_path / "point.json").languages)


def test_user_errors_exit_2_with_one_line(tmp_path):
    assert_user_error(linguatune("plan", "--languages", "ar,xx", "--budget", "600k"), "Unknown language code 'xx'")
    assert_user_error(linguatune("plan", "--languages", "ar,el", "--budget", "-5"), "must not be negative")
    assert_user_error(linguatune("plan", "--languages", "ar,el", "--budget", "lots"), "600k")
    assert_user_error(linguatune("plan", "--languages", "ar,ar", "--budget", "1k"), "listed twice")
    assert_user_error(linguatune("plan", "--languages", "ar,el", "--budget", "1k", "--min", "1k"),
                      "below the sum of floors 2,000")
    assert_user_error(linguatune("plan", "--languages", "ar", "--budget", "1k", "--cap", "ar"), "LANG=VALUE")
    assert_user_error(linguatune("plan", "--languages", "ar", "--budget", "1k", "--weight", "ar=0"), "positive")
    bad_plan = tmp_path / "plan.json"
    bad_plan.write_text('{"schema": "linguatune.plan/1", "budget": 10}')
    assert_user_error(linguatune("show", bad_plan), "Plan field objective")
    assert_user_error(linguatune("show", tmp_path / "none.yaml"), "does not exist")
    points = tmp_path / "points.csv"
    points.write_text("language,pairs,score\nar,1000,50\nar,-3,60\n")
    assert_user_error(linguatune("fit", points, "-o", tmp_path / "laws.json"),
                      "points.csv line 3: pairs must be positive, got -3")
    assert not (tmp_path / "laws.json").exists()
    assert_user_error(linguatune("plan", "--languages", "ar", "--budget", "1k", "--laws", points), "not valid JSON")
