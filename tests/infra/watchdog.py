"""A per-test hang watchdog that needs no GIL: faulthandler's C thread dumps every Python thread's stack and ends
the run when one test passes ``LINGUATUNE_TEST_HARD_LIMIT_S`` (480 s by default).

pytest-timeout's timer is a Python thread: when an extension holds the GIL for good (a deadlock between Qt and
Python threads did, in CI), it never runs and the suite stalls until CI's own limit. Used by tests/conftest.py, and
as a plugin (``-p tests.infra.watchdog``) by its own test."""

from __future__ import annotations

import faulthandler
import os
import sys

import pytest

DEFAULT_LIMIT_S = 480.0


def hard_limit_s() -> float:
    return float(os.environ.get("LINGUATUNE_TEST_HARD_LIMIT_S", DEFAULT_LIMIT_S))


def pytest_configure(config):
    # A copy of the terminal's stderr taken before any test runs: the watchdog writes there, past output capture.
    config._linguatune_watchdog_fd = os.dup(sys.__stderr__.fileno())
    faulthandler.enable(file=config._linguatune_watchdog_fd, all_threads=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    fd = getattr(item.config, "_linguatune_watchdog_fd", None)
    if fd is not None:
        os.write(fd, f"\n[watchdog] {item.nodeid}\n".encode() if os.environ.get("LINGUATUNE_WATCHDOG_TRACE") else b"")
        faulthandler.dump_traceback_later(hard_limit_s(), exit=True, file=fd)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
