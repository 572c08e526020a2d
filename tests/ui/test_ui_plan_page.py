"""The Plan page driven through its real widgets (offscreen): what it shows must be exactly the planning core's plan."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog

from studio.planning.fitting import fit_laws, load_measurements
from studio.planning.languages import PAPER_LANGUAGES
from studio.planning.plan import load_plan, make_plan
from studio.ui.models import RAW_ROLE
from ui_helpers import wait_redrawn

pytestmark = pytest.mark.gui


def table_column(page, column: int) -> list:
    model = page.allocation_model
    return [model.data(model.index(row, column), RAW_ROLE) for row in range(model.rowCount())]


def type_into(qtbot, edit, text: str) -> None:
    """Select all and type, as a user would (textEdited fires per key)."""
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    if text:
        qtbot.keyClicks(edit, text)


def tick_language(qtbot, page, code: str) -> None:
    """Find a language with the search box and tick its check box in the picker."""
    type_into(qtbot, page.search_edit, code)
    proxy = page.catalogue_filter
    rows = [r for r in range(proxy.rowCount()) if proxy.data(proxy.index(r, 0), RAW_ROLE) == code]
    assert rows, f"{code} not found by the search box"
    index = proxy.index(rows[0], 0)
    assert proxy.setData(index, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    type_into(qtbot, page.search_edit, "")


def test_languages_and_budget_give_the_planning_cores_allocation(qtbot, window):
    page = window.plan_page
    qtbot.mouseClick(page.clear_button, Qt.MouseButton.LeftButton)
    wait_redrawn(qtbot, page)
    assert page.plan is None and page.allocation_model.rowCount() == 0
    qtbot.mouseClick(page.paper_button, Qt.MouseButton.LeftButton)
    tick_language(qtbot, page, "de")
    type_into(qtbot, page.budget_edit, "1.2M")
    wait_redrawn(qtbot, page)

    codes = list(PAPER_LANGUAGES) + ["de"]
    expected = make_plan(codes, 1_200_000)
    assert table_column(page, 0) == codes
    assert table_column(page, 1) == [lp.pairs for lp in expected.languages]
    assert table_column(page, 2) == [lp.uniform_pairs for lp in expected.languages]
    assert table_column(page, 3) == pytest.approx([lp.predicted for lp in expected.languages])
    assert table_column(page, 6) == [lp.cap for lp in expected.languages]
    assert sum(table_column(page, 1)) == 1_200_000
    bars = page.figure.bars.bar_data()
    assert bars["optimised"][1] == [float(lp.pairs) for lp in expected.languages]
    assert bars["uniform"][1] == [float(lp.uniform_pairs) for lp in expected.languages]
    assert page.figure.bars.codes == codes
    markers = page.figure.curves.marker_data
    assert markers["de"] == (expected.languages[-1].pairs, pytest.approx(expected.languages[-1].predicted))

    # The objective box re-plans too.
    page.objective_combo.setCurrentIndex(page.objective_combo.findData("maxmin"))
    wait_redrawn(qtbot, page)
    maxmin = make_plan(codes, 1_200_000, objective="maxmin")
    assert table_column(page, 1) == [lp.pairs for lp in maxmin.languages]
    assert page.figure.bars.bar_data()["optimised"][1] == [float(lp.pairs) for lp in maxmin.languages]


def test_slider_and_text_stay_in_sync(qtbot, window):
    page = window.plan_page
    page.budget_slider.setValue(page.budget_slider.maximum() // 2)
    wait_redrawn(qtbot, page)
    from studio.planning.budget import parse_budget

    budget = parse_budget(page.budget_edit.text())
    assert page.plan.budget == budget == 1_000_000  # the middle of 10k..100M on a log scale
    type_into(qtbot, page.budget_edit, "50k")
    wait_redrawn(qtbot, page)
    assert page.plan.budget == 50_000
    assert page.budget_slider.value() < page.budget_slider.maximum() // 2


@pytest.mark.parametrize("bad", ["-5", "abc", ""])
def test_invalid_budget_is_refused_inline_and_the_last_plan_stays(qtbot, window, bad):
    page = window.plan_page
    type_into(qtbot, page.budget_edit, "800k")
    wait_redrawn(qtbot, page)
    good = page.plan
    pairs_before = table_column(page, 1)
    type_into(qtbot, page.budget_edit, bad)
    wait_redrawn(qtbot, page)
    assert page.budget_edit.property("invalid") is True
    assert page.budget_error.isVisible() and "Budget" in page.budget_error.text()
    assert "Budget" in page.budget_edit.toolTip()
    assert page.plan is good and table_column(page, 1) == pairs_before
    assert page.last_message_box is None  # typing errors never open a dialog
    type_into(qtbot, page.budget_edit, "900k")
    wait_redrawn(qtbot, page)
    assert page.budget_edit.property("invalid") is False and not page.budget_error.isVisible()
    assert page.plan.budget == 900_000


def test_floor_and_caps_are_edited_inline(qtbot, window):
    page = window.plan_page
    type_into(qtbot, page.floor_edit, "20k")
    model = page.allocation_model
    row = table_column(page, 0).index("hi")
    assert model.setData(model.index(row, model.CAP), "50k")
    wait_redrawn(qtbot, page)
    expected = make_plan(PAPER_LANGUAGES, 600_000, floors=20_000, caps={"hi": 50_000})
    assert table_column(page, 1) == [lp.pairs for lp in expected.languages]
    assert table_column(page, 6)[row] == 50_000
    assert page.cli_command().count("--cap hi=50k") == 1 and "--min 20k" in page.cli_command()

    before = table_column(page, 1)
    assert not model.setData(model.index(row, model.CAP), "lots")
    assert ("hi", model.CAP) in model.cap_errors
    assert model.data(model.index(row, model.CAP), Qt.ItemDataRole.ToolTipRole).startswith("Cap for hi")
    type_into(qtbot, page.floor_edit, "-3")
    assert page.floor_edit.property("invalid") is True
    wait_redrawn(qtbot, page)
    assert table_column(page, 1) == before

    # A floor the budget cannot honour is a planning error: shown on the page, last plan kept.
    type_into(qtbot, page.floor_edit, "200k")
    wait_redrawn(qtbot, page)
    assert page.error_label.isVisible() and page.error_label.text()
    assert table_column(page, 1) == before


def test_weights_are_edited_inline_like_the_cli_weight_option(qtbot, window):
    """The Weight column is the GUI's --weight: the allocation is the planning core's with that weight, the copied
    command line carries it, and a bad weight is refused on the cell with the last plan kept."""
    from studio.session.planning import inputs_from_arguments, plan_from_inputs

    page = window.plan_page
    model = page.allocation_model
    row = table_column(page, 0).index("zh")
    before = table_column(page, 1)
    assert model.setData(model.index(row, model.WEIGHT), "3")
    wait_redrawn(qtbot, page)
    expected = make_plan(PAPER_LANGUAGES, 600_000, weights={"zh": 3.0})
    assert table_column(page, 1) == [lp.pairs for lp in expected.languages] != before
    assert table_column(page, model.WEIGHT)[row] == 3.0
    command = page.cli_command()
    assert "--weight zh=3" in command
    # The command line, read back by the CLI's parser, makes the same allocation.
    words = command.split()
    weights = [words[i + 1] for i, w in enumerate(words) if w == "--weight"]
    cli = plan_from_inputs(inputs_from_arguments(",".join(PAPER_LANGUAGES), "600k", weights=weights), strict=True)
    assert [lp.pairs for lp in cli.languages] == [lp.pairs for lp in expected.languages]

    shown = table_column(page, 1)
    assert not model.setData(model.index(row, model.WEIGHT), "-2")
    assert "zh" in model.data(model.index(row, model.WEIGHT), Qt.ItemDataRole.ToolTipRole)
    wait_redrawn(qtbot, page)
    assert table_column(page, 1) == shown


def test_fitting_pilot_points_off_the_gui_thread_changes_the_curves(qtbot, window, pilot_csv, monkeypatch):
    page = window.plan_page
    assert page.plan.prior and page.prior_banner.isVisible()
    before = {code: page.figure.curves.curve_data(code)[1].copy() for code in PAPER_LANGUAGES}
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(pilot_csv), ""))
    with qtbot.waitSignal(page.fit_finished, timeout=60_000) as blocker:
        window.fit_action.trigger()
        assert not page.fit_button.isEnabled()  # the window stays live while the fit runs
    assert blocker.args[0] is True
    wait_redrawn(qtbot, page)

    fitted = fit_laws(load_measurements(pilot_csv))
    assert not page.plan.prior and not page.prior_banner.isVisible()
    for code in PAPER_LANGUAGES:
        pairs, scores = page.figure.curves.curve_data(code)
        assert not np.allclose(scores, before[code])
        np.testing.assert_allclose(scores, fitted[code].law.value(pairs), rtol=1e-9)
    assert sorted(page.figure.curves.band_codes()) == sorted(PAPER_LANGUAGES)
    assert set(page.figure.curves.point_items) == set(PAPER_LANGUAGES)
    expected = make_plan(PAPER_LANGUAGES, 600_000, fits=fitted)  # robust, floors at the pilots, as the CLI does
    assert page.plan.allocation == "robust" and "interval" in page.summary_label.text()
    assert table_column(page, 1) == [lp.pairs for lp in expected.languages]
    assert "pilot.csv" in page.law_source_label.text()
    assert page.cli_command().startswith(f"linguatune fit {shlex.quote(str(pilot_csv))} -o laws.json && ")

    # Back to the prior: the banner returns.
    qtbot.mouseClick(page.prior_button, Qt.MouseButton.LeftButton)
    wait_redrawn(qtbot, page)
    assert page.plan.prior and page.prior_banner.isVisible()


def test_a_bad_pilot_file_is_one_sentence_in_a_message_box(qtbot, window, tmp_path):
    page = window.plan_page
    bad = tmp_path / "broken.csv"
    bad.write_text("language,pairs,score\nar,1000,50\nar,-4,60\n", encoding="utf-8")
    good_plan = page.plan
    with qtbot.waitSignal(page.fit_finished, timeout=60_000) as blocker:
        page.fit_from_file(bad)
    assert blocker.args[0] is False
    box = page.last_message_box
    assert box is not None and box.isVisible()
    assert box.text() == blocker.args[1] and "\n" not in box.text() and "Traceback" not in box.text()
    assert page.plan is good_plan and page.fit_button.isEnabled()
    box.close()


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".csv"])
def test_export_writes_a_plan_that_loads_back(qtbot, window, tmp_path, monkeypatch, suffix):
    page = window.plan_page
    type_into(qtbot, page.budget_edit, "750k")
    wait_redrawn(qtbot, page)
    target = tmp_path / f"plan{suffix}"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.export_action.trigger()
    loaded = load_plan(target)
    assert loaded.budget == 750_000
    assert [lp.code for lp in loaded.languages] == list(PAPER_LANGUAGES)
    assert [lp.pairs for lp in loaded.languages] == table_column(page, 1)


def test_export_markdown_and_plot_files(qtbot, window, tmp_path, monkeypatch):
    page = window.plan_page
    md = tmp_path / "plan.md"
    assert page.export_plan(md) == str(md)
    text = md.read_text(encoding="utf-8")
    assert all(code in text for code in PAPER_LANGUAGES)
    for name in ("plot.png", "plot.svg"):
        target = tmp_path / name
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, t=target, **k: (str(t), ""))
        window.export_plot_action.trigger()
        assert target.stat().st_size > 1000
    image = QImage(str(tmp_path / "plot.png"))
    assert not image.isNull() and image.width() > 200 and image.height() > 100
    svg = (tmp_path / "plot.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "Predicted score" in svg
    assert not list(tmp_path.glob(".*partial*"))


def test_open_and_save_plan_via_menu_and_recent_list(qtbot, window, tmp_path, monkeypatch):
    page = window.plan_page
    type_into(qtbot, page.budget_edit, "2M")
    page.set_objective("maxmin")
    wait_redrawn(qtbot, page)
    saved = tmp_path / "saved.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(saved), ""))
    window.save_action.trigger()
    assert json.loads(saved.read_text())["schema"] == "linguatune.plan/1"
    pairs = table_column(page, 1)

    page.set_languages(["de", "fr"])
    type_into(qtbot, page.budget_edit, "100k")
    wait_redrawn(qtbot, page)
    assert table_column(page, 0) == ["de", "fr"]

    recent = window.recent_menu.actions()[0]
    assert recent.toolTip() == str(saved.resolve())
    recent.trigger()
    wait_redrawn(qtbot, page)
    assert table_column(page, 0) == list(PAPER_LANGUAGES)
    assert table_column(page, 1) == pairs
    assert page.inputs.objective == "maxmin" and page.budget_edit.text() == "2M"


def test_copy_cli_command_makes_the_same_plan(qtbot, window, tmp_path):
    page = window.plan_page
    type_into(qtbot, page.budget_edit, "1.5M")
    type_into(qtbot, page.floor_edit, "10k")
    wait_redrawn(qtbot, page)
    command = page.copy_cli_command()
    assert QApplication.clipboard().text() == command
    args = shlex.split(command)
    assert args[:2] == ["linguatune", "plan"] and "--budget" in args and "1.5M" in args
    from studio.cli import build_parser

    choices = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001 - which sub-commands exist
    if "plan" not in choices:
        pytest.skip("the `linguatune plan` sub-command is not registered in this checkout")
    from studio.cli import main as cli_main

    out = tmp_path / "cli.json"
    assert cli_main(args[1:] + ["-o", str(out)]) == 0
    assert [lp.pairs for lp in load_plan(out).languages] == table_column(page, 1)


def test_redraws_are_coalesced_to_one_per_event_loop_turn(qtbot, window):
    page = window.plan_page
    count = page.redraw_count
    for text in ("100k", "200k", "300k", "400k"):
        page.set_budget_text(text)
    assert page.plan.budget == 400_000  # every edit re-planned at once
    wait_redrawn(qtbot, page)
    assert page.redraw_count == count + 1
    assert table_column(page, 1) == [lp.pairs for lp in make_plan(PAPER_LANGUAGES, 400_000).languages]


def test_pages_menus_and_shortcuts(window):
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Plan", "Launch", "Monitor"]
    from studio.ui.launch_page import LaunchPage
    from studio.ui.monitor_page import MonitorPage

    assert isinstance(window.launch_page, LaunchPage) and isinstance(window.monitor_page, MonitorPage)
    assert window.launch_page.registry is window.monitor_page.registry  # one registry for launches and history
    shortcuts = {
        window.open_action: "Ctrl+O",
        window.save_action: "Ctrl+S",
        window.export_action: "Ctrl+E",
        window.preferences_action: "Ctrl+,",
        window.quit_action: "Ctrl+Q",
    }
    for action, keys in shortcuts.items():
        assert action.shortcut().toString() == keys
    assert window.plan_status.text() == "6 languages · sum · uncalibrated prior"


def test_run_results_refit_the_laws_together_with_the_pilot_points(qtbot, window, pilot_csv):
    """Monitor's "use these results" hands scores per language to the Plan page, which refits with them."""
    from studio.paths import data_dir

    page = window.plan_page
    with qtbot.waitSignal(page.fit_finished, timeout=60_000):
        page.fit_from_file(pilot_csv)
    pilot = load_measurements(pilot_csv)
    rows = [{"code": code, "pairs": 300_000, "score": 90.0, "metric": "comet", "job": "job-a"}
            for code in PAPER_LANGUAGES]
    with qtbot.waitSignal(page.fit_finished, timeout=60_000) as blocker:
        window.monitor_page.refit_requested.emit(rows)
    assert blocker.args[0] is True
    merged = load_measurements(data_dir() / "run_results.csv")
    assert len(merged) == len(pilot) + len(rows)
    assert {(m.language, m.pairs, m.score) for m in merged if m.pairs == 300_000} == {
        (code, 300_000, 90.0) for code in PAPER_LANGUAGES}  # the monitor sends the laws' unit (COMET x 100)
    wait_redrawn(qtbot, page)
    refit = fit_laws(merged)
    pairs, scores = page.figure.curves.curve_data("ar")
    np.testing.assert_allclose(scores, refit["ar"].law.value(pairs), rtol=1e-9)
    assert "run_results.csv" in page.law_source_label.text()
    assert window.tabs.currentWidget() is page


