"""Pages that this build does not have yet: each says plainly what will be there."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class NotYetPage(QWidget):
    """An honest placeholder: the page's name, that it is not available in this build, and what it will do."""

    def __init__(self, title: str, description: str, parent=None):
        super().__init__(parent)
        self.setObjectName(f"{title.lower()}Page")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        heading = QLabel(f"<h2>{title}</h2>")
        heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(heading)
        self.message = QLabel(f"<p><b>Not yet available in this build.</b></p><p>{description}</p>")
        self.message.setObjectName("notYetMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setMaximumWidth(640)
        layout.addWidget(self.message, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)


def launch_page() -> NotYetPage:
    return NotYetPage(
        "Launch",
        "Here you will pick a host (from ~/.ssh/config or saved profiles, with host keys verified), check its "
        "environment, build a training job from the current plan, preview the exact command or sbatch script, "
        "and launch it directly or through SLURM.",
    )


def monitor_page() -> NotYetPage:
    return NotYetPage(
        "Monitor",
        "Here you will follow your jobs live: training loss, learning rate and throughput, COMET, chrF and "
        "spBLEU per language, and the layer × language alignment heatmap, with history restored when you "
        "reopen the studio.",
    )
