"""The Monitor page on real jobs of the local launcher: live loss, COMET and heatmap; cancel; reopening restores."""

from __future__ import annotations

import pytest

from studio.remote.connection import open_session
from studio.remote.launch import LaunchRequest, launch
from tests.ui_monitor.demo_event_writer import writer_argv
from worker.contract import direction_group, read_events

pytestmark = [pytest.mark.gui, pytest.mark.slow]

PLAN = {"schema": "linguatune.plan/1", "languages": [{"code": "ar", "pairs": 1000}, {"code": "el", "pairs": 500},
                                                     {"code": "hi", "pairs": 800}]}


def start_job(profile, registry, steps=40, delay=0.02, *extra):
    with open_session(profile) as session:
        return launch(LaunchRequest(profile, {"name": "t"}, name="demo", languages=["ar", "el", "hi"], plan=PLAN,
                                    worker_argv=writer_argv(steps, delay, *extra)), session, registry=registry)


def test_live_job_draws_loss_comet_and_heatmap_then_reopens(qtbot, make_monitor, registry, local_host, work_root):
    page = make_monitor()
    job = start_job(local_host, registry, 40, 0.02)
    view = page.watch(job)
    qtbot.waitUntil(lambda: view.record.state == "finished" and view.connection == "finished", timeout=30_000)
    qtbot.waitUntil(lambda: not view.dirty, timeout=5_000)
    on_disk = read_events(work_root / job.job_id / "events.jsonl")
    train = [e for e in on_disk if e.kind == "train"]
    # Every training step is a point of the drawn loss curve, in order, with the written values.
    x, y = page.loss_plot.curve.getData()
    assert list(x) == [e["step"] for e in train]
    assert list(y) == pytest.approx([e["loss"] for e in train])
    # COMET per language: ar, el, hi measured at steps 10, 20, 30, 40.
    assert page.metric_combo.currentData() == "comet"
    assert set(page.eval_plot.curves) == {"ar", "el", "hi"}
    ex, ey = page.eval_plot.curves["el"].getData()
    comet_el = [e for e in on_disk if e.kind == "eval" and e["metric"] == "comet" and e["lang"] == "el"
                and direction_group(e["direction"]) == page.direction_combo.currentData()]
    assert list(ex) == [e["step"] for e in comet_el] == [10, 20, 30, 40]
    assert list(ey) == pytest.approx([e["value"] for e in comet_el])
    # The heatmap shows the latest alignment: languages across, layers up, one cell per (layer, language).
    snap = page.heatmap.current()
    assert snap is not None and snap.step == 40 and snap.langs == ["ar", "el", "hi"]
    image = page.heatmap.image.image
    assert image.shape == (3, 4)
    last = [e for e in on_disk if e.kind == "alignment" and e["metric"] == snap.metric][-1]
    assert image[1, 2] == pytest.approx(last["matrix"][2][1])
    # Replay: the slider goes back to the first measurement.
    page.heatmap.slider.setValue(0)
    assert page.heatmap.current().step == 10
    assert "step 10" in page.heatmap.step_label.text()
    # Metric switch.
    page.metric_combo.setCurrentIndex(page.metric_combo.findData("chrf"))
    _x, chrf = page.eval_plot.curves["el"].getData()
    assert chrf[-1] == pytest.approx([e for e in on_disk if e.kind == "eval" and e["metric"] == "chrf"
                                      and e["lang"] == "el" and direction_group(e["direction"]) == page.direction_combo.currentData()
                                      ][-1]["value"])
    # Log pane has the status changes and the log message.
    log = page.log_pane.toPlainText()
    assert "state → running" in log and "demo writer: 40 steps" in log and "done (exit code 0)" in log
    row_state = page.table.item(0, 1).text()
    assert row_state == "finished"
    # The finished run's final score per language of the metric shown (chrF, switched to above) goes to the Plan
    # page with the pairs each language had.
    sent = []
    page.refit_requested.connect(sent.append)
    assert page.refit_button.isEnabled()
    page.refit_button.click()
    final = {e["lang"]: e["value"] for e in on_disk
             if e.kind == "eval" and e["metric"] == "chrf" and direction_group(e["direction"]) == "en-xx"}
    assert sent == [[{"code": c, "pairs": p, "score": pytest.approx(final[c]), "metric": "chrf",
                      "job": job.job_id}
                     for c, p in (("ar", 1000), ("el", 500), ("hi", 800))]]
    page.shutdown()

    # Reopening: a fresh page on the same registry restores the job's points without touching the job directory.
    (work_root / job.job_id / "events.jsonl").rename(work_root / job.job_id / "events.moved")
    again = make_monitor()
    assert again.selected_id == job.job_id
    restored = again.views[job.job_id]
    qtbot.waitUntil(lambda: len(restored.train) == len(train) and not restored.dirty, timeout=10_000)
    rx, ry = again.loss_plot.curve.getData()
    assert list(rx) == list(x) and list(ry) == pytest.approx(list(y))
    assert set(again.eval_plot.curves) == {"ar", "el", "hi"}
    assert again.heatmap.current().step == 40
    assert restored.connection == "finished"


