"""Fitting scaling laws: recovery of known parameters, robust loss, pooling, bootstrap bands, files and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.errors import FitError, UnknownLanguageError
from studio.planning.fitting import (
    LAWS_SCHEMA,
    LawsFormatError,
    Measurement,
    fit_laws,
    load_laws,
    load_measurements,
    save_laws,
)
from studio.planning.laws import LogLaw, PowerLaw

GRID = np.geomspace(1_000, 1_000_000, 10)


def sample(code, law, xs=GRID, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return [Measurement(code, float(x), float(law.value(x) + rng.normal(0, noise))) for x in xs]


def test_noiseless_power_law_is_recovered():
    true = PowerLaw(c=88.0, a=300.0, b=0.35)
    result = fit_laws(sample("ar", true), bootstrap=0)["ar"]
    params = result.law.params()
    assert params["c"] == pytest.approx(88.0, rel=1e-5)
    assert params["a"] == pytest.approx(300.0, rel=1e-4)
    assert params["b"] == pytest.approx(0.35, rel=1e-5)
    assert params["g"] == 1.0
    assert result.r2 == pytest.approx(1.0, abs=1e-9) and result.rmse < 1e-5
    assert result.n_points == 10 and not result.pooled and result.band is None


def test_noiseless_log_law_is_recovered():
    true = LogLaw(a=4.0, b=30.0, x0=500.0)
    result = fit_laws(sample("hi", true), form="log", bootstrap=0)["hi"]
    assert result.law.params() == pytest.approx({"a": 4.0, "b": 30.0, "x0": 500.0}, rel=1e-5)


def test_noisy_measurements_give_a_close_curve():
    true = PowerLaw(c=85.0, a=200.0, b=0.3)
    result = fit_laws(sample("el", true, xs=np.geomspace(1_000, 1_000_000, 12), noise=0.5, seed=3), bootstrap=0)["el"]
    x = np.geomspace(2_000, 800_000, 30)
    assert np.max(np.abs(result.law.value(x) - true.value(x))) < 1.0
    assert result.r2 > 0.98
    assert 0.2 < result.rmse < 1.0


def test_one_bad_pilot_run_does_not_bend_the_curve():
    true = PowerLaw(c=85.0, a=200.0, b=0.3)
    points = sample("el", true, noise=0.2, seed=1)
    points[6] = Measurement("el", points[6].pairs, points[6].score - 15.0)  # a diverged run
    law = fit_laws(points, bootstrap=0)["el"].law
    x = np.array([p.pairs for i, p in enumerate(points) if i != 6])
    assert np.max(np.abs(law.value(x) - true.value(x))) < 0.8


def test_bootstrap_band_contains_the_true_curve():
    true = PowerLaw(c=85.0, a=200.0, b=0.3)
    xs = np.geomspace(1_000, 1_000_000, 12)
    result = fit_laws(sample("el", true, xs=xs, noise=0.6, seed=5), bootstrap=300, seed=2)["el"]
    band = result.band
    assert band is not None and band.x.shape == band.lower.shape == band.upper.shape == (60,)
    assert band.x[0] < xs.min() and band.x[-1] > xs.max()
    inside = (band.x >= xs.min()) & (band.x <= xs.max())
    truth = true.value(band.x[inside])
    covered = (band.lower[inside] <= truth) & (truth <= band.upper[inside])
    assert covered.mean() >= 0.9
    assert np.all(band.upper >= band.lower) and np.all(band.upper[inside] - band.lower[inside] < 3.0)
    fitted = result.law.value(band.x[inside])
    assert np.all((band.lower[inside] <= fitted + 1e-6) & (fitted - 1e-6 <= band.upper[inside]))


def test_bootstrap_is_reproducible_with_a_seed():
    points = sample("el", PowerLaw(c=85.0, a=200.0, b=0.3), noise=0.5, seed=4)
    first = fit_laws(points, bootstrap=50, seed=9)["el"].band
    again = fit_laws(points, bootstrap=50, seed=9)["el"].band
    assert np.array_equal(first.lower, again.lower) and np.array_equal(first.upper, again.upper)


def test_languages_with_few_points_are_pooled_automatically():
    shared_b = 0.3
    rich = sample("ar", PowerLaw(c=88.0, a=300.0, b=shared_b)) + sample("el", PowerLaw(c=84.0, a=150.0, b=shared_b))
    poor_true = PowerLaw(c=80.0, a=250.0, b=shared_b)
    poor = sample("tr", poor_true, xs=np.array([5_000.0, 200_000.0]))
    results = fit_laws(rich + poor, bootstrap=0)
    assert [results[c].pooled for c in ("ar", "el", "tr")] == [False, False, True]
    assert results["tr"].law.params()["b"] == pytest.approx(shared_b, rel=1e-4)
    x = np.geomspace(1_000, 1_000_000, 20)
    assert np.max(np.abs(results["tr"].law.value(x) - poor_true.value(x))) < 1e-3
    everything = fit_laws(rich + poor, pooled=True, bootstrap=20)
    assert all(r.pooled for r in everything.values())
    assert len({round(r.law.params()["b"], 9) for r in everything.values()}) == 1
    assert everything["tr"].band is not None


def test_too_few_points_without_pooling_is_an_error_naming_the_language():
    rich = sample("ar", PowerLaw(c=88.0, a=300.0, b=0.3))
    poor = sample("tr", PowerLaw(c=80.0, a=250.0, b=0.3), xs=np.array([5_000.0, 200_000.0]))
    with pytest.raises(FitError, match="'tr' has measurements at 2 pair count"):
        fit_laws(rich + poor, pooled=False)
    with pytest.raises(FitError, match="'tr' has measurements at only one pair count"):
        fit_laws(rich + poor[:1])
    with pytest.raises(FitError, match="Too few measurements to pool"):
        fit_laws(poor)


def test_programmatic_measurements_are_checked():
    with pytest.raises(FitError, match=r"measurement 2 \(ar\): pairs must be positive, got -3"):
        fit_laws([Measurement("ar", 10.0, 1.0), Measurement("ar", -3.0, 2.0)])
    with pytest.raises(FitError, match="score must be a finite number"):
        fit_laws([Measurement("ar", 10.0, float("nan"))])
    with pytest.raises(FitError, match="form"):
        fit_laws([Measurement("ar", 10.0, 1.0)], form="cubic")


def test_csv_measurements_with_comments_and_names(tmp_path, catalogue):
    path = tmp_path / "points.csv"
    path.write_text("# pilot runs, COMET x 100\nlanguage,pairs,score\nar,1000,51.5\n\n# a comment\nArabic,10000,63\n"
                    "ara,100000,72.25\n")
    points = load_measurements(path, catalogue)
    assert points == [Measurement("ar", 1000.0, 51.5), Measurement("ar", 10000.0, 63.0),
                      Measurement("ar", 100000.0, 72.25)]


def test_json_measurements_as_list_or_object(tmp_path, catalogue):
    rows = [{"language": "zh", "pairs": 1000, "score": 50}, {"language": "vi", "pairs": 2000, "score": 55.5}]
    listed = tmp_path / "a.json"
    listed.write_text(json.dumps(rows))
    wrapped = tmp_path / "b.json"
    wrapped.write_text(json.dumps({"measurements": rows}))
    expected = [Measurement("zh", 1000.0, 50.0), Measurement("vi", 2000.0, 55.5)]
    assert load_measurements(listed, catalogue) == expected == load_measurements(wrapped, catalogue)


@pytest.mark.parametrize(
    "content, message",
    [
        ("language,pairs,score\nar,1000,50\nar,2000,55\nar,3000,57\nar,4000,58\nar,-3,60\n",
         "points.csv line 6: pairs must be positive, got -3"),
        ("language,pairs,score\nar,1000,nan\n", "points.csv line 2: score must be finite, got 'nan'"),
        ("language,pairs,score\nar,lots,50\n", "points.csv line 2: pairs must be a number, got 'lots'"),
        ("language,pairs\nar,1000\n", "missing column 'score'"),
        ("language,pairs,score\nar,1000\n", "points.csv line 2: expected 3 columns, got 2"),
        ("# only comments\n", "holds no measurements"),
    ],
)
def test_bad_csv_rows_are_named(tmp_path, catalogue, content, message):
    path = tmp_path / "points.csv"
    path.write_text(content)
    with pytest.raises(FitError) as info:
        load_measurements(path, catalogue)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "data, message",
    [
        ([{"language": "ar", "pairs": 10, "score": 1}, {"language": "ar", "pairs": 0, "score": 2}],
         "points.json row 2: pairs must be positive, got 0"),
        ([{"language": "ar", "pairs": 10}], "points.json row 1: missing 'score'"),
        ({"rows": []}, "needs a 'measurements' list"),
        ([{"language": "ar", "pairs": 10, "score": True}], "score must be a number"),
    ],
)
def test_bad_json_rows_are_named(tmp_path, catalogue, data, message):
    path = tmp_path / "points.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FitError) as info:
        load_measurements(path, catalogue)
    assert message in str(info.value)


def test_unknown_language_and_missing_file(tmp_path, catalogue):
    path = tmp_path / "points.csv"
    path.write_text("language,pairs,score\narabik,1000,50\n")
    with pytest.raises(UnknownLanguageError) as info:
        load_measurements(path, catalogue)
    assert info.value.code == "arabik"
    with pytest.raises(FitError, match="does not exist"):
        load_measurements(tmp_path / "nope.csv", catalogue)


def test_laws_file_round_trip_and_field_errors(tmp_path):
    points = sample("ar", PowerLaw(c=88.0, a=300.0, b=0.35), noise=0.3) + sample("hi", PowerLaw(c=80, a=260, b=0.3))
    results = fit_laws(points, bootstrap=30)
    path = tmp_path / "laws.json"
    save_laws(results, path)
    document = json.loads(path.read_text())
    assert document["schema"] == LAWS_SCHEMA
    entry = document["laws"]["ar"]
    assert set(entry) >= {"form", "params", "r2", "rmse", "n_points", "pooled", "band"}
    assert entry["n_points"] == 10 and entry["pooled"] is False
    assert load_laws(path) == {code: r.law for code, r in results.items()}
    assert [p.name for p in tmp_path.iterdir()] == ["laws.json"]  # no temporary file left behind

    document["laws"]["hi"]["params"]["b"] = -0.2
    path.write_text(json.dumps(document))
    with pytest.raises(LawsFormatError) as info:
        load_laws(path)
    assert info.value.field == "laws.hi.params.b"
    path.write_text('{"schema": "other"}')
    with pytest.raises(LawsFormatError, match="schema"):
        load_laws(path)
    path.write_text("{not json")
    with pytest.raises(LawsFormatError, match="not valid JSON"):
        load_laws(path)
