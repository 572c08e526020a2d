"""Live curves of the Monitor page (pyqtgraph): training loss (with another job's loss overlaid), learning rate and
throughput, and evaluation scores per language over steps.

Series grow by doubling their numpy buffers and keep per-block minima and maxima; a curve draws only the peaks of
the visible range (about two points per pixel: peak downsampling and clip-to-view done on the series itself), so a
million loss points cost a few milliseconds per frame.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem

from studio.session.series import BLOCK, GrowableSeries  # noqa: F401  (drawn here)
from studio.session.monitor import METRIC_LABELS
from studio.ui.theme import Theme, current_theme


class PeakCurve:
    """A curve that draws a ``GrowableSeries`` column through ``peaks``: about two points per pixel of the view,
    recomputed when the data grows or the visible x range changes (pyqtgraph never sees the million points)."""

    def __init__(self, item: pg.PlotDataItem, viewbox: pg.ViewBox, ycol: int, *, connect: str = "all",
                 on_drawn=None):
        self.on_drawn = on_drawn
        self.item = item
        self.viewbox = viewbox
        self.ycol = ycol
        self.connect = connect
        self.series: GrowableSeries | None = None
        self.drawn_range: tuple[float, float] | None = None
        item.setSkipFiniteCheck(connect == "all")
        viewbox.sigXRangeChanged.connect(lambda *_: self._range_changed())

    def set_series(self, series: GrowableSeries | None) -> None:
        self.series = series
        self.refresh()

    def refresh(self) -> None:
        if self.series is None or len(self.series) == 0:
            self.item.setData([], [])
            self.drawn_range = None
            if self.on_drawn is not None:
                self.on_drawn()
            return
        auto_x = bool(self.viewbox.state["autoRange"][0])
        x_range = None if auto_x else tuple(self.viewbox.viewRange()[0])
        bins = max(int(self.viewbox.width()), 200)
        x, y = self.series.peaks(self.ycol, x_range, bins)
        self.item.setData(x, y, connect=self.connect)
        self.drawn_range = x_range
        if self.on_drawn is not None:
            self.on_drawn()

    def _range_changed(self) -> None:
        if self.series is None or bool(self.viewbox.state["autoRange"][0]):
            return
        current = tuple(self.viewbox.viewRange()[0])
        if self.drawn_range is None or abs(current[0] - self.drawn_range[0]) + abs(current[1] - self.drawn_range[1]) \
                > 1e-9 * max(1.0, abs(current[1])):
            self.refresh()


def style_plot(item: pg.PlotItem, theme: Theme) -> None:
    """Axis, grid and title colours of a plot for ``theme``."""
    foreground = QColor(theme.plot_foreground)
    for name in ("left", "bottom", "right"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(foreground))
        axis.setTextPen(pg.mkPen(foreground))
        axis.labelStyle = {"color": theme.plot_foreground}
        axis._updateLabel()
    item.showGrid(x=True, y=True, alpha=theme.grid_alpha)
    if item.titleLabel.text:
        item.setTitle(item.titleLabel.text, color=theme.plot_foreground, size="10pt")


class _ThemedPlot(pg.PlotWidget):
    def __init__(self, title: str, parent=None):
        super().__init__(parent=parent)
        self.setBackground(current_theme().plot_background)
        self.plotItem.setTitle(title)
        for name in ("left", "bottom"):
            # Replaying tick labels costs milliseconds per frame; a cached pixmap is reused until the range changes.
            self.plotItem.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.apply_theme(current_theme())

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.plot_background)
        style_plot(self.plotItem, theme)


def _round_up(value: float) -> float:
    """``value`` rounded up to two significant digits (12345 -> 13000)."""
    if value <= 0:
        return 1.0
    scale = 10 ** (math.floor(math.log10(value)) - 1)
    return math.ceil(value / scale) * scale


class FollowX:
    """Keeps a view's x range at [first step, a rounded-up bound ~20% past the last step] while the user has not
    zoomed or panned, so the axis (costly to redraw) changes once per 20% of growth instead of on every frame.
    The plot's auto-range button, or ``follow()``, returns to following."""

    def __init__(self, viewbox: pg.ViewBox):
        self.viewbox = viewbox
        self.following = True
        self.growing = True
        self.extent: tuple[float, float] | None = None
        self._shown: tuple[float, float] | None = None  # the range last set (the view adds padding to it)
        viewbox.disableAutoRange(axis=pg.ViewBox.XAxis)
        viewbox.sigRangeChangedManually.connect(self._manual)

    def _manual(self, mask) -> None:
        if mask is None or mask[0]:
            self.following = False

    def follow(self) -> None:
        self.following = True
        if self.extent is not None:
            self.update(*self.extent, force=True, growing=self.growing)

    def update(self, lo: float, hi: float, *, force: bool = False, growing: bool = True) -> None:
        """Show [lo, hi]; with ``growing`` (a live job) leave room on the right for the steps to come."""
        self.extent = (lo, hi)
        self.growing = growing
        if self.viewbox.state["autoRange"][0]:  # the "A" button: back to following
            self.viewbox.disableAutoRange(axis=pg.ViewBox.XAxis)
            self.following, force = True, True
        if not self.following or not (math.isfinite(lo) and math.isfinite(hi)):
            return
        target = lo + (_round_up(max(hi - lo, 1.0) * 1.2) if growing else max(hi - lo, 1.0))
        shown = self._shown
        if force or shown is None or hi > shown[1] or shown[0] != lo or shown[1] > lo + 2 * max(hi - lo, 1.0) or \
                (not growing and shown[1] != target):
            self._shown = (lo, target)
            self.viewbox.setXRange(lo, target, padding=0.01)


