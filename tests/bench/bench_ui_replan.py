"""Time from a budget edit to the redrawn Plan page, for 6 and 100 languages (target: under 16 ms, one frame).

    QT_QPA_PLATFORM=offscreen python tests/bench/bench_ui_replan.py [--repeats 60]

Columns (medians over the repeats, milliseconds):
  end-to-end   the budget text set -> make_plan -> events processed until the coalesced redraw ran, then once more
               so its repaint is done: what a user waits for after a keystroke.
  to redrawn   the same, stopped when the redraw has run (table, bars, markers, labels updated; the repaint of the
               line edit that Qt delivers before the redraw timer is included).
  make_plan    the planning core alone (studio.planning.plan.make_plan) for the same inputs.
  redraw       PlanPage's redraw alone (no planning, no painting).
  repaint      one full-window repaint (offscreen and Xvfb builds of Qt 6.12 repaint the whole window on any update).
Each is shown as wall time and as CPU time of the GUI thread; on a shared, loaded machine the second is the fairer
measure of the work the page does.
The catalogue has 78 languages; the 100-language row adds 22 synthetic ones (copies of real rows under new codes) so
the page can be measured at that size. Prints a table; never fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LINGUATUNE_HOME", tempfile.mkdtemp(prefix="linguatune-bench-"))


def catalogue_of(size: int):
    from studio.planning.languages import Catalogue, load_catalogue

    real = list(load_catalogue())
    extra = [replace(real[i % len(real)], code=f"x{i:02d}", iso639_1=None, iso639_3=f"x{i:02d}",
                     name=f"Synthetic {i}", paper=False) for i in range(max(0, size - len(real)))]
    return Catalogue(real + extra)


BUDGETS = ["600k", "650k", "1.2M", "900k"]


def median_ms(action, repeats: int) -> tuple[float, float]:
    """Median wall time and median GUI-thread CPU time of ``action`` (ms)."""
    wall, cpu = [], []
    for i in range(repeats + 3):
        start, start_cpu = time.perf_counter(), time.thread_time()
        action(i)
        if i >= 3:  # warm-up
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def measure(app, window, page, repeats: int) -> dict[str, tuple[float, float]]:
    from studio.planning.budget import parse_budget
    from studio.planning.plan import make_plan

    def end_to_end(i, paint=True):
        page.set_budget_text(BUDGETS[i % len(BUDGETS)])
        while page.redraw_pending:
            app.processEvents()
        if paint:
            app.processEvents()

    def planning(i):
        make_plan(page.inputs.languages, parse_budget(BUDGETS[i % len(BUDGETS)]), catalogue=page.catalogue)

    def redraw(i):
        page.schedule_redraw()
        page._redraw()  # noqa: SLF001 - the redraw alone

    def repaint(i):
        window.repaint()

    return {
        "end-to-end": median_ms(end_to_end, repeats),
        "to redrawn": median_ms(lambda i: end_to_end(i, paint=False), repeats),
        "make_plan": median_ms(planning, repeats),
        "redraw": median_ms(redraw, repeats),
        "repaint": median_ms(repaint, repeats),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    print(f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Qt platform {os.environ['QT_QPA_PLATFORM']}")
    from studio.ui.app import create_application
    from studio.ui.mainwindow import MainWindow
    from studio.ui.plan_page import PlanPage

    app = create_application([])
    columns = ("end-to-end", "to redrawn", "make_plan", "redraw", "repaint")
    results = {}
    for size in (6, 100):
        window = MainWindow()
        catalogue = catalogue_of(size)
        page = PlanPage(catalogue=catalogue)
        window.tabs.removeTab(0)
        window.tabs.insertTab(0, page, "Plan")
        window.tabs.setCurrentIndex(0)
        window.resize(1400, 900)
        window.show()
        codes = [lang.code for lang in catalogue][:size] if size != 6 else ["ar", "el", "hi", "tr", "vi", "zh"]
        page.set_languages(codes)
        while page.redraw_pending:
            app.processEvents()
        app.processEvents()
        assert len(page.plan.languages) == size
        results[size] = measure(app, window, page, args.repeats)
        window.close()
        window.deleteLater()
        app.processEvents()
    for kind, which in (("wall time", 0), ("GUI-thread CPU time (unaffected by other processes)", 1)):
        print(f"\n{kind}, ms, median of {args.repeats}; target end-to-end < 16")
        print(f"{'languages':>9}  " + "  ".join(f"{c:>10}" for c in columns))
        for size, result in results.items():
            print(f"{size:>9}  " + "  ".join(f"{result[c][which]:>10.2f}" for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
