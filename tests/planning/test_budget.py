"""Budgets as people write them."""

from __future__ import annotations

import pytest

from studio.errors import PlanningError
from studio.planning.budget import format_pairs, parse_budget


@pytest.mark.parametrize(
    "text, pairs",
    [("600000", 600_000), ("600k", 600_000), ("600K", 600_000), ("1.2M", 1_200_000), ("1_200_000", 1_200_000),
     ("600,000", 600_000), (" 2.5k ", 2_500), ("1e6", 1_000_000), (750_000, 750_000), ("0.5m", 500_000)],
)
def test_budget_spellings(text, pairs):
    assert parse_budget(text) == pairs


@pytest.mark.parametrize(
    "text, words",
    [("-5", "negative"), ("-600k", "negative"), (-3, "negative"), ("0", "positive"), ("abc", "600k"),
     ("", "600k"), ("1.5", "whole"), ("12q", "600k"), (float("inf"), "finite"), (True, "number")],
)
def test_bad_budgets(text, words):
    with pytest.raises(PlanningError) as info:
        parse_budget(text)
    assert words in str(info.value)
    assert info.value.field == "budget"


def test_zero_allowed_where_asked_and_formatting():
    assert parse_budget("0", what="--min", allow_zero=True) == 0
    assert format_pairs(1_234_567) == "1,234,567"
