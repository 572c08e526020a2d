"""Session-wide test settings: real Qt offscreen, no hub access, and per-test user dirs so nothing the app writes
(host profiles, job registry, known_hosts, QSettings) lands in the real home of whoever runs the tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Local runs draw fresh examples each time (that is how the allocator's rounding bug was found); CI replays a fixed
# sequence so that a landing never depends on the draw. Failing examples found locally become regression tests.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[var] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Point XDG config/data/cache dirs at a fresh temporary folder for every test."""
    base = tmp_path_factory.mktemp("userdirs")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        path = base / var.lower()
        path.mkdir()
        monkeypatch.setenv(var, str(path))
    monkeypatch.setenv("LINGUATUNE_HOME", str(base / "linguatune"))
    yield base


# One real demo job per session (tests/infra/demo_job.py): what the worker really writes, for studio-side tests.
@pytest.fixture(scope="session")
def real_demo_job():
    """The cached real demo job (``DemoJob``): built by ``linguatune demo`` once per source hash. Read-only."""
    from tests.infra.demo_job import demo_job

    return demo_job()


@pytest.fixture
def demo_job_dir(real_demo_job, tmp_path):
    """A private copy of the real demo job's directory (job.json, events.jsonl, eval/, final/, ...)."""
    return real_demo_job.copy_to(tmp_path / "jobs")


@pytest.fixture
def demo_job_record(real_demo_job, demo_job_dir):
    """The real demo job loaded into this test's own registry (``JobRegistry()``) as a finished local job; its
    ``remote_dir`` is ``demo_job_dir``."""
    from studio.remote.registry import JobRegistry

    with JobRegistry() as registry:
        return real_demo_job.register(registry, demo_job_dir)


# --- Hang watchdog (tests/infra/watchdog.py; see [tool.pytest.ini_options] in pyproject.toml) -------------------
from tests.infra.watchdog import pytest_configure, pytest_runtest_protocol  # noqa: E402,F401 (hooks, by name)


# --- Python's garbage collection on the GUI thread in GUI tests, as the studio does (studio/ui/gcpin.py) ----------
@pytest.fixture(autouse=True)
def _gc_on_gui_thread(request):
    if "qtbot" not in request.fixturenames:
        yield
        return
    from studio.ui.gcpin import GuiThreadCollector

    collector = GuiThreadCollector(request.getfixturevalue("qapp"))
    yield collector
    collector.stop()
    collector.setParent(None)
