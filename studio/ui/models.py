"""Qt item models of the Plan page: the language catalogue picker and the allocation table."""

from __future__ import annotations

import math
from typing import Callable, Iterable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont

from studio.errors import LinguaTuneError
from studio.planning.budget import parse_budget
from studio.planning.plan import EXTRAPOLATION_MARK
from studio.ui.theme import current_theme
from studio.session.planning import parse_weight

_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
RAW_ROLE = Qt.ItemDataRole.UserRole
# Views call data() hundreds of times per repaint with plain int roles; comparing ints is ~8x cheaper than enums.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_EDIT = int(Qt.ItemDataRole.EditRole)
_RAW = int(RAW_ROLE)
_CHECK = int(Qt.ItemDataRole.CheckStateRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_CHECKED = Qt.CheckState.Checked
_UNCHECKED = Qt.CheckState.Unchecked  # the unformatted value of a cell (int pairs, float scores, str codes)
_Index = QModelIndex | QPersistentModelIndex


def format_score(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:.4f}" if abs(value) < 2 else f"{value:.2f}"


def format_gain(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    text = format_score(value)
    return text if text.startswith("-") else f"+{text}"


class CatalogueModel(QAbstractTableModel):
    """The language catalogue as a table with a check box per language (checked = part of the plan)."""

    HEADERS = ("Code", "Name", "Script", "Family", "Pairs")
    toggled = Signal(str, bool)  # code, checked

    def __init__(self, languages: Iterable, is_selected: Callable[[str], bool], parent=None):
        super().__init__(parent)
        self.languages = list(languages)
        self._row_of = {lang.code: row for row, lang in enumerate(self.languages)}
        self._display = [(lang.code, lang.name, lang.script, lang.family, f"{lang.pairs:,}") for lang in self.languages]
        self._is_selected = is_selected
        self._bold = QFont()
        self._bold.setBold(True)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.languages)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def flags(self, index: _Index):
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsUserCheckable if index.column() == 0 else base

    def data(self, index: _Index, role=_DISPLAY):
        role = int(role)
        column = index.column()
        if role == _DISPLAY:
            return self._display[index.row()][column]
        lang = self.languages[index.row()]
        if role == _CHECK:
            if column != 0:
                return None
            return _CHECKED if self._is_selected(lang.code) else _UNCHECKED
        if role == _RAW:
            return (lang.code, lang.name, lang.script, lang.family, lang.pairs)[column]
        if role == _ALIGN:
            return _RIGHT if column == 4 else None
        if role == _FONT:
            return self._bold if lang.paper else None
        if role == _TOOLTIP:
            extra = " One of the six languages of the x-LLaMA paper." if lang.paper else ""
            similarity = f"; similarity to English {lang.similarity:.2f}" if lang.similarity else ""
            return f"{lang.name} ({lang.code}, {lang.iso639_3}): {lang.pairs:,} WikiMatrix pairs{similarity}.{extra}"
        return None

    def setData(self, index: _Index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or index.column() != 0:
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
        self.toggled.emit(self.languages[index.row()].code, checked)
        return True

    def refresh_checks(self, codes: Iterable[str] | None = None) -> None:
        """Repaint the check boxes of ``codes`` (all when None)."""
        if not self.languages:
            return
        if codes is None:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.languages) - 1, 0))
            return
        for code in codes:
            row = self._row_of.get(code)
            if row is not None:
                self.dataChanged.emit(self.index(row, 0), self.index(row, 0))


