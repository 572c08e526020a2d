"""The Launch page: hosts (saved profiles, ``~/.ssh/config`` aliases, this machine), host-key trust, environment
check and deploy, the job form built from the current plan, a preview of the exact command or sbatch script, and
Launch. Every SSH or file operation runs on the thread pool; an unknown host key opens a trust dialog showing its
SHA256 fingerprint, and a changed key opens an error that offers no way to connect.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QTextOption
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.errors import LinguaTuneError
from studio.remote.connection import Session, open_session
from studio.remote.errors import HostKeyChangedError, HostProfileError, UnknownHostKeyError
from studio.remote.hosts import LAUNCHERS, HostProfile, HostStore, local_profile
from studio.remote.knownhosts import app_known_hosts_path, user_known_hosts_path
from studio.remote.launch import LaunchRequest, launch, plan_languages, preview_launch
from studio.session.launch import LaunchDraft, trust_offered_key
from studio.remote.registry import JobRegistry
from studio.remote.sshconfig import load_ssh_config
from studio.ui.plots import format_count
from studio.ui.tasks import run_in_background
from studio.ui.theme import current_theme

# (key, label, preset file of studio.remote.jobspec)
PRESETS = (
    ("demo", "Local demo (tiny model, sample data, CPU)", "demo"),
    ("llama-7b-8xa100", "LLaMA-7B on 8×A100 (the paper's setup)", "llama-7b-8xa100"),
    ("custom", "Custom (start from the paper's setup)", "llama-7b-8xa100"),
)
LOCAL_ITEM = "local"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def ssh_config_aliases() -> list[str]:
    """Concrete host aliases of the user's ``~/.ssh/config`` (patterns with * or ? are skipped)."""
    try:
        names = load_ssh_config().get_hostnames()
    except Exception:  # noqa: BLE001 - an unreadable config only means no aliases to offer
        return []
    return sorted(n for n in names if n and not any(c in n for c in "*?!"))


# ------------------------------------------------------------------------------------------------------ dialogs
class HostKeyTrustDialog(QDialog):
    """An unknown host key: shows its type and SHA256 fingerprint; the key is recorded only if the user clicks
    "Trust and connect" (Cancel is the default button)."""

    def __init__(self, error: UnknownHostKeyError, parent=None):
        super().__init__(parent)
        self.error = error
        self.setObjectName("hostKeyTrustDialog")
        self.setWindowTitle("Unknown host key")
        layout = QVBoxLayout(self)
        text = QLabel(
            f"<p><b>{error.host}</b> presented a host key that is in neither your ~/.ssh/known_hosts nor the "
            "studio's.</p><p>Compare this fingerprint with the one the server's administrator gives you "
            "(on the server: <code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code>) before trusting it.</p>"
        )
        text.setWordWrap(True)
        layout.addWidget(text)
        self.fingerprint_label = QLabel(f"{error.key_type}  {error.fingerprint}")
        self.fingerprint_label.setObjectName("fingerprint")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        mono.setBold(True)
        self.fingerprint_label.setFont(mono)
        self.fingerprint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.fingerprint_label)
        self.buttons = QDialogButtonBox()
        self.trust_button = self.buttons.addButton("Trust and connect", QDialogButtonBox.ButtonRole.AcceptRole)
        self.trust_button.setObjectName("trustHostKey")
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setDefault(True)
        self.trust_button.setAutoDefault(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)


class HostKeyChangedDialog(QDialog):
    """A changed host key: both fingerprints and what to do; there is deliberately no way to connect from here."""

    def __init__(self, error: HostKeyChangedError, parent=None):
        super().__init__(parent)
        self.error = error
        self.setObjectName("hostKeyChangedDialog")
        self.setWindowTitle("Host key changed — connection refused")
        layout = QVBoxLayout(self)
        theme = current_theme()
        text = QLabel(
            f"<p style='color:{theme.error}'><b>The host key of {error.host} has changed. The studio refuses to "
            "connect.</b></p><p>Someone may be intercepting the connection, or the server was reinstalled. Ask "
            "its administrator. If the change is expected, remove the old entry from "
            f"<code>{user_known_hosts_path()}</code> or <code>{app_known_hosts_path()}</code> yourself and "
            "connect again.</p>"
        )
        text.setWordWrap(True)
        layout.addWidget(text)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.fingerprints = QLabel(f"recorded: {error.expected_fingerprint}\noffered:  {error.actual_fingerprint}")
        self.fingerprints.setObjectName("fingerprints")
        self.fingerprints.setFont(mono)
        self.fingerprints.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.fingerprints)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)


