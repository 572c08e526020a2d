"""Plans under uncertain laws: allocate for the expected objective over bootstrap replicates of the laws, and put
an interval on the gain over the uniform split.

A point-estimate plan trusts each fitted law exactly, so it pours pairs into languages whose noise happened to make
them look steep and starves those that looked flat; under the true laws that can lose to the uniform split. Here
each language's curve is its replicates' mean score (or a chosen lower quantile) tabulated on a log grid between its
floor and its cap, and the allocation is solved on those curves:

- ``sum``: the curves are made concave (slopes non-increasing) and every language is given pairs until its
  weighted slope falls to a common lambda, found by bisection so the pairs meet the budget;
- ``maxmin``: the highest level t every language can reach within the budget, by bisection on t.

``gain_samples`` scores any two allocations under every replicate (the same replicate index across languages),
which gives the gain's distribution and interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from studio.errors import PlanningError
from studio.planning.laws import ScalingLaw
from studio.planning.replicates import LEVEL, PARAMS, LawReplicates

GRID_POINTS = 1200


def constant_replicates(law: ScalingLaw, count: int) -> LawReplicates:
    """``count`` identical draws of a law that has no replicates (the prior, or a fit without a bootstrap)."""
    params = law.params()
    return LawReplicates(law.form, {name: np.full(count, params.get(name, 1.0)) for name in PARAMS[law.form]})


def aligned(replicates: Sequence[LawReplicates]) -> list[LawReplicates]:
    """Every language cut to the same number of draws (the smallest), so draw r is one joint world."""
    count = min(len(r) for r in replicates)
    return [LawReplicates(r.form, {k: v[:count] for k, v in r.params.items()}) for r in replicates]


@dataclass
class _Curve:
    x: np.ndarray  # grid, increasing, from the floor to the top
    g: np.ndarray  # robust score on the grid


def _curves(replicates: Sequence[LawReplicates], lo: np.ndarray, hi: np.ndarray, quantile: float | None) -> list[_Curve]:
    out = []
    for reps, low, high in zip(replicates, lo, hi):
        start = max(float(low), 1.0)
        top = max(float(high), start)
        x = np.unique(np.concatenate(([float(low)] if low >= 1 else [], np.geomspace(start, top, GRID_POINTS))))
        values = reps.values(x)  # R x K
        g = values.mean(axis=0) if quantile is None else np.quantile(values, quantile, axis=0)
        out.append(_Curve(x, np.maximum.accumulate(g)))  # every draw rises, so the curve must too
    return out


def _sum_solution(curves: list[_Curve], weights: np.ndarray, budget: float) -> np.ndarray:
    # Piecewise-linear curves with non-increasing slopes (the upper concave envelope is approximated by clamping).
    slopes = []
    for curve in curves:
        dx = np.diff(curve.x)
        s = np.where(dx > 0, np.diff(curve.g) / np.where(dx > 0, dx, 1.0), 0.0)
        slopes.append(np.minimum.accumulate(np.maximum(s, 0.0)))

    def spend(lam: float) -> np.ndarray:
        xs = np.empty(len(curves))
        for i, (curve, s) in enumerate(zip(curves, slopes)):
            # The number of segments whose weighted slope is still above lambda; the last one partly.
            k = int(np.searchsorted(-weights[i] * s, -lam, side="left"))
            xs[i] = curve.x[min(k, len(curve.x) - 1)]
        return xs

    top = max(float(w * s[0]) for w, s in zip(weights, slopes) if len(s)) if any(len(s) for s in slopes) else 1.0
    lo_lam, hi_lam = 0.0, max(top, 1e-300) * 2.0
    if spend(lo_lam).sum() <= budget:
        return spend(lo_lam)
    for _ in range(100):
        mid = 0.5 * (lo_lam + hi_lam)
        if spend(mid).sum() > budget:
            lo_lam = mid
        else:
            hi_lam = mid
    x = spend(hi_lam)  # within budget; hand the rest to the steepest next segments
    rest = budget - x.sum()
    if rest > 0:
        gains = []
        for i, (curve, s) in enumerate(zip(curves, slopes)):
            k = int(np.searchsorted(curve.x, x[i], side="right")) - 1
            gains.append(weights[i] * s[k] if k < len(s) else 0.0)
        for i in np.argsort(gains)[::-1]:
            room = curves[i].x[-1] - x[i]
            take = min(room, rest)
            x[i] += take
            rest -= take
            if rest <= 0:
                break
    return x


def _maxmin_solution(curves: list[_Curve], budget: float) -> np.ndarray:
    def need(t: float) -> np.ndarray:
        return np.array([np.interp(t, c.g, c.x) if t > c.g[0] else c.x[0] for c in curves])

    lo_t = min(float(c.g[0]) for c in curves)
    hi_t = max(float(c.g[-1]) for c in curves)
    if need(hi_t).sum() <= budget:
        return need(hi_t)
    for _ in range(100):
        mid = 0.5 * (lo_t + hi_t)
        if need(mid).sum() > budget:
            hi_t = mid
        else:
            lo_t = mid
    return need(lo_t)


def _whole(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, target: int) -> np.ndarray:
    pairs = np.clip(np.floor(x), lo, hi).astype(np.int64)
    short = int(target - pairs.sum())
    order = np.argsort(-(x - np.floor(x)))
    i = 0
    while short > 0 and i < 10 * len(x) + short:
        j = order[i % len(order)]
        if pairs[j] < hi[j]:
            pairs[j] += 1
            short -= 1
        i += 1
    return pairs


def robust_allocation(replicates: Sequence[LawReplicates], floors: Sequence[int], caps: Sequence[int],
                      weights: Sequence[float], budget: int, objective: str,
                      quantile: float | None = None) -> np.ndarray:
    """Whole pairs per language maximising the expected objective (``quantile`` None) or the objective of each
    language's ``quantile`` curve, over the replicates; the pairs sum to min(budget, sum of caps)."""
    lo = np.asarray(floors, dtype=float)
    hi = np.asarray(caps, dtype=float)
    if budget < lo.sum():
        raise PlanningError("The budget is below the sum of the floors.", field="budget")
    target = int(min(budget, hi.sum()))
    top = np.minimum(hi, np.maximum(lo, target - (lo.sum() - lo)))  # no language can take more than what is left
    curves = _curves(aligned(replicates), lo, top, quantile)
    if objective == "sum":
        x = _sum_solution(curves, np.asarray(weights, dtype=float), float(target))
    elif objective == "maxmin":
        x = _maxmin_solution(curves, float(target))
    else:
        raise PlanningError(f"Unknown objective {objective!r}; expected sum or maxmin.", field="objective")
    return _whole(np.clip(x, lo, hi), lo, hi, target)


