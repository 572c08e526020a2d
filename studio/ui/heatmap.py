"""The layer × language alignment heatmap: languages on x, layer index on y, a viridis colour bar, a metric switch
and a step slider that replays how alignment grew over training."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from studio.session.monitor import AlignmentSnapshot
from studio.ui.live_plot import style_plot
from studio.ui.theme import Theme, current_theme

ALIGNMENT_LABELS = {"parallel_margin": "parallel margin", "retrieval_top1": "retrieval top-1"}


class AlignmentHeatmap(QWidget):
    """Alignment snapshots of one job; shows the chosen metric at the chosen step (the latest unless replaying)."""

    step_shown = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.snapshots: dict[str, list[AlignmentSnapshot]] = {}
        self.theme = current_theme()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Alignment:"))
        self.metric_combo = QComboBox()
        self.metric_combo.setObjectName("alignmentMetric")
        self.metric_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.metric_combo.setMinimumContentsLength(14)
        self.metric_combo.currentIndexChanged.connect(lambda _i: self._metric_changed())
        controls.addWidget(self.metric_combo)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("alignmentStep")
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(lambda _v: self._show_current())
        controls.addWidget(self.slider, 1)
        self.step_label = QLabel("no alignment measured yet")
        self.step_label.setObjectName("alignmentStepLabel")
        self.step_label.setMinimumWidth(110)
        controls.addWidget(self.step_label)
        layout.addLayout(controls)

        self.plot = pg.PlotWidget()
        self.plot.setBackground(self.theme.plot_background)
        item = self.plot.plotItem
        item.setTitle("Cross-lingual alignment")
        item.setLabel("left", "layer")
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        self.image = pg.ImageItem(axisOrder="col-major")
        item.addItem(self.image)
        self.colormap = pg.colormap.get("viridis")
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=self.colormap, interactive=False, width=14,
                                        colorMapMenu=False)
        self.colorbar.setImageItem(self.image, insert_in=item)
        layout.addWidget(self.plot, 1)
        self.apply_theme(self.theme)
        self._follow_latest = True

    # ------------------------------------------------------------------------------------------------------ data
    def clear(self) -> None:
        self.snapshots.clear()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        self.metric_combo.blockSignals(False)
        self.image.clear()
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.step_label.setText("no alignment measured yet")
        self._follow_latest = True

    def add(self, snapshots: list[AlignmentSnapshot]) -> None:
        """Add measurements (in step order); the view moves on to the newest unless the user is replaying."""
        if not snapshots:
            return
        for snap in snapshots:
            self.snapshots.setdefault(snap.metric, []).append(snap)
            if self.metric_combo.findData(snap.metric) < 0:
                self.metric_combo.addItem(ALIGNMENT_LABELS.get(snap.metric, snap.metric), snap.metric)
        self._refresh_slider()

    def set_metric(self, metric: str) -> None:
        index = self.metric_combo.findData(metric)
        if index >= 0:
            self.metric_combo.setCurrentIndex(index)

    def current(self) -> AlignmentSnapshot | None:
        series = self.snapshots.get(self.metric_combo.currentData() or "", [])
        if not series:
            return None
        return series[min(self.slider.value(), len(series) - 1)]

    def _metric_changed(self) -> None:
        self._follow_latest = True
        self._refresh_slider()

    def _refresh_slider(self) -> None:
        series = self.snapshots.get(self.metric_combo.currentData() or "", [])
        at_end = self._follow_latest or self.slider.value() >= self.slider.maximum()
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(series) - 1, 0))
        self.slider.setEnabled(len(series) > 1)
        if at_end:
            self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)
        self._show_current()

    def _show_current(self) -> None:
        self._follow_latest = self.slider.value() >= self.slider.maximum()
        snap = self.current()
        if snap is None:
            self.image.clear()
            return
        matrix = np.asarray(snap.matrix, dtype=float)
        finite = matrix[np.isfinite(matrix)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if snap.metric == "retrieval_top1":
            lo, hi = 0.0, 1.0  # a rate: a fixed scale makes steps comparable
        elif hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        # col-major: image[x, y] = matrix[layer][lang] transposed, languages across, layers up.
        self.image.setImage(matrix.T, levels=(lo, hi), autoLevels=False)
        self.image.setRect(0, 0, len(snap.langs), len(snap.layers))
        self.colorbar.setLevels((lo, hi))
        item = self.plot.plotItem
        item.getAxis("bottom").setTicks([[(i + 0.5, code) for i, code in enumerate(snap.langs)]])
        item.getAxis("left").setTicks([[(j + 0.5, str(layer)) for j, layer in enumerate(snap.layers)]])
        item.setRange(xRange=(0, len(snap.langs)), yRange=(0, len(snap.layers)), padding=0)
        item.setTitle(f"{ALIGNMENT_LABELS.get(snap.metric, snap.metric)} by layer and language",
                      color=self.theme.plot_foreground, size="10pt")
        series = self.snapshots.get(snap.metric, [])
        self.step_label.setText(f"step {snap.step} ({self.slider.value() + 1}/{len(series)})")
        self.step_shown.emit(snap.step)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.plot.setBackground(theme.plot_background)
        style_plot(self.plot.plotItem, theme)
        self.plot.plotItem.showGrid(x=False, y=False)
        axis = self.colorbar.getAxis("right") if hasattr(self.colorbar, "getAxis") else None
        if axis is not None:
            axis.setTextPen(pg.mkPen(theme.plot_foreground))