def test_cancel_from_the_page(qtbot, make_monitor, registry, local_host, work_root):
    page = make_monitor()
    job = start_job(local_host, registry, 2000, 0.02)
    view = page.watch(job)
    qtbot.waitUntil(lambda: len(view.train) >= 5, timeout=15_000)
    assert page.cancel_button.isEnabled()
    task = page.cancel_selected()
    qtbot.waitUntil(lambda: task.done, timeout=20_000)
    assert task.error is None, task.error
    qtbot.waitUntil(lambda: view.record.state == "cancelled" and view.connection == "finished", timeout=15_000)
    on_disk = read_events(work_root / job.job_id / "events.jsonl")
    assert on_disk[-1].kind == "done" and on_disk[-1]["exit_code"] == 143
    assert len(view.train) < 2000
    assert registry.get(job.job_id).state == "cancelled"
    qtbot.waitUntil(lambda: not page.cancel_button.isEnabled(), timeout=5_000)


def test_reopening_resumes_following_a_live_job(qtbot, make_monitor, registry, local_host, work_root):
    page = make_monitor()
    job = start_job(local_host, registry, 150, 0.02)
    view = page.watch(job)
    qtbot.waitUntil(lambda: len(view.train) >= 10, timeout=15_000)
    page.shutdown()  # the studio closes while the job runs on
    again = make_monitor()
    resumed = again.views[job.job_id]
    qtbot.waitUntil(lambda: resumed.record.state == "finished" and resumed.connection == "finished",
                    timeout=30_000)
    train = [e for e in read_events(work_root / job.job_id / "events.jsonl") if e.kind == "train"]
    qtbot.waitUntil(lambda: len(resumed.train) == len(train), timeout=5_000)
    assert list(resumed.train.column(0)) == [e["step"] for e in train]  # nothing lost, nothing twice


def test_compare_two_jobs(qtbot, make_monitor, registry, local_host):
    first = start_job(local_host, registry, 20, 0.0)
    second = start_job(local_host, registry, 30, 0.0)
    page = make_monitor()
    qtbot.waitUntil(lambda: all(v.record.is_final for v in page.views.values()), timeout=20_000)
    page.select_job(second.job_id)
    page.set_compare(first.job_id)
    qtbot.waitUntil(lambda: len(page.views[first.job_id].train) == 20, timeout=10_000)
    qtbot.waitUntil(lambda: page.loss_plot.compare.getData()[0] is not None
                    and len(page.loss_plot.compare.getData()[0]) == 20, timeout=5_000)
    assert len(page.loss_plot.curve.getData()[0]) == 30
    page.set_compare(None)
    x, _ = page.loss_plot.compare.getData()
    assert x is None or len(x) == 0


def test_jobs_launched_elsewhere_appear(qtbot, make_monitor, registry, local_host):
    page = make_monitor()
    assert not page.views and page.empty_hint.isVisible()
    job = start_job(local_host, registry, 10, 0.0)  # as the CLI would, into the same registry
    page.discover_jobs()
    qtbot.waitUntil(lambda: job.job_id in page.views, timeout=10_000)
    assert page.selected_id == job.job_id and not page.empty_hint.isVisible()
    qtbot.waitUntil(lambda: page.views[job.job_id].record.state == "finished", timeout=20_000)


# ------------------------------------------------------------------------------------------------------------------
# The page on what the real worker wrote (tests/infra/demo_job.py), not on events written in the studio's format.
def _combo_data(combo):
    return [combo.itemData(i) for i in range(combo.count())]


