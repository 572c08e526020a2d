"""Split a budget of parallel pairs across languages: exact water-filling, a uniform baseline and max-min.

The problem is maximise sum_i w_i f_i(x_i) subject to sum_i x_i <= B and lo_i <= x_i <= hi_i, with every f_i concave
and increasing. At the continuous optimum every language strictly inside its bounds has the same weighted marginal
gain lambda, so x_i(lambda) = clip(f_i'^-1(lambda / w_i), lo_i, hi_i) and lambda is the root of
sum_i x_i(lambda) = B. The laws' inverse derivatives are closed form, so each evaluation is a handful of numpy
operations over all languages of one law form; a safeguarded Newton iteration on log(lambda) finds the root in a few
steps. Whole pairs are then handed out greedily by the largest exact one-pair gains, which keeps the integer plan
optimal (the continuous optimum floors to within one pair of it).

A power law is -inf at zero pairs, so a language under a power law always gets at least one pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from studio.errors import PlanningError
from studio.planning.budget import format_pairs
from studio.planning.laws import LogLaw, PowerLaw, ScalingLaw

OBJECTIVES = ("sum", "maxmin")


@dataclass(frozen=True)
class LanguageRequest:
    """One language to plan for: its law, the pairs that exist (cap), a floor and a weight in the objective."""

    code: str
    law: ScalingLaw
    cap: int
    floor: int = 0
    weight: float = 1.0


@dataclass(frozen=True)
class Allocation:
    """Whole pairs per language (in request order) and what the laws predict for them.

    ``total`` is sum of w*f; ``lam`` is the common weighted marginal gain per pair at the continuous optimum of the
    sum objective (0 when every language has all its pairs, nan for maxmin and the uniform baseline).
    """

    objective: str
    budget: int
    pairs: dict[str, int]
    predicted: dict[str, float]
    total: float
    lam: float
    warnings: tuple[str, ...] = ()

    @property
    def allocated(self) -> int:
        """Pairs handed out in total (the budget, or every available pair when the budget exceeds them)."""
        return sum(self.pairs.values())

    @property
    def minimum(self) -> float:
        """The lowest predicted score among the languages."""
        return min(self.predicted.values())


class _Curves:
    """The weighted laws of a request set as numpy arrays, evaluated for all languages at once.

    Languages are held power laws first, then log laws, so each form is a contiguous slice (views, no gathers).
    """

    def __init__(self, power: Sequence[PowerLaw], log: Sequence[LogLaw], weights: np.ndarray):
        self.k = len(power)
        self.n = self.k + len(log)
        k = self.k
        self.pc = np.array([law.c for law in power], dtype=float)
        self.pa = np.array([law.a for law in power], dtype=float)
        self.pb = np.array([law.b for law in power], dtype=float)
        self.pg = np.array([law.g for law in power], dtype=float)
        self.pw = weights[:k]
        self.p_scale = self.pa * self.pg ** (-self.pb)  # f(x) = c - p_scale * x**-b
        self.p_coef = self.pw * self.p_scale * self.pb  # w f'(x) = p_coef * x**-(b+1)
        self.p_exp = 1.0 / (self.pb + 1.0)
        self.p_exp1 = -self.pb - 1.0
        self.qa = np.array([law.a for law in log], dtype=float)
        self.qb = np.array([law.b for law in log], dtype=float)
        self.qx0 = np.array([law.x0 for law in log], dtype=float)
        self.qwa = weights[k:] * self.qa
        self.has_log = bool(log)
        self.has_power = bool(power)
        # d x_i / d log(lam) = -(dx_scale * x_i + dx_shift) along x_at_marginal, for all languages at once.
        self.dx_scale = np.concatenate((self.p_exp, np.ones(len(log))))
        self.dx_shift = np.concatenate((np.zeros(k), self.qx0))

    def _split(self, fn_power, fn_log, x: np.ndarray) -> np.ndarray:
        if not self.has_log:
            return fn_power(x)
        if not self.has_power:
            return fn_log(x)
        return np.concatenate((fn_power(x[: self.k]), fn_log(x[self.k :])))

    def value(self, x: np.ndarray) -> np.ndarray:
        """Unweighted scores f_i(x_i)."""
        return self._split(
            lambda v: self.pc - self.p_scale * v ** (-self.pb),
            lambda v: self.qa * np.log1p(v / self.qx0) + self.qb,
            x,
        )

    def marginal(self, x: np.ndarray) -> np.ndarray:
        """Weighted marginal gains w_i f_i'(x_i)."""
        return self._split(lambda v: self.p_coef * v**self.p_exp1, lambda v: self.qwa / (self.qx0 + v), x)

    def x_at_marginal(self, lam: float) -> np.ndarray:
        """Unclipped x_i where w_i f_i'(x_i) = lam."""
        if not self.has_log:
            return (self.p_coef / lam) ** self.p_exp
        log_part = np.maximum(self.qwa / lam - self.qx0, 0.0)
        if not self.has_power:
            return log_part
        return np.concatenate(((self.p_coef / lam) ** self.p_exp, log_part))

    def x_at_score(self, score: float) -> np.ndarray:
        """Unclipped x_i where f_i(x_i) = score (inf at or above a ceiling)."""

        def power(_v):
            gap = self.pc - score
            return np.where(gap > 0, (np.maximum(gap, 1e-300) / self.p_scale) ** (-1.0 / self.pb), np.inf)

        def log(_v):
            return np.maximum(self.qx0 * np.expm1((score - self.qb) / self.qa), 0.0)

        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return self._split(power, log, np.empty(self.n))

    def step_gain(self, x: np.ndarray) -> np.ndarray:
        """Weighted gain of one more pair, w_i (f_i(x_i + 1) - f_i(x_i)), without cancellation error."""
        with np.errstate(divide="ignore"):
            return self._split(
                lambda v: self.pw * self.p_scale * v ** (-self.pb) * -np.expm1(-self.pb * np.log1p(1.0 / v)),
                lambda v: self.qwa * np.log1p(1.0 / (self.qx0 + v)),
                x,
            )


