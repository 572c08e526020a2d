"""Helpers shared by the GUI tests (pilot data with known laws, waiting for the coalesced redraw)."""

from __future__ import annotations

import csv
from pathlib import Path

# Ground-truth laws the synthetic pilot points are drawn from: different enough that the fitted curves differ from
# the prior and from each other.
TRUE_LAWS = {
    "ar": dict(c=86.0, a=160.0, b=0.24),
    "el": dict(c=89.0, a=120.0, b=0.22),
    "hi": dict(c=82.0, a=260.0, b=0.30),
    "tr": dict(c=84.0, a=190.0, b=0.26),
    "vi": dict(c=88.0, a=140.0, b=0.23),
    "zh": dict(c=83.0, a=210.0, b=0.27),
}
PILOT_PAIRS = (2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000)


def write_pilot_csv(path: Path, languages=tuple(TRUE_LAWS)) -> Path:
    """Pilot points from TRUE_LAWS with a small deterministic wiggle (so the fit is not exact)."""
    from studio.planning.laws import PowerLaw

    rows = []
    for li, code in enumerate(languages):
        law = PowerLaw(**TRUE_LAWS[code])
        for pi, pairs in enumerate(PILOT_PAIRS):
            wiggle = 0.35 * (((li * 7 + pi * 3) % 5) - 2) / 2
            rows.append({"language": code, "pairs": pairs, "score": round(law.value(float(pairs)) + wiggle, 3)})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["language", "pairs", "score"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def wait_redrawn(qtbot, page) -> None:
    """Let the coalesced redraw run."""
    qtbot.waitUntil(lambda: not page.redraw_pending, timeout=5_000)
