"""Render the studio in a realistic state to PNG, for the README and as a visual check (a developer script kept
out of the product: no page imports it).

    python -m tests.screenshots.render OUT_DIR [--theme light|dark] [--pilot FILE] [--monitor]

writes OUT_DIR/plan.png (1400x900): the Plan page with the six paper languages, a 600k budget and laws fitted from
the sample pilot measurements (resources/demo/pilot_measurements.csv), bootstrap bands included; and
OUT_DIR/plan_prior.png: the same before fitting, with the uncalibrated-prior banner. Works offscreen
(QT_QPA_PLATFORM=offscreen); settings go to a temporary LINGUATUNE_HOME so the user's own are untouched.
With ``--monitor`` it also writes OUT_DIR/monitor.png: the Monitor page on the real demo job of
tests/infra/demo_job.py (what the worker really wrote; its COMET is the labelled pipeline check), not made-up events.
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


def render_monitor(out_dir: str | Path, *, theme: str = "light") -> Path:
    """The Monitor page on a private copy of the real demo job (built once and cached by tests/infra/demo_job.py)."""
    import tempfile

    from PySide6.QtCore import QEventLoop

    from studio.remote.registry import JobRegistry
    from studio.ui.app import create_application
    from studio.ui.monitor_page import MonitorPage
    from studio.ui.theme import theme_manager
    from tests.infra.demo_job import demo_job

    app = create_application([])
    theme_manager().set_preference(theme)
    job = demo_job()
    with tempfile.TemporaryDirectory(prefix="linguatune-shot-") as tmp:
        registry = JobRegistry(Path(tmp) / "registry.sqlite3")
        record = job.register(registry, job.copy_to(Path(tmp) / "jobs"))
        page = MonitorPage(registry)
        page.resize(*SIZE)
        page.show()
        page.select_job(record.id)
        view = page.views[record.id]
        total = len(job.events())
        loop = QEventLoop()
        while view.events_seen < total or page._threads:
            loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        page.flush(everything=True)
        page.metric_combo.setCurrentIndex(max(0, page.metric_combo.findData("chrf")))
        page.flush(everything=True)
        path = _save(app, page, Path(out_dir) / "monitor.png")
        page.shutdown()
        registry.close()
    return path


def render_loop(out_dir: str | Path, report_path: str | Path, *, theme: str = "light") -> list[Path]:
    """The measured loop of a `linguatune demo --report` run, from what its jobs really wrote: the Plan page
    calibrated by resuming its pilot sweep (plan_calibrated.png), and the Monitor page on its two final runs,
    optimised and uniform (monitor_compare.png). The run's registry is copied, never changed."""
    import json
    import shutil

    from PySide6.QtCore import QEventLoop

    from studio.paths import data_dir
    from studio.remote.registry import REGISTRY_FILE, JobRegistry
    from studio.ui.app import create_application
    from studio.ui.calibrate_dialog import CalibrationRequest
    from studio.ui.mainwindow import MainWindow
    from studio.ui.settings import StudioSettings

    report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    source_registry = Path(report["laws"]).parents[1] / REGISTRY_FILE
    with JobRegistry(source_registry) as registry:  # checkpoint the WAL so one file holds everything
        registry._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    target = data_dir() / REGISTRY_FILE
    for stale in (target, target.with_name(REGISTRY_FILE + "-wal"), target.with_name(REGISTRY_FILE + "-shm")):
        stale.unlink(missing_ok=True)
    shutil.copy(source_registry, target)
    app = create_application([])
    window = MainWindow(StudioSettings())
    window.set_theme(theme)
    window.resize(*SIZE)
    window.show()
    page = window.plan_page
    budget = sum(report["final"]["optimised"]["pairs"].values())
    page.set_budget_text(str(budget))
    page.floor_edit.setText(str(min(p["pairs"] for p in report["pilots"])))
    page._floor_typed(page.floor_edit.text())
    task = page.start_calibration(CalibrationRequest([], [], "local", "demo-world", 1, "chrf", report["sweep"]))
    loop = QEventLoop()
    while not task.done:
        loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    written = [_save(app, window, Path(out_dir) / "plan_calibrated.png")]
    window.tabs.setCurrentWidget(window.monitor_page)
    monitor = window.monitor_page
    jobs = [report["final"][arm]["job_id"] for arm in ("optimised", "uniform")]
    monitor.select_job(jobs[0])
    monitor.set_compare(jobs[1])
    while monitor._threads:
        loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    monitor.flush(everything=True)
    monitor.metric_combo.setCurrentIndex(max(0, monitor.metric_combo.findData("chrf")))
    monitor.flush(everything=True)
    written.append(_save(app, window, Path(out_dir) / "monitor_compare.png"))
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
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="folder for the PNG files")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--pilot", help="pilot measurements to fit (default: the sample shipped in resources/demo)")
    parser.add_argument("--monitor", action="store_true",
                        help="also render the Monitor page on the real demo job (builds it once: about a minute)")
    parser.add_argument("--loop", metavar="REPORT", help="also render the measured loop of a `linguatune demo "
                        "--report REPORT` run (calibrated Plan page, Monitor on its optimised and uniform runs)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if "LINGUATUNE_HOME" not in os.environ:
        os.environ["LINGUATUNE_HOME"] = tempfile.mkdtemp(prefix="linguatune-screenshot-")
    for path in render(args.out_dir, theme=args.theme, pilot=args.pilot):
        print(path)
    if args.monitor:
        print(render_monitor(args.out_dir, theme=args.theme))
    if args.loop:
        for path in render_loop(args.out_dir, args.loop, theme=args.theme):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
