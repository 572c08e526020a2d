"""Benchmark: the water-filling allocator against scipy's SLSQP on the same problems.

Prints, for 6, 50 and 200 languages: each solver's median wall time and the objective it reaches (sum of w*f). Ours
is the full ``allocate`` call (validation, exact water-filling, whole pairs summing to the budget); SLSQP gets an
analytic gradient and solves the real-valued relaxation, so its objective is an upper bound for any whole-pair plan
up to one pair per language. Ours is also shown before rounding ("ours, real-valued"). Never fails on a time.

    python tests/bench/bench_planning_allocation.py [--repeats 200] [--clock wall|cpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from studio.planning.allocation import LanguageRequest, allocate, continuous_optimum  # noqa: E402
from studio.planning.laws import LogLaw, PowerLaw  # noqa: E402


def random_requests(n: int, rng: np.random.Generator) -> list[LanguageRequest]:
    """Two power laws for every log law, caps like WikiMatrix's (10k to 2M pairs), a few floors and weights."""
    requests = []
    for i in range(n):
        if i % 3 == 2:
            law = LogLaw(a=rng.uniform(2, 8), b=rng.uniform(20, 40), x0=rng.uniform(100, 5_000))
        else:
            law = PowerLaw(c=rng.uniform(80, 92), a=rng.uniform(150, 350), b=rng.uniform(0.2, 0.45),
                           g=rng.uniform(0.1, 1.0))
        cap = int(np.exp(rng.uniform(np.log(10_000), np.log(2_000_000))))
        floor = int(rng.integers(0, 2_000)) if i % 5 == 0 else 0
        requests.append(LanguageRequest(f"l{i}", law, cap=cap, floor=floor, weight=float(rng.choice([1.0, 1.0, 2.0]))))
    return requests


def vectorised(requests):
    """Objective and gradient of sum w*f over a real vector, for SLSQP."""
    w = np.array([r.weight for r in requests])
    power = np.array([isinstance(r.law, PowerLaw) for r in requests])
    c = np.array([r.law.c if p else 0.0 for r, p in zip(requests, power)])
    a = np.array([r.law.a for r in requests])
    b = np.array([r.law.b for r in requests])
    g = np.array([r.law.g if p else 1.0 for r, p in zip(requests, power)])
    x0 = np.array([1.0 if p else r.law.x0 for r, p in zip(requests, power)])

    def value(x):
        xs = np.maximum(x, 1e-9)
        return np.where(power, c - a * (g * xs) ** (-b), a * np.log1p(xs / x0) + b)

    def gradient(x):
        xs = np.maximum(x, 1e-9)
        return w * np.where(power, a * b * g ** (-b) * xs ** (-b - 1), a / (x0 + xs))

    return (lambda x: float(w @ value(x))), gradient


def slsqp(requests, budget):
    objective, gradient = vectorised(requests)
    lo = np.array([max(r.floor, 1) if isinstance(r.law, PowerLaw) else r.floor for r in requests], dtype=float)
    hi = np.array([r.cap for r in requests], dtype=float)
    scale = budget / len(requests)  # work in units of the even share so the variables are O(1)
    start = np.clip(np.full(len(requests), budget / len(requests)), lo, hi) / scale
    result = minimize(
        lambda u: -objective(u * scale), start, jac=lambda u: -gradient(u * scale) * scale, method="SLSQP",
        bounds=list(zip(lo / scale, hi / scale)),
        constraints=[{"type": "ineq", "fun": lambda u: budget / scale - u.sum(), "jac": lambda u: -np.ones_like(u)}],
        options={"maxiter": 1000, "ftol": 1e-12},
    )
    x = np.clip(result.x * scale, lo, hi)
    if x.sum() > budget:  # scale away any budget overshoot so the comparison is between feasible plans
        free = x - lo
        x = lo + free * (budget - lo.sum()) / free.sum()
    return objective(x)


def median_time(fn, repeats, clock):
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times), min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200, help="timed runs of ours (SLSQP: a tenth, at least 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: perf_counter; cpu: this process's CPU time (steadier on a shared machine)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    print(f"{args.clock} clock; objective = sum of w*f; 'vs SLSQP' = objective minus SLSQP's (>= 0: never lower)")
    header = (f"{'languages':>9}  {'solver':<18}  {'median time':>12}  {'fastest':>10}  {'objective':>16}  "
              f"{'vs SLSQP':>10}")
    print(header)
    print("-" * len(header))
    summary = []
    for n in (6, 50, 200):
        requests = random_requests(n, rng)
        budget = int(0.3 * sum(r.cap for r in requests))
        ours = allocate(requests, budget)
        x, _ = continuous_optimum(requests, budget)
        real_valued = float(sum(r.weight * r.law.value(float(v)) for r, v in zip(requests, x)))
        theirs = slsqp(requests, budget)
        (t_ours, best_ours) = median_time(lambda: allocate(requests, budget), args.repeats, clock)
        (t_theirs, best_theirs) = median_time(lambda: slsqp(requests, budget), max(3, args.repeats // 10), clock)
        print(f"{n:>9}  {'ours (whole pairs)':<18}  {t_ours * 1e3:>9.3f} ms  {best_ours * 1e3:>7.3f} ms  "
              f"{ours.total:>16.6f}  {ours.total - theirs:>+10.1e}")
        print(f"{n:>9}  {'ours, real-valued':<18}  {'':>12}  {'':>10}  {real_valued:>16.6f}  "
              f"{real_valued - theirs:>+10.1e}")
        print(f"{n:>9}  {'SLSQP':<18}  {t_theirs * 1e3:>9.3f} ms  {best_theirs * 1e3:>7.3f} ms  {theirs:>16.6f}")
        summary.append((n, t_ours, t_theirs, real_valued >= theirs - 1e-9 * abs(theirs)))
    print()
    for n, t_ours, t_theirs, not_worse in summary:
        print(f"{n:>4} languages: ours is {t_theirs / t_ours:,.0f}x faster than SLSQP; real-valued objective "
              f"{'never below' if not_worse else 'BELOW'} SLSQP's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
