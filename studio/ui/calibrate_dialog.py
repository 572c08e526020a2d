"""The Plan page's **Calibrate…** dialog: which languages and pilot sizes to measure, on which host and preset,
how many at a time, and which metric the laws fit; or a stored sweep to resume. The sweep itself runs in
``studio.session.calibrate`` (the same code as `linguatune pilot`)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QSpinBox,
                               QVBoxLayout)

from studio.errors import LinguaTuneError
from studio.remote.jobspec import PRESETS
from studio.session.calibrate import DEMO_SIZES, PILOT_PRESET, design_sweep, parse_sizes

METRICS = (("chrf", "chrF (the demo world; any run)"), ("comet", "COMET x 100 (a real COMET checkpoint)"),
           ("spbleu", "spBLEU"))


@dataclass
class CalibrationRequest:
    """What the dialog asks for: a new sweep (languages x sizes) or ``resume`` a stored one."""

    languages: list[str]
    sizes: list[int]
    host: str
    preset: str
    concurrency: int
    metric: str
    resume: str | None = None


class CalibrateDialog(QDialog):
    def __init__(self, languages, *, hosts=(), sweeps=(), catalogue=None, parent=None):
        super().__init__(parent)
        self.setObjectName("calibrateDialog")
        self.setWindowTitle("Calibrate the laws with pilot runs")
        self.catalogue = catalogue
        layout = QVBoxLayout(self)
        intro = QLabel("Runs a pilot job for every language at every size (each language alone, nested subsets), "
                       "then fits each law to what the pilots measure. Points appear on the curves as pilots "
                       "finish; the sweep keeps running if you close the studio.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.resume_combo = QComboBox()
        self.resume_combo.setObjectName("resumeCombo")
        self.resume_combo.addItem("A new sweep", None)
        for sweep_id, summary in sweeps:
            self.resume_combo.addItem(f"Resume {sweep_id} ({summary})", sweep_id)
        form.addRow("Sweep:", self.resume_combo)
        self.languages_edit = QLineEdit(",".join(languages))
        self.languages_edit.setObjectName("calibrateLanguages")
        self.languages_edit.setPlaceholderText("e.g. demo_lex,demo_sov,demo_kana or ar,hi,tr")
        form.addRow("Languages:", self.languages_edit)
        self.sizes_edit = QLineEdit(",".join(str(s) for s in DEMO_SIZES))
        self.sizes_edit.setObjectName("calibrateSizes")
        self.sizes_edit.setToolTip("Pairs per pilot, e.g. 1k,4k,16k (three sizes or more give each language its own "
                                   "law)")
        form.addRow("Pilot sizes:", self.sizes_edit)
        self.host_combo = QComboBox()
        self.host_combo.setObjectName("calibrateHost")
        for name in ["local", *[h for h in hosts if h != "local"]]:
            self.host_combo.addItem(name, name)
        form.addRow("Host:", self.host_combo)
        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("calibratePreset")
        for name in PRESETS:
            self.preset_combo.addItem(name, name)
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(PILOT_PRESET))
        form.addRow("Preset:", self.preset_combo)
        self.concurrency_spin = QSpinBox()
        self.concurrency_spin.setRange(1, 64)
        self.concurrency_spin.setValue(2)
        form.addRow("At once:", self.concurrency_spin)
        self.metric_combo = QComboBox()
        for key, label in METRICS:
            self.metric_combo.addItem(label, key)
        form.addRow("Metric:", self.metric_combo)
        layout.addLayout(form)
        self.error_label = QLabel()
        self.error_label.setObjectName("calibrateError")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.request: CalibrationRequest | None = None

    def build_request(self) -> CalibrationRequest:
        """The request the fields describe; ``LinguaTuneError`` (one sentence) for a bad field."""
        resume = self.resume_combo.currentData()
        host = self.host_combo.currentData()
        if resume:
            return CalibrationRequest([], [], host, self.preset_combo.currentData(), self.concurrency_spin.value(),
                                      self.metric_combo.currentData(), resume)
        codes = [c.strip() for c in self.languages_edit.text().split(",") if c.strip()]
        if self.catalogue is not None:
            codes = [language.code for language in self.catalogue.resolve(codes)]
        sizes = parse_sizes(self.sizes_edit.text())
        design_sweep(codes, sizes)  # validates: at least one language
        return CalibrationRequest(codes, sizes, host, self.preset_combo.currentData(), self.concurrency_spin.value(),
                                  self.metric_combo.currentData())

    def _accept(self) -> None:
        try:
            self.request = self.build_request()
        except LinguaTuneError as exc:
            self.error_label.setText(str(exc))
            self.error_label.setVisible(True)
            return
        self.accept()