class StickyY:
    """Keeps a view's y range around the drawn data with a margin, moving it only when data leaves the range (or
    fills less than 40% of it), instead of pyqtgraph's auto-range that moves it, and redraws the axes, whenever a
    new minimum arrives. Zooming or panning y by hand stops it; the auto-range button resumes it."""

    def __init__(self, viewbox: pg.ViewBox):
        self.viewbox = viewbox
        self.following = True
        viewbox.disableAutoRange(axis=pg.ViewBox.YAxis)
        viewbox.sigRangeChangedManually.connect(self._manual)

    def _manual(self, mask) -> None:
        if mask is None or mask[1]:
            self.following = False

    def update(self, *arrays: np.ndarray) -> None:
        if self.viewbox.state["autoRange"][1]:
            self.viewbox.disableAutoRange(axis=pg.ViewBox.YAxis)
            self.following = True
        if not self.following:
            return
        finite = [a[np.isfinite(a)] for a in arrays if a is not None and len(a)]
        finite = [a for a in finite if len(a)]
        if not finite:
            return
        lo = float(min(a.min() for a in finite))
        hi = float(max(a.max() for a in finite))
        span = max(hi - lo, abs(hi) * 1e-3, 1e-12)
        view_lo, view_hi = self.viewbox.viewRange()[1]
        if lo < view_lo or hi > view_hi or (view_hi - view_lo) > span * 1.16 / 0.4:
            self.viewbox.setYRange(lo - 0.08 * span, hi + 0.08 * span, padding=0)


def _extent(*series: "GrowableSeries | None") -> tuple[float, float] | None:
    spans = [(s.column(0)[0], s.column(0)[-1]) for s in series if s is not None and len(s) and s.x_sorted]
    if not spans:
        return None
    return min(a for a, _ in spans), max(b for _, b in spans)


class LossPlot(_ThemedPlot):
    """Training loss vs step of the selected job, eval loss as markers, and optionally a second job's loss."""

    def __init__(self, parent=None):
        super().__init__("Training loss", parent)
        item = self.plotItem
        item.setLabel("bottom", "step")
        item.setLabel("left", "loss")
        self.legend = item.addLegend(offset=(-10, 10))
        self.curve = item.plot([], [], name="loss", pen=pg.mkPen(self.theme.series(0), width=1))
        self.eval_loss = item.plot([], [], name="eval loss", pen=None, symbol="o", symbolSize=6,
                                   symbolBrush=self.theme.series(4), symbolPen=None)
        compare_color = QColor(self.theme.series(1))
        compare_color.setAlpha(170)
        self.compare = item.plot([], [], name="compared", pen=pg.mkPen(compare_color, width=1))
        self.compare.setZValue(-1)  # under the selected job's curve
        self.legend.removeItem(self.eval_loss)
        self.legend.removeItem(self.compare)
        self.follow_x = FollowX(item.vb)
        self.growing = True
        self.sticky_y = StickyY(item.vb)
        self.main_peaks = PeakCurve(self.curve, item.vb, 1, on_drawn=self._fit_y)
        self.compare_peaks = PeakCurve(self.compare, item.vb, 1, on_drawn=self._fit_y)

    def _follow(self) -> None:
        extent = _extent(self.main_peaks.series, self.compare_peaks.series)
        if extent is not None:
            self.follow_x.update(*extent, growing=self.growing)

    def _fit_y(self) -> None:
        self.sticky_y.update(self.curve.yData, self.compare.yData, self.eval_loss.yData)

    def set_loss(self, series: GrowableSeries | None, *, growing: bool = True) -> None:
        """Draw ``series`` (columns step, loss, ...) as the selected job's loss; call again after it grew.
        ``growing``: the job is still running (the x range leaves room for what comes)."""
        self.growing = growing
        self.main_peaks.series = series
        self._follow()
        self.main_peaks.refresh()

    def set_eval_loss(self, steps, values) -> None:
        had = self.legend.getLabel(self.eval_loss) is not None
        self.eval_loss.setData(steps, values)
        self._fit_y()
        if len(steps) and not had:
            self.legend.addItem(self.eval_loss, "eval loss")
        elif not len(steps) and had:
            self.legend.removeItem(self.eval_loss)

    def set_compare(self, label: str | None, series: GrowableSeries | None = None) -> None:
        """Overlay another job's loss (``label`` None removes it)."""
        self.legend.removeItem(self.compare)
        self.compare_peaks.series = series if label is not None else None
        self._follow()
        self.compare_peaks.refresh()
        if label is not None:
            self.legend.addItem(self.compare, label)

    def set_main_label(self, label: str) -> None:
        entry = self.legend.getLabel(self.curve)
        if entry is not None:
            entry.setText(label, color=self.theme.plot_foreground)


