"""The Plan page: pick languages and a budget, see each language's law and the optimal allocation, export the plan.

Every edit re-plans at once (the planning core is sub-millisecond) and asks for a redraw; redraws are coalesced to
one per event-loop turn. Typing mistakes are marked on the field with the reason; only file and fitting failures
open a message box. Fitting runs on the thread pool (studio.ui.tasks).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QMetaObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.errors import LinguaTuneError, PlanningError
from studio.planning.budget import compact_pairs, parse_budget
from studio.planning.fitting import BAND_LEVEL
from studio.planning.languages import PAPER_LANGUAGES, is_synthetic, load_catalogue
from studio.planning.laws import ScalingLaw
from studio.planning.plan import Plan, load_plan, make_plan, save_plan
from studio.planning.prior import PRIOR_NOTE
from studio.session.planning import PlanInputs, inputs_from_plan, plan_command
from studio.ui.models import AllocationModel, CatalogueFilter, CatalogueModel, format_gain, format_score
from studio.ui.plots import CurveSpec, PlanFigure
from studio.ui.tasks import BackgroundTask
from studio.ui.widgets import RichTextLine
from studio.ui.theme import Theme, current_theme, theme_manager
from worker.resources import resource_path

SLIDER_STEPS = 1000
SLIDER_MIN_LOG10 = 4.0  # 10k pairs
SLIDER_MAX_LOG10 = 8.0  # 100M pairs
CURVE_POINTS = 160
OBJECTIVES = (("sum", "Maximise the total (sum)"), ("maxmin", "Raise the worst language (max-min)"))
PLAN_FILTERS = "Plan JSON (*.json);;Plan YAML (*.yaml *.yml);;Plan CSV (*.csv);;Markdown summary (*.md)"
PLOT_FILTERS = "PNG image (*.png);;SVG drawing (*.svg)"
PILOT_FILTERS = "Pilot measurements (*.csv *.json);;All files (*)"


def slider_to_budget(position: int) -> int:
    """A slider position as a budget rounded to two significant digits (so the text reads 630k, not 631,457)."""
    exponent = SLIDER_MIN_LOG10 + (SLIDER_MAX_LOG10 - SLIDER_MIN_LOG10) * position / SLIDER_STEPS
    raw = 10.0**exponent
    digits = 10 ** max(int(math.floor(math.log10(raw))) - 1, 0)
    return int(round(raw / digits) * digits)


def budget_to_slider(budget: int) -> int:
    exponent = math.log10(max(budget, 1))
    fraction = (exponent - SLIDER_MIN_LOG10) / (SLIDER_MAX_LOG10 - SLIDER_MIN_LOG10)
    return int(round(min(max(fraction, 0.0), 1.0) * SLIDER_STEPS))


def _mark(widget: QWidget, reason: str | None, label: QLabel | None = None) -> None:
    """Show ``reason`` on a field (red border, tooltip, label below); None clears it."""
    theme = current_theme()
    was_invalid = bool(widget.property("invalid"))
    widget.setProperty("invalid", bool(reason))
    # Restyling re-polishes and repaints the whole window: do it only when the state (or the reason) changes.
    if reason:
        style = (
            f"border: 2px solid {theme.error}; border-radius: 3px; background: {theme.error_background};"
            f" color: {theme.text}; padding: 2px;"
        )
        if widget.styleSheet() != style:
            widget.setStyleSheet(style)
    elif was_invalid or widget.styleSheet():
        widget.setStyleSheet("")
    tip = reason or widget.property("normalToolTip") or ""
    if widget.toolTip() != tip:
        widget.setToolTip(tip)
    if label is not None and (label.text() != (reason or "") or label.isVisible() != bool(reason)):
        label.setText(reason or "")
        label.setVisible(bool(reason))


class PlanPage(QWidget):
    """Languages, budget, objective, floors, caps and law source in; curves, bars, table and export out."""

    plan_changed = Signal(object)  # the new Plan
    redrawn = Signal()
    fit_finished = Signal(bool, str)  # succeeded, message
    status_message = Signal(str)
    inputs_changed = Signal()

    def __init__(self, parent=None, *, catalogue=None):
        super().__init__(parent)
        self.setObjectName("planPage")
        self.catalogue = catalogue if catalogue is not None else load_catalogue()
        self.inputs = PlanInputs()
        self.plan: Plan | None = None
        self.plan_error: str | None = None
        self.fit_results: dict[str, Any] = {}  # code -> FitResult of the last fit (bands and pilot points)
        self.fit_task: BackgroundTask | None = None
        self.calibration_task: BackgroundTask | None = None
        self.calibration = None  # the last studio.session.calibrate.Progress of a running or finished sweep
        self.calibration_sweep = None  # the studio.session.calibrate.Sweep being calibrated from
        self.comparison_task: BackgroundTask | None = None
        self.comparison = None  # the last studio.session.calibrate.Comparison, measured
        self.pilot_points: dict[str, list[Any]] = {}  # code -> measured pilot points (shown before any fit)
        self.plan_path: str | None = None  # the file the plan was last opened from or saved to
        self.last_message_box: QMessageBox | None = None
        self.redraw_count = 0
        self._redraw_pending = False
        self._curves_key: tuple | None = None
        self._colors: dict[str, Any] = {}
        self._build()
        theme_manager().changed.connect(self._apply_theme)
        self._sync_controls()
        self.replan()

    # ------------------------------------------------------------------------------------------------ building
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("planSplitter")
        splitter.setChildrenCollapsible(False)
        outer.addWidget(splitter)
        self.splitter = splitter
        splitter.addWidget(self._build_controls())
        splitter.addWidget(self._build_results())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([470, 930])

    def _build_controls(self) -> QWidget:
        panel = QWidget()
        panel.setMinimumWidth(380)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 4, 0)

        # languages
        group = QGroupBox("Languages")
        box = QVBoxLayout(group)
        row = QHBoxLayout()
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("languageSearch")
        self.search_edit.setPlaceholderText("Search code, name, script or family…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._filter_languages)
        row.addWidget(self.search_edit, 1)
        self.paper_button = QPushButton("Paper six")
        self.paper_button.setToolTip("Select the six target languages of the x-LLaMA paper: " + ", ".join(PAPER_LANGUAGES))
        self.paper_button.clicked.connect(self.select_paper_languages)
        row.addWidget(self.paper_button)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Deselect every language")
        self.clear_button.clicked.connect(lambda: self.set_languages([]))
        row.addWidget(self.clear_button)
        box.addLayout(row)
        self.catalogue_model = CatalogueModel(self.catalogue, lambda code: code in self._selected, self)
        self.catalogue_model.toggled.connect(self._language_toggled)
        self.catalogue_filter = CatalogueFilter(self)
        self.catalogue_filter.setSourceModel(self.catalogue_model)
        self.language_table = QTableView()
        self.language_table.setObjectName("languagePicker")
        self.language_table.setModel(self.catalogue_filter)
        self.language_table.setSortingEnabled(True)
        self.language_table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.language_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.language_table.verticalHeader().setVisible(False)
        self.language_table.verticalHeader().setDefaultSectionSize(22)
        self.language_table.setAlternatingRowColors(True)
        self.language_table.doubleClicked.connect(self._picker_double_clicked)
        self.language_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.language_table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.language_table.horizontalHeader()
        for column, mode in enumerate(("contents", "stretch", "contents", "contents", "contents")):
            header.setSectionResizeMode(
                column,
                QHeaderView.ResizeMode.Stretch if mode == "stretch" else QHeaderView.ResizeMode.ResizeToContents,
            )
        box.addWidget(self.language_table, 1)
        self.selection_label = QLabel()
        self.selection_label.setObjectName("selectionLabel")
        self.selection_label.setWordWrap(True)
        box.addWidget(self.selection_label)
        layout.addWidget(group, 1)

        # budget and objective
        group = QGroupBox("Budget")
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.budget_edit = QLineEdit()
        self.budget_edit.setObjectName("budgetEdit")
        self.budget_edit.setPlaceholderText("e.g. 600k or 1.2M")
        self.budget_edit.setProperty("normalToolTip", "Total parallel pairs shared by the languages: 600000, 600k, 1.2M")
        self.budget_edit.setToolTip(self.budget_edit.property("normalToolTip"))
        self.budget_edit.textEdited.connect(self._budget_typed)
        self.budget_slider = QSlider(Qt.Orientation.Horizontal)
        self.budget_slider.setObjectName("budgetSlider")
        self.budget_slider.setRange(0, SLIDER_STEPS)
        self.budget_slider.setToolTip("Budget on a log scale, 10k to 100M pairs")
        self.budget_slider.valueChanged.connect(self._budget_slid)
        budget_box = QVBoxLayout()
        budget_box.setSpacing(2)
        budget_box.addWidget(self.budget_edit)
        budget_box.addWidget(self.budget_slider)
        self.budget_error = QLabel()
        self.budget_error.setObjectName("budgetError")
        self.budget_error.setWordWrap(True)
        self.budget_error.setVisible(False)
        budget_box.addWidget(self.budget_error)
        form.addRow("Total pairs:", budget_box)
        self.objective_combo = QComboBox()
        self.objective_combo.setObjectName("objectiveCombo")
        for key, label in OBJECTIVES:
            self.objective_combo.addItem(label, key)
        self.objective_combo.currentIndexChanged.connect(self._objective_changed)
        form.addRow("Objective:", self.objective_combo)
        self.floor_edit = QLineEdit()
        self.floor_edit.setObjectName("floorEdit")
        self.floor_edit.setPlaceholderText("smallest pilot")
        self.floor_edit.setProperty("normalToolTip", "Every language gets at least this many pairs (capped by what "
                                    "exists). Empty: each measured language's smallest pilot size, so no law is "
                                    "read below where it was measured (0 for languages on the prior)")
        self.floor_edit.setToolTip(self.floor_edit.property("normalToolTip"))
        self.floor_edit.textEdited.connect(self._floor_typed)
        floor_box = QVBoxLayout()
        floor_box.setSpacing(2)
        floor_box.addWidget(self.floor_edit)
        self.floor_error = QLabel()
        self.floor_error.setObjectName("floorError")
        self.floor_error.setWordWrap(True)
        self.floor_error.setVisible(False)
        floor_box.addWidget(self.floor_error)
        form.addRow("Minimum each:", floor_box)
        layout.addWidget(group)

        # laws
        group = QGroupBox("Scaling laws")
        box = QVBoxLayout(group)
        self.law_source_label = QLabel()
        self.law_source_label.setObjectName("lawSourceLabel")
        self.law_source_label.setWordWrap(True)
        box.addWidget(self.law_source_label)
        row = QHBoxLayout()
        self.fit_button = QPushButton("Fit from pilot measurements…")
        self.fit_button.setObjectName("fitButton")
        self.fit_button.setToolTip("Fit each language's law from a CSV or JSON of (language, pairs, score) rows")
        self.fit_button.clicked.connect(self.choose_measurements)
        row.addWidget(self.fit_button, 1)
        self.calibrate_button = QPushButton("Calibrate…")
        self.calibrate_button.setObjectName("calibrateButton")
        self.calibrate_button.setToolTip("Run pilot jobs (language x size) and fit the laws to what they measure")
        self.calibrate_button.clicked.connect(self.open_calibrate_dialog)
        row.addWidget(self.calibrate_button)
        self.prior_button = QPushButton("Use prior")
        self.prior_button.setObjectName("priorButton")
        self.prior_button.setToolTip("Forget fitted laws and use the uncalibrated prior")
        self.prior_button.clicked.connect(self.use_prior)
        row.addWidget(self.prior_button)
        box.addLayout(row)
        self.compare_button = QPushButton("Train optimised and uniform…")
        self.compare_button.setObjectName("compareButton")
        self.compare_button.setToolTip("Train this plan's optimised allocation and the uniform split (same preset and "
                                       "seed as the pilots) and compare measured with predicted")
        self.compare_button.setEnabled(False)
        self.compare_button.clicked.connect(lambda: self.start_comparison())
        box.addWidget(self.compare_button)
        self.calibration_label = QLabel()
        self.calibration_label.setObjectName("calibrationLabel")
        self.calibration_label.setWordWrap(True)
        self.calibration_label.setVisible(False)
        box.addWidget(self.calibration_label)
        layout.addWidget(group)

        # output
        row = QHBoxLayout()
        self.export_button = QPushButton("Export plan…")
        self.export_button.clicked.connect(self.choose_export_plan)
        self.export_plot_button = QPushButton("Export plot…")
        self.export_plot_button.clicked.connect(self.choose_export_plot)
        self.copy_cli_button = QPushButton("Copy CLI command")
        self.copy_cli_button.setToolTip("Copy the equivalent `linguatune plan` command to the clipboard")
        self.copy_cli_button.clicked.connect(self.copy_cli_command)
        for button in (self.export_button, self.export_plot_button, self.copy_cli_button):
            row.addWidget(button)
        layout.addLayout(row)
        return panel

    def _build_results(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.setSpacing(6)

        self.prior_banner = QFrame()
        self.prior_banner.setObjectName("priorBanner")
        banner = QHBoxLayout(self.prior_banner)
        banner.setContentsMargins(10, 6, 6, 6)
        self.prior_banner_label = QLabel()
        self.prior_banner_label.setObjectName("priorBannerLabel")
        self.prior_banner_label.setWordWrap(True)
        self.prior_banner_label.setToolTip(f"<p>{html.escape(PRIOR_NOTE)}</p>")
        banner.addWidget(self.prior_banner_label, 1)
        banner_button = QPushButton("Fit pilot data…")
        banner_button.clicked.connect(self.choose_measurements)
        banner.addWidget(banner_button)
        layout.addWidget(self.prior_banner)

        self.error_label = QLabel()
        self.error_label.setObjectName("planError")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        layout.addWidget(self.error_label)

        self.summary_label = RichTextLine()
        self.summary_label.setObjectName("planSummary")
        layout.addWidget(self.summary_label)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        self.figure = PlanFigure()
        self.figure.setMinimumHeight(260)
        self.figure.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        splitter.addWidget(self.figure)
        self.allocation_model = AllocationModel(self)
        self.allocation_model.cap_edited.connect(self.set_cap)
        self.allocation_model.weight_edited.connect(self.set_weight)
        self.allocation_model.cap_rejected.connect(lambda code, reason: self._show_plan_error(reason))
        self.allocation_table = QTableView()
        self.allocation_table.setObjectName("allocationTable")
        self.allocation_table.setModel(self.allocation_model)
        self.allocation_table.verticalHeader().setVisible(False)
        self.allocation_table.verticalHeader().setDefaultSectionSize(22)
        self.allocation_table.setAlternatingRowColors(True)
        self.allocation_table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        header = self.allocation_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # Sized to its contents only when the languages change (see _redraw): ResizeToContents would measure every
        # row on each re-plan.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.allocation_model.modelReset.connect(lambda: self.allocation_table.resizeColumnToContents(0))
        splitter.addWidget(self.allocation_table)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([520, 190])
        layout.addWidget(splitter, 1)
        self._apply_theme(current_theme())
        return panel

    # -------------------------------------------------------------------------------------------- input setters
    @property
    def _selected(self) -> set[str]:
        return set(self.inputs.languages)

    def set_languages(self, codes) -> None:
        """Select exactly these languages (in this order) and re-plan."""
        resolved = [lang.code for lang in self.catalogue.resolve(codes)]
        before = set(self.inputs.languages)
        self.inputs.languages = resolved
        self.catalogue_model.refresh_checks(before ^ set(resolved))
        self._inputs_edited()

    def select_paper_languages(self) -> None:
        self.set_languages(PAPER_LANGUAGES)

    def set_budget_text(self, text: str) -> bool:
        """Type ``text`` into the budget field (as a user would); returns whether it was accepted."""
        self.budget_edit.setText(text)
        return self._budget_typed(text)

    def set_objective(self, objective: str) -> None:
        index = self.objective_combo.findData(objective)
        if index < 0:
            raise PlanningError(f"Unknown objective {objective!r}; expected sum or maxmin.", field="objective")
        self.objective_combo.setCurrentIndex(index)

    def set_cap(self, code: str, cap: int) -> None:
        """Set one language's cap (the most pairs it may get) and re-plan."""
        default = self.catalogue.get(code).pairs
        if cap == default:
            self.inputs.caps.pop(code, None)
        else:
            self.inputs.caps[code] = cap
        self._inputs_edited()

    def set_weight(self, code: str, weight: float) -> None:
        """Set one language's weight in the objective (1 is the default; the CLI's ``--weight``) and re-plan."""
        if weight == 1.0:
            self.inputs.weights.pop(code, None)
        else:
            self.inputs.weights[code] = float(weight)
        self._inputs_edited()

    def use_prior(self) -> None:
        """Drop fitted laws: every language uses the uncalibrated prior."""
        self.inputs.laws = {}
        self.inputs.evidence = {}
        self.inputs.law_source = "prior"
        self.inputs.measurements_path = None
        self.fit_results = {}
        self._inputs_edited()

    def set_laws(self, laws: dict[str, ScalingLaw], source: str, fit_results: dict | None = None,
                 measurements_path: str | None = None) -> None:
        """Use these laws (languages without one keep the prior) and re-plan."""
        self.inputs.laws = dict(laws)
        self.inputs.law_source = source
        self.inputs.measurements_path = measurements_path
        self.fit_results = dict(fit_results or {})
        self.inputs.evidence = {c: r.evidence() for c, r in self.fit_results.items() if c in laws}
        self._inputs_edited()

    def _language_toggled(self, code: str, checked: bool) -> None:
        languages = [c for c in self.inputs.languages if c != code]
        if checked:
            languages.append(code)
        self.inputs.languages = languages
        self.catalogue_model.refresh_checks([code])
        self._inputs_edited()

    def _picker_double_clicked(self, proxy_index) -> None:
        source = self.catalogue_filter.mapToSource(proxy_index)
        code = self.catalogue_model.languages[source.row()].code
        self._language_toggled(code, code not in self._selected)

    def _filter_languages(self, text: str) -> None:
        query = text.strip()
        self.catalogue_filter.set_matches(None if not query else [lang.code for lang in self.catalogue.search(query)])

    def _budget_typed(self, text: str) -> bool:
        try:
            budget = parse_budget(text)
        except LinguaTuneError as exc:
            _mark(self.budget_edit, str(exc), self.budget_error)
            return False
        _mark(self.budget_edit, None, self.budget_error)
        self.inputs.budget = budget
        self.budget_slider.blockSignals(True)
        self.budget_slider.setValue(budget_to_slider(budget))
        self.budget_slider.blockSignals(False)
        self._inputs_edited()
        return True

    def _budget_slid(self, position: int) -> None:
        budget = slider_to_budget(position)
        self.inputs.budget = budget
        self.budget_edit.setText(compact_pairs(budget))
        _mark(self.budget_edit, None, self.budget_error)
        self._inputs_edited()

    def _objective_changed(self, _index: int) -> None:
        objective = self.objective_combo.currentData()
        if objective and objective != self.inputs.objective:
            self.inputs.objective = objective
            self._inputs_edited()

    def _floor_typed(self, text: str) -> bool:
        try:
            floor = None if not text.strip() else parse_budget(text, what="Minimum per language", allow_zero=True)
        except LinguaTuneError as exc:
            _mark(self.floor_edit, str(exc), self.floor_error)
            return False
        _mark(self.floor_edit, None, self.floor_error)
        self.inputs.floor = floor
        self._inputs_edited()
        return True

    def _sync_controls(self) -> None:
        """Show ``self.inputs`` in the controls without triggering their edit handlers."""
        widgets = (self.budget_edit, self.budget_slider, self.objective_combo, self.floor_edit)
        for widget in widgets:
            widget.blockSignals(True)
        self.budget_edit.setText(compact_pairs(self.inputs.budget))
        self.budget_slider.setValue(budget_to_slider(self.inputs.budget))
        self.objective_combo.setCurrentIndex(max(self.objective_combo.findData(self.inputs.objective), 0))
        self.floor_edit.setText("" if self.inputs.floor is None else (compact_pairs(self.inputs.floor)
                                                                       if self.inputs.floor else "0"))
        for widget in widgets:
            widget.blockSignals(False)
        _mark(self.budget_edit, None, self.budget_error)
        _mark(self.floor_edit, None, self.floor_error)
        self.catalogue_model.refresh_checks()

    def _inputs_edited(self) -> None:
        self.replan()
        self.inputs_changed.emit()

    # ------------------------------------------------------------------------------------------------ planning
    def effective_laws(self) -> dict[str, ScalingLaw]:
        """The fitted laws of the selected languages (the others use the prior)."""
        return {code: law for code, law in self.inputs.laws.items() if code in self._selected}

    def replan(self) -> Plan | None:
        """Make the plan from the current inputs; on a planning error keep the last plan and show why."""
        if not self.inputs.languages:
            self.plan = None
            self._show_plan_error(None)
            self.schedule_redraw()
            return None
        try:
            plan = make_plan(
                self.inputs.languages,
                self.inputs.budget,
                laws=self.effective_laws(),
                objective=self.inputs.objective,
                floors=self.inputs.floor,
                caps={c: v for c, v in self.inputs.caps.items() if c in self._selected} or None,
                weights={c: v for c, v in self.inputs.weights.items() if c in self._selected} or None,
                catalogue=self.catalogue,
                law_source=self.inputs.law_source if self.effective_laws() else None,
                evidence={c: ev for c, ev in self.inputs.evidence.items() if c in self._selected},
                allocation=self.inputs.allocation,
                max_extrapolation=self.inputs.max_extrapolation,
            )
        except LinguaTuneError as exc:
            self._show_plan_error(str(exc))
            return None
        self.plan = plan
        self._show_plan_error(None)
        self.schedule_redraw()
        self.plan_changed.emit(plan)
        return plan

    def _show_plan_error(self, message: str | None) -> None:
        self.plan_error = message
        if self.error_label.text() != (message or ""):
            self.error_label.setText(message or "")
        if self.error_label.isVisibleTo(self) != bool(message):
            self.error_label.setVisible(bool(message))

    # ------------------------------------------------------------------------------------------------- drawing
    def schedule_redraw(self) -> None:
        """Redraw once at the next event-loop turn, however many edits arrive before it.

        A queued call is a posted event of normal priority, so it runs before the low-priority repaint requests of
        the same turn (a zero timer would run after them and cost a second full repaint per keystroke).
        """
        if not self._redraw_pending:
            self._redraw_pending = True
            QMetaObject.invokeMethod(self, "_redraw_queued", Qt.ConnectionType.QueuedConnection)

    @Slot()
    def _redraw_queued(self) -> None:
        if self._redraw_pending:
            self._redraw()

    @property
    def redraw_pending(self) -> bool:
        return self._redraw_pending

    def _redraw(self) -> None:
        self._redraw_pending = False
        plan = self.plan
        codes = [lp.code for lp in plan.languages] if plan is not None else []
        theme = current_theme()
        self._colors = {code: theme.series(i, len(codes)) for i, code in enumerate(codes)}
        names = {code: self.catalogue.get(code).name for code in codes}
        self._update_selection_label()
        self._update_law_source_label()
        self._update_banner(plan)
        self._update_summary(plan)
        self.allocation_model.set_plan(plan, names)
        if plan is None:
            self.figure.curves.set_curves([])
            self.figure.curves.set_markers({}, {})
            self.figure.bars.set_allocation([], [], [], [])
            self._curves_key = None
        else:
            self._update_curves(plan, names)
            self.figure.curves.set_markers(
                {lp.code: (lp.pairs, lp.predicted) for lp in plan.languages}, self._colors
            )
            self.figure.bars.set_allocation(
                codes,
                [lp.pairs for lp in plan.languages],
                [lp.uniform_pairs for lp in plan.languages],
                [self._colors[c] for c in codes],
            )
        self.redraw_count += 1
        self.redrawn.emit()

    def _update_curves(self, plan: Plan, names: dict[str, str]) -> None:
        """Rebuild the curves only when what they show changed (laws, languages, caps, fit, theme)."""
        key = (
            tuple((lp.code, repr(lp.law.to_dict()), lp.cap, lp.measured) for lp in plan.languages),
            id(self.fit_results),
            id(self.pilot_points),
            current_theme().name,
        )
        if key == self._curves_key:
            return
        self._curves_key = key
        lows, highs = [1_000.0], []
        for lp in plan.languages:
            highs.append(float(max(lp.cap, lp.pairs, 1)))
            result = self.fit_results.get(lp.code)
            if result is not None and result.points:
                pairs = [m.pairs for m in result.points]
                lows.append(min(pairs) / 1.5)
                highs.append(max(pairs))
        lo = math.log10(max(min(lows), 1.0))
        hi = math.log10(max(highs) * 1.25) if highs else lo + 3
        hi = max(hi, lo + 1)
        grid = np.logspace(lo, hi, CURVE_POINTS)
        specs = []
        for lp in plan.languages:
            result = self.fit_results.get(lp.code)
            fitted = result is not None and lp.code in self.inputs.laws
            spec = CurveSpec(
                code=lp.code,
                label=f"{lp.code} {names.get(lp.code, '')}" + ("" if fitted or not plan.prior else " (prior)"),
                color=self._colors[lp.code],
                pairs=grid,
                scores=np.asarray(lp.law.value(grid), dtype=float),
                measured=lp.measured if fitted or lp.measured is not None else None,
            )
            if fitted:
                band = result.band
                if band is not None:
                    spec.band_pairs = np.asarray(band.x, dtype=float)
                    spec.band_lower = np.asarray(band.lower, dtype=float)
                    spec.band_upper = np.asarray(band.upper, dtype=float)
                points = [m for m in result.points if m.language == lp.code] or list(result.points)
                if points:
                    spec.point_pairs = np.array([m.pairs for m in points], dtype=float)
                    spec.point_scores = np.array([m.score for m in points], dtype=float)
            elif self.pilot_points.get(lp.code):  # measured pilots before their law can be fitted
                spec.point_pairs = np.array([p.pairs for p in self.pilot_points[lp.code]], dtype=float)
                spec.point_scores = np.array([p.value for p in self.pilot_points[lp.code]], dtype=float)
            specs.append(spec)
        self.figure.curves.set_curves(specs)

    def _update_selection_label(self) -> None:
        count = len(self.inputs.languages)
        if not count:
            self.selection_label.setText("No language selected: tick some above, or click “Paper six”.")
        else:
            shown = ", ".join(self.inputs.languages[:12]) + (" …" if count > 12 else "")
            self.selection_label.setText(f"{count} selected: {shown}")

    def _update_law_source_label(self) -> None:
        self.prior_button.setEnabled(bool(self.inputs.laws))
        if self.fit_task is not None and not self.fit_task.done:
            return
        if self.inputs.law_source == "prior" or not self.inputs.laws:
            self.law_source_label.setText("Uncalibrated prior for every language.")
            return
        fitted = sorted(set(self.inputs.laws) & self._selected)
        prior = [c for c in self.inputs.languages if c not in self.inputs.laws]
        text = f"Fitted from <b>{Path(self.inputs.law_source).name}</b> for {', '.join(fitted) or 'no selected language'}"
        results = [self.fit_results[c] for c in fitted if c in self.fit_results]
        quality = [r.r2 for r in results if r.r2 is not None]
        exact = [r.language for r in results if r.r2 is None]
        if quality:
            text += f" (R² {min(quality):.2f}–{max(quality):.2f})"
        if exact:
            text += f" (exact fits, no R², for {', '.join(exact)}: as many parameters as pilot sizes)"
        flagged = [r.language for r in results if r.flags]
        if flagged:
            text += f" <b>Flagged laws</b>: {', '.join(flagged)} (see the table)"
        if any(r.replicates is not None for r in results):
            text += f"; bands are {100 * BAND_LEVEL:.0f}% pointwise"
        text += "."
        if prior:
            text += f" Prior for {', '.join(prior)}."
        synthetic = [c for c in self.inputs.languages if is_synthetic(self.catalogue.get(c))]
        if synthetic:
            text += (f" <b>SYNTHETIC</b>: {', '.join(synthetic)} are demo-world languages; their scores measure the "
                     f"method on synthetic data, not a real language.")
        self.law_source_label.setText(text)

    def _update_banner(self, plan: Plan | None) -> None:
        if plan is None or not plan.prior:
            self.prior_banner.setVisible(False)
            return
        prior = [lp.code for lp in plan.languages if lp.code not in self.effective_laws()]
        which = "" if len(prior) == len(plan.languages) else f" for {', '.join(prior)}"
        self.prior_banner_label.setText(
            f"<b>Uncalibrated prior{which} — illustrative, fit your own pilot data.</b> "
            "These curves are not measurements; hover for how the prior was chosen."
        )
        self.prior_banner.setVisible(True)

    def _update_summary(self, plan: Plan | None) -> None:
        if plan is None:
            self.summary_label.setText("Pick languages to see a plan.")
            return
        theme = current_theme()
        # The expected gain over the laws' replicates when there are any (the interval is about it); the point
        # estimates' own gain beside it.
        gain = plan.gain_expected if plan.gain_expected is not None else plan.headline_gain
        uniform = plan.uniform_minimum if plan.objective == "maxmin" else plan.uniform_total
        relative = gain / abs(uniform) * 100 if uniform else float("nan")
        unsure = plan.distinguishable is False
        color = theme.muted if unsure else (theme.good if gain > 1e-9 else (theme.error if gain < -1e-9
                                                                             else theme.text))
        if plan.objective == "maxmin":
            optimised = (f"lowest predicted score <b>{format_score(plan.minimum)}</b> vs uniform "
                         f"{format_score(plan.uniform_minimum)}")
        else:
            optimised = (f"predicted total <b>{format_score(plan.predicted_total)}</b> vs uniform "
                         f"{format_score(plan.uniform_total)}")
        gain_text = (f"{'expected ' if plan.gain_expected is not None else ''}gain "
                     f"<b style='color:{color}'>{format_gain(gain)}</b>"
                     + (f" ({relative:+.2f}%)" if math.isfinite(relative) else ""))
        if plan.gain_interval is not None:
            lo, hi = plan.gain_interval
            gain_text += (f", {100 * plan.gain_level:.0f}% interval {format_gain(lo)} to {format_gain(hi)} "
                          f"(point estimates {format_gain(plan.headline_gain)})")
            if unsure:
                gain_text += " — <b>not distinguishable from uniform</b>"
        parts = [f"Budget <b>{plan.budget:,}</b> pairs", optimised, gain_text]
        if plan.objective == "maxmin":
            parts.append(f"sum {format_gain(plan.total_gain)}")
        if plan.allocation == "robust":
            parts.append(f"robust allocation (expected score over {plan.replicates} replicates)")
        per_1k = getattr(plan, "gain_per_1k", None)
        if per_1k is not None and math.isfinite(per_1k):
            if plan.objective == "maxmin":
                parts.append(f"1k more pairs lifts the lowest score by <b>{format_gain(per_1k)}</b>")
            else:
                parts.append(f"1k more pairs buys <b>{format_gain(per_1k)}</b>")
        text = " · ".join(parts)
        if plan.warnings:
            text += "<br><span style='color:%s'>%s</span>" % (theme.warning_text if not theme.dark else theme.muted,
                                                              " ".join(plan.warnings))
        self.summary_label.setText(text)

    def _apply_theme(self, theme: Theme) -> None:
        # Fusion draws unchecked boxes nearly invisible on a dark base; draw the picker's boxes ourselves.
        check = resource_path("icons", "check.svg").as_posix()
        self.language_table.setStyleSheet(
            f"QTableView::indicator {{ width: 13px; height: 13px; border: 1px solid {theme.muted};"
            f" border-radius: 3px; background: {theme.base}; }}"
            f" QTableView::indicator:checked {{ background: {theme.highlight}; border-color: {theme.highlight};"
            f" image: url({check}); }}"
        )
        self.prior_banner.setStyleSheet(
            f"QFrame#priorBanner {{ background: {theme.warning_background}; border-radius: 4px; }}"
            f" QLabel {{ color: {theme.warning_text}; }}"
        )
        self.error_label.setStyleSheet(f"color: {theme.error}; font-weight: bold;")
        for label in (self.budget_error, self.floor_error):
            label.setStyleSheet(f"color: {theme.error};")
        self.figure.apply_theme(theme)
        for widget, label in ((self.budget_edit, self.budget_error), (self.floor_edit, self.floor_error)):
            if widget.property("invalid"):
                _mark(widget, label.text(), label)
        self._curves_key = None
        if hasattr(self, "allocation_model"):
            self.schedule_redraw()

    # ------------------------------------------------------------------------------------------------- fitting
    def choose_measurements(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Fit laws from pilot measurements", "", PILOT_FILTERS)
        if path:
            self.fit_from_file(path)

    def fit_from_file(self, path: str | Path, *, quiet: bool = False) -> BackgroundTask:
        """Load pilot measurements and fit every language's law on the thread pool, then re-plan.

        ``quiet`` (used when restoring a session) logs a failure to the status bar instead of a message box.
        """
        from studio.planning.fitting import fit_laws, load_measurements

        path = str(path)

        def op():  # worker thread: no widgets here
            return fit_laws(load_measurements(path))

        if self.fit_task is not None and not self.fit_task.done:
            self.fit_task.cancel()
        task = BackgroundTask(op, self)
        self.fit_task = task
        self.fit_button.setEnabled(False)
        self.law_source_label.setText(f"Fitting laws from {Path(path).name}…")
        task.succeeded.connect(lambda results: self._fit_done(task, path, results))
        task.failed.connect(lambda exc: self._fit_failed(task, path, exc, quiet))
        return task.start()

    def refit_with_run_results(self, rows: list[dict]) -> BackgroundTask | None:
        """Add finished runs' scores per language (``[{"code", "pairs", "score", "metric", "job"}]``, already on
        the laws' scale: ``studio.session.measurements``) to the measurements the laws come from, save them as
        ``run_results.csv`` in the user data dir, and refit from that file."""
        from studio.paths import data_dir
        from studio.session.measurements import RunMeasurement, merge_into_file

        runs = [RunMeasurement(str(r["code"]), int(r["pairs"]), float(r["score"]), str(r.get("metric", "comet")),
                               str(r.get("job", "")))
                for r in rows if r.get("pairs")]
        if not runs:
            return None
        path = merge_into_file(self.inputs.measurements_path, runs, data_dir() / "run_results.csv")
        return self.fit_from_file(path)

    # --------------------------------------------------------------------------------------------- calibration
    def open_calibrate_dialog(self):
        """The Calibrate… dialog (non-modal); on Start it runs ``start_calibration``. Returns the dialog."""
        from studio.remote.hosts import HostStore
        from studio.remote.registry import JobRegistry
        from studio.session.calibrate import PILOT_SWEEP
        from studio.ui.calibrate_dialog import CalibrateDialog

        with JobRegistry() as registry:
            sweeps = [(sweep_id, f"{len(doc.get('pilots', []))} pilots")
                      for sweep_id, _kind, doc in registry.sweeps(PILOT_SWEEP)]
        languages = self.inputs.languages or ["demo_lex", "demo_sov", "demo_kana"]
        dialog = CalibrateDialog(languages, hosts=list(HostStore().load()), sweeps=sweeps, catalogue=self.catalogue,
                                 parent=self)
        dialog.accepted.connect(lambda: self.start_calibration(dialog.request))
        dialog.open()
        return dialog

    def start_calibration(self, request, *, follower_options: dict | None = None) -> BackgroundTask:
        """Launch (or resume) a pilot sweep off the GUI thread; each pilot that ends puts its point on the curves
        and refits the laws (``studio.session.calibrate.calibration_progress``)."""
        from studio.remote.connection import open_session
        from studio.remote.registry import JobRegistry
        from studio.session import calibrate
        from studio.session.launch import resolve_profile

        budget = self.inputs.budget
        options = dict(follower_options or {})

        def op():  # worker thread: no widgets here
            with JobRegistry() as registry:
                if request.resume:
                    sweep = calibrate.load_sweep(registry, request.resume)
                    profile = resolve_profile(sweep.host)
                else:
                    profile = resolve_profile(request.host)
                    pilots = calibrate.design_sweep(request.languages, request.sizes)
                    with open_session(profile) as session:
                        sweep = calibrate.start_sweep(pilots, profile, session, registry, preset=request.preset,
                                                      metric=request.metric, concurrency=request.concurrency)
                yield sweep
                yield from calibrate.calibration_progress(sweep, registry, lambda: open_session(profile),
                                                          budget=budget, **options)

        if self.calibration_task is not None and not self.calibration_task.done:
            self.calibration_task.cancel()
        task = BackgroundTask(op, self)
        self.calibration_task = task
        self.calibrate_button.setEnabled(False)
        self.calibration_label.setText("Starting the pilot sweep…")
        self.calibration_label.setVisible(True)
        task.progress.connect(lambda item: self._calibration_progress(task, item))
        task.succeeded.connect(lambda _result: self._calibration_ended(task, None))
        task.failed.connect(lambda exc: self._calibration_ended(task, exc))
        return task.start()

    def _calibration_progress(self, task: BackgroundTask, item) -> None:
        from studio.session.calibrate import Sweep

        if task is not self.calibration_task:
            return
        if isinstance(item, Sweep):
            self.calibration_sweep = item
            # The page plans what is being calibrated: the sweep's languages, on the sweep metric's scale (keeping
            # other languages on the prior would add COMET-scale guesses to measured chrF).
            if list(self.inputs.languages) != item.languages:
                self.set_languages(item.languages)
            self.status_message.emit(f"Pilot sweep {item.id}: {len(item.pilots)} pilots on {item.host}; the plan "
                                     f"now covers {', '.join(item.languages)}.")
            return
        self.calibration = item
        by_language: dict[str, list] = {}
        for point in item.points:
            by_language.setdefault(point.language, []).append(point)
        self.pilot_points = by_language
        source = f"pilot sweep {item.sweep_id} ({item.finished} of {item.total} pilots)"
        if item.results:
            self.set_laws({c: r.law for c, r in item.results.items()}, source, item.results)
        else:
            self._curves_key = None
            self.schedule_redraw()
        text = f"Calibrating: {item.note}." if not item.done else f"Sweep {item.sweep_id}: {item.note}."
        if item.suggestion:
            text += f" {item.suggestion[0].upper()}{item.suggestion[1:]}."
        self.calibration_label.setText(text)
        self.status_message.emit(text)

    def _calibration_ended(self, task: BackgroundTask, exc: BaseException | None) -> None:
        if task is not self.calibration_task:
            return
        self.calibrate_button.setEnabled(True)
        self.compare_button.setEnabled(exc is None and bool(self.calibration and self.calibration.results))
        if exc is not None:
            message = str(exc) if isinstance(exc, LinguaTuneError) else f"The pilot sweep failed: {exc}"
            self.calibration_label.setText(message)
            self.show_error("Calibration failed", message)

    def start_comparison(self, *, follower_options: dict | None = None) -> BackgroundTask | None:
        """Train the current plan's optimised allocation and uniform split on the calibration's host and preset
        (``studio.session.calibrate.start_comparison``), follow both and measure them; the Monitor page lists the
        two jobs as they run. Returns the background task (None without a calibrated plan)."""
        from studio.remote.connection import open_session
        from studio.remote.registry import JobRegistry
        from studio.session import calibrate
        from studio.session.launch import resolve_profile

        plan, sweep = self.plan, self.calibration_sweep
        if plan is None or sweep is None:
            self.show_error("Nothing to compare", "Calibrate the laws with a pilot sweep first: the comparison trains "
                                                  "on the sweep's host and preset.")
            return None
        options = dict(follower_options or {})

        def op():  # worker thread: no widgets here
            profile = resolve_profile(sweep.host)
            with JobRegistry() as registry:
                with open_session(profile) as session:
                    _compare_id, arms = calibrate.start_comparison(plan, profile, session, registry,
                                                                   preset=sweep.preset, metric=sweep.metric)
                yield [arm.job_id for arm in arms]
                for _ in calibrate.iter_follow([a.job_id for a in arms], registry, lambda: open_session(profile),
                                               **options):
                    pass
                comparison = calibrate.Comparison(sweep.metric, arms)
                for arm in arms:
                    calibrate.measure_arm(arm, registry, sweep.metric)
                return comparison

        task = BackgroundTask(op, self)
        self.comparison_task = task
        self.compare_button.setEnabled(False)
        self.calibration_label.setText("Training the optimised plan and the uniform split…")
        task.progress.connect(lambda ids: self.status_message.emit(
            f"Training optimised ({ids[0]}) and uniform ({ids[1]}); the Monitor page shows both."))
        task.succeeded.connect(lambda comparison: self._comparison_done(task, comparison, None))
        task.failed.connect(lambda exc: self._comparison_done(task, None, exc))
        return task.start()

    def _comparison_done(self, task: BackgroundTask, comparison, exc: BaseException | None) -> None:
        from studio.session.calibrate import verdict

        if task is not self.comparison_task:
            return
        self.compare_button.setEnabled(True)
        if exc is not None:
            message = str(exc) if isinstance(exc, LinguaTuneError) else f"The comparison failed: {exc}"
            self.calibration_label.setText(message)
            self.show_error("Comparison failed", message)
            return
        self.comparison = comparison
        rows = "".join(f"<tr><td>{html.escape(r[0])}</td><td align=right>{r[1]}</td><td align=right>{r[2]}</td>"
                       f"<td align=right>{r[3]}</td><td align=right>{r[4]}</td><td align=right>{r[5]}</td>"
                       f"<td align=right>{r[6]}</td></tr>" for r in comparison.table())
        synthetic = any(self.catalogue.get(c).family.startswith("Synthetic") for c in comparison.arms[0].pairs)
        self.calibration_label.setText(
            "<table cellspacing=4><tr><th></th><th colspan=3>optimised: pairs, predicted, measured</th>"
            "<th colspan=3>uniform</th></tr>" + rows + "</table>" + html.escape(verdict(comparison))
            + (" <b>SYNTHETIC demo world.</b>" if synthetic else ""))
        self.status_message.emit(verdict(comparison))

    def _fit_done(self, task: BackgroundTask, path: str, results: dict) -> None:
        if task is not self.fit_task:
            return
        self.fit_button.setEnabled(True)
        laws = {code: result.law for code, result in results.items()}
        self.set_laws(laws, Path(path).name, results, measurements_path=path)
        message = f"Fitted laws for {len(results)} languages from {Path(path).name}."
        self.status_message.emit(message)
        self.fit_finished.emit(True, message)

    def _fit_failed(self, task: BackgroundTask, path: str, exc: BaseException, quiet: bool) -> None:
        if task is not self.fit_task:
            return
        self.fit_button.setEnabled(True)
        self._update_law_source_label()
        if isinstance(exc, LinguaTuneError):
            message = str(exc)
        elif isinstance(exc, OSError):
            message = f"Could not read {Path(path).name}: {exc.strerror or exc}."
        else:
            message = f"Could not fit laws from {Path(path).name}: {exc}."
        if quiet:
            self.status_message.emit(message)
        else:
            self.show_error("Fitting failed", message)
        self.fit_finished.emit(False, message)

    def show_error(self, title: str, message: str) -> QMessageBox:
        """A non-blocking warning box with one sentence (kept on ``last_message_box`` for tests)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_message_box = box
        self.status_message.emit(message)
        return box

    # --------------------------------------------------------------------------------------- files and clipboard
    def choose_export_plan(self) -> str | None:
        if self.plan is None:
            self.status_message.emit("Nothing to export: pick at least one language.")
            return None
        path, chosen = QFileDialog.getSaveFileName(self, "Export plan", "plan.json", PLAN_FILTERS)
        if not path:
            return None
        if not Path(path).suffix:
            path += {"Plan YAML": ".yaml", "Plan CSV": ".csv", "Markdown": ".md"}.get(chosen.split(" (")[0], ".json")
        return self.export_plan(path)

    def export_plan(self, path: str | Path) -> str | None:
        """Write the current plan (format by suffix: .json .yaml .yml .csv .md); errors go to a message box."""
        if self.plan is None:
            return None
        try:
            save_plan(self.plan, path)
        except (LinguaTuneError, OSError) as exc:
            self.show_error("Export failed", str(exc) if isinstance(exc, LinguaTuneError) else
                            f"Could not write {path}: {exc.strerror or exc}.")
            return None
        self.status_message.emit(f"Plan written to {path}.")
        return str(path)

    def save_plan_to(self, path: str | Path) -> str | None:
        """Save as the page's current plan file (it becomes the file Ctrl+S writes to)."""
        written = self.export_plan(path)
        if written:
            self.plan_path = written
        return written

    def open_plan(self, path: str | Path) -> bool:
        """Load a plan file and make its languages, budget, objective, floors, caps and laws the page's inputs."""
        try:
            plan = load_plan(path)
        except LinguaTuneError as exc:
            self.show_error("Cannot open plan", str(exc))
            return False
        except OSError as exc:
            self.show_error("Cannot open plan", f"Could not read {path}: {exc.strerror or exc}.")
            return False
        self.apply_plan(plan, source=Path(path).name)
        self.plan_path = str(path)
        self.status_message.emit(f"Opened {path}.")
        return True

    def apply_plan(self, plan: Plan, source: str) -> None:
        """Take a loaded plan's inputs (``studio.session.planning.inputs_from_plan``)."""
        self.set_inputs(inputs_from_plan(plan, source, self.catalogue))

    def set_inputs(self, inputs: PlanInputs, fit_results: dict | None = None) -> None:
        before = set(self.inputs.languages)
        self.inputs = inputs
        self.fit_results = dict(fit_results or {})
        for code, result in self.fit_results.items():
            if code in inputs.laws and code not in inputs.evidence:
                inputs.evidence[code] = result.evidence()
        self._sync_controls()
        self.catalogue_model.refresh_checks(before | set(inputs.languages))
        self._inputs_edited()

    def choose_export_plot(self) -> str | None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export plot", "plan.png", PLOT_FILTERS)
        if not path:
            return None
        if not Path(path).suffix:
            path += ".svg" if chosen.startswith("SVG") else ".png"
        return self.export_plot(path)

    def export_plot(self, path: str | Path) -> str | None:
        """Write the curves and bars as PNG or SVG (by suffix)."""
        if self._redraw_pending:
            self._redraw()
        try:
            self.figure.export(path)
        except OSError as exc:
            self.show_error("Export failed", f"Could not write {path}: {exc.strerror or exc}.")
            return None
        self.status_message.emit(f"Plot written to {path}.")
        return str(path)

    def cli_command(self) -> str:
        """The `linguatune` command line that makes the same plan (``studio.session.planning.plan_command``)."""
        return plan_command(self.inputs)

    def copy_cli_command(self) -> str:
        command = self.cli_command()
        QGuiApplication.clipboard().setText(command)
        self.status_message.emit(f"Copied: {command}")
        return command

    # ------------------------------------------------------------------------------------------ state (settings)
    def state(self) -> dict[str, Any]:
        return self.inputs.to_dict()

    def restore_state(self, state: dict[str, Any]) -> None:
        """Restore inputs saved by ``state()``; refits in the background to get bands back when the pilot file exists."""
        inputs = PlanInputs.from_dict(state)
        self.set_inputs(inputs)
        if inputs.measurements_path and Path(inputs.measurements_path).is_file():
            self.fit_from_file(inputs.measurements_path, quiet=True)
