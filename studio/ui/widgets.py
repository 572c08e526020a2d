"""Small widgets the pages share."""

from __future__ import annotations

import math

from PySide6.QtCore import QSize
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import QSizePolicy, QWidget


class RichTextLine(QWidget):
    """A rich-text line (or a few) whose text changes often, e.g. on every keystroke.

    A QLabel asks its window to lay out again whenever its text changes, which costs extra full-window repaints;
    this widget only repaints itself, and asks for a new layout only when the height its text needs changes.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self._html = ""
        self._document = QTextDocument(self)
        self._document.setDocumentMargin(0)
        self._height = self.fontMetrics().height()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def text(self) -> str:
        return self._html

    def setText(self, html: str) -> None:
        if html == self._html:
            return
        self._html = html
        self._document.setDefaultFont(self.font())
        self._document.setHtml(html)
        self._fit_height()
        self.update()

    def plain_text(self) -> str:
        return self._document.toPlainText()

    def _fit_height(self) -> None:
        self._document.setTextWidth(max(self.width(), 50))
        height = max(int(math.ceil(self._document.size().height())), self.fontMetrics().height())
        if height != self._height:
            self._height = height
            self.updateGeometry()

    def sizeHint(self) -> QSize:
        return QSize(400, self._height)

    def minimumSizeHint(self) -> QSize:
        return QSize(50, self._height)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette.setColor(QPalette.ColorRole.Text, self.palette().color(QPalette.ColorRole.WindowText))
        self._document.documentLayout().draw(painter, context)
        painter.end()