def test_studio_demo_path_goes_from_plan_to_live_monitor(qtbot, window):
    """`linguatune studio --demo`: the window launches the demo preset on this machine and the Monitor page follows
    it. The worker command is the test event writer (the real worker's demo is run by the remote tests)."""
    from tests.ui_monitor.demo_event_writer import writer_argv

    window.launch_page.worker_argv = writer_argv(30, 0.01, "--langs", "ar,el,hi,tr,vi,zh", "--eval-every", "10")
    task = window.start_local_demo()
    assert task is not None, window.launch_page.form_error.text()
    request = window.launch_page.launch_request()
    assert request.profile.launcher == "local" and request.nproc_per_node == 2
    assert request.job_spec["languages"] == list(PAPER_LANGUAGES) and request.job_spec["model"].get("tiny")
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is window.monitor_page, timeout=30_000)
    monitor = window.monitor_page
    (view,) = monitor.views.values()
    qtbot.waitUntil(lambda: view.record.state == "finished" and not view.dirty, timeout=60_000)
    steps, _loss = monitor.loss_plot.curve.getData()
    assert list(steps) == list(range(1, 31))
    assert set(monitor.eval_plot.curves) == set(PAPER_LANGUAGES)
    assert monitor.heatmap.current() is not None


def test_fitted_laws_show_where_they_were_measured_and_the_gain_interval(qtbot, window, pilot_csv, monkeypatch):
    from PySide6.QtCore import Qt as QtNs

    from studio.ui.models import AllocationModel

    page = window.plan_page
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(pilot_csv), ""))
    with qtbot.waitSignal(page.fit_finished, timeout=60_000):
        window.fit_action.trigger()
    wait_redrawn(qtbot, page)
    plan = page.plan
    assert plan.allocation == "robust" and plan.gain_interval is not None
    summary = page.summary_label.text()
    assert "95% interval" in summary and "robust allocation" in summary
    from studio.ui.models import format_gain

    assert "expected gain <b style=" in summary and format_gain(plan.gain_expected) in summary
    assert f"(point estimates {format_gain(plan.headline_gain)})" in summary
    model = page.allocation_model
    header = model.headerData(AllocationModel.MEASURED, QtNs.Orientation.Horizontal)
    assert header == "Measured"
    texts = [model.data(model.index(r, AllocationModel.MEASURED)) for r in range(model.rowCount())]
    assert texts == [lp.extrapolation_text() + (" ⚑" if lp.flags else "") for lp in plan.languages]
    assert all(lp.floor == int(lp.measured[0]) for lp in plan.languages)  # default floors: the smallest pilot
    tip = model.data(model.index(0, AllocationModel.MEASURED), QtNs.ItemDataRole.ToolTipRole)
    assert "Pilots from" in tip and f"{plan.languages[0].pairs:,}" in tip
    # Each fitted curve: dashed where extrapolated, with a solid stretch exactly over its pilots.
    curves = page.figure.curves
    for lp in plan.languages:
        assert curves.curve_items[lp.code].opts["pen"].style() == QtNs.PenStyle.DashLine
        x, _ = curves.measured_items[lp.code].getData()
        low, high = np.log10(lp.measured[0]), np.log10(lp.measured[1])
        assert x.min() >= low - 1e-9 and x.max() <= high + 1e-9 and x.max() - x.min() > 0.8 * (high - low)
