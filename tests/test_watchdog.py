"""The hang watchdog (tests/infra/watchdog.py) ends a run whose test holds the GIL for good, where pytest-timeout's
Python timer cannot: a test that sleeps inside C without releasing the GIL is killed with its stack dumped."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from tests.conftest import ROOT


def test_a_test_holding_the_gil_forever_is_ended_with_its_stack(tmp_path):
    test_file = tmp_path / "test_hold_gil.py"
    test_file.write_text(textwrap.dedent("""
        import ctypes

        def test_holds_the_gil():
            ctypes.PyDLL(None).sleep(120)  # libc sleep called without releasing the GIL
    """))
    env = {"PATH": "/usr/bin:/bin", "LINGUATUNE_TEST_HARD_LIMIT_S": "3", "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.infra.watchdog", "-p", "no:cacheprovider",
         "-o", "timeout=1", "-o", "timeout_method=thread", "--rootdir", str(tmp_path), str(test_file)],
        capture_output=True, text=True, timeout=100, cwd=tmp_path, env=env,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode != 0
    assert elapsed < 60, elapsed  # not the 120 s sleep
    assert "Timeout (0:00:03)!" in proc.stderr
    assert "test_holds_the_gil" in proc.stderr  # the hung test's frame is in the dump
