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
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np

from studio.errors import PlanningError
from studio.planning.laws import ScalingLaw
from studio.planning.replicates import LEVEL, PARAMS, LawReplicates, evaluate

GRID_POINTS = 1200


@lru_cache(maxsize=1024)
def constant_replicates(law: ScalingLaw, count: int) -> LawReplicates:
    """``count`` identical draws of a law that has no replicates (the prior, or a fit without a bootstrap); the
    same object for the same law, so its tabulated curves are kept between plans."""
    params = law.params()
    return LawReplicates(law.form, {name: np.full(count, params.get(name, 1.0)) for name in PARAMS[law.form]})


def aligned(replicates: Sequence[LawReplicates]) -> list[LawReplicates]:
    """Every language cut to the same number of draws (the smallest), so draw r is one joint world."""
    count = min(len(r) for r in replicates)
    return [r if len(r) == count else r.head(count) for r in replicates]


@dataclass
class _Curves:
    """Every language's robust curve on its own log grid: ``x`` and ``g`` are (L, K), increasing along K."""

    x: np.ndarray
    g: np.ndarray

    @property
    def slopes(self) -> np.ndarray:
        dx = np.diff(self.x, axis=1)
        s = np.where(dx > 0, np.diff(self.g, axis=1) / np.where(dx > 0, dx, 1.0), 0.0)
        # Concave: slopes non-increasing along the grid (the curves of concave draws are, up to the grid).
        return np.minimum.accumulate(np.maximum(s, 0.0), axis=1)


def _curves(replicates: Sequence[LawReplicates], lo: np.ndarray, hi: np.ndarray, quantile: float | None) -> _Curves:
    start = np.maximum(lo, 1.0)
    top = np.maximum(hi, start)
    t = np.linspace(0.0, 1.0, GRID_POINTS)[None, :]
    x = np.exp(np.log(start)[:, None] + t * (np.log(top) - np.log(start))[:, None])  # L x K
    x[:, 0] = np.where(lo >= 1, lo, x[:, 0])
    g = np.empty_like(x)
    for i, reps in enumerate(replicates):
        # Tabulating is most of a robust plan's cost and a budget edit does not change a language's grid (floor
        # to cap), so each set of replicates keeps its last few tables.
        key = (float(x[i, 0]), float(x[i, -1]), quantile, len(reps))
        cache = reps.curve_cache
        if key not in cache:
            values = reps.values(x[i])  # R x K
            cache[key] = values.mean(axis=0) if quantile is None else np.quantile(values, quantile, axis=0)
            while len(cache) > 8:
                cache.pop(next(iter(cache)))
        g[i] = cache[key]
    return _Curves(x, np.maximum.accumulate(g, axis=1))  # every draw rises, so the curve must too


def _sum_solution(curves: _Curves, weights: np.ndarray, budget: float) -> np.ndarray:
    slopes = weights[:, None] * curves.slopes  # L x (K-1), non-increasing
    rows = np.arange(len(slopes))

    def spend(lam: float) -> np.ndarray:
        k = (slopes > lam).sum(axis=1)  # segments still steeper than lambda, taken whole
        return curves.x[rows, k]

    if spend(0.0).sum() <= budget:
        return spend(0.0)
    lo_lam, hi_lam = 0.0, float(slopes[:, 0].max()) * 2.0 + 1e-300
    for _ in range(100):
        mid = 0.5 * (lo_lam + hi_lam)
        if spend(mid).sum() > budget:
            lo_lam = mid
        else:
            hi_lam = mid
    x = spend(hi_lam)  # within budget; the rest goes to the steepest next segments, part of one if need be
    k = (slopes > hi_lam).sum(axis=1)
    rest = budget - x.sum()
    nxt = np.where(k < slopes.shape[1], slopes[rows, np.minimum(k, slopes.shape[1] - 1)], -1.0)
    for i in np.argsort(-nxt):
        if rest <= 0:
            break
        take = min(curves.x[i, -1] - x[i], rest)
        x[i] += take
        rest -= take
    return x


