"""The measured loop's pieces that need no training: sweep design, the host-side queue (real local launches), the
law-form choice, suggestions and the comparison arithmetic."""

from __future__ import annotations

import math
import sys

import pytest

from studio.errors import LinguaTuneError
from studio.planning.laws import LogLaw, PowerLaw
from studio.remote.connection import open_session
from studio.remote.hosts import HostProfile
from studio.remote.registry import JobRegistry
from studio.session import calibrate
from tests.infra.fixtures import isolated_ssh_files, work_root  # noqa: F401 (shared fixtures)
from tests.ui_monitor.demo_event_writer import writer_argv
from worker.contract import read_events


def test_sizes_and_design():
    assert calibrate.parse_sizes("4k, 1k,16k,1k") == [1000, 4000, 16000]
    assert calibrate.auto_sizes(3, 200, 3200) == [200, 800, 3200]
    pilots = calibrate.design_sweep(["demo_lex", "demo_sov"], [800, 200])
    assert [(p.language, p.pairs) for p in pilots] == [("demo_lex", 200), ("demo_sov", 200), ("demo_lex", 800),
                                                      ("demo_sov", 800)]
    with pytest.raises(LinguaTuneError, match="more pairs than exist"):
        calibrate.design_sweep(["demo_lex"], [30_000], {"demo_lex": 20_000})
    with pytest.raises(LinguaTuneError, match="Pilot size"):
        calibrate.parse_sizes("1k,-5")


def test_pilot_request_is_a_nested_coit_job_of_the_preset():
    profile = HostProfile(name="here", launcher="local", work_root="/tmp/x", python=sys.executable, gpus_per_node=0)
    request = calibrate.job_request(profile, {"demo_sov": 800}, name="pilot")
    spec = request.job_spec
    assert spec["mode"] == "coit" and spec["languages"] == ["demo_sov"] and spec["allocation"] == {"demo_sov": 800}
    assert spec["train"]["subset"] == "prefix"
    assert set(spec["data"]["pairs"]) == {"demo_sov"} and set(spec["eval"]["translation"]) == {"demo_sov"}
    assert request.nproc_per_node == 1  # one process, no torchrun, on a host without GPUs


@pytest.fixture
def here(work_root):  # noqa: F811
    return HostProfile(name="here", launcher="local", work_root=str(work_root), python=sys.executable,
                       gpus_per_node=0)


@pytest.mark.parametrize("slots", [1, 2])
def test_the_host_side_queue_runs_at_most_n_jobs_at_once(here, work_root, slots):  # noqa: F811
    from studio.remote.launch import LaunchRequest

    requests = [LaunchRequest(here, {}, name=f"q{i}", worker_argv=writer_argv(40, 0.03), queue=("qtest", slots))
                for i in range(4)]
    with JobRegistry() as registry, open_session(here) as session:
        ids = calibrate.launch_jobs(requests, session, registry)
        final = calibrate.follow_jobs(ids, registry, lambda: open_session(here), poll_s=0.05)
    assert final == {job_id: "finished" for job_id in ids}
    spans = []
    for job_id in ids:
        events = read_events(work_root / job_id / "events.jsonl")
        spans.append((events[0].time, events[-1].time))
    overlaps = [sum(1 for a, b in spans if a <= t < b) for t, _ in spans]
    assert max(overlaps) <= slots
    if slots == 1:  # one at a time: the jobs ran in launch order, first come, first served
        assert [a for a, _ in spans] == sorted(a for a, _ in spans)
    if slots == 2:
        assert max(overlaps) == 2  # the second slot was used


def _points(code, values, pairs=(200, 800, 3200), se=0.5):
    return [calibrate.Point(code, n, v, se, "chrf", f"job{n}") for n, v in zip(pairs, values)]


def test_auto_form_fits_a_steep_early_regime_with_the_log_form():
    steep = _points("demo_lex", [7.5, 26.0, 63.0])       # rising faster than log(pairs)
    bending = _points("demo_sov", [20.0, 35.0, 45.0])    # diminishing returns
    results = calibrate.fit_points(steep + bending, bootstrap=0)
    assert isinstance(results["demo_lex"].law, LogLaw)
    assert results["demo_lex"].rmse < 1.0
    assert results["demo_sov"].rmse < 1.0
    forced = calibrate.fit_points(steep, form="power", bootstrap=0)
    assert isinstance(forced["demo_lex"].law, PowerLaw) and forced["demo_lex"].rmse > results["demo_lex"].rmse


