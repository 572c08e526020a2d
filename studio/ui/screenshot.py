"""Render the studio in a realistic state to PNG, for the README and as a visual check.

    python -m studio.ui.screenshot OUT_DIR [--theme light|dark] [--pilot FILE]

writes OUT_DIR/plan.png (1400x900): the Plan page with the six paper languages, a 600k budget and laws fitted from
the sample pilot measurements (resources/demo/pilot_measurements.csv), bootstrap bands included; and
OUT_DIR/plan_prior.png: the same before fitting, with the uncalibrated-prior banner. Works offscreen
(QT_QPA_PLATFORM=offscreen); settings go to a temporary LINGUATUNE_HOME so the user's own are untouched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

SIZE = (1400, 900)


def render(out_dir: str | Path, *, theme: str = "light", pilot: str | Path | None = None) -> list[Path]:
    """Render the pages to PNGs in ``out_dir`` and return their paths."""
    from PySide6.QtCore import QEventLoop, QTimer

    from studio.planning.languages import PAPER_LANGUAGES
    from studio.ui.app import create_application
    from studio.ui.mainwindow import MainWindow
    from studio.ui.settings import StudioSettings
    from worker.resources import resource_path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app = create_application([])
    window = MainWindow(StudioSettings())
    window.set_theme(theme)
    window.resize(*SIZE)
    window.tabs.setCurrentIndex(0)
    window.show()
    page = window.plan_page
    page.set_languages(PAPER_LANGUAGES)
    page.set_budget_text("600k")
    page.set_objective("sum")
    written = [_save(app, window, out / "plan_prior.png")]  # before fitting: the uncalibrated-prior banner
    pilot_path = Path(pilot) if pilot else resource_path("demo", "pilot_measurements.csv")
    if pilot_path.is_file():
        task = page.fit_from_file(pilot_path, quiet=True)
        loop = QEventLoop()
        task.finished.connect(loop.quit)
        QTimer.singleShot(120_000, loop.quit)
        if not task.done:
            loop.exec()
        if task.error is not None:
            raise SystemExit(f"screenshot: fitting {pilot_path} failed: {task.error}")
    else:
        print(f"screenshot: {pilot_path} not found; rendering with the uncalibrated prior", file=sys.stderr)
    written.insert(0, _save(app, window, out / "plan.png"))
    window.close()
    app.processEvents()
    return written


def _save(app, window, path: Path) -> Path:
    for _ in range(5):
        app.processEvents()
    image = window.grab().toImage()
    if not image.save(str(path), "PNG"):
        raise SystemExit(f"screenshot: could not write {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.ui.screenshot", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="folder for the PNG files")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--pilot", help="pilot measurements to fit (default: the sample shipped in resources/demo)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if "LINGUATUNE_HOME" not in os.environ:
        os.environ["LINGUATUNE_HOME"] = tempfile.mkdtemp(prefix="linguatune-screenshot-")
    for path in render(args.out_dir, theme=args.theme, pilot=args.pilot):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
