"""The Monitor page following a job over the real test sshd: dropped connections show as reconnecting and lose
nothing; a host whose key is not trusted shows as an error instead of being contacted."""

from __future__ import annotations

import threading
import time

import pytest

from studio.remote.connection import open_session
from studio.remote.launch import LaunchRequest, launch
from tests.ui_monitor.demo_event_writer import writer_argv
from worker.contract import read_events

pytestmark = [pytest.mark.gui, pytest.mark.ssh, pytest.mark.slow]


def test_connection_drops_show_reconnecting_and_lose_no_points(qtbot, make_monitor, registry, trusted, sshd,
                                                                ssh_host, work_root):
    with open_session(ssh_host) as session:
        job = launch(LaunchRequest(ssh_host, {}, languages=["ar", "el"],
                                   worker_argv=writer_argv(160, 0.03, "--langs", "ar,el")), session,
                     registry=registry)
    page = make_monitor()
    states = []
    page.connection_changed.connect(lambda job_id, state: states.append(state))
    view = page.watch(job)
    banners = []
    page.connection_changed.connect(lambda _j, _s: banners.append(page.banner.text()))
    qtbot.waitUntil(lambda: len(view.train) >= 5, timeout=15_000)
    drops = []

    def dropper():
        for _ in range(3):
            drops.append(sshd.drop_connections())
            time.sleep(0.8)

    thread = threading.Thread(target=dropper)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=20_000)
    qtbot.waitUntil(lambda: view.record.state == "finished" and view.connection == "finished", timeout=40_000)
    qtbot.waitUntil(lambda: not view.dirty, timeout=5_000)
    assert sum(1 for d in drops if d) >= 2
    assert "reconnecting" in states and states.count("connected") >= 2, states
    assert states[-1] == "finished"
    # Each drop was followed by a recovery before the end.
    assert states.index("reconnecting") < len(states) - 1 - states[::-1].index("connected")
    assert any("reconnecting" in b for b in banners)
    train = [e for e in read_events(work_root / job.job_id / "events.jsonl") if e.kind == "train"]
    x, _y = page.loss_plot.curve.getData()
    assert list(x) == [e["step"] for e in train] == list(range(1, 161))
    log = page.log_pane.toPlainText()
    assert "connection dropped; reconnecting" in log


def test_untrusted_host_is_not_contacted_and_shows_why(qtbot, make_monitor, registry, ssh_host, sshd, trusted,
                                                       isolated_ssh_files, work_root):
    with open_session(ssh_host) as session:
        job = launch(LaunchRequest(ssh_host, {}, worker_argv=writer_argv(400, 0.02)), session, registry=registry)
    (isolated_ssh_files / "known_hosts").write_text("")  # the key is forgotten before the studio opens
    page = make_monitor()
    view = page.views[job.job_id]
    qtbot.waitUntil(lambda: view.connection == "error", timeout=15_000)
    assert "not known" in view.connection_detail and "SHA256:" in view.connection_detail
    assert view.events_seen == 0
    qtbot.waitUntil(lambda: "cannot connect" in page.banner.text(), timeout=5_000)
    # Trusted again (as the Launch page's trust dialog does): Reconnect follows it, with all its points.
    (isolated_ssh_files / "known_hosts").write_text(sshd.known_hosts_line())
    qtbot.waitUntil(lambda: page.reconnect_button.isEnabled(), timeout=5_000)
    page.reconnect_button.click()
    resumed = page.views[job.job_id]
    qtbot.waitUntil(lambda: resumed.connection in ("connected", "finished") and len(resumed.train) > 0,
                    timeout=15_000)
    page.cancel_selected()
    qtbot.waitUntil(lambda: resumed.record.is_final, timeout=20_000)
    train = [e for e in read_events(work_root / job.job_id / "events.jsonl") if e.kind == "train"]
    qtbot.waitUntil(lambda: len(resumed.train) == len(train), timeout=5_000)
    assert list(resumed.train.column(0)) == [e["step"] for e in train]
