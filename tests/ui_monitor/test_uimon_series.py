"""The series behind the live curves: growth by doubling, per-block peaks, and the digest of events (hand-made
edge cases, and the real demo job's events)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.session.monitor import AlignmentSnapshot, digest_events
from studio.session.series import BLOCK, GrowableSeries
from worker.contract import Event, direction


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 3 * BLOCK), min_size=1, max_size=30), seed=st.integers(0, 10_000),
       bins=st.integers(16, 400), window=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_peaks_keep_every_extreme_of_the_view(sizes, seed, bins, window):
    rng = np.random.default_rng(seed)
    series = GrowableSeries(2, capacity=4)
    xs, ys, start = [], [], 0
    for size in sizes:
        x = np.arange(start, start + size, dtype=float)
        y = rng.normal(size=size)
        y[rng.random(size) < 0.02] = np.nan
        series.extend(x, y)
        xs.append(x)
        ys.append(y)
        start += size
    x_all, y_all = np.concatenate(xs), np.concatenate(ys)
    assert np.array_equal(series.column(0), x_all)
    assert np.array_equal(series.column(1), y_all, equal_nan=True)
    lo, hi = sorted(window)
    x_range = (lo * start, hi * start)
    px, py = series.peaks(1, x_range, bins)
    assert len(px) <= 2 * bins + 2 * BLOCK + 2
    assert np.all(np.diff(px) >= 0)
    inside = (x_all >= x_range[0]) & (x_all <= x_range[1])
    finite = inside & np.isfinite(y_all)
    if finite.any():
        # Every drawn value is a real value near the view, and the view's extremes are drawn.
        assert np.nanmax(py) >= np.nanmax(y_all[finite]) and np.nanmin(py) <= np.nanmin(y_all[finite])
        near = (x_all >= px[0]) & (x_all <= px[-1])
        assert np.nanmax(py) <= np.nanmax(y_all[near]) and np.nanmin(py) >= np.nanmin(y_all[near])


def test_digest_sorts_events_into_series():
    events = [
        Event(0, 1.0, "status", {"state": "running"}),
        Event(1, 2.0, "train", {"step": 1, "loss": 2.0, "lr": 1e-4, "tokens_per_s": 900.0}),
        Event(2, 3.0, "train", {"step": 2, "loss": None, "lr": 1e-4}),
        Event(3, 4.0, "eval", {"step": 2, "lang": "ar", "direction": "en-ar", "metric": "comet", "value": 0.7}),
        Event(4, 5.0, "alignment", {"step": 2, "metric": "retrieval_top1", "langs": ["ar", "el"], "layers": [0, 4, 8],
                                    "matrix": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]}),
        Event(5, 6.0, "alignment", {"step": 2, "metric": "retrieval_top1", "langs": ["ar"], "layers": [0],
                                    "matrix": [[0.1, 0.2]]}),  # shape does not match: skipped
        Event(6, 7.0, "error", {"message": "disk full"}),
    ]
    digest = digest_events(events)
    assert digest.count == 7 and digest.first_seq == 0 and digest.last_seq == 6 and digest.state == "running"
    assert list(digest.train_step) == [1, 2]
    assert digest.train_loss[0] == 2.0 and np.isnan(digest.train_loss[1]) and np.isnan(digest.train_tps[1])
    assert digest.evals == {("comet", "ar", "en-xx"): [(2.0, 0.7)]}
    assert len(digest.alignments) == 1 and digest.alignments[0].matrix.shape == (3, 2)
    assert digest.alignments[0].layers == [0, 4, 8]
    assert any("ERROR disk full" in line for line in digest.log_lines)
    assert any("state → running" in line for line in digest.log_lines)


def test_digest_of_the_real_demo_job(real_demo_job):
    """The worker's own events: every language lands in its direction group, the tiny COMET stays marked."""
    events = real_demo_job.events()
    digest = digest_events(events)
    langs = real_demo_job.spec()["languages"]
    assert digest.count == len(events) and digest.last_seq == events[-1].seq and digest.state == "finished"
    assert list(digest.train_step) == [e["step"] for e in events if e.kind == "train"]
    for metric in ("chrf", "comet"):
        for group, pair in (("en-xx", lambda c: direction("en", c)), ("xx-en", lambda c: direction(c, "en"))):
            for lang in langs:
                written = [(float(e["step"]), e["value"]) for e in events if e.kind == "eval"
                           and e["metric"] == metric and e["direction"] == pair(lang)]
                assert written and digest.evals[(metric, lang, group)] == written
    assert {g for _m, _l, g in digest.evals} == {"en-xx", "xx-en"}
    assert digest.pipeline_check == {"comet"}
    alignment = [e for e in events if e.kind == "alignment"]
    assert len(digest.alignments) == len(alignment)
    assert all(s.matrix.shape == (len(s.layers), len(langs)) and s.langs == langs for s in digest.alignments)


@pytest.mark.gui
def test_heatmap_of_the_real_demo_job(qtbot, real_demo_job):
    from studio.ui.heatmap import AlignmentHeatmap

    snaps = digest_events(real_demo_job.events()).alignments
    metric = snaps[0].metric
    mine = [s for s in snaps if s.metric == metric]
    heatmap = AlignmentHeatmap()
    qtbot.addWidget(heatmap)
    heatmap.add(mine)
    assert heatmap.current().step == mine[-1].step and heatmap.slider.maximum() == len(mine) - 1
    assert heatmap.image.image.shape == (len(mine[-1].langs), len(mine[-1].layers))
    ticks = heatmap.plot.plotItem.getAxis("bottom")._tickLevels[0]
    assert [label for _pos, label in ticks] == real_demo_job.spec()["languages"]


@pytest.mark.gui
def test_heatmap_axes_and_replay(qtbot):
    from studio.ui.heatmap import AlignmentHeatmap

    heatmap = AlignmentHeatmap()
    qtbot.addWidget(heatmap)
    snaps = [AlignmentSnapshot(step, "parallel_margin", ["ar", "el", "zh"], [0, 8, 16, 24],
                               np.full((4, 3), step / 100.0) + np.arange(3) * 0.01) for step in (10, 20, 30)]
    heatmap.add(snaps[:2])
    assert heatmap.current().step == 20 and heatmap.slider.maximum() == 1
    heatmap.slider.setValue(0)  # replaying: a new measurement does not move the view
    heatmap.add(snaps[2:])
    assert heatmap.current().step == 10 and heatmap.slider.maximum() == 2
    heatmap.slider.setValue(2)
    assert heatmap.current().step == 30
    assert heatmap.image.image.shape == (3, 4)  # languages across, layers up
    ticks = heatmap.plot.plotItem.getAxis("bottom")._tickLevels[0]
    assert [label for _pos, label in ticks] == ["ar", "el", "zh"]
    left = heatmap.plot.plotItem.getAxis("left")._tickLevels[0]
    assert [label for _pos, label in left] == ["0", "8", "16", "24"]
    assert tuple(heatmap.colorbar.levels()) == pytest.approx((0.3, 0.32))


def test_peaks_regression_last_bin_spans_to_the_last_point():
    """Found by a fresh hypothesis draw: the last bin's extreme lay past the last drawn x."""
    test_peaks_keep_every_extreme_of_the_view.hypothesis.inner_test(
        sizes=[285, 403], seed=264, bins=20, window=(0.91796875, 0.28125))
