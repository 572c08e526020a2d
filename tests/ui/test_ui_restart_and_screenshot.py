"""What survives closing the studio (QSettings in the test's own LINGUATUNE_HOME), and the screenshot script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication

from studio.paths import config_dir
from studio.ui.theme import DARK, LIGHT
from ui_helpers import wait_redrawn

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


def test_preferences_and_last_plan_survive_a_restart(qtbot, make_window, pilot_csv):
    first = make_window()
    page = first.plan_page
    page.set_languages(["ar", "hi", "de"])
    page.set_budget_text("1.2M")
    page.set_objective("maxmin")
    page.set_cap("de", 300_000)
    with qtbot.waitSignal(page.fit_finished, timeout=60_000):
        page.fit_from_file(pilot_csv)
    wait_redrawn(qtbot, page)
    pairs = [lp.pairs for lp in page.plan.languages]

    dialog = first.show_preferences()
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.accept()
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window) == QColor(DARK.window)
    first.tabs.setCurrentIndex(2)
    first.close()
    assert list(config_dir().glob("**/*.ini")), "settings must live under LINGUATUNE_HOME"

    # Pretend a fresh start: light palette, then a new window reading the same settings.
    first.themes.set_preference("light")
    second = make_window()
    assert second.settings.theme == "dark"
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window) == QColor(DARK.window)
    assert second.plan_page.figure.backgroundBrush().color() == QColor(DARK.plot_background)
    assert second.tabs.currentIndex() == 2
    restored = second.plan_page
    assert restored.inputs.languages == ["ar", "hi", "de"]
    assert restored.budget_edit.text() == "1.2M" and restored.inputs.objective == "maxmin"
    assert restored.inputs.caps == {"de": 300_000}
    assert [lp.pairs for lp in restored.plan.languages] == pairs
    assert restored.plan.prior and "for de" in restored.prior_banner_label.text()  # de has no fitted law
    assert set(restored.effective_laws()) == {"ar", "hi"}  # the fitted laws came back; de has no pilot points
    # Bands come back from a background refit of the remembered pilot file.
    qtbot.waitUntil(lambda: restored.fit_task is not None and restored.fit_task.done, timeout=60_000)
    wait_redrawn(qtbot, restored)
    assert sorted(restored.figure.curves.band_codes()) == ["ar", "hi"]
    second.set_theme("light")
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window) == QColor(LIGHT.window)


def test_screenshot_script_writes_the_plan_page(tmp_path, pilot_csv):
    out = tmp_path / "shots"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-m", "tests.screenshots.render", str(out), "--pilot", str(pilot_csv)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    image = QImage(str(out / "plan.png"))
    assert not image.isNull()
    assert (image.width(), image.height()) == (1400, 900)
    # Not a blank frame: many distinct colours (text, curves, bars).
    colours = {image.pixel(x, y) for x in range(0, 1400, 7) for y in range(0, 900, 7)}
    assert len(colours) > 50
