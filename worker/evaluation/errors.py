"""Errors raised by evaluation inputs the user controls (eval files, COMET model names)."""

from __future__ import annotations


class EvalInputError(ValueError):
    """An evaluation input that cannot be used; the message is one sentence naming the file or value and the problem.

    ``source`` carries the offending path or name so callers can report it without parsing the message.
    """

    def __init__(self, message: str, *, source: str | None = None):
        super().__init__(message)
        self.source = source


class CometUnavailableError(EvalInputError):
    """The COMET model named in the eval spec cannot be loaded (missing package, offline hub, broken checkpoint)."""