def hedge(replicates: Sequence[LawReplicates], pairs: np.ndarray, baseline: np.ndarray, weights: Sequence[float],
          objective: str, lo: Sequence[int], hi: Sequence[int], steps: int = 10) -> tuple[np.ndarray, float]:
    """The mix alpha*pairs + (1-alpha)*baseline (alpha on a grid of ``steps``) with the best expected objective
    over the replicates. For maxmin this matters: the expected minimum is not the minimum of the expected scores,
    and a language whose law is uncertain drags the minimum in many replicates. Returns the pairs and alpha."""
    pairs = np.asarray(pairs, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    target = int(round(pairs.sum()))
    best, best_alpha, best_value = pairs.astype(np.int64), 1.0, -np.inf
    for alpha in np.linspace(1.0, 0.0, steps + 1):
        mixed = _whole(alpha * pairs + (1 - alpha) * baseline, np.asarray(lo, float), np.asarray(hi, float), target)
        value = float(gain_samples(replicates, mixed, baseline, weights, objective).mean())
        if value > best_value + 1e-9:
            best, best_alpha, best_value = mixed, float(alpha), value
    return best, best_alpha


def gain_samples(replicates: Sequence[LawReplicates], pairs: Sequence[float], baseline: Sequence[float],
                 weights: Sequence[float], objective: str) -> np.ndarray:
    """The objective of ``pairs`` minus that of ``baseline`` under each joint replicate (shape (R,))."""
    reps = aligned(replicates)
    a = np.stack([r.values(float(max(x, 1e-9))) for r, x in zip(reps, pairs)])  # L x R
    b = np.stack([r.values(float(max(x, 1e-9))) for r, x in zip(reps, baseline)])
    w = np.asarray(weights, dtype=float)[:, None]
    if objective == "maxmin":
        return a.min(axis=0) - b.min(axis=0)
    return (w * a).sum(axis=0) - (w * b).sum(axis=0)


def interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return float(lo), float(hi)


def by_code(codes: Sequence[str], found: Mapping[str, LawReplicates], laws: Mapping[str, ScalingLaw],
            count: int) -> list[LawReplicates]:
    return [found[c] if c in found else constant_replicates(laws[c], count) for c in codes]
