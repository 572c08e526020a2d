"""Plot-ready series that grow while a job runs (Qt-free, numpy only).

A ``GrowableSeries`` keeps parallel float columns (step, loss, lr, tokens/s) in buffers that double, plus the min
and max of each block of ``BLOCK`` points, so a view of a million points is reduced to a few thousand peaks without
reading them all. The Monitor's curves draw from it; the CLI and tests read its columns.
"""

from __future__ import annotations

import numpy as np

BLOCK = 256  # points per pre-reduced block of a series (min and max kept per block)


class GrowableSeries:
    """Parallel float columns appended in batches; capacity doubles, so appending n points costs O(n) overall.

    Every column also keeps the min and max of each block of ``BLOCK`` points (NaN-ignoring), updated as points
    arrive, so a view of a million points is reduced to a few thousand peaks without reading them all.
    """

    def __init__(self, columns: int = 2, capacity: int = 1024):
        self._data = np.empty((columns, capacity), dtype=float)
        self._bmin = np.empty((columns, capacity // BLOCK + 1), dtype=float)
        self._bmax = np.empty_like(self._bmin)
        self.size = 0
        self.x_sorted = True  # column 0 never decreases (steps): views can be found by binary search

    def extend(self, *columns: np.ndarray) -> None:
        n = len(columns[0])
        if n == 0:
            return
        old = self.size
        need = old + n
        if need > self._data.shape[1]:
            capacity = self._data.shape[1]
            while capacity < need:
                capacity *= 2
            grown = np.empty((self._data.shape[0], capacity), dtype=float)
            grown[:, :old] = self._data[:, :old]
            self._data = grown
            blocks = capacity // BLOCK + 1
            for name in ("_bmin", "_bmax"):
                bigger = np.empty((self._data.shape[0], blocks), dtype=float)
                bigger[:, : getattr(self, name).shape[1]] = getattr(self, name)
                setattr(self, name, bigger)
        for i, column in enumerate(columns):
            self._data[i, old:need] = column
        if self.x_sorted:
            x = self._data[0, max(old - 1, 0):need]
            self.x_sorted = bool(np.all(x[1:] >= x[:-1]))
        self.size = need
        self._reduce_blocks(old // BLOCK, need)

    def _reduce_blocks(self, first_block: int, end: int) -> None:
        start = first_block * BLOCK
        full_end = start + ((end - start) // BLOCK) * BLOCK
        with np.errstate(invalid="ignore"):
            if full_end > start:
                chunk = self._data[:, start:full_end].reshape(self._data.shape[0], -1, BLOCK)
                b0, b1 = first_block, full_end // BLOCK
                self._bmin[:, b0:b1] = np.fmin.reduce(chunk, axis=2)
                self._bmax[:, b0:b1] = np.fmax.reduce(chunk, axis=2)
            if full_end < end:
                tail = self._data[:, full_end:end]
                self._bmin[:, full_end // BLOCK] = np.fmin.reduce(tail, axis=1)
                self._bmax[:, full_end // BLOCK] = np.fmax.reduce(tail, axis=1)

    def column(self, index: int) -> np.ndarray:
        """A view of the filled part of one column (valid until the next ``extend``)."""
        return self._data[index, : self.size]

    def __len__(self) -> int:
        return self.size

    def peaks(self, ycol: int, x_range: tuple[float, float] | None, bins: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) to draw column ``ycol`` against column 0 within ``x_range`` (None: everything) with at most about
        ``2 * bins`` points: each bin drawn as its min and max at the bin's first x, as peak downsampling does."""
        x = self._data[0, : self.size]
        y = self._data[ycol, : self.size]
        if x_range is None or not self.x_sorted:
            i0, i1 = 0, self.size
        else:
            # One point beyond each edge, so the line reaches the border of the view.
            i0 = max(int(np.searchsorted(x, x_range[0], side="left")) - 1, 0)
            i1 = min(int(np.searchsorted(x, x_range[1], side="right")) + 1, self.size)
        count = i1 - i0
        bins = max(int(bins), 16)
        if count <= 2 * bins:
            return x[i0:i1], y[i0:i1]
        with np.errstate(invalid="ignore"):
            b0, b1 = -(-i0 // BLOCK), i1 // BLOCK
            if b1 - b0 >= bins:
                group = -(-(b1 - b0) // bins)
                nb = (b1 - b0) // group
                stop = b0 + nb * group
                lo = np.fmin.reduce(self._bmin[ycol, b0:stop].reshape(nb, group), axis=1)
                hi = np.fmax.reduce(self._bmax[ycol, b0:stop].reshape(nb, group), axis=1)
                starts = (b0 + np.arange(nb) * group) * BLOCK
                head = (x[i0:b0 * BLOCK], y[i0:b0 * BLOCK])
                tail = (x[stop * BLOCK:i1], y[stop * BLOCK:i1])
            else:
                k = -(-count // bins)
                nb = count // k
                stop = i0 + nb * k
                chunk = y[i0:stop].reshape(nb, k)
                lo, hi = np.fmin.reduce(chunk, axis=1), np.fmax.reduce(chunk, axis=1)
                starts = i0 + np.arange(nb) * k
                head = (x[i0:i0], y[i0:i0])
                tail = (x[stop:i1], y[stop:i1])
        if not len(tail[0]):
            # The last bin is drawn at its first x: end on the range's last point so the line spans every value
            # the bins summarise (and reaches the edge of the view).
            tail = (x[i1 - 1:i1], y[i1 - 1:i1])
        px = np.repeat(x[starts], 2)
        py = np.empty(2 * nb)
        py[0::2], py[1::2] = lo, hi
        return np.concatenate([head[0], px, tail[0]]), np.concatenate([head[1], py, tail[1]])
