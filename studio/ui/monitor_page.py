"""The Monitor page: every job of the registry with its state and connection, and for the selected job live
training loss, learning rate and throughput, evaluation scores per language, the alignment heatmap and a log pane.

Each job is loaded (and, while it runs, followed) by a ``JobFollowThread``; the digested batches it emits are
stored at once and drawn by a 10 Hz timer, so a burst of events costs one redraw. Cancel and fetch run on the
thread pool. A fresh page restores every job from the registry and resumes following the live ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.remote.connection import open_session
from studio.remote.hosts import HostStore
from studio.remote.registry import FINAL_STATES, JobRecord, JobRegistry
from studio.session.measurements import MeasurementError, measurements_from_model
from studio.session.monitor import ConnectionState, EventDigest, JobModel, format_duration, metric_label, printable
from studio.session.launch import resolve_profile
from studio.ui.follow_worker import JobFollowThread
from studio.ui.heatmap import AlignmentHeatmap
from studio.ui.live_plot import EvalPlot, LossPlot, RatePlot
from studio.ui.tasks import run_in_background
from studio.ui.theme import Theme, current_theme, theme_manager

FLUSH_INTERVAL_MS = 50
DRAW_ORDER = ("loss", "rate", "eval", "alignment", "log")
DISCOVER_EVERY_S = 5
LOG_LINES_KEPT = 5000
GROUP_TEXT = {"en-xx": "en → xx", "xx-en": "xx → en", "qa": "QA"}
COLUMNS = ("Job", "State", "Host", "Started", "Elapsed", "Connection")
STATE_COLORS = {
    "queued": "#7F7F7F", "starting": "#56B4E9", "running": "#0072B2", "evaluating": "#009E73",
    "checkpointing": "#009E73", "finished": "#1B7F3B", "failed": "#C62828", "cancelled": "#8C6D31",
    "lost": "#D55E00",
}


@dataclass
class JobView(JobModel):
    """The page's hold on one job: the shared monitoring model plus its follow thread and what needs redrawing."""

    loaded: bool = False
    thread: JobFollowThread | None = None
    dirty: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)  # what the follower noticed about the event log

    def apply(self, digest: EventDigest) -> set[str]:
        """Store a batch (GUI thread; numpy concatenation only) and mark the changed parts for the next draw."""
        changed = super().apply(digest)
        self.dirty |= changed
        return changed


_HEAP_FROZEN = False


def freeze_startup_heap() -> None:
    """Move the objects alive now (Qt, pyqtgraph, numpy, the studio's modules) out of the cyclic garbage
    collector's reach. A follow thread allocates many short-lived objects while catching up; the full collections
    that triggers would otherwise walk this whole heap holding the GIL (100 ms and more), freezing the GUI."""
    global _HEAP_FROZEN
    if not _HEAP_FROZEN:
        import gc

        gc.collect()
        gc.freeze()
        _HEAP_FROZEN = True


