"""The Plan page's Calibrate…: a real pilot sweep of the real worker (local host, tiny sizes) started from the
dialog; pilot points reach the curves as pilots finish, the laws are refitted from them, and the sweep can be
resumed from the registry by a new page (as after closing the studio)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from studio.remote.registry import JobRegistry
from studio.session.calibrate import PILOT_SWEEP

pytestmark = [pytest.mark.gui, pytest.mark.slow]

FAST = {"poll_s": 0.1, "max_poll_s": 0.3}


def test_calibrate_from_the_dialog_fits_laws_to_the_pilots(qtbot, monkeypatch):
    from studio.session import calibrate
    from studio.ui.plan_page import PlanPage

    # Small and fast pilots: the same path as the demo world's, with fewer eval segments.
    original = calibrate.job_request
    monkeypatch.setattr(calibrate, "job_request", lambda *a, **k: original(
        *a, **{**k, "overrides": {"eval.max_segments": 12, "eval.max_new_tokens": 16}}))
    page = PlanPage()
    qtbot.addWidget(page)
    page.resize(1400, 900)
    page.show()
    page.set_budget_text("300")
    dialog = page.open_calibrate_dialog()
    dialog.languages_edit.setText("demo_lex, demo_sov")
    dialog.sizes_edit.setText("40,80,160")
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.request is not None and dialog.request.sizes == [40, 80, 160]
    seen = []  # (pilots measured, languages with a law) at each progress the page showed
    page.status_message.connect(lambda _text: seen.append(
        (len(page.calibration.points) if page.calibration else 0, len(page.inputs.laws))))
    qtbot.waitUntil(lambda: page.calibration is not None and page.calibration.done, timeout=300_000)
    progress = page.calibration
    assert progress.finished == progress.total == 6
    assert sorted((p.language, p.pairs) for p in progress.points) == sorted(
        (c, n) for c in ("demo_lex", "demo_sov") for n in (40, 80, 160))
    # Points arrived as pilots ended, before the sweep was over (the laws refit at each).
    counts = [n for n, _ in seen if n]
    assert counts == sorted(counts) and counts[0] < 6 and counts[-1] == 6
    assert "6 of 6 pilots measured" in page.calibration_label.text()
    assert "SYNTHETIC" in page.law_source_label.text()  # the demo languages are marked wherever laws are shown
    assert set(page.inputs.laws) == {"demo_lex", "demo_sov"} and progress.sweep_id in page.inputs.law_source
    assert page.plan is not None and not any(lp.prior for lp in page.plan.languages)
    assert {c: len(r.points) for c, r in page.fit_results.items()} == {"demo_lex": 3, "demo_sov": 3}
    assert page.figure.curves is not None
    qtbot.waitUntil(page.calibrate_button.isEnabled, timeout=10_000)

    # Train both allocations of the calibrated plan and compare measured with predicted.
    page.floor_edit.setText("40")
    page._floor_typed("40")
    qtbot.waitUntil(lambda: not page.redraw_pending, timeout=5_000)
    assert page.compare_button.isEnabled()
    planned = {lp.code: (lp.pairs, lp.uniform_pairs) for lp in page.plan.languages}
    page.compare_button.click()
    qtbot.waitUntil(lambda: page.comparison is not None, timeout=300_000)
    optimised, uniform = page.comparison.arms
    assert {c: (optimised.pairs[c], uniform.pairs[c]) for c in planned} == planned
    assert set(optimised.measured) == set(uniform.measured) == {"demo_lex", "demo_sov"}
    assert "Optimised minus uniform" in page.calibration_label.text() and "SYNTHETIC" in page.calibration_label.text()
    with JobRegistry() as registry:
        assert registry.get(optimised.job_id).state == registry.get(uniform.job_id).state == "finished"
        assert len(registry.sweeps("compare")) == 1
    with JobRegistry() as registry:
        sweeps = registry.sweeps(PILOT_SWEEP)
    assert len(sweeps) == 1 and sweeps[0][0] == progress.sweep_id

    # A new page (the studio reopened) resumes the stored sweep and adds a third size to one language's fit.
    again = PlanPage()
    qtbot.addWidget(again)
    resumed = again.open_calibrate_dialog()
    index = resumed.resume_combo.findData(progress.sweep_id)
    assert index > 0
    resumed.resume_combo.setCurrentIndex(index)
    resumed.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: again.calibration is not None and again.calibration.done, timeout=60_000)
    assert len(again.calibration.points) == 6 and again.calibration.sweep_id == progress.sweep_id
    assert set(again.inputs.laws) == {"demo_lex", "demo_sov"}


def test_a_bad_field_is_one_sentence_in_the_dialog(qtbot):
    from studio.ui.plan_page import PlanPage

    page = PlanPage()
    qtbot.addWidget(page)
    dialog = page.open_calibrate_dialog()
    dialog.languages_edit.setText("demo_lex,klingon")
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.isVisible() and dialog.request is None
    assert "klingon" in dialog.error_label.text()
    dialog.languages_edit.setText("demo_lex")
    dialog.sizes_edit.setText("0")
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.request is None and "Pilot size" in dialog.error_label.text()
    dialog.reject()


def test_studio_demo_runs_the_loop_in_the_window(qtbot, make_window, monkeypatch):
    """`linguatune studio --demo`: pilots on the Plan page, then both allocations trained (tiny sizes here)."""
    from studio.session import calibrate

    original = calibrate.job_request
    monkeypatch.setattr(calibrate, "job_request", lambda *a, **k: original(
        *a, **{**k, "overrides": {"eval.max_segments": 12, "eval.max_new_tokens": 16}}))
    window = make_window()
    task = window.start_demo_loop(sizes=[40, 80, 160], languages=["demo_lex", "demo_kana"], budget="320")
    page = window.plan_page
    assert task is page.calibration_task and page.inputs.budget == 320 and page.inputs.floor == 40
    qtbot.waitUntil(lambda: page.comparison is not None, timeout=600_000)
    assert page.calibration.finished == 6 and set(page.inputs.laws) == {"demo_lex", "demo_kana"}
    monitor = window.monitor_page
    qtbot.waitUntil(lambda: all(a.job_id in monitor.views for a in page.comparison.arms), timeout=30_000)
