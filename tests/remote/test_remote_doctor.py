"""doctor tells the truth (issue 16 item 3, issue 13 item 9), over the real sshd and the real single-node SLURM:
every worker dependency is imported, a GPU profile needs CUDA devices, a SLURM profile needs a controller that
answers and a partition that exists, and a multi-node profile needs a work root every node mounts."""

from __future__ import annotations

import pytest

from studio.remote.connection import open_session
from studio.remote.doctor import WORKER_MODULES, doctor
from studio.remote.hosts import HostProfile

pytestmark = pytest.mark.ssh


def _checks(profile):
    with open_session(profile) as session:
        report = doctor(profile, session)
    return report, {c.name: c for c in report.checks}


def test_every_worker_dependency_is_imported_and_a_gpu_profile_needs_cuda(trusted, ssh_profile):
    report, checks = _checks(ssh_profile)
    assert checks["deps"].ok and checks["deps"].detail == f"all {len(WORKER_MODULES)} worker dependencies import"
    assert set(report.facts["deps"]) == set(WORKER_MODULES)
    assert "cuda" not in checks  # a CPU profile asks for no GPU
    # A python (or venv) written with ~ runs from the home folder ('~/...' in quotes would not).
    import os
    import sys

    home = os.path.expanduser("~")
    if sys.executable.startswith(home + "/"):
        tilde = HostProfile(**{**ssh_profile.to_dict(), "python": "~" + sys.executable[len(home):]})
        _, checks = _checks(tilde)
        assert checks["python"].ok, checks["python"].detail
    gpu = HostProfile(**{**ssh_profile.to_dict(), "gpus_per_node": 8})
    report, checks = _checks(gpu)
    assert not report.ok and not checks["cuda"].ok
    assert checks["cuda"].detail.startswith("0 CUDA device(s) for a profile of 8 GPU(s) per node")


@pytest.mark.slow
def test_slurm_controller_partition_and_shared_work_root(trusted, ssh_profile, slurm_cluster):
    base = {**ssh_profile.to_dict(), "name": "cluster", "launcher": "slurm", "slurm_partition": "debug",
            "env": dict(slurm_cluster.env)}
    report, checks = _checks(HostProfile(**base))
    assert checks["slurmctld"].ok and "UP" in checks["slurmctld"].detail
    assert checks["partition"].ok
    assert "shared" not in checks  # one node: nothing to share
    _, checks = _checks(HostProfile(**{**base, "slurm_partition": "a100"}))
    assert not checks["partition"].ok and "no partition 'a100' (there are: debug)" in checks["partition"].detail
    # All commands present, but no controller configured: said, not "all ok".
    report, checks = _checks(HostProfile(**{**base, "env": {}}))
    assert checks["slurm"].ok and not checks["slurmctld"].ok and not report.ok
    # Two nodes with the work root on this machine's own disk: resume cannot work, and doctor says why.
    _, checks = _checks(HostProfile(**{**base, "nodes": 2}))
    assert not checks["shared"].ok and "cannot resume" in checks["shared"].detail