class HostProfileDialog(QDialog):
    """Add or edit a host profile. No secret is kept in it: keys come from the agent, key files or the keyring, and a
    secret variable for the jobs (HF_TOKEN, ...) typed here goes to the keyring when the profile is saved."""

    def __init__(self, profile: HostProfile | None = None, parent=None, *, existing: Sequence[str] = (),
                 save=None):
        super().__init__(parent)
        self._save_to = save  # called with (profile, {VAR: value}); a LinguaTuneError it raises stays in the dialog
        self.setObjectName("hostProfileDialog")
        self.setWindowTitle("Edit host" if profile else "Add host")
        self.existing = set(existing) - ({profile.name} if profile else set())
        self.profile: HostProfile | None = None
        p = profile or HostProfile(name="gpubox", host="gpubox")
        form = QFormLayout()
        self.name = QLineEdit(p.name)
        self.host = QLineEdit(p.host)
        self.host.setPlaceholderText("ssh alias or host name")
        self.user = QLineEdit(p.user or "")
        self.user.setPlaceholderText("from ~/.ssh/config or your login name")
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setSpecialValueText("default")
        self.port.setValue(p.port or 0)
        self.identity = QLineEdit(p.identity_file or "")
        self.proxy_jump = QLineEdit(p.proxy_jump or "")
        self.proxy_jump.setPlaceholderText("bastion (user@host:port, comma-separated hops)")
        self.work_root = QLineEdit(p.work_root)
        self.python = QLineEdit(p.python)
        self.venv = QLineEdit(p.venv or "")
        self.venv.setPlaceholderText("optional: a venv the studio creates on deploy")
        self.launcher = QComboBox()
        for name in LAUNCHERS:
            self.launcher.addItem(name, name)
        self.launcher.setCurrentIndex(max(self.launcher.findData(p.launcher), 0))
        self.gpus = QSpinBox()
        self.gpus.setRange(0, 64)
        self.gpus.setValue(p.gpus_per_node)
        self.nodes = QSpinBox()
        self.nodes.setRange(1, 1024)
        self.nodes.setValue(p.nodes)
        self.partition = QLineEdit(p.slurm_partition or "")
        self.account = QLineEdit(p.slurm_account or "")
        self.time_limit = QLineEdit(p.slurm_time or "")
        self.time_limit.setPlaceholderText("e.g. 24:00:00")
        self.use_keyring = QCheckBox("read a key passphrase or password from the system keyring")
        self.use_keyring.setChecked(p.use_keyring)
        self._secret_env = list(p.secret_env)
        self.secrets_label = QLabel(("In the keyring: " + ", ".join(p.secret_env)) if p.secret_env
                                    else "No secret variables yet")
        self.secret_name = QLineEdit()
        self.secret_name.setPlaceholderText("variable, e.g. HF_TOKEN")
        self.secret_value = QLineEdit()
        self.secret_value.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_value.setPlaceholderText("value (kept in the system keyring, never in a file)")
        secret_row = QHBoxLayout()
        secret_row.addWidget(self.secret_name, 1)
        secret_row.addWidget(self.secret_value, 2)
        for label, widget in (("Name", self.name), ("Host", self.host), ("User", self.user), ("Port", self.port),
                              ("Identity file", self.identity), ("ProxyJump", self.proxy_jump),
                              ("Work root", self.work_root), ("Python", self.python), ("Venv", self.venv),
                              ("Launcher", self.launcher), ("GPUs per node", self.gpus), ("Nodes", self.nodes),
                              ("SLURM partition", self.partition), ("SLURM account", self.account),
                              ("SLURM time", self.time_limit), ("", self.use_keyring),
                              ("Secret variables", self.secrets_label)):
            form.addRow(label, widget)
        form.addRow("Add a secret", secret_row)
        self._extra = p.slurm_extra
        self._env = p.env
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        self.error_label = QLabel()
        self.error_label.setObjectName("hostProfileError")
        self.error_label.setStyleSheet(f"color: {current_theme().error}")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def build(self) -> HostProfile:
        """The profile the fields describe (raises HostProfileError naming the bad field)."""
        name = self.name.text().strip()
        if name in self.existing:
            raise HostProfileError(f"A host profile named {name!r} already exists.", field="name")
        text = lambda w: w.text().strip() or None  # noqa: E731
        return HostProfile(
            name=name, host=self.host.text().strip(), user=text(self.user), port=self.port.value() or None,
            identity_file=text(self.identity), proxy_jump=text(self.proxy_jump),
            work_root=self.work_root.text().strip() or "~/linguatune-jobs", python=self.python.text().strip()
            or "python3", venv=text(self.venv), launcher=self.launcher.currentData(), gpus_per_node=self.gpus.value(),
            nodes=self.nodes.value(), slurm_partition=text(self.partition), slurm_account=text(self.account),
            slurm_time=text(self.time_limit), slurm_extra=list(self._extra), env=dict(self._env),
            secret_env=list(self._secret_env), use_keyring=self.use_keyring.isChecked(),
        )

    def new_secrets(self) -> dict[str, str]:
        """The secret variable typed in the dialog, if any (raises HostProfileError when half of it is missing)."""
        name, value = self.secret_name.text().strip(), self.secret_value.text()
        if not name and not value:
            return {}
        if not name or not value:
            raise HostProfileError("A secret variable needs both a name and a value.", field="secret_env")
        return {name: value}

    def _save(self) -> None:
        try:
            self.profile = self.build()
            if self._save_to is not None:
                self._save_to(self.profile, self.new_secrets())
        except LinguaTuneError as exc:
            self.error_label.setText(str(exc))
            return
        self.secret_value.clear()
        self.accept()


