"""Helpers of the property-based fuzz tests: every path into a JSON-like document, and a copy with one replaced."""

from __future__ import annotations

from typing import Any, Iterator


def paths(doc: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path (a tuple of keys and indices) into ``doc``, the empty path (the document itself) first."""
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from paths(value, prefix + (i,))


def replace(doc: Any, path: tuple, value: Any) -> Any:
    """A copy of ``doc`` with the node at ``path`` replaced by ``value`` (``doc`` is left as it is)."""
    if not path:
        return value
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = replace(copy[path[0]], path[1:], value)
    return copy
