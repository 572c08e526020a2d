"""Plain-text output shared by the commands."""

from __future__ import annotations

from typing import Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None) -> str:
    """A plain-text table; ``right`` marks the right-aligned (numeric) columns."""
    right = right if right is not None else [False] * len(headers)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def fit_footer(results) -> str:
    """How the bands were made: their level and the noise the bootstrap drew with."""
    from studio.planning.fitting import BAND_LEVEL

    sources = sorted({r.noise_source for r in results.values() if r.noise_source})
    if not sources:
        return "No bootstrap (--bootstrap 0): no bands."
    sd = sorted({round(r.noise_sd, 3) for r in results.values() if r.noise_sd is not None})
    return (f"Bands: {100 * BAND_LEVEL:.0f}% pointwise, parametric bootstrap; noise per score "
            f"{', '.join(f'{v:g}' for v in sd)} ({'; '.join(sources)}).")
