"""Fixtures of the planning tests: the real language catalogue and a folder for plan and laws files."""

from __future__ import annotations

import pytest

from studio.planning.languages import load_catalogue


@pytest.fixture(scope="session")
def catalogue():
    """The shipped language catalogue (resources/languages.tsv)."""
    return load_catalogue()
