"""Live curves of the Monitor page (pyqtgraph): training loss (with another job's loss overlaid), learning rate and
throughput, and evaluation scores per language over steps.

Series grow by doubling their numpy buffers, and curves draw views of them with peak downsampling and clip-to-view,
so a million loss points cost a few milliseconds per frame.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem

from studio.ui.theme import Theme, current_theme


class GrowableSeries:
    """Parallel float arrays appended in batches; capacity doubles, so appending n points costs O(n) overall."""

    def __init__(self, columns: int = 2, capacity: int = 1024):
        self._data = np.empty((columns, capacity), dtype=float)
        self.size = 0

    def extend(self, *columns: np.ndarray) -> None:
        n = len(columns[0])
        if n == 0:
            return
        need = self.size + n
        if need > self._data.shape[1]:
            capacity = self._data.shape[1]
            while capacity < need:
                capacity *= 2
            grown = np.empty((self._data.shape[0], capacity), dtype=float)
            grown[:, : self.size] = self._data[:, : self.size]
            self._data = grown
        for i, column in enumerate(columns):
            self._data[i, self.size: need] = column
        self.size = need

    def column(self, index: int) -> np.ndarray:
        """A view of the filled part of one column (valid until the next ``extend``)."""
        return self._data[index, : self.size]

    def __len__(self) -> int:
        return self.size


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


def fast_curve(item: pg.PlotDataItem) -> pg.PlotDataItem:
    """Settings that keep a long curve cheap to redraw."""
    item.setDownsampling(auto=True, method="peak")
    item.setClipToView(True)
    item.setSkipFiniteCheck(True)
    return item


def _monotonic(x: np.ndarray) -> bool:
    return len(x) < 2 or bool(np.all(x[1:] >= x[:-1]))


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


class LossPlot(_ThemedPlot):
    """Training loss vs step of the selected job, eval loss as markers, and optionally a second job's loss."""

    def __init__(self, parent=None):
        super().__init__("Training loss", parent)
        item = self.plotItem
        item.setLabel("bottom", "step")
        item.setLabel("left", "loss")
        self.legend = item.addLegend(offset=(-10, 10))
        self.curve = fast_curve(item.plot([], [], name="loss", pen=pg.mkPen(self.theme.series(0), width=1.5)))
        self.eval_loss = item.plot([], [], name="eval loss", pen=None, symbol="o", symbolSize=6,
                                   symbolBrush=self.theme.series(4), symbolPen=None)
        self.compare = fast_curve(item.plot([], [], name="compared", pen=pg.mkPen(
            self.theme.series(1), width=1.5, style=Qt.PenStyle.DashLine)))
        self.legend.removeItem(self.eval_loss)
        self.legend.removeItem(self.compare)

    def set_loss(self, steps: np.ndarray, losses: np.ndarray) -> None:
        self.curve.setClipToView(_monotonic(steps[-2:]) if len(steps) else True)
        self.curve.setData(steps, losses)

    def set_eval_loss(self, steps, values) -> None:
        had = bool(len(self.eval_loss.xData if self.eval_loss.xData is not None else []))
        self.eval_loss.setData(steps, values)
        if len(steps) and not had:
            self.legend.addItem(self.eval_loss, "eval loss")

    def set_compare(self, label: str | None, steps=None, losses=None) -> None:
        """Overlay another job's loss (``label`` None removes it)."""
        self.legend.removeItem(self.compare)
        if label is None:
            self.compare.setData([], [])
            return
        self.compare.setData(steps, losses)
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
        self.lr = fast_curve(item.plot([], [], pen=pg.mkPen(self.theme.series(2), width=1.5)))
        self.tps_view = pg.ViewBox()
        item.scene().addItem(self.tps_view)
        item.getAxis("right").linkToView(self.tps_view)
        self.tps_view.setXLink(item)
        self.tps = fast_curve(pg.PlotDataItem([], [], pen=pg.mkPen(self.theme.series(3), width=1.2)))
        self.tps_view.addItem(self.tps)
        item.vb.sigResized.connect(self._sync_views)
        self.apply_theme(self.theme)

    def _sync_views(self) -> None:
        self.tps_view.setGeometry(self.plotItem.vb.sceneBoundingRect())
        self.tps_view.linkedViewChanged(self.plotItem.vb, self.tps_view.XAxis)

    def apply_theme(self, theme: Theme) -> None:
        super().apply_theme(theme)
        if hasattr(self, "tps"):
            self.plotItem.getAxis("left").setTextPen(pg.mkPen(theme.series(2)))
            self.plotItem.getAxis("right").setTextPen(pg.mkPen(theme.series(3)))

    def set_data(self, steps, lr, tps) -> None:
        self.lr.setData(steps, lr, connect="finite")
        self.tps.setData(steps, tps, connect="finite")
        finite = tps[np.isfinite(tps)] if len(tps) else tps
        if len(finite):
            self.tps_view.enableAutoRange(axis=pg.ViewBox.YAxis)


METRIC_LABELS = {"comet": "COMET", "chrf": "chrF", "spbleu": "spBLEU", "qa_hit": "QA hit rate", "loss": "eval loss"}


class EvalPlot(_ThemedPlot):
    """One metric per language over steps (a line with markers per language; the metric and direction switchable)."""

    def __init__(self, parent=None):
        super().__init__("Evaluation", parent)
        item = self.plotItem
        item.setLabel("bottom", "step")
        self.legend = item.addLegend(offset=(-10, -10), colCount=2)
        self.curves: dict[str, pg.PlotDataItem] = {}

    def set_series(self, metric: str, series: dict[str, tuple[list[float], list[float]]],
                   languages_order: list[str]) -> None:
        """``series``: language → (steps, values) for the chosen metric and direction."""
        self.plotItem.setLabel("left", METRIC_LABELS.get(metric, metric))
        self.plotItem.setTitle(f"{METRIC_LABELS.get(metric, metric)} per language", color=self.theme.plot_foreground,
                               size="10pt")
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