def test_suggestions_rank_pilots_by_how_much_they_narrow_the_allocation():
    points = _points("demo_lex", [30.0, 45.0, 52.0], se=2.0) + _points("demo_sov", [10.0, 25.0, 40.0], se=0.2)
    spread, suggestions = calibrate.suggest_pilots(points, 4800, caps={"demo_lex": 20000, "demo_sov": 20000},
                                                   replicates=30)
    assert set(spread.half_width) == {"demo_lex", "demo_sov"} and spread.replicates == 30
    assert abs(sum(spread.middle.values()) - 4800) <= 2
    assert suggestions and all(s.pairs not in (200, 800, 3200) or s.language for s in suggestions)
    best = suggestions[0]
    assert best.narrowing == max(s.narrowing for s in suggestions)
    assert "next:" in best.sentence() and best.language in best.sentence()
    # Two sizes are enough now (the exponent is pooled); one is not.
    _spread2, two = calibrate.suggest_pilots(points[:2] + points[3:], 4800, replicates=20)
    assert two and two[0].language in ("demo_lex", "demo_sov")
    with pytest.raises(LinguaTuneError, match="2 or more sizes"):
        calibrate.suggest_pilots(points[:1] + points[3:], 4800)


def test_comparison_totals_difference_and_verdict():
    opt = calibrate.Arm("optimised", {"a": 3000, "b": 1800}, {"a": 60.0, "b": 40.0}, "j1",
                        {"a": 58.0, "b": 41.0}, {"a": 1.0, "b": 1.0})
    uni = calibrate.Arm("uniform", {"a": 2400, "b": 2400}, {"a": 55.0, "b": 42.0}, "j2",
                        {"a": 54.0, "b": 44.0}, {"a": 1.0, "b": 1.0})
    comparison = calibrate.Comparison("chrf", [opt, uni])
    diff = comparison.difference()
    assert diff["predicted"] == pytest.approx(3.0) and diff["measured"] == pytest.approx(1.0)
    assert diff["se"] == pytest.approx(2.0)
    said = calibrate.verdict(comparison)
    assert "not distinguishable from uniform" in said and "consistent with the prediction" in said
    opt.measured["a"] = 62.0
    assert "optimised plan measured better" in calibrate.verdict(comparison)
    # Measured -2.2 ± 1 against a predicted +3: indistinguishable from zero is not "as predicted".
    opt.measured["a"], opt.measured["b"] = 54.0, 41.8
    said = calibrate.verdict(comparison)
    assert "measured -2.2" in said and "5.2 below the prediction (more than 2 s.e.)" in said
    opt.measured["a"], opt.measured["b"] = 62.0, 41.0
    rows = comparison.table()
    assert rows[-1][0] == "total" and rows[0][3] == "62.0 ± 1.0"
    assert comparison.to_dict()["difference"]["measured"] == pytest.approx(5.0)
    assert math.isclose(comparison.totals()["uniform"]["se"], math.sqrt(2))


def test_a_job_killed_while_waiting_does_not_block_the_queue(here, work_root):  # noqa: F811
    import os
    import signal
    import time

    from studio.remote.launch import LaunchRequest

    requests = [LaunchRequest(here, {}, name=f"k{i}", worker_argv=writer_argv(30, 0.03), queue=("ktest", 1))
                for i in range(3)]
    with JobRegistry() as registry, open_session(here) as session:
        ids = calibrate.launch_jobs(requests, session, registry)
        waiting = work_root / ids[1]
        deadline = time.monotonic() + 10
        while not (waiting / "pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not (waiting / "events.jsonl").exists()  # still waiting for its turn
        os.killpg(int((waiting / "pid").read_text()), signal.SIGKILL)
        final = calibrate.follow_jobs(ids, registry, lambda: open_session(here), poll_s=0.05)
    assert final[ids[0]] == final[ids[2]] == "finished" and final[ids[1]] == "lost"


def test_the_sweep_printer_escapes_control_characters_and_skips_malformed_scores():
    import io

    from studio.commands.calibrate import SweepPrinter
    from studio.remote.follow import FollowUpdate
    from worker.contract import Event

    def eval_event(seq, direction, value):
        return Event.from_dict({"v": 1, "seq": seq, "time": 0.0, "kind": "eval", "step": 1, "lang": "x",
                                "metric": "chrf", "direction": direction, "value": value, "se": 0.1})

    out = io.StringIO()
    printer = SweepPrinter({"j": "x 40"}, "chrf", out)
    printer("j", FollowUpdate("events", events=[eval_event(1, "en-\x1b[31mx", 5.0), eval_event(2, "en-x", "bad")]))
    printer("j", FollowUpdate("ended", state="failed", message="boom\x1b[2J"))
    text = out.getvalue()
    assert "\x1b" not in text and "\\x1b[31m" in text and "\\x1b[2J" in text
    assert text.count("chrf") == 1  # the malformed score is not printed (nor does it crash the printer)
