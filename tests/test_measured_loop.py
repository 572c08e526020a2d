"""The measured loop end to end through the real worker, at small sizes: `linguatune demo` (pilot sweep -> laws ->
plan -> optimised and uniform trained -> measured) once per module, then `fit --jobs`, `pilot --suggest`,
`pilot --list` and `compare` on the registry it wrote; fitting refuses the pipeline-check COMET of the real
pipeline demo job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("demo_lex", "demo_sov")
SIZES = (40, 80, 160)
BUDGET = 320
# Small and fast: few eval segments, short generations (the real demo uses 100 segments and 48 tokens).
FAST = ["--set", "eval.max_segments=16", "--set", "eval.max_new_tokens=20", "--set", "eval.batch_size=16"]

pytestmark = pytest.mark.slow


def cli(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, LINGUATUNE_HOME=str(home), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1",
               SACREBLEU=str(home / "sacrebleu"))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[var] = str(home / var.lower())
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    home = tmp_path_factory.mktemp("loop") / "home"
    report = home.parent / "report.json"
    result = cli(home, "demo", "--languages", ",".join(LANGUAGES), "--sizes", ",".join(map(str, SIZES)),
                 "--budget", str(BUDGET), "--concurrency", "2", "--report", str(report), *FAST)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home, json.loads(report.read_text()), result.stdout


def test_the_demo_report_holds_every_phase(loop):
    home, report, out = loop
    assert report["synthetic"] is True and "SYNTHETIC" in out
    pilots = report["pilots"]
    assert sorted((p["lang"], p["pairs"]) for p in pilots) == sorted((c, n) for c in LANGUAGES for n in SIZES)
    assert all(p["metric"] == "chrf" and 0 <= p["value"] <= 100 and p["se"] is not None for p in pilots)
    # Each pilot is a real CoIT job of the worker that trained on exactly its pairs (nested prefix subsets).
    for pilot in pilots:
        spec = json.loads((home / "data" / "jobs" / pilot["job_id"] / "job.json").read_text())
        assert spec["mode"] == "coit" and spec["allocation"] == {pilot["lang"]: pilot["pairs"]}
        assert spec["train"]["subset"] == "prefix"
    for phase in ("1. Pilot sweep", "2. Laws fitted", "3. The optimal plan", "4. Both allocations trained"):
        assert phase in out
    assert set(report["timings_s"]) == {"pilots", "fit_and_plan", "compare", "total"}


def test_the_laws_come_from_the_pilots_and_the_plan_is_their_optimum(loop):
    from studio.planning.fitting import load_laws_with_evidence
    from studio.planning.plan import load_plan, make_plan

    home, report, _ = loop
    laws_doc = json.loads(Path(report["laws"]).read_text())
    assert laws_doc["source"] == {"measured_by": [report["sweep"]], "metric": "chrf"}
    assert set(laws_doc["laws"]) == set(LANGUAGES)
    plan = load_plan(report["plan"])
    assert report["sweep"] in plan.law_source
    laws, evidence = load_laws_with_evidence(report["laws"])
    again = make_plan(list(LANGUAGES), BUDGET, laws=laws, evidence=evidence, floors=min(SIZES))
    assert {lp.code: lp.pairs for lp in plan.languages} == {lp.code: lp.pairs for lp in again.languages}
    # The pilots' own sampling errors (segment bootstrap) drove the replicates: a robust plan with an interval.
    assert plan.allocation == "robust" and plan.gain_interval is not None
    assert all(lp.measured == (float(min(SIZES)), float(max(SIZES))) for lp in plan.languages)
    assert all(e["noise_source"] == "the measurements' sampling errors" for e in laws_doc["laws"].values())
    assert report["predicted_gain"]["interval"] == list(plan.gain_interval)
    assert all(lp.pairs >= min(SIZES) and not lp.prior for lp in plan.languages)
    assert sum(lp.pairs for lp in plan.languages) == BUDGET


def test_both_arms_were_trained_with_the_plans_pairs_and_measured(loop):
    home, report, out = loop
    final = report["final"]
    assert set(final) == {"optimised", "uniform"}
    for name, arm in final.items():
        spec = json.loads((home / "data" / "jobs" / arm["job_id"] / "job.json").read_text())
        assert spec["mode"] == "muit" and spec["allocation"] == arm["pairs"]
        assert set(arm["measured"]) == set(LANGUAGES) and all(v is not None for v in arm["se"].values())
    assert final["uniform"]["pairs"] == {c: BUDGET // len(LANGUAGES) for c in LANGUAGES}
    opt = json.loads((home / "data" / "jobs" / final["optimised"]["job_id"] / "job.json").read_text())
    uni = json.loads((home / "data" / "jobs" / final["uniform"]["job_id"] / "job.json").read_text())
    assert opt["train"] == uni["train"] and opt["model"] == uni["model"]  # same seed and everything else
    diff = report["comparison"]["difference"]
    measured = sum(final["optimised"]["measured"].values()) - sum(final["uniform"]["measured"].values())
    assert diff["measured"] == pytest.approx(measured, abs=1e-3)
    assert "Optimised minus uniform: measured" in out


def test_fit_suggest_and_list_read_the_sweep_from_the_registry(loop, tmp_path):
    home, report, _ = loop
    laws = tmp_path / "laws.json"
    fit = cli(home, "fit", "--jobs", report["sweep"], "-o", str(laws), "--form", "auto")
    assert fit.returncode == 0, fit.stderr
    assert json.loads(laws.read_text())["source"]["measured_by"] == [report["sweep"]]
    assert all(p["job_id"] in fit.stdout for p in report["pilots"])
    suggest = cli(home, "pilot", "--suggest", "--jobs", report["sweep"], "--budget", str(BUDGET))
    assert suggest.returncode == 0, suggest.stderr
    assert "next: demo_" in suggest.stdout and "bootstrap replicates" in suggest.stdout
    listing = cli(home, "pilot", "--list")
    assert report["sweep"] in listing.stdout
    assert f"{len(SIZES) * len(LANGUAGES)} finished" in listing.stdout


def test_user_errors_are_one_sentence_and_exit_2(loop, tmp_path):
    home, report, _ = loop
    cases = [
        (["pilot", "--languages", "demo_lex,xx_unknown", "--sizes", "100"], "xx_unknown"),
        (["pilot", "--languages", "demo_lex", "--sizes", "1k,-3"], "Pilot size"),
        (["pilot", "--languages", "demo_lex", "--sizes", "30k"], "more pairs than exist"),
        (["pilot", "--suggest", "--jobs", report["sweep"]], "--budget"),
        (["fit", "--jobs", "no-such-sweep", "-o", str(tmp_path / "l.json")], "no-such-sweep"),
        (["compare", "--laws", report["laws"], "--languages", "demo_lex,demo_kana", "--budget", "300"],
         "no law for demo_kana"),
    ]
    for args, needle in cases:
        result = cli(home, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and needle in lines[0], (args, result.stderr)


def test_fitting_refuses_the_pipeline_check_comet(demo_job_record, tmp_path):
    """The pipeline demo's COMET comes from the tiny local checkpoint: never a law's measurement."""
    from studio.remote.registry import JobRegistry
    from studio.session import calibrate
    from studio.session.measurements import MeasurementError

    with JobRegistry() as registry:
        with pytest.raises(MeasurementError, match="pipeline-check"):
            calibrate.sweep_measurements(registry, [demo_job_record.id], "comet")
        points, skipped = calibrate.sweep_measurements(registry, [demo_job_record.id], "chrf")
    assert {p.language for p in points} and not skipped


def test_a_sweep_launched_without_following_is_followed_later_and_fitted(tmp_path):
    """`pilot --no-follow` returns at once; the pilots run on; `pilot --follow SWEEP` collects and fits them."""
    home = tmp_path / "home"
    started = cli(home, "pilot", "--languages", "demo_lex", "--sizes", "30,60,120", "--concurrency", "3",
                  "--no-follow", *FAST)
    assert started.returncode == 0, started.stderr
    sweep_id = started.stdout.split("Sweep ", 1)[1].split(":", 1)[0]
    assert f"pilot --follow {sweep_id}" in started.stdout
    laws = tmp_path / "laws.json"
    followed = cli(home, "pilot", "--follow", sweep_id, "-o", str(laws))
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert "3 of 3 pilots finished" in followed.stdout
    assert json.loads(laws.read_text())["source"]["measured_by"] == [sweep_id]
