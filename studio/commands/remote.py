"""`linguatune` sub-commands of the remote area."""

from __future__ import annotations


def register(sub) -> None:
    """Add this area's sub-commands to the `linguatune` parser."""