def _shows(page, metric, group, expected):
    """True once the eval chart shows exactly ``expected`` ({lang: (steps, values)}) for metric and group."""
    if page.metric_combo.currentData() != metric or page.direction_combo.currentData() != group:
        return False
    if set(page.eval_plot.curves) != set(expected):
        return False
    for lang, (steps, values) in expected.items():
        x, y = page.eval_plot.curves[lang].getData()
        if x is None or list(x) != steps or list(y) != pytest.approx(values):
            return False
    return True


def _written(events, metric, group):
    out = {}
    for e in events:
        if e.kind == "eval" and e["metric"] == metric and e["direction"] in (f"en-{e['lang']}", f"{e['lang']}-en"):
            if (group == "en-xx") == e["direction"].startswith("en-"):
                steps, values = out.setdefault(e["lang"], ([], []))
                steps.append(float(e["step"]))
                values.append(e["value"])
    return out


def test_the_real_demo_job_shows_every_language_per_direction(qtbot, make_monitor, demo_job_record, real_demo_job):
    events = real_demo_job.events()
    page = make_monitor()
    assert demo_job_record.id in page.views
    page.select_job(demo_job_record.id)
    view = page.views[demo_job_record.id]
    qtbot.waitUntil(lambda: view.events_seen == len(events) and not view.dirty, timeout=15_000)
    # One direction choice per group, and every language on the chart of a group.
    assert _combo_data(page.direction_combo) == ["en-xx", "xx-en"]
    assert {"comet", "chrf"} <= set(_combo_data(page.metric_combo))
    comet_label = page.metric_combo.itemText(page.metric_combo.findData("comet"))
    assert "pipeline" in comet_label.lower()  # the tiny COMET is never shown as COMET
    for metric in ("chrf", "comet"):
        for group in ("en-xx", "xx-en"):
            page.metric_combo.setCurrentIndex(page.metric_combo.findData(metric))
            page.direction_combo.setCurrentIndex(page.direction_combo.findData(group))
            expected = _written(events, metric, group)
            assert sorted(expected) == ["ar", "el", "hi", "tr", "vi", "zh"]
            qtbot.waitUntil(lambda: _shows(page, metric, group, expected), timeout=5_000)
    # The heatmap: the last alignment, six languages across.
    snap = page.heatmap.current()
    last = [e for e in events if e.kind == "alignment" and e["metric"] == snap.metric][-1]
    assert snap.step == last["step"] and snap.langs == ["ar", "el", "hi", "tr", "vi", "zh"]
    assert page.heatmap.image.image.shape == (6, len(last["layers"]))
    qtbot.waitUntil(lambda: "done (exit code 0)" in page.log_pane.toPlainText(), timeout=5_000)


def test_refit_from_the_real_demo_job(qtbot, make_monitor, demo_job_record, real_demo_job):
    """chrF gives one row per language with the pairs trained; the pipeline-check COMET is refused in a sentence."""
    events = real_demo_job.events()
    (data,) = [e for e in events if e.kind == "data"]
    trained = {s["lang"]: s["examples"] for s in data["sources"] if s["source"] == "pairs"}
    page = make_monitor()
    page.select_job(demo_job_record.id)
    view = page.views[demo_job_record.id]
    qtbot.waitUntil(lambda: view.events_seen == len(events) and not view.dirty, timeout=15_000)
    sent, messages = [], []
    page.refit_requested.connect(sent.append)
    page.status_message.connect(messages.append)
    assert page.refit_button.isEnabled()

    page.metric_combo.setCurrentIndex(page.metric_combo.findData("comet"))
    page.refit_button.click()
    assert sent == []
    assert messages and "pipeline" in messages[-1].lower() and "\n" not in messages[-1], messages

    page.metric_combo.setCurrentIndex(page.metric_combo.findData("chrf"))
    page.direction_combo.setCurrentIndex(page.direction_combo.findData("en-xx"))
    page.refit_button.click()
    final = {lang: values[-1] for lang, (_s, values) in _written(events, "chrf", "en-xx").items()}
    assert len(sent) == 1
    assert sorted(row["code"] for row in sent[0]) == sorted(trained)
    for row in sent[0]:
        assert row["pairs"] == trained[row["code"]] and row["score"] == pytest.approx(final[row["code"]])
