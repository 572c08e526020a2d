"""The Launch page with real widgets: first run offers the local demo; launching from the page on the local
launcher makes loss, COMET and heatmap appear on the Monitor page; host-key trust against the real test sshd; a
changed key is refused with no way through; host profiles added through the dialog; form errors in one sentence."""

from __future__ import annotations

import subprocess

import paramiko
import pytest
from PySide6.QtWidgets import QDialogButtonBox

from studio.remote.hosts import HostStore
from studio.remote.knownhosts import app_known_hosts_path, fingerprint
from tests.ui_monitor.demo_event_writer import writer_argv

pytestmark = [pytest.mark.gui]


@pytest.fixture
def make_launch(qtbot, registry):
    from studio.ui.launch_page import LaunchPage

    def make(plan=None, **kwargs):
        page = LaunchPage(lambda: plan, registry=registry, **kwargs)
        qtbot.addWidget(page)
        page.resize(1400, 900)
        page.show()
        return page

    return make


def test_first_run_offers_the_local_demo(make_launch):
    page = make_launch()
    assert page.first_run.isVisible() and page.demo_button.isVisible()
    page.preset.setCurrentIndex(page.preset.findData("llama-7b-8xa100"))
    page.demo_button.click()
    assert page.host_key() == ("local", "local")
    assert page.preset.currentData() == "demo"
    assert page.form_error.text() == ""
    preview = page.preview.toPlainText()
    assert "-m worker.cli run" in preview and "--nproc-per-node 2" in preview
    assert page.launch_button.isEnabled()
    assert [page.sources.item(r, 0).text() for r in range(page.sources.rowCount())] == \
        ["ar", "el", "hi", "tr", "vi", "zh"]


@pytest.mark.slow
def test_launch_from_the_page_shows_live_curves(qtbot, make_launch, make_monitor, local_host, work_root):
    plan = {"schema": "linguatune.plan/1", "languages": [{"code": "ar", "pairs": 3000}, {"code": "hi", "pairs": 1000}]}
    monitor = make_monitor()
    page = make_launch(plan, on_launched=monitor.watch,
                       worker_argv=writer_argv(60, 0.02, "--langs", "ar,hi", "--eval-every", "15"))
    page.select_host("here")
    page.preset.setCurrentIndex(page.preset.findData("demo"))
    page.job_name.setText("from the page")
    page.update_preview()
    assert page.form_error.text() == ""
    assert "demo_event_writer.py" in page.preview.toPlainText()
    task = page.launch_job()
    qtbot.waitUntil(lambda: task.done, timeout=20_000)
    assert task.error is None, task.error
    record = page.last_job
    assert record.name == "from the page" and record.host == "here"
    spec = (work_root / record.id / "job.json").read_text()
    assert '"allocation"' in spec and '"ar"' in spec and '"hi"' in spec
    assert monitor.selected_id == record.id
    view = monitor.views[record.id]
    # Points appear while the job runs, not only at the end.
    qtbot.waitUntil(lambda: len(monitor.loss_plot.curve.getData()[0] if monitor.loss_plot.curve.getData()[0]
                                is not None else []) > 0, timeout=15_000)
    qtbot.waitUntil(lambda: view.record.state == "finished", timeout=30_000)
    qtbot.waitUntil(lambda: not view.dirty, timeout=5_000)
    assert len(monitor.loss_plot.curve.getData()[0]) == 60
    assert set(monitor.eval_plot.curves) == {"ar", "hi"} and monitor.eval_plot.point_count() == 8
    assert monitor.heatmap.current() is not None and monitor.heatmap.image.image.shape == (2, 4)


def test_form_errors_are_one_sentence_and_block_launch(make_launch):
    plan = {"schema": "linguatune.plan/1", "languages": [{"code": "de", "pairs": 1000}]}
    page = make_launch(plan)
    page.preset.setCurrentIndex(page.preset.findData("demo"))
    page.update_preview()
    assert "sample data only for" in page.form_error.text() and "de" in page.form_error.text()
    assert not page.launch_button.isEnabled()
    page.preset.setCurrentIndex(page.preset.findData("custom"))
    page.lr.setText("fast")
    page.update_preview()
    assert page.form_error.text() == "The learning rate 'fast' is not a number."
    assert not page.launch_button.isEnabled()


def test_add_host_through_the_dialog(qtbot, make_launch, isolated_ssh_files):
    (isolated_ssh_files / "config").write_text("Host gpubox\n  HostName 10.0.0.5\n  User me\n")
    page = make_launch()
    labels = [page.host_list.item(r).text() for r in range(page.host_list.count())]
    assert any(label.startswith("gpubox — from ~/.ssh/config") for label in labels)
    assert not page.first_run.isVisible()
    page.select_host("gpubox")
    dialog = page.edit_host()
    assert dialog.host.text() == "gpubox"
    dialog.port.setValue(0)
    dialog.launcher.setCurrentIndex(dialog.launcher.findData("slurm"))
    dialog.partition.setText("a100")
    dialog.name.setText("bad name!")
    dialog._save()
    assert dialog.isVisible() and "bad name!" in dialog.error_label.text()
    dialog.name.setText("gpubox")
    dialog._save()
    saved = HostStore().get("gpubox")
    assert saved.launcher == "slurm" and saved.slurm_partition == "a100" and saved.host == "gpubox"
    assert page.host_key() == ("saved", "gpubox")
    assert page.launcher.currentData() == "slurm" and page.partition.text() == "a100"


