"""Two "nodes" on this machine (two torchrun agents joined by static rendezvous, one CPU rank each, gloo): when each
node has a job directory of its own, the job says in its first seconds that it cannot resume (issue 13 item 9:
checkpoints are written by rank 0 only); with one shared directory it says nothing."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys

import pytest

from tests.worker.jobkit import REPO, make_job, small_job, worker_env
from worker.contract import EVENTS_FILE, read_events

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_two_nodes(dir0, dir1) -> None:
    port = _free_port()
    procs = []
    for node, job in ((0, dir0), (1, dir1)):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node-rank", str(node),
               "--nproc-per-node", "1", "--master-addr", "127.0.0.1", "--master-port", str(port),
               "-m", "worker.cli", "run", str(job)]
        log = open(job.parent / f"node{node}.log", "ab")
        procs.append(subprocess.Popen(cmd, cwd=REPO, env=worker_env(), stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))
    try:
        codes = [p.wait(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert codes == [0, 0], (dir0.parent / "node0.log").read_text()[-3000:]


def _warnings(job) -> list[str]:
    return [e.data["message"] for e in read_events(job / EVENTS_FILE)
            if e.kind == "log" and e.data.get("level") == "warning"]


def test_a_job_directory_not_shared_between_nodes_is_reported(data_dir, tmp_path):
    spec = small_job(data_dir, max_steps=2, checkpoint_every_steps=0)
    own0 = make_job(tmp_path / "node0", "job", spec)
    own1 = make_job(tmp_path / "node1", "job", spec)
    _run_two_nodes(own0, own1)
    said = _warnings(own0)
    assert len(said) == 1 and "is not shared with node(s)" in said[0] and "cannot resume" in said[0]
    assert not list(own0.glob(".node-*")) and not list(own1.glob(".node-*"))

    shared = make_job(tmp_path / "shared", "job", spec)
    _run_two_nodes(shared, shared)
    assert _warnings(shared) == []
    assert json.loads((shared / "job.json").read_text())["train"]["max_steps"] == 2
    shutil.rmtree(tmp_path / "node1", ignore_errors=True)
