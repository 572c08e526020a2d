"""Fixtures of the worker tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.worker.jobkit import write_small_data


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Small training data files in a fresh temporary folder (see ``write_small_data``)."""
    return write_small_data(tmp_path / "data")
