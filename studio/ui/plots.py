"""The Plan page's pictures (pyqtgraph): each language's law curve on log-x pairs, and optimised vs uniform bars.

The x axis of the curve plot carries log10(pairs) and labels ticks as pair counts (1k, 10k, 100k, 1M), so the data
an item holds is ``log10(pairs)``; ``LawCurvesPlot.curve_data(code)`` hands back pairs in linear units.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsItem

from studio.ui.theme import Theme, current_theme

LEGEND_LIMIT = 12  # beyond this many languages a legend covers the plot; the markers' tooltips name them instead


def format_count(value: float) -> str:
    """A pair count the way people say it: 950, 12k, 600k, 1.2M (at most three significant digits)."""
    value = float(value)
    if not math.isfinite(value):
        return "∞"
    sign = "-" if value < 0 else ""
    value = abs(value)
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            scaled = value / scale
            text = f"{scaled:.3g}" if scaled < 1000 else f"{scaled:.0f}"
            return f"{sign}{text}{suffix}"
    return f"{sign}{value:.3g}" if value < 1 and value > 0 else f"{sign}{value:.0f}"


class PairsAxis(pg.AxisItem):
    """A bottom axis for log10(pairs): ticks at decades (labelled) and at 2x and 5x (unlabelled but for wide gaps)."""

    def tickValues(self, minVal, maxVal, size):
        if not (math.isfinite(minVal) and math.isfinite(maxVal)) or maxVal <= minVal:
            return []
        lo, hi = math.floor(minVal), math.ceil(maxVal)
        decades = [float(d) for d in range(lo, hi + 1) if minVal <= d <= maxVal]
        between = [
            d + math.log10(m) for d in range(lo, hi + 1) for m in (2, 5) if minVal <= d + math.log10(m) <= maxVal
        ]
        if len(decades) <= 2:  # a narrow range: label the 2x and 5x ticks too
            return [(1.0, sorted(decades + between))]
        return [(1.0, decades), (0.3, between)]

    def tickStrings(self, values, scale, spacing):
        return [format_count(10.0 ** v) for v in values]


class CountAxis(pg.AxisItem):
    """A linear axis of pair counts labelled 200k, 1.2M."""

    def tickStrings(self, values, scale, spacing):
        return [format_count(v * scale) for v in values]


@dataclass
class CurveSpec:
    """Everything the curve plot draws for one language (pairs in linear units)."""

    code: str
    label: str
    color: QColor
    pairs: np.ndarray
    scores: np.ndarray
    band_pairs: np.ndarray | None = None
    band_lower: np.ndarray | None = None
    band_upper: np.ndarray | None = None
    point_pairs: np.ndarray | None = None
    point_scores: np.ndarray | None = None
    measured: tuple[float, float] | None = None  # pilots' range: solid inside, dashed where the law is extrapolated


def _style_plot(item: pg.PlotItem, theme: Theme) -> None:
    foreground = QColor(theme.plot_foreground)
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        # Replaying an axis' tick labels costs milliseconds; keep a pixmap until its range or style changes.
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        axis.setPen(pg.mkPen(foreground))
        axis.setTextPen(pg.mkPen(foreground))
    item.showGrid(x=True, y=True, alpha=theme.grid_alpha)
    title = item.titleLabel
    if title.text:
        title.setText(title.text, color=theme.plot_foreground)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.labelStyle = {"color": theme.plot_foreground}
        axis._updateLabel()


def _style_legend(legend: pg.LegendItem | None, theme: Theme) -> None:
    if legend is None:
        return
    legend.setLabelTextColor(theme.plot_foreground)
    for _sample, label in legend.items:  # setLabelTextColor only affects labels added later
        label.setText(label.text, color=theme.plot_foreground)
    background = QColor(theme.plot_background)
    background.setAlpha(215)
    legend.setBrush(pg.mkBrush(background))
    border = QColor(theme.plot_foreground)
    border.setAlpha(60)
    legend.setPen(pg.mkPen(border))


class LawCurvesPlot(pg.PlotItem):
    """Predicted score vs pairs (log-x) per language, with pilot points, bootstrap bands and allocation markers."""

    def __init__(self):
        super().__init__(axisItems={"bottom": PairsAxis("bottom"), "left": pg.AxisItem("left")})
        item = self
        item.setTitle("Predicted score vs parallel pairs")
        item.setLabel("bottom", "parallel pairs (log scale)")
        item.setLabel("left", "predicted score")
        item.setMenuEnabled(False)
        item.getAxis("left").enableAutoSIPrefix(False)
        self.getViewBox().setMouseEnabled(x=False, y=False)
        self.curve_items: dict[str, pg.PlotDataItem] = {}
        self.band_items: dict[str, pg.FillBetweenItem] = {}
        self.measured_items: dict[str, pg.PlotDataItem] = {}  # the solid stretch over a law's pilots
        self.point_items: dict[str, pg.ScatterPlotItem] = {}
        self.markers = pg.ScatterPlotItem(size=13, symbol="d", pxMode=True, hoverable=True, tip=self._marker_tip)
        self._brushes: dict[int, object] = {}
        self.markers.setZValue(20)
        self.marker_data: dict[str, tuple[float, float]] = {}
        self.legend: pg.LegendItem | None = None
        self._specs: list[CurveSpec] = []
        self._theme = current_theme()
        item.addItem(self.markers)
        _style_plot(self, self._theme)

    # --- data ---------------------------------------------------------------------------------------------------
    def set_curves(self, specs: list[CurveSpec]) -> None:
        """Replace every curve, band and pilot-point set (markers are kept; see set_markers)."""
        item = self
        for collection in (self.curve_items, self.band_items, self.point_items, self.measured_items):
            for graphics in collection.values():
                item.removeItem(graphics)
            collection.clear()
        if self.legend is not None:
            self.legend.scene().removeItem(self.legend) if self.legend.scene() else None
            item.legend = None
            self.legend = None
        self._specs = list(specs)
        if 0 < len(specs) <= LEGEND_LIMIT:
            # Bottom right: concave, rising curves leave that corner empty.
            self.legend = item.addLegend(offset=(-8, -8), labelTextSize="9pt", verSpacing=-4)
            _style_legend(self.legend, self._theme)
        for spec in specs:
            x = np.log10(spec.pairs)
            # Wide pens are stroked as polygons; with many languages thin lines keep a repaint within a frame.
            width = 2.2 if len(specs) <= LEGEND_LIMIT else 1
            pen = pg.mkPen(spec.color, width=width)
            if spec.measured is not None:
                # Where no pilot was run the law is an extrapolation: dashed there, solid over the pilots.
                pen = pg.mkPen(spec.color, width=width, style=Qt.PenStyle.DashLine)
                inside = (spec.pairs >= spec.measured[0]) & (spec.pairs <= spec.measured[1])
                if inside.any():
                    solid = pg.PlotDataItem(x[inside], spec.scores[inside], pen=pg.mkPen(spec.color, width=width))
                    solid.setZValue(11)
                    self.measured_items[spec.code] = solid
                    item.addItem(solid)
            curve = pg.PlotDataItem(x, spec.scores, pen=pen, name=spec.label)
            curve.setZValue(10)
            self.curve_items[spec.code] = curve
            item.addItem(curve)
            if spec.band_pairs is not None and spec.band_lower is not None and spec.band_upper is not None:
                bx = np.log10(spec.band_pairs)
                lower = pg.PlotCurveItem(bx, spec.band_lower)
                upper = pg.PlotCurveItem(bx, spec.band_upper)
                fill = QColor(spec.color)
                fill.setAlpha(55)
                band = pg.FillBetweenItem(lower, upper, brush=pg.mkBrush(fill), pen=pg.mkPen(None))
                band.setZValue(1)
                self.band_items[spec.code] = band
                item.addItem(band)
            if spec.point_pairs is not None and len(spec.point_pairs):
                outline = QColor(self._theme.plot_background)
                points = pg.ScatterPlotItem(
                    np.log10(spec.point_pairs),
                    spec.point_scores,
                    size=7,
                    symbol="o",
                    brush=pg.mkBrush(spec.color),
                    pen=pg.mkPen(outline, width=1),
                )
                points.setZValue(15)
                self.point_items[spec.code] = points
                item.addItem(points)
        self._fit_range()

    def set_markers(self, markers: dict[str, tuple[float, float]], colors: dict[str, QColor]) -> None:
        """One diamond per language at (allocated pairs, predicted score)."""
        self.marker_data = dict(markers)
        shown = [(code, p, v) for code, (p, v) in markers.items() if p > 0 and math.isfinite(v)]
        brushes = [self._brush(colors.get(code, QColor("gray"))) for code, _, _ in shown]
        self.markers.setData(
            x=np.log10([p for _, p, _ in shown]) if shown else [],
            y=[v for _, _, v in shown],
            brush=brushes,
            pen=self._marker_pen,
            data=[code for code, _, _ in shown],
        )

    def _marker_tip(self, x, y, data) -> str:
        pairs = self.marker_data.get(data, (10.0**x, y))[0]
        return f"{data}: {int(round(pairs)):,} pairs → predicted {y:.2f}"

    def _brush(self, color: QColor):
        key = color.rgba()
        brush = self._brushes.get(key)
        if brush is None:
            brush = self._brushes[key] = pg.mkBrush(color)
        return brush

    def curve_data(self, code: str) -> tuple[np.ndarray, np.ndarray]:
        """The drawn curve of a language as (pairs, score) arrays."""
        x, y = self.curve_items[code].getData()
        return 10.0 ** np.asarray(x), np.asarray(y)

    def band_codes(self) -> list[str]:
        return list(self.band_items)

    def _fit_range(self) -> None:
        if not self._specs:
            return
        xs = np.concatenate([np.log10(s.pairs) for s in self._specs])
        ys = np.concatenate([s.scores for s in self._specs])
        extra = [s.point_scores for s in self._specs if s.point_scores is not None and len(s.point_scores)]
        extra += [s.band_lower for s in self._specs if s.band_lower is not None]
        extra += [s.band_upper for s in self._specs if s.band_upper is not None]
        if extra:
            ys = np.concatenate([ys] + [np.asarray(e, dtype=float) for e in extra])
        ys = ys[np.isfinite(ys)]
        if not len(ys):
            return
        lo, hi = float(np.min(ys)), float(np.max(ys))
        pad = (hi - lo) * 0.06 or 1.0
        self.setXRange(float(xs.min()), float(xs.max()), padding=0.02)
        self.setYRange(lo - pad, hi + pad, padding=0)

    # --- theme --------------------------------------------------------------------------------------------------
    @property
    def _marker_pen(self):
        # One pen object per theme: the scatter item's symbol atlas is keyed by it, so a new pen re-renders symbols.
        if getattr(self, "_pen_theme", None) is not self._theme:
            self._pen_theme = self._theme
            self._pen = pg.mkPen(self._theme.plot_foreground, width=1.2)
        return self._pen

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        _style_plot(self, theme)
        _style_legend(self.legend, theme)
        if self._specs:
            self.set_curves(self._specs)
        if self.marker_data:
            colors = {s.code: s.color for s in self._specs}
            self.set_markers(self.marker_data, colors)


class AllocationBarsPlot(pg.PlotItem):
    """Side-by-side bars per language: the optimised allocation (language colour) and the uniform split (grey)."""

    BAR_WIDTH = 0.38

    def __init__(self):
        super().__init__(axisItems={"left": CountAxis("left"), "bottom": pg.AxisItem("bottom")})
        item = self
        item.setTitle("Pairs per language: optimised vs uniform")
        item.setLabel("left", "pairs")
        item.setMenuEnabled(False)
        item.getAxis("left").enableAutoSIPrefix(False)
        self.getViewBox().setMouseEnabled(x=False, y=False)
        self._theme = current_theme()
        self.codes: list[str] = []
        self.colors: list[QColor] = []
        self._y_top = 1.0
        self.optimised = pg.BarGraphItem(x=[], height=[], width=self.BAR_WIDTH, brush=self._theme.highlight)
        self.uniform = pg.BarGraphItem(x=[], height=[], width=self.BAR_WIDTH, brush=self._theme.uniform_bar)
        item.addItem(self.uniform)
        item.addItem(self.optimised)
        self.legend = item.addLegend(offset=(-8, 8), labelTextSize="9pt", verSpacing=-4)
        # Square symbols as legend samples (a bar item's sample is drawn with a stray outline).
        self._legend_optimised = pg.ScatterPlotItem(symbol="s", size=11, pen=None, brush=self._theme.highlight)
        self._legend_uniform = pg.ScatterPlotItem(symbol="s", size=11, pen=None, brush=self._theme.uniform_bar)
        self.legend.addItem(self._legend_optimised, "optimised")
        self.legend.addItem(self._legend_uniform, "uniform")
        self._labels: list[pg.TextItem] = []
        _style_plot(self, self._theme)
        _style_legend(self.legend, self._theme)

    def set_allocation(self, codes: list[str], optimised: list[int], uniform: list[int], colors: list[QColor]) -> None:
        """Draw the bars; heights are the exact integer pairs of the plan."""
        n = len(codes)
        positions = np.arange(n, dtype=float)
        relayout = codes != self.codes
        recolour = relayout or [c.rgba() for c in colors] != [c.rgba() for c in self.colors]
        self.codes, self.colors = list(codes), list(colors)
        optimised_opts = dict(x=positions - self.BAR_WIDTH / 2, height=np.asarray(optimised, dtype=float),
                              width=self.BAR_WIDTH)
        if recolour:
            optimised_opts.update(brushes=[pg.mkBrush(c) for c in colors], pen=pg.mkPen(None))
        self.optimised.setOpts(**optimised_opts)
        self.uniform.setOpts(
            x=positions + self.BAR_WIDTH / 2,
            height=np.asarray(uniform, dtype=float),
            width=self.BAR_WIDTH,
            brush=pg.mkBrush(self._theme.uniform_bar),
            pen=pg.mkPen(None),
        )
        if relayout:
            self.getAxis("bottom").setTicks([[(float(i), c) for i, c in enumerate(codes)], []])
            self.setXRange(-0.7, max(n - 1, 0) + 0.7, padding=0)
        top = max([*optimised, *uniform, 1]) * 1.14
        # Keep the axis still while the bars move a little (a new range re-renders the axis).
        if relayout or not (0.55 * self._y_top <= top <= self._y_top):
            self._y_top = top
            self.setYRange(0, self._y_top, padding=0)
        self._update_labels(positions, optimised)

    def _update_labels(self, positions: np.ndarray, optimised: list[int]) -> None:
        want = len(optimised) if len(optimised) <= LEGEND_LIMIT else 0
        item = self
        while len(self._labels) < want:
            label = pg.TextItem(anchor=(0.5, 1.0), color=self._theme.plot_foreground)
            label.setFont(QFont(label.textItem.font().family(), 8))
            item.addItem(label)
            self._labels.append(label)
        for index, label in enumerate(self._labels):
            if index < want:
                label.setText(format_count(optimised[index]))
                label.setPos(QPointF(positions[index] - self.BAR_WIDTH / 2, optimised[index]))
                label.setVisible(True)
            else:
                label.setVisible(False)

    def bar_data(self) -> dict[str, tuple[list[float], list[float]]]:
        """The drawn bars as {"optimised": (x, heights), "uniform": (x, heights)}."""
        return {
            "optimised": (list(self.optimised.opts["x"]), list(self.optimised.opts["height"])),
            "uniform": (list(self.uniform.opts["x"]), list(self.uniform.opts["height"])),
        }

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        _style_plot(self, theme)
        _style_legend(self.legend, theme)
        self.uniform.setOpts(brush=pg.mkBrush(theme.uniform_bar))
        self._legend_optimised.setBrush(pg.mkBrush(theme.highlight))
        self._legend_uniform.setBrush(pg.mkBrush(theme.uniform_bar))
        for label in self._labels:
            label.setColor(theme.plot_foreground)
        self.legend.update()


class PlanFigure(pg.GraphicsLayoutWidget):
    """The curves and the bars in one scene, so "Export plot" writes both into one PNG or SVG."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("planFigure")
        self.curves = LawCurvesPlot()
        self.bars = AllocationBarsPlot()
        self.addItem(self.curves, row=0, col=0)
        self.addItem(self.bars, row=0, col=1)
        layout = self.ci.layout
        layout.setColumnStretchFactor(0, 3)
        layout.setColumnStretchFactor(1, 2)
        self.ci.setContentsMargins(4, 4, 4, 4)
        self.apply_theme(current_theme())

    def apply_theme(self, theme: Theme) -> None:
        self.setBackground(theme.plot_background)
        self.curves.apply_theme(theme)
        self.bars.apply_theme(theme)

    def export(self, path) -> None:
        """Write the figure as PNG (or any raster suffix Qt knows) or SVG, chosen by the file suffix."""
        from pathlib import Path

        from pyqtgraph.exporters import ImageExporter

        target = Path(path)
        temporary = target.with_name(f".{target.stem}.partial{target.suffix}")  # same suffix: it picks the format
        try:
            if target.suffix.lower() == ".svg":
                self._export_svg(temporary)
            else:
                exporter = ImageExporter(self.scene())
                exporter.parameters()["background"] = QColor(current_theme().plot_background)
                exporter.export(str(temporary))
            if not temporary.is_file():
                raise OSError(f"Could not write the plot to {target}.")
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    def _export_svg(self, path) -> None:
        # pyqtgraph 0.14's SVGExporter cannot parse the closed paths ("... Z") that Qt >= 6.10 writes, so the scene
        # is painted straight into Qt's own SVG generator (still vector output, text kept as text).
        from PySide6.QtCore import QRectF, QSize
        from PySide6.QtGui import QPainter
        from PySide6.QtSvg import QSvgGenerator

        rect = QRectF(self.viewport().rect())
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(QSize(int(rect.width()), int(rect.height())))
        generator.setViewBox(rect)
        generator.setTitle("LinguaTune plan")
        painter = QPainter(generator)
        try:
            painter.fillRect(rect, QColor(current_theme().plot_background))
            self.render(painter, rect, self.viewport().rect())
        finally:
            painter.end()
