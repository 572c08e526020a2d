"""Errors a user can cause. Each carries one clear sentence; the CLI prints it and exits 2, the GUI shows it."""

from __future__ import annotations


class LinguaTuneError(Exception):
    """Base of every error caused by user input or the user's environment (not a bug)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class PlanningError(LinguaTuneError):
    """A planning input that cannot be used: unknown language, bad budget, infeasible constraints, bad law."""


class UnknownLanguageError(PlanningError):
    """A language code that is not in the catalogue; carries close matches."""

    def __init__(self, code: str, suggestions: list[str]):
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown language code {code!r}.{hint}", field=code)
        self.code = code
        self.suggestions = suggestions


class FitError(PlanningError):
    """Pilot measurements that cannot be fitted (too few points, non-finite values, bad rows)."""


class PlanFormatError(PlanningError):
    """A plan document that does not validate; ``field`` is the path of the offending field."""


def short_repr(value, limit: int = 80) -> str:
    """A value for an error message: its repr, cut to ``limit`` characters (a 5,000-digit integer or a huge list must
    not become the message, and repr of an integer past Python's digit limit raises)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