# --------------------------------------------------------------------------------------------------------- page
class LaunchPage(QWidget):
    """Pick a host, check it, fill the job form from the current plan, preview and launch.

    ``plan_provider`` returns the current plan (a ``studio.planning.plan.Plan``, its dict, or None);
    ``on_launched`` receives the new job's ``JobRecord`` (the main window passes ``MonitorPage.watch`` and switches
    to the Monitor page). ``worker_argv`` replaces the worker command (tests and demos of the page only).
    """

    launched = Signal(object)        # JobRecord
    status_message = Signal(str)

    def __init__(self, plan_provider: Callable[[], Any] | None = None,
                 on_launched: Callable[[Any], None] | None = None, parent=None, *,
                 registry: JobRegistry | None = None, hosts: HostStore | None = None,
                 worker_argv: Sequence[str] | None = None):
        super().__init__(parent)
        self.setObjectName("launchPage")
        self.plan_provider = plan_provider or (lambda: None)
        self.registry = registry or JobRegistry()
        self.hosts = hosts or HostStore()
        self.worker_argv = list(worker_argv) if worker_argv else None
        if on_launched is not None:
            self.launched.connect(on_launched)
        self.dialog: QDialog | None = None  # the trust / changed-key / error dialog last shown
        self.last_error: BaseException | None = None
        self.last_job = None
        self.busy = False
        self._form_filled = False
        self._tasks: list = []
        self._build()
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(150)
        self._preview_timer.timeout.connect(self.update_preview)
        self.reload_hosts()
        self.refresh_from_plan()

    # ----------------------------------------------------------------------------------------------------- layout
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(splitter)

        # hosts -----------------------------------------------------------------------------------------------
        left = QWidget()
        hl = QVBoxLayout(left)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.addWidget(QLabel("<b>Hosts</b>"))
        self.first_run = QLabel(
            "<b>No hosts configured yet.</b> Try the local demo: it trains a tiny model on this machine's CPU "
            "in a few minutes, with live curves and heatmaps on the Monitor page.")
        self.first_run.setObjectName("firstRunHint")
        self.first_run.setWordWrap(True)
        theme = current_theme()
        self.first_run.setStyleSheet(
            f"background: {theme.warning_background}; color: {theme.warning_text}; padding: 6px; border-radius: 4px")
        hl.addWidget(self.first_run)
        self.demo_button = QPushButton("Set up the local demo")
        self.demo_button.setObjectName("setUpDemo")
        self.demo_button.clicked.connect(self.use_local_demo)
        hl.addWidget(self.demo_button)
        self.host_list = QListWidget()
        self.host_list.setObjectName("hostList")
        self.host_list.currentItemChanged.connect(lambda *_: self._host_changed())
        hl.addWidget(self.host_list, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add…")
        self.add_button.clicked.connect(lambda: self.edit_host(new=True))
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(lambda: self.edit_host(new=False))
        row.addWidget(self.add_button)
        row.addWidget(self.edit_button)
        hl.addLayout(row)
        row = QHBoxLayout()
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("testConnection")
        self.test_button.clicked.connect(self.test_connection)
        self.doctor_button = QPushButton("Check environment")
        self.doctor_button.setObjectName("runDoctor")
        self.doctor_button.clicked.connect(self.run_doctor)
        row.addWidget(self.test_button)
        row.addWidget(self.doctor_button)
        hl.addLayout(row)
        row = QHBoxLayout()
        self.deploy_button = QPushButton("Deploy worker")
        self.deploy_button.setObjectName("deployWorker")
        self.deploy_button.clicked.connect(self.run_deploy)
        self.deploy_deps = QCheckBox("with dependencies")
        row.addWidget(self.deploy_button)
        row.addWidget(self.deploy_deps)
        hl.addLayout(row)
        self.host_status = QLabel("")
        self.host_status.setObjectName("hostStatus")
        self.host_status.setWordWrap(True)
        hl.addWidget(self.host_status)
        self.doctor_text = QPlainTextEdit()
        self.doctor_text.setObjectName("doctorReport")
        self.doctor_text.setReadOnly(True)
        self.doctor_text.setPlaceholderText("Environment report (Check environment)")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.doctor_text.setFont(mono)
        self.doctor_text.setMaximumHeight(170)
        hl.addWidget(self.doctor_text)
        splitter.addWidget(left)

        # job form --------------------------------------------------------------------------------------------
        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(QLabel("<b>Job</b>"))
        self.plan_label = QLabel()
        self.plan_label.setObjectName("planSummary")
        self.plan_label.setWordWrap(True)
        ml.addWidget(self.plan_label)
        form = QFormLayout()
        self.job_name = QLineEdit()
        self.job_name.setPlaceholderText("optional name (metadata only)")
        self.preset = QComboBox()
        self.preset.setObjectName("preset")
        for key, label, _file in PRESETS:
            self.preset.addItem(label, key)
        self.preset.currentIndexChanged.connect(lambda _i: self._preset_changed())
        self.model = QLineEdit()
        self.model.setObjectName("model")
        self.epochs = QDoubleSpinBox()
        self.epochs.setRange(0.01, 100)
        self.epochs.setDecimals(2)
        self.lr = QLineEdit()
        self.lr.setObjectName("learningRate")
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.accum = QSpinBox()
        self.accum.setRange(1, 4096)
        self.seq_len = QSpinBox()
        self.seq_len.setRange(16, 131072)
        self.nodes = QSpinBox()
        self.nodes.setRange(1, 1024)
        self.gpus = QSpinBox()
        self.gpus.setRange(0, 64)
        self.gpus.setSpecialValueText("CPU")
        self.launcher = QComboBox()
        self.launcher.setObjectName("launcher")
        for name in LAUNCHERS:
            self.launcher.addItem(name, name)
        self.partition = QLineEdit()
        self.account = QLineEdit()
        self.time_limit = QLineEdit()
        self.time_limit.setPlaceholderText("e.g. 24:00:00")
        self.english = QLineEdit()
        self.english.setPlaceholderText("English instructions (file or hub dataset)")
        for label, widget in (("Name", self.job_name), ("Preset", self.preset), ("Model", self.model),
                              ("Epochs", self.epochs), ("Learning rate", self.lr),
                              ("Batch per device", self.batch), ("Gradient accumulation", self.accum),
                              ("Sequence length", self.seq_len), ("Nodes", self.nodes),
                              ("GPUs per node", self.gpus), ("Launcher", self.launcher),
                              ("SLURM partition", self.partition), ("SLURM account", self.account),
                              ("SLURM time", self.time_limit), ("English instructions", self.english)):
            form.addRow(label, widget)
        self._slurm_rows = (self.partition, self.account, self.time_limit)
        self.form = form
        ml.addLayout(form)
        ml.addWidget(QLabel("Data sources per language (paths on the host, or hub datasets):"))
        self.sources = QTableWidget(0, 4)
        self.sources.setObjectName("dataSources")
        self.sources.setHorizontalHeaderLabels(["Language", "Pairs", "Parallel pairs", "Translated instructions"])
        self.sources.verticalHeader().setVisible(False)
        self.sources.setWordWrap(False)
        header = self.sources.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        ml.addWidget(self.sources, 1)
        for widget in (self.model, self.lr, self.partition, self.account, self.time_limit, self.english, self.job_name):
            widget.textEdited.connect(lambda _t: self._schedule_preview())
        for widget in (self.epochs, self.batch, self.accum, self.seq_len, self.nodes, self.gpus):
            widget.valueChanged.connect(lambda _v: self._schedule_preview())
        self.launcher.currentIndexChanged.connect(lambda _i: self._launcher_changed())
        self.sources.itemChanged.connect(lambda _item: self._schedule_preview())
        splitter.addWidget(middle)

        # preview + launch ------------------------------------------------------------------------------------
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(QLabel("<b>Preview</b> — exactly what will run"))
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("launchPreview")
        self.preview.setReadOnly(True)
        self.preview.setFont(mono)
        self.preview.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        rl.addWidget(self.preview, 1)
        self.form_error = QLabel()
        self.form_error.setObjectName("formError")
        self.form_error.setWordWrap(True)
        self.form_error.setStyleSheet(f"color: {theme.error}")
        rl.addWidget(self.form_error)
        self.launch_button = QPushButton("Launch")
        self.launch_button.setObjectName("launchJob")
        self.launch_button.setMinimumHeight(34)
        self.launch_button.clicked.connect(self.launch_job)
        rl.addWidget(self.launch_button)
        splitter.addWidget(right)
        splitter.setSizes([330, 520, 550])

    # ------------------------------------------------------------------------------------------------------ hosts
    def reload_hosts(self, select: str | None = None) -> None:
        """List this machine, the saved profiles and the ~/.ssh/config aliases not saved yet."""
        current = select or self.host_key()
        try:
            saved = self.hosts.load()
        except LinguaTuneError as exc:
            saved = {}
            self.host_status.setText(str(exc))
        self.host_list.blockSignals(True)
        self.host_list.clear()
        if LOCAL_ITEM not in saved:
            item = QListWidgetItem("local — this machine (no SSH)")
            item.setData(Qt.ItemDataRole.UserRole, ("local", LOCAL_ITEM))
            self.host_list.addItem(item)
        for name, profile in sorted(saved.items()):
            where = "this machine" if profile.launcher == "local" else profile.host
            item = QListWidgetItem(f"{name} — {where} ({profile.launcher})")
            item.setData(Qt.ItemDataRole.UserRole, ("saved", name))
            self.host_list.addItem(item)
        known = {p.host for p in saved.values()} | set(saved)
        aliases = [a for a in ssh_config_aliases() if a not in known]
        for alias in aliases:
            item = QListWidgetItem(f"{alias} — from ~/.ssh/config")
            item.setData(Qt.ItemDataRole.UserRole, ("alias", alias))
            self.host_list.addItem(item)
        self.host_list.blockSignals(False)
        no_hosts = not saved and not aliases
        self.first_run.setVisible(no_hosts)
        self.demo_button.setVisible(no_hosts)
        index = 0
        for row in range(self.host_list.count()):
            if self.host_list.item(row).data(Qt.ItemDataRole.UserRole) == current:
                index = row
        self.host_list.setCurrentRow(index)
        self._host_changed()

    def host_key(self) -> tuple[str, str] | None:
        item = self.host_list.currentItem() if hasattr(self, "host_list") else None
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def select_host(self, name: str) -> None:
        for row in range(self.host_list.count()):
            kind, key = self.host_list.item(row).data(Qt.ItemDataRole.UserRole)
            if key == name:
                self.host_list.setCurrentRow(row)
                return
        raise HostProfileError(f"No host named {name!r} in the list.", field=name)

    def selected_profile(self) -> HostProfile:
        """The profile of the selected host (an alias becomes a direct-launcher profile using it)."""
        key = self.host_key()
        if key is None or key[0] == "local":
            return local_profile()
        kind, name = key
        if kind == "saved":
            return self.hosts.get(name)
        return HostProfile(name=_SAFE_NAME.sub("-", name).strip("-.") or "host", host=name)

    def _host_changed(self) -> None:
        try:
            profile = self.selected_profile()
        except LinguaTuneError as exc:
            self.host_status.setText(str(exc))
            return
        self.host_status.setText("")
        self.doctor_text.clear()
        self.launcher.blockSignals(True)
        self.launcher.setCurrentIndex(max(self.launcher.findData(profile.launcher), 0))
        self.launcher.blockSignals(False)
        self.nodes.setValue(profile.nodes)
        self.gpus.setValue(profile.gpus_per_node)
        self.partition.setText(profile.slurm_partition or "")
        self.account.setText(profile.slurm_account or "")
        self.time_limit.setText(profile.slurm_time or "")
        is_local = profile.launcher == "local"
        self.test_button.setEnabled(not is_local)
        self._launcher_changed()

    def edit_host(self, new: bool = False) -> HostProfileDialog:
        """Open the profile dialog (an alias or this machine is edited as a new profile); non-blocking."""
        key = self.host_key()
        base = None
        if not new and key is not None:
            base = self.selected_profile()
        saved = self.hosts.load()
        editing_saved = base is not None and key is not None and key[0] == "saved"
        replaced = base.name if editing_saved else None
        dialog = HostProfileDialog(base, self, existing=list(saved) if not editing_saved else
                                   [n for n in saved if n != base.name],
                                   save=lambda profile, new_secrets: self._host_saved(profile, replaced, new_secrets))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._show_dialog(dialog)
        dialog.open()
        return dialog

    def _host_saved(self, profile: HostProfile, replaced: str | None, new_secrets: dict[str, str]) -> None:
        """Save the dialog's profile (a rename moves its secrets) and store a secret variable typed there."""
        self.hosts.add(profile, replace=True, renamed_from=replaced)
        for name, value in new_secrets.items():
            self.hosts.set_secret(profile.name, name, value)
        self.reload_hosts(select=("saved", profile.name))
        self.status_message.emit(f"Saved host {profile.name}")

    def use_local_demo(self) -> None:
        """The first-run path: this machine and the demo preset."""
        for row in range(self.host_list.count()):
            if self.host_list.item(row).data(Qt.ItemDataRole.UserRole)[1] == LOCAL_ITEM:
                self.host_list.setCurrentRow(row)
                break
        self.preset.setCurrentIndex(self.preset.findData("demo"))
        self.update_preview()

    # ------------------------------------------------------------------------------------------ remote actions
    def with_session(self, what: str, op: Callable[[Session], Any], on_success: Callable[[Any], None],
                     profile: HostProfile | None = None):
        """Run ``op(session)`` on the thread pool with a session on the profile's host; an unknown host key asks
        for trust (and runs again after it), a changed key is refused. Returns the background task."""
        try:
            profile = profile or self.selected_profile()
        except LinguaTuneError as exc:
            self._show_error(what, exc)
            return None

        def run():
            with open_session(profile) as session:
                return op(session)

        def failed(exc: BaseException) -> None:
            self._set_busy(False)
            if isinstance(exc, UnknownHostKeyError):
                self._ask_trust(exc, lambda: self.with_session(what, op, on_success, profile))
            elif isinstance(exc, HostKeyChangedError):
                self.last_error = exc
                self.host_status.setText(f"Refused: the host key of {exc.host} has changed.")
                dialog = HostKeyChangedDialog(exc, self)
                dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
                self._show_dialog(dialog)
                dialog.open()
            else:
                self._show_error(what, exc)

        def succeeded(result: Any) -> None:
            self._set_busy(False)
            on_success(result)

        self._set_busy(True)
        self.host_status.setText(f"{what} on {profile.name}…")
        task = run_in_background(run, succeeded, failed, parent=self)
        self._tasks = [t for t in self._tasks if not t.done] + [task]
        return task

    def _ask_trust(self, error: UnknownHostKeyError, retry: Callable[[], Any]) -> None:
        self.last_error = error
        self.host_status.setText(f"Unknown host key {error.fingerprint}: confirm to trust it.")
        dialog = HostKeyTrustDialog(error, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def accepted() -> None:
            trust_offered_key(error)
            self.status_message.emit(f"Trusted {error.host} {error.fingerprint}")
            self.retry_task = retry()

        dialog.accepted.connect(accepted)
        dialog.rejected.connect(lambda: self.host_status.setText(f"Not trusted: {error.host} was not contacted."))
        self._show_dialog(dialog)
        dialog.open()

    def _show_dialog(self, dialog: QDialog) -> None:
        """Remember the open dialog (None again once it closes; it deletes itself)."""
        self.dialog = dialog
        dialog.finished.connect(lambda _result, d=dialog: self._dialog_closed(d))

    def _dialog_closed(self, dialog: QDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def _show_error(self, what: str, exc: BaseException) -> None:
        self.last_error = exc
        self.host_status.setText(f"{what} failed: {exc}")
        self.status_message.emit(f"{what} failed: {exc}")

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for button in (self.test_button, self.doctor_button, self.deploy_button, self.launch_button):
            button.setEnabled(not busy)
        if not busy:
            self._host_changed_buttons()

    def _host_changed_buttons(self) -> None:
        try:
            self.test_button.setEnabled(self.selected_profile().launcher != "local")
        except LinguaTuneError:
            pass

    def test_connection(self):
        return self.with_session("Connecting", lambda s: s.run_checked("echo ok", "a test command").stdout.strip(),
                                 lambda out: self.host_status.setText(f"Connected: the host answered {out!r}."))

    def run_doctor(self):
        from studio.remote.doctor import doctor

        profile = self._safe_profile()
        if profile is None:
            return None

        def shown(report) -> None:
            self.doctor_report = report
            self.doctor_text.setPlainText("\n".join(report.lines()))
            self.host_status.setText("Environment ready." if report.ok else "Environment check found problems.")

        return self.with_session("Checking the environment", lambda s: doctor(profile, s), shown, profile)

    def run_deploy(self):
        from studio.remote.doctor import deploy

        profile = self._safe_profile()
        if profile is None:
            return None
        with_deps = self.deploy_deps.isChecked()
        return self.with_session(
            "Deploying the worker", lambda s: deploy(profile, s, with_deps=with_deps),
            lambda r: self.host_status.setText(f"Installed worker {r.version} into {r.python}"
                                               + (" (new venv)" if r.created_venv else "")), profile)

    def _safe_profile(self) -> HostProfile | None:
        try:
            return self.selected_profile()
        except LinguaTuneError as exc:
            self._show_error("Reading the host", exc)
            return None

    # ------------------------------------------------------------------------------------------------- job form
    def current_plan(self) -> dict[str, Any] | None:
        plan = self.plan_provider()
        if plan is None:
            return None
        return plan.to_dict() if hasattr(plan, "to_dict") else dict(plan)

    def refresh_from_plan(self) -> None:
        """Rebuild the form from the current plan (call when the Plan page's plan changes)."""
        plan = self.current_plan()
        if plan:
            langs = plan_languages(plan)
            total = sum(int(r.get("pairs", 0)) for r in plan.get("languages", []))
            self.plan_label.setText(f"Plan: {len(langs)} languages ({', '.join(langs)}), {format_count(total)} "
                                    "parallel pairs.")
        else:
            self.plan_label.setText("No plan yet: the demo preset uses its own six languages.")
        if not self._form_filled:
            self._preset_changed()
            return
        # Keep what the user typed: only the languages, their pairs and their default sources follow the plan.
        english = self.english.text()
        typed = {self.sources.item(r, 0).text(): (self.sources.item(r, 2).text(), self.sources.item(r, 3).text())
                 for r in range(self.sources.rowCount())}
        self._preset_changed(train_fields=False)
        if english.strip():
            self.english.setText(english)
        self.sources.blockSignals(True)
        for row in range(self.sources.rowCount()):
            pairs_src, translated_src = typed.get(self.sources.item(row, 0).text(), ("", ""))
            if pairs_src:
                self.sources.item(row, 2).setText(pairs_src)
            if translated_src:
                self.sources.item(row, 3).setText(translated_src)
        self.sources.blockSignals(False)
        self.update_preview()

    def _preset_changed(self, *, train_fields: bool = True) -> None:
        """Fill the form with the preset's values (for the plan's languages); ``train_fields`` False leaves the
        model and hyper-parameters as they are."""
        self._form_filled = True
        try:
            spec = self._spec(form=False)
        except LinguaTuneError as exc:
            spec = None
            self.form_error.setText(str(exc))
        if spec is None:
            from studio.remote.jobspec import load_preset_spec

            spec = load_preset_spec(self._preset_file())
        self._fill_sources(spec)
        if train_fields:
            train = spec.get("train", {})
            model = spec.get("model", {})
            self.model.setText(model.get("name_or_path") or "tiny Llama (built from the preset's config)")
            self.model.setEnabled(self.preset.currentData() != "demo")
            self.epochs.setValue(float(train.get("epochs", 3)))
            self.lr.setText(f"{float(train.get('learning_rate', 2e-5)):g}")
            self.batch.setValue(int(train.get("per_device_batch_size", 4)))
            self.accum.setValue(int(train.get("gradient_accumulation_steps", 1)))
            self.seq_len.setValue(int(train.get("max_length", 512)))
        self.update_preview()

    def _fill_sources(self, spec: dict[str, Any]) -> None:
        """The English instruction source and the per-language table, from a spec (or its preset)."""
        data = spec.get("data", {}) or {}
        english = data.get("english_instructions") or {}
        self.english.setText(english.get("path") or english.get("hub") or "")
        plan = self.current_plan()
        allocation = spec.get("allocation") or {
            str(r.get("code")): r.get("pairs") for r in (plan or {}).get("languages", []) if isinstance(r, dict)}
        rows = list(allocation)
        self.sources.blockSignals(True)
        self.sources.setRowCount(len(rows))
        for row, code in enumerate(rows):
            pairs = (data.get("pairs") or {}).get(code) or {}
            translated = (data.get("translated_instructions") or {}).get(code) or {}
            count = allocation.get(code)
            values = (code, format_count(count) if isinstance(count, (int, float)) else "",
                      pairs.get("path") or pairs.get("hub") or "", translated.get("path") or translated.get("hub") or "")
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column < 2:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.sources.setItem(row, column, item)
        self.sources.blockSignals(False)

    def _preset_file(self) -> str:
        key = self.preset.currentData()
        return next(file for k, _label, file in PRESETS if k == key)

    def _launcher_changed(self) -> None:
        slurm = self.launcher.currentData() == "slurm"
        for widget in self._slurm_rows:
            widget.setEnabled(slurm)
        self.nodes.setEnabled(slurm)
        self._schedule_preview()

    def _schedule_preview(self) -> None:
        self._preview_timer.start()

    def launch_profile(self) -> HostProfile:
        """The selected host's profile with the form's launcher, nodes, GPUs and SLURM fields."""
        base = self.selected_profile()
        text = lambda w: w.text().strip() or None  # noqa: E731
        profile = dataclasses.replace(
            base, launcher=self.launcher.currentData(), nodes=self.nodes.value(), gpus_per_node=self.gpus.value(),
            slurm_partition=text(self.partition), slurm_account=text(self.account), slurm_time=text(self.time_limit),
        )
        if profile.launcher == "local" and base.launcher != "local":
            raise HostProfileError(f"{base.name} is reached over SSH; pick 'local' as the host to run here.",
                                   field="launcher")
        if profile.launcher != "local" and base.launcher == "local":
            raise HostProfileError("This machine runs jobs with the local launcher; pick a remote host for "
                                   f"{profile.launcher}.", field="launcher")
        profile.validate()
        return profile

    def _form_overrides(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(dotted overrides, data sources) from the form."""
        try:
            lr = float(self.lr.text())
        except ValueError:
            raise LinguaTuneError(f"The learning rate {self.lr.text()!r} is not a number.", field="learning_rate") \
                from None
        overrides: dict[str, Any] = {
            "train.epochs": float(self.epochs.value()), "train.learning_rate": lr,
            "train.per_device_batch_size": self.batch.value(),
            "train.gradient_accumulation_steps": self.accum.value(), "train.max_length": self.seq_len.value(),
        }
        if self.preset.currentData() != "demo":
            model = self.model.text().strip()
            if not model:
                raise LinguaTuneError("Name a model (a hub name or a path on the host).", field="model")
            overrides["model.name_or_path"] = model
        data: dict[str, Any] = {}
        if self.english.text().strip():
            data["english_instructions"] = _source(self.english.text().strip())
        pairs, translated = {}, {}
        for row in range(self.sources.rowCount()):
            code = self.sources.item(row, 0).text()
            if self.sources.item(row, 2) and self.sources.item(row, 2).text().strip():
                pairs[code] = _source(self.sources.item(row, 2).text().strip())
            if self.sources.item(row, 3) and self.sources.item(row, 3).text().strip():
                translated[code] = _source(self.sources.item(row, 3).text().strip())
        if pairs:
            data["pairs"] = pairs
        if translated:
            data["translated_instructions"] = translated
        return overrides, data

    def draft(self, *, form: bool = True, profile: HostProfile | None = None) -> LaunchDraft:
        """The form as a launch draft (the same builder the CLI uses: ``studio.session.launch``)."""
        overrides, data = self._form_overrides() if form else ({}, {})
        return LaunchDraft(profile, self.current_plan(), preset=self._preset_file(),
                           name=self.job_name.text().strip(), overrides=overrides, data=data or None,
                           worker_argv=self.worker_argv)

    def _spec(self, *, form: bool = True, profile: HostProfile | None = None) -> dict[str, Any]:
        """The job.json content (without a launcher section when no profile is given)."""
        return self.draft(form=form, profile=profile).spec()

    def launch_request(self) -> LaunchRequest:
        """Everything Launch would do, from the form (raises LinguaTuneError naming what is wrong)."""
        return self.draft(profile=self.launch_profile()).request()

    def update_preview(self) -> None:
        """Show the exact start command and script, or the one sentence saying what is wrong with the form."""
        try:
            request = self.launch_request()
            plan = preview_launch(request)
        except LinguaTuneError as exc:
            self.form_error.setText(str(exc))
            self.preview.setPlainText("")
            self.launch_button.setEnabled(False)
            return
        self.form_error.setText("")
        self.launch_button.setEnabled(not self.busy)
        where = "this machine" if plan.launcher == "local" else request.profile.name
        text = (f"# job directory on {where} (created with mode 0700):\n#   {plan.job_dir}\n"
                f"# start:\n{plan.start_command}\n\n# {plan.script_name}:\n{plan.script}")
        self.preview.setPlainText(text)
        self.preview_plan = plan

    def launch_job(self):
        """Launch from the form (off the GUI thread); ``launched`` fires with the job's registry record."""
        try:
            request = self.launch_request()
        except LinguaTuneError as exc:
            self.form_error.setText(str(exc))
            return None
        registry = self.registry
        key = self.host_key()
        if key is not None and key[0] == "alias" and request.profile.name not in self.hosts.load():
            # Saved so the Monitor page (and the CLI) can follow, cancel and fetch the job by its host name later.
            self.hosts.add(request.profile)
            self.status_message.emit(f"Saved host {request.profile.name} (from ~/.ssh/config)")

        def op(session: Session):
            return launch(request, session, registry=registry)

        def done(job) -> None:
            record = registry.get(job.job_id)
            self.last_job = record
            self.host_status.setText(f"Launched {job.job_id} on {request.profile.name}.")
            self.status_message.emit(f"Launched {job.job_id}")
            self.update_preview()
            self.launched.emit(record)

        return self.with_session("Launching", op, done, request.profile)


def _source(text: str) -> dict[str, Any]:
    """A data source from the text of a cell: ``hub:NAME[:CONFIG[:SPLIT]]`` or a file path."""
    if text.startswith("hub:"):
        parts = text[4:].split(":")
        source: dict[str, Any] = {"hub": parts[0]}
        if len(parts) > 1 and parts[1]:
            source["config"] = parts[1]
        if len(parts) > 2 and parts[2]:
            source["split"] = parts[2]
        return source
    return {"path": text}
