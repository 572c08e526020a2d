"""Parse pair budgets as people write them: 600000, 600k, 1.2M, 1_200_000, 600,000."""

from __future__ import annotations

import math
import re

from studio.errors import PlanningError

# A trillion pairs: more parallel text than exists in any language; beyond it a number is a typo (or 1e308 meant
# as "unlimited"), and the allocators' floating-point work would overflow.
MAX_PAIRS = 10**12
_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000, "b": 1_000_000_000}
_PATTERN = re.compile(r"^\s*(?P<number>[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(?P<suffix>[kmgb]?)\s*$", re.IGNORECASE)


def parse_budget(text: str | int, *, what: str = "Budget", allow_zero: bool = False) -> int:
    """A positive whole number of pairs from ``text``; PlanningError for negative, zero, fractional or non-numeric."""
    if isinstance(text, bool):
        raise PlanningError(f"{what} must be a number of pairs, got {text!r}.", field=what.lower())
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
        shown = str(text)
    else:
        raw = str(text)
        cleaned = raw.replace("_", "").replace(",", "")
        match = _PATTERN.match(cleaned)
        if raw.strip().startswith("-") and _PATTERN.match(cleaned.strip()[1:]):
            raise PlanningError(f"{what} must not be negative, got {raw.strip()}.", field=what.lower())
        if not match:
            raise PlanningError(
                f"{what} must be a number of pairs such as 600000, 600k or 1.2M, got {raw!r}.", field=what.lower()
            )
        value = float(match["number"]) * _SUFFIX[match["suffix"].lower()]
        shown = raw.strip()
    if not math.isfinite(value):
        raise PlanningError(f"{what} must be finite, got {shown}.", field=what.lower())
    if value < 0:
        raise PlanningError(f"{what} must not be negative, got {shown}.", field=what.lower())
    if value == 0 and not allow_zero:
        raise PlanningError(f"{what} must be positive, got {shown}.", field=what.lower())
    if value > MAX_PAIRS:
        raise PlanningError(f"{what} {shown} is more than the {MAX_PAIRS:,} pairs LinguaTune plans for.",
                            field=what.lower())
    rounded = round(value)
    if abs(value - rounded) > 1e-6 * max(1.0, abs(value)):
        raise PlanningError(f"{what} must be a whole number of pairs, got {shown}.", field=what.lower())
    return int(rounded)


def format_pairs(pairs: float) -> str:
    """A pair count with thousands separators, e.g. 600,000."""
    return f"{int(round(pairs)):,}"


def compact_pairs(value: int) -> str:
    """The shortest exact spelling ``parse_budget`` reads back: 600000 -> 600k, 1200000 -> 1.2M, 123457 -> 123457."""
    from decimal import Decimal

    for scale, suffix in ((10**6, "M"), (10**3, "k")):
        if value >= scale:
            text = format((Decimal(value) / scale).normalize(), "f")
            if len(text.replace(".", "")) <= 4:
                return f"{text}{suffix}"
    return str(value)