class CatalogueFilter(QSortFilterProxyModel):
    """Shows the languages whose codes are in ``matches`` (the catalogue's own search decides the matches)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._matches: set[str] | None = None
        self.setSortRole(RAW_ROLE)

    def set_matches(self, codes: Iterable[str] | None) -> None:
        matches = None if codes is None else set(codes)
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9; invalidateFilter() is deprecated there
            self.beginFilterChange()
            self._matches = matches
            self.endFilterChange()
        else:
            self._matches = matches
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        if self._matches is None:
            return True
        model = self.sourceModel()
        return model.languages[source_row].code in self._matches


class AllocationModel(QAbstractTableModel):
    """The plan as a table: one row per language; the Cap column (600k and 1.2M accepted) and the Weight column
    (the language's weight in the objective, like the CLI's ``--weight``) are editable."""

    HEADERS = ("Language", "Pairs", "Uniform pairs", "Predicted", "Uniform predicted", "Gain", "Cap", "Weight",
               "Measured")
    CAP = 6
    WEIGHT = 7
    MEASURED = 8
    EDITABLE = (CAP, WEIGHT)
    cap_edited = Signal(str, int)  # code, new cap
    cap_rejected = Signal(str, str)  # code, reason
    weight_edited = Signal(str, float)  # code, new weight

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list = []  # LanguagePlan
        self.names: dict[str, str] = {}
        self.cap_errors: dict[tuple[str, int], tuple[str, str]] = {}  # (code, column) -> (typed text, reason)
        self._display: list[tuple[str, ...]] = []
        self._theme = current_theme()

    def set_plan(self, plan, names: dict[str, str]) -> None:
        rows = list(plan.languages) if plan is not None else []
        self.names = names
        self._theme = current_theme()
        self._display = [self._format_row(lp) for lp in rows]
        self.cap_errors = {key: err for key, err in self.cap_errors.items() if key[0] in {r.code for r in rows}}
        if [r.code for r in rows] == [r.code for r in self.rows] and rows:
            self.rows = rows
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(self.HEADERS) - 1))
        else:
            self.beginResetModel()
            self.rows = rows
            self.endResetModel()

    def _format_row(self, lp) -> tuple[str, ...]:
        name = self.names.get(lp.code)
        gain = lp.predicted - lp.uniform_predicted
        return (
            f"{lp.code} · {name}" if name else lp.code,
            f"{lp.pairs:,}",
            f"{lp.uniform_pairs:,}",
            format_score(lp.predicted),
            format_score(lp.uniform_predicted),
            format_gain(gain),
            f"{lp.cap:,}",
            f"{lp.weight:g}",
            lp.extrapolation_text() + (" ⚑" if lp.flags else ""),
        )

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return self.HEADERS[section]
            if role == Qt.ItemDataRole.ToolTipRole and section == self.CAP:
                return "Most pairs this language may get (default: its WikiMatrix pairs). Double-click to edit."
            if role == Qt.ItemDataRole.ToolTipRole and section == self.WEIGHT:
                return "This language's weight in the objective (default 1; 2 counts its gain twice). Double-click."
            if role == Qt.ItemDataRole.ToolTipRole and section == self.MEASURED:
                return ("Where this language's law was measured: 'within pilots', or how far the plan reads it "
                        "beyond its largest (or below its smallest) pilot. ⚑: the fit is flagged (hover the cell).")
        return None

    def flags(self, index: _Index):
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if index.column() in self.EDITABLE else base

    def raw(self, row: int, column: int):
        lp = self.rows[row]
        return (
            lp.code,
            lp.pairs,
            lp.uniform_pairs,
            lp.predicted,
            lp.uniform_predicted,
            lp.predicted - lp.uniform_predicted,
            lp.cap,
            lp.weight,
            (lp.extrapolation or {}).get("factor", 1.0),
        )[column]

    def data(self, index: _Index, role=Qt.ItemDataRole.DisplayRole):
        role = int(role)
        row, column = index.row(), index.column()
        error = self.cap_errors.get((self.rows[row].code, column)) if column in self.EDITABLE else None
        if role == _DISPLAY:
            return error[0] if error else self._display[row][column]
        if role == _ALIGN:
            return _RIGHT if column > 0 else None
        if role == _RAW:
            return self.raw(row, column)
        if role == _EDIT:
            if column == self.CAP:
                return str(self.rows[row].cap)
            return f"{self.rows[row].weight:g}" if column == self.WEIGHT else None
        if role == _FOREGROUND:
            if error:
                return QBrush(QColor(self._theme.error))
            if column == 5:
                value = self.raw(row, column)
                if math.isfinite(value) and abs(value) > 1e-9:
                    return QBrush(QColor(self._theme.good if value > 0 else self._theme.error))
            if column == self.MEASURED:
                lp = self.rows[row]
                far = lp.extrapolation is not None and lp.extrapolation["side"] == "above" \
                    and lp.extrapolation["factor"] > EXTRAPOLATION_MARK
                if far or lp.flags:
                    return QBrush(QColor(self._theme.warning_text))
            return None
        if role == _BACKGROUND:
            return QBrush(QColor(self._theme.error_background)) if error else None
        if role == _TOOLTIP:
            if error:
                return error[1]
            if column == self.CAP:
                return "Double-click to change this language's cap (600k and 1.2M are accepted)."
            if column == self.WEIGHT:
                return "Double-click to change this language's weight in the objective (a positive number)."
            if column == self.MEASURED:
                lp = self.rows[row]
                lines = []
                if lp.measured is not None:
                    lines.append(f"Pilots from {lp.measured[0]:,.0f} to {lp.measured[1]:,.0f} pairs; the plan gives "
                                 f"{lp.pairs:,}.")
                if lp.quality:
                    lines.append(f"Fit: {lp.quality}.")
                lines += [f"⚑ {flag}" for flag in lp.flags]
                return "\n".join(lines) or "The uncalibrated prior: never measured."
        return None

    def setData(self, index: _Index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        column = index.column()
        if role != Qt.ItemDataRole.EditRole or column not in self.EDITABLE:
            return False
        code = self.rows[index.row()].code
        text = str(value).strip()
        try:
            parsed = parse_budget(text, what=f"Cap for {code}") if column == self.CAP else parse_weight(text, code)
        except LinguaTuneError as exc:
            self.cap_errors[(code, column)] = (text, str(exc))
            self.dataChanged.emit(index, index)
            self.cap_rejected.emit(code, str(exc))
            return False
        self.cap_errors.pop((code, column), None)
        if column == self.CAP:
            self.cap_edited.emit(code, parsed)
        else:
            self.weight_edited.emit(code, parsed)
        return True