@dataclass
class _Problem:
    codes: list[str]  # request order
    order: np.ndarray  # internal position -> request index (power laws first)
    curves: _Curves
    lo: np.ndarray  # internal order, like hi and weights
    hi: np.ndarray
    weights: np.ndarray
    budget: int
    objective: str
    lo_total: float = 0.0
    hi_total: float = 0.0


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _numbers(requests: Sequence[LanguageRequest], name: str) -> np.ndarray:
    try:
        return np.array([getattr(req, name) for req in requests], dtype=float)
    except (TypeError, ValueError):
        for req in requests:
            value = getattr(req, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise PlanningError(f"The {name} of {req.code!r} must be a number, got {value!r}.", field=req.code)
        raise


def _explain_bad_numbers(requests, codes, weights, caps, floors) -> None:
    """Raise the PlanningError for the first request with an unusable weight, cap or floor."""
    bad = ~(np.isfinite(weights) & (weights > 0))
    if bad.any():
        i = _first(bad)
        raise PlanningError(f"The weight of {codes[i]!r} must be positive, got {requests[i].weight!r}.", field=codes[i])
    for name, values in (("cap", caps), ("floor", floors)):
        bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
        if bad.any():
            i = _first(bad)
            raise PlanningError(
                f"The {name} of {codes[i]!r} must be a whole number of pairs, not negative; got {values[i]:g}.",
                field=codes[i],
            )
    i = _first(floors > caps)
    raise PlanningError(
        f"The floor of {codes[i]!r} ({format_pairs(floors[i])} pairs) is above its cap "
        f"({format_pairs(caps[i])} pairs).",
        field=codes[i],
    )


def _prepare(requests: Sequence[LanguageRequest], budget: int, objective: str) -> _Problem:
    if objective not in OBJECTIVES:
        raise PlanningError(f"Unknown objective {objective!r}; expected sum or maxmin.", field="objective")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise PlanningError(f"Budget must be a whole number of pairs, got {budget!r}.", field="budget")
    if budget < 0:
        raise PlanningError(f"Budget must not be negative, got {format_pairs(budget)}.", field="budget")
    if not requests:
        raise PlanningError("No languages to plan for; choose at least one.", field="languages")
    n = len(requests)
    codes = [req.code for req in requests]
    if len(set(codes)) != n:
        seen: set[str] = set()
        for i, code in enumerate(codes):
            if code in seen:
                raise PlanningError(f"Language {code!r} is listed twice.", field=f"languages[{i}]")
            seen.add(code)
    try:
        weights = np.array([req.weight for req in requests], dtype=float)
        caps = np.array([req.cap for req in requests], dtype=float)
        floors = np.array([req.floor for req in requests], dtype=float)
    except (TypeError, ValueError):
        for name in ("weight", "cap", "floor"):
            _numbers(requests, name)
        raise
    bounds = np.concatenate((caps, floors))
    if not (
        np.isfinite(weights).all() and weights.min() > 0 and np.isfinite(bounds).all() and bounds.min() >= 0
        and (bounds == np.floor(bounds)).all() and (floors <= caps).all()
    ):
        _explain_bad_numbers(requests, codes, weights, caps, floors)
    kinds = [type(req.law) for req in requests]
    if not set(kinds) <= {PowerLaw, LogLaw}:
        for req, kind in zip(requests, kinds):
            if kind is not PowerLaw and kind is not LogLaw:
                raise PlanningError(f"The law of {req.code!r} is not a power or log scaling law.", field=req.code)
    power_flags = [kind is PowerLaw for kind in kinds]
    is_power = np.array(power_flags, dtype=bool)
    # A power law is -inf at zero pairs: its language needs at least one.
    floors = np.where(is_power, np.maximum(floors, 1.0), floors)
    if (floors > caps).any():
        i = _first(floors > caps)
        raise PlanningError(
            f"{codes[i]!r} has no pairs available (cap 0), and its power law needs at least one pair.", field=codes[i]
        )
    floors_total = int(floors.sum())
    if budget < floors_total:
        raise PlanningError(
            f"Budget {format_pairs(budget)} is below the sum of floors {format_pairs(floors_total)}.", field="budget"
        )
    power_laws = [req.law for req, p in zip(requests, power_flags) if p]
    if len(power_laws) == n:
        order = np.arange(n)
        curves = _Curves(power_laws, [], weights)  # type: ignore[arg-type]
    else:
        order = np.concatenate((np.flatnonzero(is_power), np.flatnonzero(~is_power)))
        weights, floors, caps = weights[order], floors[order], caps[order]
        log_laws = [req.law for req, p in zip(requests, power_flags) if not p]
        curves = _Curves(power_laws, log_laws, weights)  # type: ignore[arg-type]
    return _Problem(
        codes, order, curves, floors, caps, weights, int(budget), objective, floors_total, float(caps.sum())
    )


def _water_fill(problem: _Problem) -> tuple[np.ndarray, float]:
    """Continuous optimum of the sum objective and its lambda (safeguarded Newton on log lambda)."""
    curves, lo, hi, budget = problem.curves, problem.lo, problem.hi, problem.budget
    if budget >= problem.hi_total:
        return hi.copy(), 0.0
    marginal_lo = curves.marginal(lo)
    if budget <= problem.lo_total:
        return lo.copy(), float(marginal_lo.max())
    # All at hi: too many pairs. A huge cap (1e12 pairs) underflows its marginal to 0: any tiny level is as good.
    u_left = math.log(max(float(curves.marginal(hi).min()), 1e-300))
    u_right = math.log(float(marginal_lo.max()))  # all at lo: too few
    tolerance = 1e-9 * max(1.0, budget)
    # Start from the lambda of an even split: usually a few Newton steps from the root.
    even = np.minimum(np.maximum(np.full(len(lo), budget / len(lo)), lo), hi)
    u = float(np.mean(np.log(curves.marginal(even))))
    if not u_left < u < u_right:
        u = 0.5 * (u_left + u_right)
    best_x, best_u = lo.copy(), u_right
    log_budget = math.log(budget)
    for _ in range(200):
        raw = curves.x_at_marginal(math.exp(u))
        x = np.minimum(np.maximum(raw, lo), hi)
        spent = float(x.sum())
        excess = spent - budget
        if excess > 0:
            u_left = u
        else:
            u_right = u
            best_x, best_u = x, u
        if abs(excess) <= tolerance or u_right - u_left <= 1e-14 * max(1.0, abs(u)):
            if excess > 0:
                best_x, best_u = x, u
            break
        free = (raw > lo) & (raw < hi)
        slope = -float(np.dot(free, curves.dx_scale * raw + curves.dx_shift))
        step_ok = False
        if slope < 0 and spent > 0:
            # Newton on log(spent): for power laws spent(u) is near exp-linear in u, so this converges in a step
            # or two where Newton on spent itself would creep.
            u_next = u - (math.log(spent) - log_budget) * spent / slope
            step_ok = u_left < u_next < u_right
        u = u_next if step_ok else 0.5 * (u_left + u_right)
    return best_x, math.exp(best_u)


def _round_to_budget(problem: _Problem, x: np.ndarray, target: int, rank) -> np.ndarray:
    """Whole pairs within [lo, hi] that sum to ``target``: floor, then add (or remove) single pairs by ``rank``.

    ``rank(xi, step)`` scores the candidates: the pair with the highest score is added first (the lowest removed).
    """
    lo, hi = problem.lo, problem.hi
    xi = np.clip(np.floor(x + 1e-7), lo, hi)
    remaining = int(round(target - xi.sum()))
    while remaining != 0:
        adding = remaining > 0
        depth = min(abs(remaining), 2)
        scores = []
        for k in range(1, depth + 1):
            if adding:
                base = xi + (k - 1)
                s = np.where(base + 1 <= hi, rank(base, 1), -np.inf)
            else:
                base = xi - k
                s = np.where(base >= lo, -rank(base, -1), -np.inf)
            scores.append(s)
        matrix = np.stack(scores, axis=1)  # n x depth, decreasing along each row for concave laws
        flat = matrix.ravel()
        valid = int(np.isfinite(flat).sum())
        if valid == 0:
            break
        take = min(abs(remaining), valid)
        order = np.argsort(-flat, kind="stable")[:take]
        counts = np.bincount(order // depth, minlength=len(xi))
        xi = xi + counts if adding else xi - counts
        remaining += -take if adding else take
    return xi


def _exchange_pairs(problem: _Problem, xi: np.ndarray) -> np.ndarray:
    """Move single pairs from the language losing least to the one gaining most while that raises the objective.

    Rounding from the continuous optimum is exact only when that optimum is; solved to a tolerance, a floor can
    land one pair on the wrong side. For concave separable objectives an allocation no single move improves is
    the whole-pair optimum, so this pass makes the result exact; it usually makes no move at all.
    """
    curves, lo, hi = problem.curves, problem.lo, problem.hi
    xi = xi.copy()
    for _ in range(4 * len(xi) + 16):
        gain = np.where(xi < hi, curves.step_gain(xi), -np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(xi > lo, curves.step_gain(np.maximum(xi - 1, 1e-300)), np.inf)
        i, j = int(np.argmax(gain)), int(np.argmin(loss))
        if i == j or not gain[i] > loss[j] * (1 + 1e-12):
            break
        xi[i] += 1
        xi[j] -= 1
    return xi


def _solve_maxmin(problem: _Problem, whole: bool = False) -> np.ndarray:
    """Max-min levels: bisection on the common score t, x_i = clip(f_i^-1(t), lo_i, hi_i).

    With ``whole`` the pairs are rounded up (the fewest whole pairs reaching t), so the largest feasible t is the
    exact whole-pair max-min level, not a rounding of the real-valued one.
    """
    curves, lo, hi, budget = problem.curves, problem.lo, problem.hi, problem.budget
    if budget >= problem.hi_total:
        return hi.copy()
    t_low = float(curves.value(lo).min())
    t_high = float(curves.value(hi).max())
    best = lo.copy()
    for _ in range(200):
        t = 0.5 * (t_low + t_high)
        x = curves.x_at_score(t)
        if whole:
            x = np.ceil(x * (1.0 - 1e-12) - 1e-9)
        x = np.clip(x, lo, hi)
        if x.sum() <= budget:
            t_low, best = t, x
        else:
            t_high = t
        if t_high - t_low <= 1e-13 * max(1.0, abs(t)):
            break
    return best


def _uniform_levels(problem: _Problem) -> np.ndarray:
    """B/n each, clamped to [lo, hi], the surplus shared equally by the unclamped languages.

    The spend S(t) = sum clip(t, lo, hi) is piecewise linear in the common level t with breaks at the floors and
    caps, so the level is found exactly: the break interval holding the budget, then a linear step inside it.
    """
    lo, hi, budget = problem.lo, problem.hi, problem.budget
    if budget >= problem.hi_total:
        return hi.copy()
    breaks = np.unique(np.concatenate((lo, hi)))
    spend = np.minimum(np.maximum(breaks[:, None], lo), hi).sum(axis=1)  # non-decreasing in the level
    k = int(np.searchsorted(spend, budget, side="right")) - 1
    if k < 0:
        return lo.copy()
    level = float(breaks[k])
    if k + 1 < len(breaks):
        active = int(np.count_nonzero((lo <= level) & (hi >= breaks[k + 1])))
        if active:
            level += (budget - float(spend[k])) / active
    return np.minimum(np.maximum(level, lo), hi)


def _request_order(problem: _Problem, values: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    out[problem.order] = values
    return out


def _finish(problem: _Problem, pairs: np.ndarray, objective: str, lam: float, warnings: list[str]) -> Allocation:
    predicted = problem.curves.value(pairs)
    total = float(np.dot(problem.weights, predicted))
    pairs = _request_order(problem, pairs).astype(np.int64).tolist()
    predicted = _request_order(problem, predicted).tolist()
    return Allocation(
        objective=objective,
        budget=problem.budget,
        pairs=dict(zip(problem.codes, pairs)),
        predicted=dict(zip(problem.codes, predicted)),
        total=total,
        lam=lam,
        warnings=tuple(warnings),
    )


def _budget_warnings(problem: _Problem) -> list[str]:
    available = int(problem.hi_total)
    if problem.budget > available:
        return [
            f"Budget {format_pairs(problem.budget)} exceeds the {format_pairs(available)} pairs available for these "
            f"languages; every language gets all its available pairs."
        ]
    return []


def continuous_optimum(
    requests: Sequence[LanguageRequest], budget: int, objective: str = "sum"
) -> tuple[np.ndarray, float]:
    """The real-valued optimum (before rounding to whole pairs) and its lambda (nan for maxmin)."""
    problem = _prepare(requests, budget, objective)
    if objective == "sum":
        x, lam = _water_fill(problem)
        return _request_order(problem, x), lam
    return _request_order(problem, _solve_maxmin(problem)), math.nan


def allocate(requests: Sequence[LanguageRequest], budget: int, objective: str = "sum") -> Allocation:
    """The optimal whole-pair allocation of ``budget`` for ``objective`` "sum" (sum of w*f) or "maxmin".

    The pairs sum exactly to the budget, or to the pairs available when the budget exceeds them (with a warning).
    Max-min raises the worst-predicted language first; it ignores the weights.
    """
    problem = _prepare(requests, budget, objective)
    warnings = _budget_warnings(problem)
    target = min(problem.budget, int(problem.hi_total))
    curves = problem.curves
    if objective == "sum":
        x, lam = _water_fill(problem)
        pairs = _round_to_budget(problem, x, target, lambda base, _sign: curves.step_gain(base))
        pairs = _exchange_pairs(problem, pairs)
    else:
        if np.any(problem.weights != 1.0):
            warnings.append("The maxmin objective ignores the language weights.")
        x = _solve_maxmin(problem, whole=True)
        lam = math.nan
        # Pairs left over once no language can be lifted further go to the lowest-scoring languages first.
        pairs = _round_to_budget(
            problem, x, target, lambda base, sign: -curves.value(base) if sign > 0 else -curves.value(base + 1)
        )
    return _finish(problem, pairs, objective, lam, warnings)


def uniform_allocation(requests: Sequence[LanguageRequest], budget: int) -> Allocation:
    """The uniform baseline: B/n pairs each, clamped to [floor, cap], the surplus redistributed, whole pairs."""
    problem = _prepare(requests, budget, "sum")
    warnings = _budget_warnings(problem)
    target = min(problem.budget, int(problem.hi_total))
    x = _uniform_levels(problem)
    order_bias = -problem.order * 1e-6  # of languages with equal pairs, the one listed first gets the extra pair
    pairs = _round_to_budget(problem, x, target, lambda base, _sign: -base + order_bias)
    return _finish(problem, pairs, "uniform", math.nan, warnings)


def marginal_value(allocation: Allocation, requests: Sequence[LanguageRequest], per: int = 1000) -> float:
    """What ``per`` more pairs of budget buy: the rise in the objective (sum of w*f, or the lowest score for maxmin)."""
    objective = allocation.objective
    if objective == "uniform":
        richer = uniform_allocation(requests, allocation.budget + per)
    else:
        richer = allocate(requests, allocation.budget + per, objective)
    if objective == "maxmin":
        return richer.minimum - allocation.minimum
    return richer.total - allocation.total
