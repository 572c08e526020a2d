"""A new GPU box brought up as a user would (issue 16): a fresh Python environment stands in for it over the real
sshd. doctor says what is missing and the command that fixes it; deploy installs the worker and its dependencies
only (the Qt-free base and the worker extra: no PySide6, pyqtgraph, paramiko or keyring), keeps the torch the box
has, and shows its progress; doctor is then all ok, and the real demo job runs there."""

from __future__ import annotations

import json

import pytest

from studio.cli import main
from studio.remote.connection import open_session
from studio.remote.doctor import deploy, doctor
from studio.remote.follow import Follower
from studio.remote.hosts import HostProfile, HostStore
from studio.remote.launch import LaunchRequest, launch
from studio.remote.registry import JobRegistry

pytestmark = [pytest.mark.ssh, pytest.mark.slow]
STUDIO_ONLY = ("pyside6", "pyside6-essentials", "pyqtgraph", "paramiko", "keyring", "scipy", "platformdirs")


def test_a_fresh_environment_is_brought_up_and_runs_the_demo(trusted, ssh_profile, tmp_path, capsys):
    import torch

    venv = tmp_path / "gpubox-venv"
    profile = HostProfile(**{**ssh_profile.to_dict(), "name": "gpubox", "venv": str(venv)})
    HostStore().add(profile)
    with open_session(profile) as session:
        before = doctor(profile, session)
        assert not before.ok
        assert before.checks[0].detail.endswith(f"`linguatune hosts deploy gpubox --with-deps` creates the venv "
                                                f"{venv} and installs the worker")
        lines: list[str] = []
        result = deploy(profile, session, with_deps=True, progress=lines.append)
        # The box's torch stays (pip was held to it); nothing of the studio's side was asked for.
        assert result.torch == torch.__version__ and result.torch_note == f"kept torch {torch.__version__}"
        assert not [n for n in result.installed if n.lower().startswith(STUDIO_ONLY + ("nvidia", "triton"))]
        requires = session.run_checked(
            f"{venv}/bin/python -c 'import json, importlib.metadata as m; print(json.dumps(m.requires(\"linguatune\")))'",
            "reading the installed requirements").stdout
        base = [r for r in json.loads(requires) if "extra ==" not in r]
        assert base and not [r for r in base if r.lower().startswith(STUDIO_ONLY)], base
        assert any(line.startswith("creating the venv") for line in lines)
        assert any(line.startswith("installing the worker's dependencies") for line in lines)
        after = doctor(profile, session)
    assert after.ok, after.lines()
    registry = JobRegistry()
    from worker.demo import demo_spec

    with open_session(profile) as session:
        job = launch(LaunchRequest(profile, demo_spec({"train.max_steps": 4, "eval.metrics": ["chrf"]}),
                                   languages=["demo"], nproc_per_node=2), session, registry=registry)
    end = list(Follower(registry.get(job.job_id), lambda: open_session(profile), registry=registry))[-1]
    assert end.state == "finished", end
    assert {"train", "eval", "done"} <= {e.kind for e in registry.events(job.job_id)}
    # The CLI says the same, ending with the next step.
    assert main(["hosts", "deploy", "gpubox"]) == 0
    out = capsys.readouterr().out
    assert "uploading linguatune-" in out and out.strip().endswith("Next: `linguatune hosts doctor gpubox`.")


def test_a_bad_torch_choice_is_one_sentence(capsys):
    HostStore().add(HostProfile(name="gpubox", host="gpu.example"))
    assert main(["hosts", "deploy", "gpubox", "--torch", "latest; rm -rf /"]) == 2
    assert capsys.readouterr().err.strip() == ("linguatune: error: --torch expects keep or a version such as 2.13.0, "
                                              "got 'latest; rm -rf /'.")