class RatePlot(_ThemedPlot):
    """Learning rate (left axis) and tokens per second (right axis) vs step."""

    def __init__(self, parent=None):
        super().__init__("Learning rate and throughput", parent)
        item = self.plotItem
        item.setLabel("bottom", "step")
        item.setLabel("left", "learning rate")
        item.showAxis("right")
        item.setLabel("right", "tokens/s")
        self.lr = item.plot([], [], pen=pg.mkPen(self.theme.series(2), width=1))
        self.tps_view = pg.ViewBox()
        item.scene().addItem(self.tps_view)
        item.getAxis("right").linkToView(self.tps_view)
        self.tps_view.setXLink(item)
        self.tps = pg.PlotDataItem([], [], pen=pg.mkPen(self.theme.series(3), width=1))
        self.tps_view.addItem(self.tps)
        item.vb.sigResized.connect(self._sync_views)
        self.follow_x = FollowX(item.vb)
        self.sticky_lr = StickyY(item.vb)
        self.sticky_tps = StickyY(self.tps_view)
        self.lr_peaks = PeakCurve(self.lr, item.vb, 2, connect="finite",
                                  on_drawn=lambda: self.sticky_lr.update(self.lr.yData))
        self.tps_peaks = PeakCurve(self.tps, item.vb, 3, connect="finite",
                                   on_drawn=lambda: self.sticky_tps.update(self.tps.yData))
        self.apply_theme(self.theme)

    def _sync_views(self) -> None:
        self.tps_view.setGeometry(self.plotItem.vb.sceneBoundingRect())
        self.tps_view.linkedViewChanged(self.plotItem.vb, self.tps_view.XAxis)

    def apply_theme(self, theme: Theme) -> None:
        super().apply_theme(theme)
        if hasattr(self, "tps"):
            self.plotItem.getAxis("left").setTextPen(pg.mkPen(theme.series(2)))
            self.plotItem.getAxis("right").setTextPen(pg.mkPen(theme.series(3)))

    def set_series(self, series: GrowableSeries | None, *, growing: bool = True) -> None:
        """Draw columns 2 (lr) and 3 (tokens/s) of ``series`` against its steps."""
        self.lr_peaks.series = self.tps_peaks.series = series
        extent = _extent(series)
        if extent is not None:
            self.follow_x.update(*extent, growing=growing)
        self.lr_peaks.refresh()
        self.tps_peaks.refresh()




class EvalPlot(_ThemedPlot):
    """One metric per language over steps (a line with markers per language; the metric and direction switchable)."""

    def __init__(self, parent=None):
        super().__init__("Evaluation", parent)
        item = self.plotItem
        item.setLabel("bottom", "step")
        item.getAxis("left").enableAutoSIPrefix(False)
        self.legend = item.addLegend(offset=(-10, -10), colCount=2)
        self.curves: dict[str, pg.PlotDataItem] = {}

    def set_series(self, metric: str, series: dict[str, tuple[list[float], list[float]]],
                   languages_order: list[str], *, pipeline_check: bool = False) -> None:
        """``series``: language → (steps, values) for the chosen metric and direction group. A pipeline-check
        metric (the tiny local COMET) says so in the title: it is not a measurement."""
        self.plotItem.setLabel("left", METRIC_LABELS.get(metric, metric))
        title = f"{METRIC_LABELS.get(metric, metric)} per language"
        if pipeline_check:
            title += " (pipeline check, not a measurement)"
        self.plotItem.setTitle(title, color=self.theme.plot_foreground, size="10pt")
        for code in list(self.curves):
            if code not in series:
                self.legend.removeItem(self.curves[code])
                self.plotItem.removeItem(self.curves.pop(code))
        count = len(languages_order)
        for index, code in enumerate(languages_order):
            if code not in series:
                continue
            steps, values = series[code]
            color = self.theme.series(index, count)
            curve = self.curves.get(code)
            if curve is None:
                curve = self.plotItem.plot([], [], name=code, pen=pg.mkPen(color, width=1.5), symbol="o",
                                           symbolSize=6, symbolBrush=color, symbolPen=None)
                self.curves[code] = curve
            curve.setData(np.asarray(steps, dtype=float), np.asarray(values, dtype=float))

    def point_count(self) -> int:
        return sum(len(c.xData) if c.xData is not None else 0 for c in self.curves.values())