@pytest.mark.ssh
def test_unknown_host_key_trust_flow(qtbot, make_launch, sshd, ssh_host):
    from studio.ui.launch_page import HostKeyTrustDialog

    expected = fingerprint(sshd.public_host_key())
    page = make_launch()
    page.select_host("testbox")
    task = page.test_connection()
    qtbot.waitUntil(lambda: isinstance(page.dialog, HostKeyTrustDialog), timeout=15_000)
    dialog = page.dialog
    assert expected in dialog.fingerprint_label.text()
    assert dialog.cancel_button.isDefault() and not dialog.trust_button.isDefault()
    dialog.cancel_button.click()  # declining records nothing
    assert task.done and not app_known_hosts_path().exists()
    assert "Not trusted" in page.host_status.text()

    page.test_connection()
    qtbot.waitUntil(lambda: isinstance(page.dialog, HostKeyTrustDialog) and page.dialog.isVisible(), timeout=15_000)
    page.dialog.trust_button.click()
    assert expected.split(":")[1] not in app_known_hosts_path().read_text()  # stored as the key, not the hash
    assert sshd.public_host_key().get_base64() in app_known_hosts_path().read_text()
    qtbot.waitUntil(lambda: page.host_status.text().startswith("Connected"), timeout=15_000)
    assert "'ok'" in page.host_status.text()


@pytest.mark.ssh
def test_changed_host_key_is_refused_without_a_way_through(qtbot, make_launch, sshd, ssh_host, isolated_ssh_files,
                                                           tmp_path, work_root):
    from studio.ui.launch_page import HostKeyChangedDialog

    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, data = other.with_suffix(".pub").read_text().split()[:2]
    (isolated_ssh_files / "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} {kind} {data}\n")
    recorded = fingerprint(paramiko.Ed25519Key(filename=str(other)))
    page = make_launch()
    page.select_host("testbox")
    page.preset.setCurrentIndex(page.preset.findData("demo"))
    page.update_preview()
    page.launch_job()
    qtbot.waitUntil(lambda: isinstance(page.dialog, HostKeyChangedDialog), timeout=15_000)
    dialog = page.dialog
    text = dialog.fingerprints.text()
    assert recorded in text and fingerprint(sshd.public_host_key()) in text
    roles = {dialog.buttons.buttonRole(b) for b in dialog.buttons.buttons()}
    assert roles == {QDialogButtonBox.ButtonRole.RejectRole}  # only Close: nothing accepts the new key
    dialog.buttons.buttons()[0].click()
    assert not app_known_hosts_path().exists()
    assert not work_root.exists() or not any(work_root.iterdir())  # nothing was launched
    assert "changed" in page.host_status.text()


@pytest.mark.ssh
@pytest.mark.slow
def test_doctor_over_ssh(qtbot, make_launch, trusted, ssh_host):
    page = make_launch()
    page.select_host("testbox")
    task = page.run_doctor()
    qtbot.waitUntil(lambda: task.done, timeout=90_000)
    assert task.error is None, task.error
    report = page.doctor_text.toPlainText()
    assert "python" in report and "worker" in report and "disk" in report


def test_a_new_plan_keeps_what_the_user_typed(make_launch):
    plans = [{"schema": "linguatune.plan/1", "languages": [{"code": "ar", "pairs": 5000}]}]
    page = make_launch()
    page.plan_provider = lambda: plans[-1]
    page.refresh_from_plan()
    page.preset.setCurrentIndex(page.preset.findData("custom"))
    page.lr.setText("1e-05")
    page.english.setText("/data/en.json")
    page.sources.item(0, 2).setText("/data/en-ar.tsv")
    plans.append({"schema": "linguatune.plan/1", "languages": [{"code": "ar", "pairs": 4000},
                                                               {"code": "sw", "pairs": 9000}]})
    page.refresh_from_plan()
    assert page.lr.text() == "1e-05" and page.english.text() == "/data/en.json"
    rows = {page.sources.item(r, 0).text(): (page.sources.item(r, 1).text(), page.sources.item(r, 2).text())
            for r in range(page.sources.rowCount())}
    assert rows == {"ar": ("4k", "/data/en-ar.tsv"), "sw": ("9k", "")}
    assert "sw" in page.form_error.text()  # no pair source for sw yet: one sentence, Launch disabled
    assert not page.launch_button.isEnabled()
