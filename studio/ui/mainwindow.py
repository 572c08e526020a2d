"""The studio's main window: Plan, Launch and Monitor pages, menus, shortcuts, status bar, remembered state."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
)

from studio import __version__
from studio.ui.launch_page import LaunchPage
from studio.ui.monitor_page import MonitorPage
from studio.ui.plan_page import PLAN_FILTERS, PlanPage
from studio.ui.settings import StudioSettings
from studio.ui.theme import theme_manager

THEME_LABELS = (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark"))


class PreferencesDialog(QDialog):
    """Edit → Preferences: the colour theme (applied to widgets and plots)."""

    def __init__(self, theme: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.theme_combo = QComboBox()
        self.theme_combo.setObjectName("themeCombo")
        for key, label in THEME_LABELS:
            self.theme_combo.addItem(label, key)
        self.theme_combo.setCurrentIndex(max(self.theme_combo.findData(theme), 0))
        form.addRow("Theme:", self.theme_combo)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @property
    def theme(self) -> str:
        return self.theme_combo.currentData()


class MainWindow(QMainWindow):
    """The studio window. State (geometry, page, theme, last plan inputs, recent plans) lives in QSettings."""

    def __init__(self, settings: StudioSettings | None = None):
        super().__init__()
        self.setObjectName("studioMainWindow")
        self.setWindowTitle("LinguaTune Studio")
        self.settings = settings or StudioSettings()
        self.themes = theme_manager()
        self.themes.set_preference(self.settings.theme)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("pages")
        self.tabs.setDocumentMode(True)
        self.plan_page = PlanPage()
        self.monitor_page = MonitorPage(parent=self)
        self.launch_page = LaunchPage(lambda: self.plan_page.plan, self._job_launched,
                                      registry=self.monitor_page.registry)
        self.tabs.addTab(self.plan_page, "Plan")
        self.tabs.addTab(self.launch_page, "Launch")
        self.tabs.addTab(self.monitor_page, "Monitor")
        self.setCentralWidget(self.tabs)

        self.plan_status = QLabel()
        self.plan_status.setObjectName("planStatus")
        self.statusBar().addPermanentWidget(self.plan_status)
        for page in (self.plan_page, self.launch_page, self.monitor_page):
            page.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        # The job form follows the plan, but only where it can be seen: rebuilding it (a validated job spec) on
        # every keystroke of the budget would cost more than the re-plan itself.
        self._launch_stale = False
        self.plan_page.plan_changed.connect(lambda _plan: self._plan_changed_for_launch())
        self.tabs.currentChanged.connect(lambda _index: self._refresh_launch_if_stale())
        self.monitor_page.refit_requested.connect(self._refit_from_runs)
        self.plan_page.plan_changed.connect(lambda _plan: self._update_plan_status())
        self.plan_page.redrawn.connect(self._update_plan_status)
        # Remember the inputs as they change (QSettings writes lazily), so a crash or a kill keeps the last plan.
        self.plan_page.inputs_changed.connect(lambda: self.settings.save_last_plan_state(self.plan_page.state()))

        self._build_menus()
        self._restore()

    # ---------------------------------------------------------------------------------------------------- menus
    def _action(self, text: str, slot, shortcut: str | QKeySequence | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        page = self.plan_page
        file_menu = bar.addMenu("&File")
        self.open_action = self._action("&Open plan…", self.choose_open_plan, "Ctrl+O", "Open a saved plan")
        self.save_action = self._action("&Save plan", self.save_plan, "Ctrl+S", "Save the plan as JSON")
        self.save_as_action = self._action("Save plan &as…", self.save_plan_as, "Ctrl+Shift+S")
        self.export_action = self._action(
            "&Export plan…", page.choose_export_plan, "Ctrl+E", "Write the plan as JSON, YAML, CSV or Markdown"
        )
        self.export_plot_action = self._action("Export p&lot…", page.choose_export_plot, "Ctrl+Shift+E")
        self.copy_cli_action = self._action("&Copy CLI command", page.copy_cli_command, "Ctrl+Shift+C")
        self.fit_action = self._action("&Fit laws from pilot measurements…", page.choose_measurements)
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q")
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.insertAction(self.recent_menu.menuAction(), self.open_action)
        for action in (self.save_action, self.save_as_action, None, self.export_action, self.export_plot_action,
                       self.copy_cli_action, None, self.fit_action, None, self.quit_action):
            file_menu.addSeparator() if action is None else file_menu.addAction(action)

        edit_menu = bar.addMenu("&Edit")
        self.preferences_action = self._action("&Preferences…", self.show_preferences, "Ctrl+,")
        edit_menu.addAction(self.preferences_action)

        view_menu = bar.addMenu("&View")
        for index, name in enumerate(("Plan", "Launch", "Monitor")):
            view_menu.addAction(
                self._action(f"&{name}", lambda i=index: self.tabs.setCurrentIndex(i), f"Ctrl+{index + 1}")
            )

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("&About LinguaTune", self.show_about))
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_plans()
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_plan(p))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction(self._action("Clear list", self._clear_recent))
        self.recent_menu.setEnabled(bool(recent))

    def _clear_recent(self) -> None:
        self.settings.clear_recent_plans()
        self._rebuild_recent_menu()

    # -------------------------------------------------------------------------------------------------- actions
    def choose_open_plan(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open plan", "", PLAN_FILTERS.replace(";;Markdown summary (*.md)", ""))
        if path:
            self.open_plan(path)

    def open_plan(self, path: str) -> bool:
        opened = self.plan_page.open_plan(path)
        if opened:
            self._remember_plan_file(path)
        return opened

    def save_plan(self) -> str | None:
        path = self.plan_page.plan_path
        if not path or Path(path).suffix.lower() == ".md":
            return self.save_plan_as()
        return self._save_to(path)

    def save_plan_as(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Save plan", self.plan_page.plan_path or "plan.json", PLAN_FILTERS)
        if not path:
            return None
        if not Path(path).suffix:
            path += ".json"
        return self._save_to(path)

    def _save_to(self, path: str) -> str | None:
        written = self.plan_page.save_plan_to(path)
        if written and Path(written).suffix.lower() != ".md":
            self._remember_plan_file(written)
        return written

    def _remember_plan_file(self, path: str) -> None:
        self.settings.add_recent_plan(path)
        self._rebuild_recent_menu()
        self.setWindowTitle(f"{Path(path).name} — LinguaTune Studio")

    def show_preferences(self) -> PreferencesDialog:
        """Open the preferences dialog (non-blocking); the choice applies when it is accepted."""
        dialog = PreferencesDialog(self.settings.theme, self)
        dialog.accepted.connect(lambda: self.set_theme(dialog.theme))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.preferences_dialog = dialog
        return dialog

    def set_theme(self, preference: str) -> None:
        self.settings.theme = preference
        self.themes.set_preference(preference)
        self.settings.sync()

    def show_about(self) -> QMessageBox:
        box = QMessageBox(self)
        box.setWindowTitle("About LinguaTune")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(
            f"<b>LinguaTune Studio {__version__}</b><p>Plan and run cross-lingual instruction tuning after the "
            "x-LLaMA / m-LLaMA method (Zhu et al., 2023): scaling laws per language, the optimal split of a "
            "parallel-data budget, training on remote GPUs and live monitoring.</p>"
            "<p>Every action here has a <code>linguatune</code> command-line equivalent.</p>"
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def _update_plan_status(self) -> None:
        plan = self.plan_page.plan
        if plan is None:
            self.plan_status.setText("No plan")
            return
        source = "uncalibrated prior" if plan.prior else f"laws: {self.plan_page.inputs.law_source}"
        # No budget here (the page's summary has it): a status text that changes width on every keystroke would
        # re-lay out the window each time.
        text = f"{len(plan.languages)} languages · {plan.objective} · {source}"
        if self.plan_status.text() != text:
            self.plan_status.setText(text)

    # ---------------------------------------------------------------------------------------------------- state
    def _restore(self) -> None:
        geometry = self.settings.window_geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 900)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        self.tabs.setCurrentIndex(min(max(self.settings.page, 0), self.tabs.count() - 1))
        last = self.settings.last_plan_state()
        if last:
            self.plan_page.restore_state(last)
        recent = self.settings.recent_plans()
        if recent and last and Path(recent[0]).is_file():
            self.plan_page.plan_path = recent[0]
        self._update_plan_status()

    def save_state(self) -> None:
        """Write window geometry, page, theme and the Plan page's inputs to QSettings."""
        self.settings.save_window(self.saveGeometry(), self.saveState(), self.tabs.currentIndex())
        self.settings.save_last_plan_state(self.plan_page.state())
        self.settings.sync()

    def _plan_changed_for_launch(self) -> None:
        self._launch_stale = True
        self._refresh_launch_if_stale()

    def _refresh_launch_if_stale(self) -> None:
        if self._launch_stale and self.tabs.currentWidget() is self.launch_page:
            self._launch_stale = False
            self.launch_page.refresh_from_plan()

    def start_demo_loop(self, sizes=None, languages=None, budget: str = "4800"):
        """`linguatune studio --demo`: the measured loop of `linguatune demo` in the window. A pilot sweep of the demo
        world on this machine (points arrive on the Plan page's curves, the laws refit as pilots end), then the
        optimal 4,800-pair plan and the uniform split trained and measured (both runs on the Monitor page).
        Returns the calibration task."""
        from studio.session.calibrate import DEMO_SIZES, PILOT_PRESET
        from studio.ui.calibrate_dialog import CalibrationRequest

        sizes = list(sizes or DEMO_SIZES)
        page = self.plan_page
        self.tabs.setCurrentWidget(page)
        page.set_budget_text(budget)
        page.floor_edit.setText(str(min(sizes)))  # the laws are not extrapolated below the smallest pilot
        page._floor_typed(page.floor_edit.text())
        languages = list(languages or ("demo_lex", "demo_sov", "demo_kana"))
        request = CalibrationRequest(languages, sizes, "local", PILOT_PRESET, 2, "chrf")
        task = page.start_calibration(request)
        task.succeeded.connect(lambda _result: page.start_comparison())
        return task

    def start_local_demo(self):
        """The Launch page's newcomer path: the Plan page's languages, this machine, the pipeline demo preset,
        launched at once; the Monitor page then shows the live curves and heatmaps. Returns the launch task."""
        self.tabs.setCurrentWidget(self.launch_page)
        self.launch_page.use_local_demo()
        return self.launch_page.launch_job()

    def _job_launched(self, record) -> None:
        self.monitor_page.watch(record)
        self.tabs.setCurrentWidget(self.monitor_page)

    def _refit_from_runs(self, rows: list) -> None:
        if self.plan_page.refit_with_run_results(rows) is not None:
            self.tabs.setCurrentWidget(self.plan_page)

    def closeEvent(self, event: QCloseEvent) -> None:
        task = self.plan_page.fit_task
        if task is not None and not task.done:
            task.cancel()
        self.monitor_page.shutdown()  # child widgets get no closeEvent: stop followers here
        self.save_state()
        super().closeEvent(event)