def _level_pairs(curves: _Curves, t: float) -> np.ndarray:
    """Per language the pairs its curve needs to reach t (its floor when already there, its top when never)."""
    g, x = curves.g, curves.x
    k = (g < t).sum(axis=1)  # first grid index at or above t
    rows = np.arange(len(g))
    k_hi = np.minimum(k, g.shape[1] - 1)
    k_lo = np.maximum(k - 1, 0)
    g0, g1 = g[rows, k_lo], g[rows, k_hi]
    frac = np.where(g1 > g0, (t - g0) / np.where(g1 > g0, g1 - g0, 1.0), 1.0)
    out = x[rows, k_lo] + np.clip(frac, 0.0, 1.0) * (x[rows, k_hi] - x[rows, k_lo])
    return np.where(k == 0, x[:, 0], out)


def _maxmin_solution(curves: _Curves, budget: float) -> np.ndarray:
    lo_t, hi_t = float(curves.g[:, 0].min()), float(curves.g[:, -1].max())
    if _level_pairs(curves, hi_t).sum() <= budget:
        return _level_pairs(curves, hi_t)
    for _ in range(100):
        mid = 0.5 * (lo_t + hi_t)
        if _level_pairs(curves, mid).sum() > budget:
            hi_t = mid
        else:
            lo_t = mid
    return _level_pairs(curves, lo_t)


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
    # Each grid runs from the floor to the cap (or the budget, when no cap is below it).
    top = np.minimum(hi, max(float(target), 1.0))
    curves = _curves(aligned(replicates), lo, top, quantile)
    if objective == "sum":
        x = _sum_solution(curves, np.asarray(weights, dtype=float), float(target))
    elif objective == "maxmin":
        x = _maxmin_solution(curves, float(target))
    else:
        raise PlanningError(f"Unknown objective {objective!r}; expected sum or maxmin.", field="objective")
    return _whole(np.clip(x, lo, hi), lo, hi, target)


def hedge(replicates: Sequence[LawReplicates], pairs: np.ndarray, baseline: np.ndarray, weights: Sequence[float],
          objective: str, lo: Sequence[int], hi: Sequence[int], steps: int = 10) -> np.ndarray:
    """The mix alpha*pairs + (1-alpha)*baseline (alpha on a grid of ``steps``) with the best expected objective
    over the replicates. For maxmin this matters: the expected minimum is not the minimum of the expected scores,
    and a language whose law is uncertain drags the minimum in many replicates."""
    pairs = np.asarray(pairs, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    target = int(round(pairs.sum()))
    reps = aligned(replicates)
    base = _scores(reps, baseline)
    best, best_value = pairs.astype(np.int64), -np.inf
    for alpha in np.linspace(1.0, 0.0, steps + 1):
        mixed = _whole(alpha * pairs + (1 - alpha) * baseline, np.asarray(lo, float), np.asarray(hi, float), target)
        value = float(_objective_gain(_scores(reps, mixed), base, weights, objective).mean())
        if value > best_value + 1e-9:
            best, best_value = mixed, value
    return best


def _scores(reps: Sequence[LawReplicates], pairs: Sequence[float]) -> np.ndarray:
    """Every language's score under every draw at its pairs: (L, R). Languages of one form are evaluated in one
    numpy expression."""
    out = np.empty((len(reps), len(reps[0])))
    x = np.maximum(np.asarray(pairs, dtype=float), 1e-9)
    for form, names in PARAMS.items():
        rows = [i for i, r in enumerate(reps) if r.form == form]
        if rows:
            params = {n: np.stack([reps[i].params[n] for i in rows]) for n in names}  # (l, R)
            out[rows] = evaluate(form, params, x[rows][:, None])
    return out


def _objective_gain(a: np.ndarray, b: np.ndarray, weights: Sequence[float], objective: str) -> np.ndarray:
    if objective == "maxmin":
        return a.min(axis=0) - b.min(axis=0)
    w = np.asarray(weights, dtype=float)[:, None]
    return (w * a).sum(axis=0) - (w * b).sum(axis=0)


def gain_samples(replicates: Sequence[LawReplicates], pairs: Sequence[float], baseline: Sequence[float],
                 weights: Sequence[float], objective: str) -> np.ndarray:
    """The objective of ``pairs`` minus that of ``baseline`` under each joint replicate (shape (R,))."""
    reps = aligned(replicates)
    return _objective_gain(_scores(reps, pairs), _scores(reps, baseline), weights, objective)


def interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return float(lo), float(hi)


def by_code(codes: Sequence[str], found: Mapping[str, LawReplicates], laws: Mapping[str, ScalingLaw],
            count: int) -> list[LawReplicates]:
    return [found[c] if c in found else constant_replicates(laws[c], count) for c in codes]