class MonitorPage(QWidget):
    """Jobs and their live curves. ``registry`` defaults to the user's job registry; ``hosts`` to the saved
    host profiles; ``follower_options`` are passed to each ``Follower`` (the tests poll faster)."""

    status_message = Signal(str)
    #: finished runs' results for the Plan page: [{"code", "pairs", "score", "job"}]
    refit_requested = Signal(list)
    #: job id, connection state (connecting/connected/reconnecting/lost/finished/history/error)
    connection_changed = Signal(str, str)

    def __init__(self, registry: JobRegistry | None = None, parent=None, *, hosts: HostStore | None = None,
                 follower_options: dict | None = None, autostart: bool = True):
        super().__init__(parent)
        self.setObjectName("monitorPage")
        freeze_startup_heap()
        self.registry = registry or JobRegistry()
        self.hosts = hosts
        self.follower_options = dict(follower_options or {})
        self.views: dict[str, JobView] = {}
        self.selected_id: str | None = None
        self.compare_id: str | None = None
        self._threads: set[JobFollowThread] = set()
        self._tasks: list = []
        self._shut_down = False
        self.theme = current_theme()
        self.frames_drawn = 0
        self._last_part = -1
        self._ticks = 0
        self._discovering = False
        self._build()
        self.flush_timer = QTimer(self)
        self.flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self.flush_timer.timeout.connect(self.flush)
        self.flush_timer.start()
        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._tick)
        self.clock.start()
        theme_manager().changed.connect(self.apply_theme)
        if autostart:
            self.refresh_jobs()

    # ---------------------------------------------------------------------------------------------------- layout
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(splitter)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("<b>Jobs</b>"))
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("jobTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        left_layout.addWidget(self.table, 1)
        self.empty_hint = QLabel("No jobs yet. Launch one from the Launch page (the local demo needs no GPU).")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setObjectName("monitorEmptyHint")
        left_layout.addWidget(self.empty_hint)
        buttons = QHBoxLayout()
        self.cancel_button = QPushButton("Cancel job")
        self.cancel_button.setObjectName("cancelJob")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.fetch_button = QPushButton("Fetch results")
        self.fetch_button.setObjectName("fetchResults")
        self.fetch_button.clicked.connect(self.fetch_selected)
        self.reconnect_button = QPushButton("Reconnect")
        self.reconnect_button.setObjectName("reconnectJob")
        self.reconnect_button.setToolTip("Follow the job again (e.g. after trusting its host key on the Launch page)")
        self.reconnect_button.clicked.connect(lambda: self.retry_follow())
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.fetch_button)
        buttons.addWidget(self.reconnect_button)
        left_layout.addLayout(buttons)
        self.refit_button = QPushButton("Use these results to refit the laws")
        self.refit_button.setObjectName("refitFromJob")
        self.refit_button.setToolTip("Send this run's final scores per language (the metric and direction shown) and "
                                      "the pairs it trained on to the Plan page")
        self.refit_button.clicked.connect(self.send_results_for_refit)
        left_layout.addWidget(self.refit_button)
        compare_row = QHBoxLayout()
        compare_row.addWidget(QLabel("Compare loss with:"))
        self.compare_combo = QComboBox()
        self.compare_combo.setObjectName("compareJob")
        self.compare_combo.currentIndexChanged.connect(lambda _i: self._compare_changed())
        compare_row.addWidget(self.compare_combo, 1)
        left_layout.addLayout(compare_row)
        splitter.addWidget(left)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.banner = QLabel("Select a job")
        self.banner.setObjectName("connectionBanner")
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.banner.setMinimumHeight(26)
        right_layout.addWidget(self.banner)
        vertical = QSplitter(Qt.Orientation.Vertical)
        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = LossPlot()
        self.rate_plot = RatePlot()
        eval_box = QWidget()
        eval_layout = QVBoxLayout(eval_box)
        eval_layout.setContentsMargins(0, 0, 0, 0)
        eval_controls = QHBoxLayout()
        eval_controls.addWidget(QLabel("Metric:"))
        self.metric_combo = QComboBox()
        self.metric_combo.setObjectName("evalMetric")
        self.metric_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.metric_combo.currentIndexChanged.connect(lambda _i: self._mark_selected("eval"))
        eval_controls.addWidget(self.metric_combo)
        eval_controls.addWidget(QLabel("Direction:"))
        self.direction_combo = QComboBox()
        self.direction_combo.setObjectName("evalDirection")
        self.direction_combo.currentIndexChanged.connect(lambda _i: self._mark_selected("eval"))
        eval_controls.addWidget(self.direction_combo)
        eval_controls.addStretch(1)
        eval_layout.addLayout(eval_controls)
        self.eval_plot = EvalPlot()
        eval_layout.addWidget(self.eval_plot, 1)
        self.heatmap = AlignmentHeatmap()
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(eval_box, 0, 1)
        grid.addWidget(self.rate_plot, 1, 0)
        grid.addWidget(self.heatmap, 1, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        vertical.addWidget(grid_host)
        self.log_pane = QPlainTextEdit()
        self.log_pane.setObjectName("jobLog")
        self.log_pane.setReadOnly(True)
        self.log_pane.setMaximumBlockCount(LOG_LINES_KEPT)
        self.log_pane.setPlaceholderText("Log messages, errors and state changes of the selected job")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.log_pane.setFont(mono)
        vertical.addWidget(self.log_pane)
        vertical.setStretchFactor(0, 5)
        vertical.setStretchFactor(1, 1)
        right_layout.addWidget(vertical, 1)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([440, 960])
        self._update_buttons()

    # ------------------------------------------------------------------------------------------------------ jobs
    def refresh_jobs(self) -> None:
        """Read the registry's job list: new jobs get a row; live ones are followed, the newest is selected."""
        records = self.registry.jobs()
        for record in reversed(records):  # oldest first, so rows end up newest on top
            if record.id not in self.views:
                self._add_view(record)
        self._rebuild_table()
        if self.selected_id is None and records:
            self.select_job(records[0].id)
        self.empty_hint.setVisible(not self.views)

    def watch(self, job: Any) -> JobView:
        """Show and follow a job just launched (a ``JobRecord``, ``LaunchedJob`` or job id) and select it."""
        job_id = job if isinstance(job, str) else getattr(job, "id", None) or job.job_id
        if job_id not in self.views:
            # A JobRecord is used as given: the registry may be busy storing another job's catch-up batch.
            self._add_view(job if isinstance(job, JobRecord) else self.registry.get(job_id))
            self._rebuild_table()
        self.empty_hint.setVisible(False)
        self.select_job(job_id)
        return self.views[job_id]

    def _add_view(self, record: JobRecord) -> JobView:
        view = JobView(record)
        self.views[record.id] = view
        if not record.is_final:
            self._load(view, follow=True)  # live jobs are followed at once, selected or not
        else:
            view.connection = ConnectionState.FINISHED
        return view

    def _load(self, view: JobView, *, follow: bool) -> None:
        if view.loaded or self._shut_down:
            return
        view.loaded = True
        thread = JobFollowThread(self.registry, view.job_id, follow=follow, hosts=self.hosts,
                                 follower_options=self.follower_options, parent=self)
        thread.digested.connect(self._on_digest)
        thread.connection_changed.connect(self._on_connection)
        thread.ended.connect(self._on_ended)
        thread.warned.connect(self._on_warning)
        thread.finished.connect(lambda t=thread: self._thread_finished(t))
        view.thread = thread
        self._threads.add(thread)
        thread.start()

    def _thread_finished(self, thread: JobFollowThread) -> None:
        self._threads.discard(thread)
        view = self.views.get(thread.job_id)
        if view is not None and view.thread is thread:
            view.thread = None
        self._update_buttons()

    def retry_follow(self, job_id: str | None = None) -> bool:
        """Follow a job again after its follower stopped with an error (unknown host key, missing profile...).
        Its points are reloaded from the registry, so nothing is drawn twice."""
        view = self.views.get(job_id or self.selected_id or "")
        if view is None or view.thread is not None or view.record.is_final:
            return False
        fresh = JobView(view.record)
        self.views[view.job_id] = fresh
        self._load(fresh, follow=True)
        if view.job_id == self.selected_id:
            self.selected_id = None
            self.select_job(view.job_id)
            self._selection_changed()
        return True

    def _on_digest(self, job_id: str, digest: EventDigest) -> None:
        view = self.views.get(job_id)
        if view is not None:
            view.apply(digest)

    def _on_warning(self, job_id: str, text: str) -> None:
        view = self.views.get(job_id)
        if view is None:
            return
        view.warnings.append(text)
        view.log_lines.append(f"{time.strftime('%H:%M:%S')}  warning: {printable(text)}")
        view.dirty.add("log")

    def _on_connection(self, job_id: str, state: str, detail: str) -> None:
        view = self.views.get(job_id)
        if view is None:
            return
        state = ConnectionState(state)
        view.connection, view.connection_detail = state, detail
        self.connection_changed.emit(job_id, state.value)
        if state is ConnectionState.FAILED:
            view.log_lines.append(f"{time.strftime('%H:%M:%S')}  cannot follow: {detail}")
            view.dirty.add("log")
        elif state is ConnectionState.RECONNECTING:
            view.log_lines.append(f"{time.strftime('%H:%M:%S')}  connection dropped; reconnecting ({detail})")
            view.dirty.add("log")
        view.dirty.add("row")

    def _on_ended(self, job_id: str, state: str, exit_code, message: str, log_tail) -> None:
        view = self.views.get(job_id)
        if view is None:
            return
        # The follower stored the same in the registry; the record is updated here without reading it back.
        view.record.state = state
        view.record.exit_code = exit_code if exit_code is not None else view.record.exit_code
        view.record.message = message or view.record.message
        view.record.updated_at = time.time()
        stamp = time.strftime("%H:%M:%S")
        view.log_lines.append(f"{stamp}  job {state}" + (f": {message}" if message else ""))
        view.log_lines.extend(f"          {line}" for line in (log_tail or [])[-40:])
        view.dirty.update({"row", "log", "loss", "rate"})  # the x range no longer leaves room for more steps

    # ------------------------------------------------------------------------------------------------ selection
    def select_job(self, job_id: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == job_id:
                self.table.selectRow(row)
                return

    def _selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        job_id = self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        if job_id == self.selected_id:
            return
        self.selected_id = job_id
        view = self.views[job_id]
        self._load(view, follow=False)
        self.heatmap.clear()
        self.log_pane.clear()
        self._shown_alignments = 0
        self._shown_log_lines = 0
        self.loss_plot.set_main_label(view.record.name or job_id)
        view.dirty.update({"loss", "rate", "eval", "alignment", "log", "row"})
        self._rebuild_compare_combo()
        self._update_buttons()
        self.flush(everything=True)

    def _rebuild_compare_combo(self) -> None:
        self.compare_combo.blockSignals(True)
        self.compare_combo.clear()
        self.compare_combo.addItem("(none)", None)
        for job_id in self._ordered_ids():
            if job_id != self.selected_id:
                record = self.views[job_id].record
                self.compare_combo.addItem(f"{record.name} ({job_id})" if record.name else job_id, job_id)
        index = self.compare_combo.findData(self.compare_id) if self.compare_id else 0
        self.compare_combo.setCurrentIndex(max(index, 0))
        if index < 0:
            self.compare_id = None
        self.compare_combo.blockSignals(False)
        self._draw_compare()

    def set_compare(self, job_id: str | None) -> None:
        """Overlay ``job_id``'s loss on the selected job's (None: no overlay)."""
        index = self.compare_combo.findData(job_id) if job_id else 0
        self.compare_combo.setCurrentIndex(max(index, 0))

    def _compare_changed(self) -> None:
        self.compare_id = self.compare_combo.currentData()
        if self.compare_id:
            self._load(self.views[self.compare_id], follow=False)
        self._draw_compare()

    def _draw_compare(self) -> None:
        view = self.views.get(self.compare_id) if self.compare_id else None
        if view is None:
            self.loss_plot.set_compare(None)
        else:
            self.loss_plot.set_compare(view.record.name or view.job_id, view.train)

    def _mark_selected(self, what: str) -> None:
        view = self.views.get(self.selected_id or "")
        if view is not None:
            view.dirty.add(what)
            self.flush(everything=True)

    # ---------------------------------------------------------------------------------------------------- drawing
    def flush(self, *, everything: bool = False) -> None:
        """Draw what changed (the timer calls this every ``FLUSH_INTERVAL_MS``). Each call repaints one part of
        the selected job's view (loss, rate, scores, heatmap, log, in turn), so a busy job never costs one long
        paint of the whole page; ``everything`` draws all parts at once (after a selection)."""
        rows_changed = False
        for view in self.views.values():
            if not view.dirty:
                continue
            if "row" in view.dirty:
                rows_changed = True
                view.dirty.discard("row")
            if "train" in view.dirty:
                view.dirty.discard("train")
                view.dirty.update({"loss", "rate"})
            if view.job_id != self.selected_id:
                if view.job_id == self.compare_id and "loss" in view.dirty:
                    self._draw_compare()
                view.dirty.clear()
                continue
            parts = [part for part in DRAW_ORDER if part in view.dirty]
            if not everything and parts:
                # Round robin: the part after the one drawn last, so every part keeps being refreshed.
                later = [p for p in parts if DRAW_ORDER.index(p) > self._last_part] or parts
                parts = later[:1]
                self._last_part = DRAW_ORDER.index(parts[0])
            for part in parts:
                view.dirty.discard(part)
                self._draw_part(view, part)
            self._update_banner(view)
            self.frames_drawn += 1
        if rows_changed:
            self._update_rows()
            self._update_buttons()

    def _draw_part(self, view: JobView, part: str) -> None:
        if part == "loss":
            self._draw_loss(view)
        elif part == "rate":
            self.rate_plot.set_series(view.train, growing=not view.record.is_final)
        elif part == "eval":
            self._draw_eval(view)
        elif part == "alignment":
            self._draw_alignment(view)
        elif part == "log":
            self._draw_log(view)

    def _draw_loss(self, view: JobView) -> None:
        self.loss_plot.set_loss(view.train, growing=not view.record.is_final)
        if self.compare_id:
            self._draw_compare()
        loss_evals = {lang: data for (metric, lang, _d), data in view.evals.items() if metric == "loss"}
        if loss_evals:
            points = [(s, v) for steps_, values in loss_evals.values() for s, v in zip(steps_, values)]
            self.loss_plot.set_eval_loss([p[0] for p in points], [p[1] for p in points])
        else:
            self.loss_plot.set_eval_loss([], [])

    def _draw_eval(self, view: JobView) -> None:
        # One chart per metric and direction group (en-xx, xx-en, qa): every language of the group on it.
        self._sync_combo(self.metric_combo, [(metric_label(m, pipeline_check=view.is_pipeline_check(m)), m)
                                             for m in view.metrics()])
        metric = self.metric_combo.currentData()
        self._sync_combo(self.direction_combo, [(GROUP_TEXT.get(g, g), g) for g in view.groups(metric)])
        group = self.direction_combo.currentData()
        series = view.series(metric, group) if metric and group else {}
        self.eval_plot.set_series(metric or "comet", series, view.languages(),
                                  pipeline_check=bool(metric) and view.is_pipeline_check(metric))

    @staticmethod
    def _sync_combo(combo: QComboBox, items: list[tuple[str, str]]) -> None:
        current = [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]
        if current == items:
            return
        keep = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for text, data in items:
            combo.addItem(text, data)
        index = combo.findData(keep)
        combo.setCurrentIndex(index if index >= 0 else 0)
        combo.blockSignals(False)

    def _draw_alignment(self, view: JobView) -> None:
        shown = getattr(self, "_shown_alignments", 0)
        self.heatmap.add(view.alignments[shown:])
        self._shown_alignments = len(view.alignments)

    def _draw_log(self, view: JobView) -> None:
        shown = getattr(self, "_shown_log_lines", 0)
        if shown > len(view.log_lines):  # the kept window moved: show it again
            self.log_pane.clear()
            shown = 0
        new = view.log_lines[shown:]
        if new:
            self.log_pane.appendPlainText("\n".join(new))
        self._shown_log_lines = len(view.log_lines)

    def _update_banner(self, view: JobView) -> None:
        record = view.record
        color = STATE_COLORS.get(record.state, "#7F7F7F")
        connection = view.connection.text
        conn_color = {ConnectionState.CONNECTED: self.theme.good, ConnectionState.RECONNECTING: "#D55E00",
                      ConnectionState.LOST: self.theme.error,
                      ConnectionState.FAILED: self.theme.error}.get(view.connection, self.theme.muted)
        step = f" · step {view.last_step}" if view.last_step is not None else ""
        detail = f" — {view.connection_detail}" if view.connection.is_trouble and \
            view.connection_detail else ""
        title = f"{record.name} ({record.id})" if record.name else record.id
        text = (f"<b>{title}</b> on {record.host} · <span style='color:{color}'><b>{record.state}</b></span>"
                f"{step} · {len(view.train)} loss points · connection: "
                f"<span style='color:{conn_color}'><b>{connection}</b></span>{detail}")
        if self.banner.text() != text:
            self.banner.setText(text)

    # ------------------------------------------------------------------------------------------------ job table
    def _ordered_ids(self) -> list[str]:
        return [v.job_id for v in sorted(self.views.values(), key=lambda v: v.record.created_at, reverse=True)]

    def _rebuild_table(self) -> None:
        ids = self._ordered_ids()
        self.table.blockSignals(True)
        self.table.setRowCount(len(ids))
        for row, job_id in enumerate(ids):
            for column in range(len(COLUMNS)):
                if self.table.item(row, column) is None:
                    self.table.setItem(row, column, QTableWidgetItem())
            self.table.item(row, 0).setData(Qt.ItemDataRole.UserRole, job_id)
        self.table.blockSignals(False)
        self._update_rows()
        if self.selected_id:
            self.select_job(self.selected_id)
        if self.selected_id is not None:
            self._rebuild_compare_combo()

    def _update_rows(self) -> None:
        now = time.time()
        for row in range(self.table.rowCount()):
            job_id = self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
            view = self.views[job_id]
            record = view.record
            name = record.name or record.id
            values = (name, record.state, record.host,
                      time.strftime("%m-%d %H:%M", time.localtime(view.started())),
                      format_duration(view.elapsed(now)), view.connection.text)
            for column, text in enumerate(values):
                item = self.table.item(row, column)
                if item.text() != text:
                    item.setText(text)
            self.table.item(row, 0).setToolTip(record.id)
            state_item = self.table.item(row, 1)
            color = QColor(STATE_COLORS.get(record.state, "#7F7F7F"))
            state_item.setForeground(QBrush(QColor("#FFFFFF")))
            state_item.setBackground(QBrush(color))
            state_item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            conn_item = self.table.item(row, 5)
            conn_item.setToolTip(view.connection_detail)
            if view.connection.is_trouble:
                conn_item.setForeground(QBrush(QColor(self.theme.error)))
            else:
                conn_item.setForeground(QBrush(QColor(self.theme.text)))

    def discover_jobs(self) -> None:
        """Pick up jobs launched elsewhere (the CLI, another window): the registry is read off the GUI thread."""
        if self._discovering or self._shut_down:
            return
        self._discovering = True
        registry = self.registry

        def found(records) -> None:
            self._discovering = False
            new = [r for r in records if r.id not in self.views]
            for record in reversed(new):
                self._add_view(record)
            if new:
                self._rebuild_table()
                self.empty_hint.setVisible(False)
                if self.selected_id is None:
                    self.select_job(new[0].id)

        def failed(_exc) -> None:
            self._discovering = False

        task = run_in_background(registry.jobs, found, failed, parent=self)
        self._tasks = [t for t in self._tasks if not t.done] + [task]

    def _tick(self) -> None:
        self._ticks += 1
        if self._ticks % DISCOVER_EVERY_S == 0:
            self.discover_jobs()
        if any(not v.record.is_final for v in self.views.values()):
            self._update_rows()
        view = self.views.get(self.selected_id or "")
        if view is not None:
            self._update_banner(view)

    def _update_buttons(self) -> None:
        view = self.views.get(self.selected_id or "")
        self.cancel_button.setEnabled(view is not None and view.record.state not in FINAL_STATES)
        self.fetch_button.setEnabled(view is not None)
        self.refit_button.setEnabled(view is not None and view.record.state == "finished")
        self.reconnect_button.setEnabled(view is not None and view.connection is ConnectionState.FAILED and view.thread is None
                                         and not view.record.is_final)

    # --------------------------------------------------------------------------------------------------- actions
    def selected_view(self) -> JobView | None:
        return self.views.get(self.selected_id or "")

    def cancel_selected(self):
        """Cancel the selected job on its host (off the GUI thread); returns the background task."""
        view = self.selected_view()
        if view is None:
            return None
        record = view.record
        hosts, registry = self.hosts, self.registry

        def op():
            from studio.remote.jobs import cancel

            with open_session(resolve_profile(record.host, hosts)) as session:
                return cancel(record, session, registry=registry, grace_s=5.0)

        self.cancel_button.setEnabled(False)
        self.status_message.emit(f"Cancelling {record.id}…")
        return self._background(op, lambda outcome: self._cancelled(view, outcome), "Cancelling the job failed")

    def _cancelled(self, view: JobView, outcome: str) -> None:
        view.log_lines.append(f"{time.strftime('%H:%M:%S')}  cancel: {outcome}")
        view.dirty.update({"log", "row"})
        self.status_message.emit(f"Cancel of {view.job_id}: {outcome}")

    def fetch_selected(self, destination: str | Path | None = None):
        """Copy the selected job's results here (off the GUI thread); returns the background task."""
        view = self.selected_view()
        if view is None:
            return None
        record = view.record
        hosts = self.hosts

        def op():
            from studio.remote.jobs import fetch

            with open_session(resolve_profile(record.host, hosts)) as session:
                return fetch(record, session, destination)

        self.status_message.emit(f"Fetching the results of {record.id}…")
        return self._background(op, lambda result: self._fetched(view, result), "Fetching the results failed")

    def _fetched(self, view: JobView, result) -> None:
        text = f"Fetched {len(result.files)} files of {view.job_id} to {result.destination}"
        if result.model_path:
            text += f" (model left on the host at {result.model_path})"
        view.log_lines.append(f"{time.strftime('%H:%M:%S')}  {text}")
        view.dirty.add("log")
        self.last_fetch = result
        self.status_message.emit(text)

    def _background(self, op, on_success, failure_title: str):
        def failed(exc: BaseException) -> None:
            self.status_message.emit(f"{failure_title}: {exc}")
            self.last_error = exc
            self._update_buttons()
            if not getattr(self, "quiet_errors", False):
                box = QMessageBox(QMessageBox.Icon.Warning, failure_title, str(exc), parent=self)
                box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
                box.open()

        task = run_in_background(op, on_success, failed, parent=self)
        self._tasks = [t for t in self._tasks if not t.done] + [task]
        return task

    def send_results_for_refit(self) -> list[dict]:
        """Emit the selected finished run's last score per language (the metric and direction group shown) with
        the pairs it trained on, for the Plan page's fit. A pipeline-check metric is refused in one sentence."""
        view = self.selected_view()
        if view is None:
            return []
        metric = self.metric_combo.currentData() or "chrf"
        group = self.direction_combo.currentData() or "en-xx"
        try:
            runs = measurements_from_model(view, metric=metric, group=group)
        except MeasurementError as exc:
            self.status_message.emit(str(exc))
            return []
        rows = [{"code": r.language, "pairs": r.pairs, "score": r.score, "metric": r.metric, "job": r.job_id}
                for r in runs]
        self.refit_requested.emit(rows)
        self.status_message.emit(f"Sent {len(rows)} languages' {metric_label(metric)} ({group}) of {view.job_id} "
                                 f"to the Plan page")
        return rows

    # ------------------------------------------------------------------------------------------------ lifecycle
    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        for plot in (self.loss_plot, self.rate_plot, self.eval_plot):
            plot.apply_theme(theme)
        self.heatmap.apply_theme(theme)
        self._update_rows()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop following (jobs keep running on their hosts) and wait for the follow threads to end."""
        self._shut_down = True
        self.flush_timer.stop()
        self.clock.stop()
        for thread in list(self._threads):
            thread.stop()
        for thread in list(self._threads):
            thread.wait(timeout_ms)
        for task in self._tasks:
            if not task.done:
                task.cancel()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
