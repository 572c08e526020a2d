"""Fit scaling laws to pilot measurements (language, pairs, score) and store them as a laws file.

Both forms are "linear in two parameters given one": ``power`` is y = c - A*z with z = (x/x_ref)^(-b), ``log`` is
y = b + a*z with z = ln(1 + x/x0). The fit therefore

1. profiles the non-linear parameter (b, or log x0) on a grid, solving the two linear ones in closed form
   (variable projection), which gives good starting points;
2. refines from each of the (up to three) deepest local minima of that profile with ``scipy.optimize.least_squares``
   (trust-region reflective, analytic Jacobian, bounds keeping the law concave and increasing) under the robust
   ``soft_l1`` loss, whose scale is 1.4826 x the median absolute residual of
   a plain least-squares fit, so one bad pilot run does not bend the curve.

The power form's a and g are not separately identifiable from measurements (only a*g^(-b) is), so fits keep g = 1.

A *pooled* fit shares the non-linear parameter (the exponent b, or x0 for the log form) across languages with
per-language linear ones; it serves languages with fewer measurements than the three parameters of a law.

Uncertainty is calibrated across languages (``_calibrate``). The noise of a score is a residual standard deviation
pooled over languages (their own fits' residual degrees of freedom, or one fit sharing the exponent across all
languages, whichever has more: a 3-point law through 3 points has none of its own), or a measurement's own sampling
error where that is larger or nothing could be pooled. With 5+ languages measured at 3+ sizes the replicates are
posterior draws under a population (empirical Bayes) prior fitted to those languages: their exponents (log b; ln x0
for the log form) normal with unknown mean and spread and, when at least half the languages have 3+ sizes, their
ceilings and amplitudes normal (a few EM steps, robust to the amplitude's heavy tails) and a noise scale on the
pooled sd (otherwise the pooled variance is redrawn from its chi-square), since a sd pooled from a shared-exponent fit
also holds that fit's lack of fit. The hyperparameters are averaged over their posterior, not set to their best
values: with noisy pilots the best spread collapses towards 0 and shrinks every language onto one exponent. Each
language's exponent is drawn from its marginal likelihood on a grid (ceiling and amplitude integrated out) times
that prior, then the two linear parameters from their normal conditional; a language with fewer sizes than
parameters keeps those two free and takes its exponent from the population. That prior is what keeps a language
whose noisy pilots suggest an extreme exponent from being believed at face value, the main source of plans that
promise gains and lose, and the prior on ceiling and amplitude is what keeps the exponents' spread from being
underestimated (flat, the exponents came out too alike and plans under-predicted what reallocation gains). With
fewer languages the replicates are a parametric bootstrap: scores simulated at the fit (the pooled variance redrawn
from its chi-square distribution, so few degrees of freedom widen the bands), refitted by the same variable
projection. The replicates give the 95% bands (``BAND_LEVEL``), the plan's gain interval and the robust allocation.
A fit with no residual degrees of freedom reports no R^2 ("exact fit through n points"), and a law whose exponent
sits on its bound, which came back flat, or whose ceiling the data cannot pin is flagged.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from studio.errors import FitError, PlanningError, short_repr
from studio.planning.laws import LAW_FORMS, LogLaw, PowerLaw, ScalingLaw
from studio.planning.replicates import LEVEL as BAND_LEVEL
from studio.planning.replicates import Evidence, LawReplicates

LAWS_SCHEMA = "linguatune.laws/1"
PARAMETERS_PER_LAW = 3
# Score points per measurement, assumed only when no residual degrees of freedom and no sampling error exist.
ASSUMED_NOISE_SD = 1.0
# Below this exponent a power law is nearly a straight line in log pairs: its ceiling c is not pinned by the data.
UNIDENTIFIED_CEILING_B = 0.05


class LawsFormatError(PlanningError):
    """A laws file that does not validate; ``field`` is the path of the offending entry (e.g. laws.ar.params.b)."""


@dataclass(frozen=True)
class Measurement:
    """One pilot point: the score a model tuned on ``pairs`` pairs of ``language`` reached."""

    language: str
    pairs: float
    score: float
    se: float | None = None  # the score's own sampling error (e.g. the worker's segment bootstrap), when known


@dataclass
class Band:
    """A pointwise confidence band of a fitted curve on a grid of pair counts."""

    x: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float = BAND_LEVEL


@dataclass
class FitResult:
    """A fitted law with its goodness of fit; ``pooled`` when its exponent was shared with other languages.

    ``r2`` is None when the law has as many free parameters as the language has measured sizes (``dof`` 0): an
    exact fit through the points, whose quality the points cannot judge. ``flags`` say what a user must not read
    into the law (exponent on a bound, a flat law, a ceiling the data do not pin). ``replicates`` are the
    parametric bootstrap draws of the law; ``noise_sd`` the per-score noise they were drawn with and
    ``noise_source`` where it came from."""

    language: str
    law: ScalingLaw
    r2: float | None
    rmse: float
    n_points: int
    pooled: bool
    band: Band | None
    points: list[Measurement] = field(default_factory=list)
    dof: int = 0
    flags: list[str] = field(default_factory=list)
    replicates: LawReplicates | None = None
    noise_sd: float | None = None
    noise_source: str = ""

    @property
    def measured(self) -> tuple[float, float] | None:
        """The smallest and largest pair counts this language was measured at."""
        if not self.points:
            return None
        sizes = [p.pairs for p in self.points]
        return (min(sizes), max(sizes))

    @property
    def sizes(self) -> int:
        return len({p.pairs for p in self.points}) if self.points else self.n_points

    def evidence(self) -> Evidence:
        return Evidence(self.measured, self.replicates, self.quality(), tuple(self.flags))

    def quality(self) -> str:
        """'R2 0.987', or 'exact fit through 3 sizes' when there is nothing left to judge the fit by."""
        if self.r2 is None:
            return f"exact fit through {self.sizes} size{'s' if self.sizes != 1 else ''}"
        return f"R2 {self.r2:.3f}"


# ---------------------------------------------------------------------------------------------------------------
# Reading measurements


def _number(text: Any, what: str, where: str) -> float:
    if isinstance(text, bool):
        raise FitError(f"{where}: {what} must be a number, got {short_repr(text, 60)}.", field=where)
    try:
        value = float(text)
    except (TypeError, ValueError, OverflowError):
        raise FitError(f"{where}: {what} must be a number, got {short_repr(text, 60)}.", field=where) from None
    if not math.isfinite(value):
        raise FitError(f"{where}: {what} must be finite, got {short_repr(text, 60)}.", field=where)
    return value


def _measurement(language: Any, pairs: Any, score: Any, where: str, catalogue, se: Any = None) -> Measurement:
    if not isinstance(language, str) or not language.strip():
        raise FitError(f"{where}: language must be a language code, got {short_repr(language, 60)}.", field=where)
    x = _number(pairs, "pairs", where)
    if x <= 0:
        raise FitError(f"{where}: pairs must be positive, got {x:g}.", field=where)
    y = _number(score, "score", where)
    error = None
    if se is not None and str(se).strip() != "":
        error = _number(se, "se", where)
        if error < 0:
            raise FitError(f"{where}: se must be 0 or more, got {error:g}.", field=where)
    code = catalogue.get(language.strip()).code if catalogue is not None else language.strip()
    return Measurement(code, x, y, error)


def load_measurements(path, catalogue=None) -> list[Measurement]:
    """Read pilot points from CSV (header ``language,pairs,score`` and optionally ``se``, the score's sampling
    error; ``#`` lines are comments) or JSON (a list of objects, or ``{"measurements": [...]}``). Codes are resolved
    through the language catalogue."""
    if catalogue is None:
        from studio.planning.languages import load_catalogue

        catalogue = load_catalogue()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FitError(f"Measurements file {str(path)!r} does not exist.", field=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FitError(f"Measurements file {str(path)!r} cannot be read: {exc}.", field=str(path)) from None
    name = path.name
    try:
        if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
            points = _measurements_from_json(text, name, catalogue)
        else:
            points = _measurements_from_csv(text, name, catalogue)
    except RecursionError:
        raise FitError(f"{name} is nested too deeply to be a measurements file.", field=name) from None
    except csv.Error as exc:
        raise FitError(f"{name} is not a usable CSV: {exc}.", field=name) from None
    if not points:
        raise FitError(f"{name} holds no measurements.", field=name)
    return points


def _measurements_from_json(text: str, name: str, catalogue) -> list[Measurement]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FitError(f"{name} is not valid JSON (line {exc.lineno}: {exc.msg}).", field=name) from None
    except ValueError as exc:  # an integer longer than Python converts
        raise FitError(f"{name} is not a usable measurements file: {exc}.", field=name) from None
    if isinstance(data, dict):
        if "measurements" not in data:
            raise FitError(f"{name}: a JSON object needs a 'measurements' list.", field="measurements")
        data = data["measurements"]
    if not isinstance(data, list):
        raise FitError(f"{name}: expected a list of measurements, got {type(data).__name__}.", field=name)
    points = []
    for i, row in enumerate(data, start=1):
        where = f"{name} row {i}"
        if not isinstance(row, dict):
            raise FitError(f"{where}: expected an object with language, pairs and score, got {short_repr(row, 60)}.",
                           field=where)
        for column in ("language", "pairs", "score"):
            if column not in row:
                raise FitError(f"{where}: missing {column!r}.", field=where)
        points.append(_measurement(row["language"], row["pairs"], row["score"], where, catalogue, row.get("se")))
    return points


def _measurements_from_csv(text: str, name: str, catalogue) -> list[Measurement]:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)]
    content = [(n, line) for n, line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not content:
        return []
    header_line, header_text = content[0]
    header = [cell.strip().lower() for cell in next(csv.reader(io.StringIO(header_text)))]
    missing = [column for column in ("language", "pairs", "score") if column not in header]
    if missing:
        raise FitError(
            f"{name} line {header_line}: missing column {missing[0]!r} (the header needs language, pairs, score).",
            field=missing[0],
        )
    index = {column: header.index(column) for column in ("language", "pairs", "score")}
    points = []
    for number, line in content[1:]:
        cells = next(csv.reader(io.StringIO(line)))
        where = f"{name} line {number}"
        if len(cells) < len(header):
            raise FitError(f"{where}: expected {len(header)} columns, got {len(cells)}.", field=where)
        se = cells[header.index("se")].strip() if "se" in header else None
        points.append(
            _measurement(cells[index["language"]], cells[index["pairs"]].strip(), cells[index["score"]].strip(),
                         where, catalogue, se)
        )
    return points


# ---------------------------------------------------------------------------------------------------------------
# The two forms as "y = p + q * z(x; theta)"


class _Form:
    """A law family written as y = p + q*z(x; theta), with sign(q) fixed so the law rises and is concave."""

    name: str
    sign: float

    def grid(self, x: np.ndarray) -> np.ndarray:
        """Values of theta to profile (evenly spaced, for the parabolic refinement)."""
        raise NotImplementedError

    def basis(self, x: np.ndarray, theta) -> np.ndarray:
        """z(x; theta); a theta array gives one row per theta."""
        raise NotImplementedError

    def dbasis(self, x: np.ndarray, theta: float) -> np.ndarray:
        """dz/dtheta."""
        raise NotImplementedError

    def theta_bounds(self, x: np.ndarray) -> tuple[float, float]:
        raise NotImplementedError

    def unit(self, theta, x_ref: float) -> np.ndarray:
        """q per unit of the law's own amplitude parameter (the population prior is on that parameter)."""
        raise NotImplementedError

    def law(self, p: float, q: float, theta: float, x_ref: float) -> ScalingLaw:
        raise NotImplementedError


class _PowerForm(_Form):
    # theta = b; z = (x / x_ref)^(-b); y = c - A z  (q = -A < 0);  a = A * x_ref^b, g = 1.
    name, sign = "power", -1.0
    lower, upper = 1e-3, 4.0

    def grid(self, x: np.ndarray) -> np.ndarray:
        return np.linspace(0.01, 3.0, 300)

    def basis(self, x, theta):
        return np.power(x, -np.asarray(theta)[..., None]) if np.ndim(theta) else np.power(x, -theta)

    def dbasis(self, x, theta):
        return -np.log(x) * np.power(x, -theta)

    def theta_bounds(self, x):
        return self.lower, self.upper

    def unit(self, theta, x_ref):
        return np.power(x_ref, -np.asarray(theta, dtype=float))  # q = -A = -a * x_ref^-b

    def law(self, p, q, theta, x_ref):
        return PowerLaw(c=p, a=-q * x_ref**theta, b=theta, g=1.0)


class _LogForm(_Form):
    # theta = ln(x0 / x_ref); z = ln(1 + x / x0) with x already divided by x_ref; y = b + a z.
    name, sign = "log", 1.0

    def grid(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self.theta_bounds(x)
        return np.linspace(lo, hi, 300)

    def basis(self, x, theta):
        if np.ndim(theta):
            return np.log1p(x / np.exp(np.asarray(theta))[..., None])
        return np.log1p(x / math.exp(theta))

    def dbasis(self, x, theta):
        return -x / (x + math.exp(theta))

    def theta_bounds(self, x):
        return float(np.log(x.min())) - 12.0, float(np.log(x.max())) + 6.0

    def unit(self, theta, x_ref):
        return np.ones_like(np.asarray(theta, dtype=float))  # q = a already

    def law(self, p, q, theta, x_ref):
        return LogLaw(a=q, b=p, x0=math.exp(theta) * x_ref)


_FORM_MODELS = {"power": _PowerForm(), "log": _LogForm()}


def _simple_regression(z: np.ndarray, y: np.ndarray, sign: float):
    """Least-squares p, q of y = p + q z along the last axis, with sign*q >= tiny; returns p, q, sse.

    Broadcasts: z (..., n) and y (..., n)."""
    zm = z.mean(axis=-1, keepdims=True)
    ym = y.mean(axis=-1, keepdims=True)
    zc, yc = z - zm, y - ym
    szz = np.maximum((zc * zc).sum(axis=-1), 1e-300)
    szy = (zc * yc).sum(axis=-1)
    q = szy / szz
    q = np.where(sign * q > 0, q, sign * 1e-12)
    p = ym[..., 0] - q * zm[..., 0]
    sse = ((yc * yc).sum(axis=-1)) - 2 * q * szy + q * q * szz
    return p, q, np.maximum(sse, 0.0)


def _parabolic_refine(grid: np.ndarray, sse: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Refine grid minima (index ``best`` along axis 0 of ``sse``) by a parabola through the neighbours."""
    i = np.clip(best, 1, len(grid) - 2)
    cols = np.arange(sse.shape[1])
    s0, s1, s2 = sse[i - 1, cols], sse[i, cols], sse[i + 1, cols]
    h = grid[1] - grid[0]
    denom = s0 - 2 * s1 + s2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(denom > 0, 0.5 * h * (s0 - s2) / denom, 0.0)
    shift = np.clip(shift, -h, h)
    return np.where((best > 0) & (best < len(grid) - 1), grid[i] + shift, grid[best])


@dataclass
class _Group:
    """The points of the languages fitted together, x already divided by x_ref."""

    codes: list[str]
    x: np.ndarray
    y: np.ndarray
    member: np.ndarray  # language index of each point
    se: np.ndarray | None = None  # each score's sampling error (nan: unknown)


def _profile(form: _Form, group: _Group, theta: np.ndarray):
    """Per-language closed-form p, q for each theta on a grid; total sse per theta."""
    L = len(group.codes)
    G = len(theta)
    p = np.empty((G, L))
    q = np.empty((G, L))
    sse = np.zeros(G)
    for l in range(L):
        mask = group.member == l
        z = form.basis(group.x[mask], theta)  # G x n_l
        pl, ql, sl = _simple_regression(z, np.broadcast_to(group.y[mask], z.shape), form.sign)
        p[:, l], q[:, l] = pl, ql
        sse += sl
    return p, q, sse


def _fit_group(form: _Form, group: _Group) -> tuple[float, np.ndarray, np.ndarray]:
    """Robust least-squares fit of one shared theta and per-language (p, q); several starts."""
    from scipy.optimize import least_squares  # imported here: planning from a laws file needs no scipy

    L = len(group.codes)
    grid = form.grid(group.x)
    p_grid, q_grid, sse = _profile(form, group, grid)
    # Starts: the (up to three) deepest local minima of the profiled error, so a two-valley profile is not missed.
    padded = np.concatenate(([np.inf], sse, [np.inf]))
    minima = np.flatnonzero((sse <= padded[:-2]) & (sse <= padded[2:]))
    starts = set(minima[np.argsort(sse[minima])][:3].tolist()) | {int(np.argmin(sse))}
    lo_theta, hi_theta = form.theta_bounds(group.x)
    member = group.member

    def residuals(v):
        theta, p, r = v[0], v[1 : L + 1], v[L + 1 :]
        z = form.basis(group.x, theta)
        return p[member] + form.sign * r[member] * z - group.y

    rows = np.arange(len(member))

    def jacobian(v):
        theta, r = v[0], v[L + 1 :]
        jac = np.zeros((len(member), 1 + 2 * L))
        jac[:, 0] = form.sign * r[member] * form.dbasis(group.x, theta)
        jac[rows, 1 + member] = 1.0
        jac[rows, 1 + L + member] = form.sign * form.basis(group.x, theta)
        return jac

    # Robust scale from the plain least-squares residuals of the best grid start.
    best = int(np.argmin(sse))
    v_ls = np.concatenate(([grid[best]], p_grid[best], form.sign * q_grid[best]))
    r_ls = residuals(v_ls)
    spread = float(np.ptp(group.y)) or 1.0
    f_scale = max(1.4826 * float(np.median(np.abs(r_ls - np.median(r_ls)))), 1e-6 * spread)
    lower = np.concatenate(([lo_theta], np.full(L, -np.inf), np.full(L, 1e-12)))
    upper = np.concatenate(([hi_theta], np.full(L, np.inf), np.full(L, np.inf)))
    winner = None
    for s in sorted(starts, key=lambda i: sse[i]):
        v0 = np.concatenate(([grid[s]], p_grid[s], np.maximum(form.sign * q_grid[s], 1e-9)))
        v0 = np.clip(v0, lower, upper)
        try:
            result = least_squares(
                residuals, v0, jac=jacobian, bounds=(lower, upper), loss="soft_l1", f_scale=f_scale,
                x_scale="jac", max_nfev=200 * len(v0),
            )
        except ValueError:
            continue
        if winner is None or result.cost < winner.cost:
            winner = result
    if winner is None or not np.all(np.isfinite(winner.x)):
        v = v_ls
    else:
        v = winner.x
    return float(v[0]), v[1 : L + 1], form.sign * v[L + 1 :]


def _goodness(law: ScalingLaw, x: np.ndarray, y: np.ndarray, params: int) -> tuple[float | None, float, int]:
    """R^2 (None without residual degrees of freedom), RMSE, and the residual degrees of freedom."""
    residual = y - law.value(x)
    ss_res = float(np.sum(residual**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    rmse = math.sqrt(ss_res / len(y))
    dof = max(len(np.unique(x)) - params, 0) + (len(x) - len(np.unique(x)))
    if dof <= 0:
        return None, rmse, 0
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res <= 1e-12 else 0.0)
    return r2, rmse, dof


def _flags(form: _Form, law: ScalingLaw, theta: float, q: float, x: np.ndarray, y: np.ndarray) -> list[str]:
    flags = []
    lo, hi = form.theta_bounds(x)
    span = hi - lo
    if theta <= lo + 0.01 * span or theta >= hi - 0.01 * span:
        name = "exponent b" if form.name == "power" else "x0"
        value = law.params()["b"] if form.name == "power" else law.params()["x0"]
        flags.append(f"{name} on its bound ({value:.3g}): the data do not pin it")
    rise = float(law.value(float(x.max())) - law.value(float(x.min())))
    if abs(q) < 1e-9 or rise < 0.05:
        flags.append(f"flat: the law rises only {rise:.2g} points across the measured sizes")
    elif form.name == "power" and law.params()["b"] < UNIDENTIFIED_CEILING_B:
        flags.append(f"ceiling not identified (b = {law.params()['b']:.2g}, c = {law.params()['c']:.4g}): the "
                     f"points are near a straight line in log pairs")
    return flags


def _band_grid(x: np.ndarray) -> np.ndarray:
    return np.geomspace(x.min() / 2.0, x.max() * 10.0, 60)


@dataclass
class _GroupFit:
    """A group fit's point estimates, kept for its bootstrap: shared theta, per-language p and q."""

    form: _Form
    group: _Group
    theta: float
    p: np.ndarray
    q: np.ndarray
    x_ref: float

    def fitted(self) -> np.ndarray:
        m = self.group.member
        return self.p[m] + self.q[m] * self.form.basis(self.group.x, self.theta)


def _refit_replicates(fit: _GroupFit, y_star: np.ndarray, shared: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refit every replicate (rows of ``y_star``) by variable projection: theta (R,), p and q (R, L). ``shared``:
    one theta per replicate for the whole group; otherwise the group is one language."""
    form, group = fit.form, fit.group
    grid = form.grid(group.x)
    R, L = y_star.shape[0], len(group.codes)
    sse = np.zeros((len(grid), R))
    for l in range(L):
        mask = group.member == l
        z = form.basis(group.x[mask], grid)  # G x n_l
        _, _, s = _simple_regression(z[:, None, :], y_star[None, :, mask], form.sign)  # G x R
        sse += s
    theta = _parabolic_refine(grid, sse, np.argmin(sse, axis=0))
    lo, hi = form.theta_bounds(group.x)
    theta = np.clip(theta, lo, hi)
    p = np.empty((R, L))
    q = np.empty((R, L))
    for l in range(L):
        mask = group.member == l
        z = form.basis(group.x[mask], theta)  # R x n_l
        p[:, l], q[:, l], _ = _simple_regression(z, y_star[:, mask], form.sign)
    return theta, p, q


def _replicate_params(form: _Form, p: np.ndarray, q: np.ndarray, theta: np.ndarray, x_ref: float) -> LawReplicates:
    if form.name == "power":
        return LawReplicates("power", {"c": p, "a": np.maximum(-q, 1e-12) * np.power(x_ref, theta), "b": theta})
    return LawReplicates("log", {"a": np.maximum(q, 1e-12), "b": p, "x0": np.exp(theta) * x_ref})


def _pooled_noise(results: dict[str, FitResult], shared: _GroupFit | None) -> tuple[float | None, int, str]:
    """The per-score noise sd and its degrees of freedom: the residuals of the languages' own fits pooled, or
    those of one fit sharing the exponent across every language (which has degrees of freedom even when each
    language has exactly three sizes), whichever has more."""
    ss, dof = 0.0, 0
    for result in results.values():
        if result.dof > 0:
            ss += result.rmse**2 * result.n_points
            dof += result.dof
    best = (math.sqrt(ss / dof), dof, f"residual sd of the languages' own fits, pooled over {dof} degree(s) of "
                                      f"freedom") if dof else (None, 0, "")
    if shared is not None:
        residual = shared.group.y - shared.fitted()
        shared_dof = len(residual) - (1 + 2 * len(shared.group.codes))
        if shared_dof > dof:
            best = (float(np.sqrt(np.sum(residual**2) / shared_dof)), shared_dof,
                    f"residual sd of one fit sharing the exponent across {len(shared.group.codes)} languages, "
                    f"over {shared_dof} degree(s) of freedom")
    return best


# With this many languages measured at 3+ sizes, the exponents' spread across languages is estimated (empirical
# Bayes) and every language's replicates are drawn from its posterior under that population prior; with fewer,
# replicates come from a parametric bootstrap of the point fits.
POPULATION_MIN_LANGUAGES = 5
# When every score has its own sampling error, a pooled residual sd overrides it only with this many dof or more.
TRUST_POOLED_DOF = 10
# The noise scale of a population fit, relative to the pooled estimate, is drawn from its posterior on this grid
# (log-spaced; the pooled estimate from a shared-exponent fit carries that fit's lack of fit and runs high).
NOISE_SCALES = np.geomspace(0.3, 2.0, 21)
# EM steps for the population prior of the two linear parameters (ceiling and amplitude for the power form).
POPULATION_EM_STEPS = 3


def _weighted_regression(z: np.ndarray, y: np.ndarray, w: np.ndarray, sign: float):
    """Weighted least squares of y = p + q z along the last axis (w the inverse variances, shape (n,)); returns
    p, q, the weighted sse and the weighted spread of z (for the (p, q) covariance and the marginal likelihood)."""
    sw = w.sum()
    zm = (w * z).sum(axis=-1, keepdims=True) / sw
    ym = (w * y).sum(axis=-1, keepdims=True) / sw
    zc, yc = z - zm, y - ym
    szz = np.maximum((w * zc * zc).sum(axis=-1), 1e-300)
    q = (w * zc * yc).sum(axis=-1) / szz
    q = np.where(sign * q > 0, q, sign * 1e-12)
    p = ym[..., 0] - q * zm[..., 0]
    resid = y - p[..., None] - q[..., None] * z
    return p, q, (w * resid * resid).sum(axis=-1), szz, zm[..., 0], sw


def _linear_posterior(z: np.ndarray, y: np.ndarray, w: np.ndarray, prior, sign: float, unit: np.ndarray):
    """The two linear parameters of y = p + q z given theta (one theta per row of ``z``; ``w`` the inverse noise
    variances, (n,) or one row per row of z), under independent normal priors ``prior = (m_p, v_p, m_u, v_u)`` on
    p and on u = q / unit (the law's own amplitude: unit = x_ref^-b for the power form, so u = -a); None is flat.
    Returns the log marginal likelihood of each row up to a constant (p and q integrated out, the sign of q
    enforced as a probability), the posterior mean and variance of q, and the posterior of p given q (mean at
    q's mean, slope on q, variance)."""
    m_p, v_p, m_u, v_u = prior if prior is not None else (0.0, math.inf, 0.0, math.inf)
    m_q, v_q = m_u * unit, v_u * unit * unit
    a11 = w.sum(axis=-1) + 1.0 / v_p
    a12 = (w * z).sum(axis=-1)
    a22 = (w * z * z).sum(axis=-1) + 1.0 / v_q
    b1 = (w * y).sum(axis=-1) + m_p / v_p
    b2 = (w * z * y).sum(axis=-1) + m_q / v_q
    det = np.maximum(a11 * a22 - a12 * a12, 1e-300)
    q_mean = (a11 * b2 - a12 * b1) / det
    p_mean = (a22 * b1 - a12 * b2) / det
    quad = (w * y * y).sum(axis=-1) + m_p * m_p / v_p + m_q * m_q / v_q - b1 * p_mean - b2 * q_mean
    q_var = a11 / det
    from scipy.special import log_ndtr  # here, like least_squares: planning from a laws file needs no scipy

    loglik = -0.5 * quad - 0.5 * np.log(det) + log_ndtr(sign * q_mean / np.sqrt(q_var))
    if np.isfinite(v_u):  # the prior's own normalisation, -log|S|/2, depends on theta through unit
        loglik = loglik - np.log(np.abs(unit))
    return loglik, q_mean, q_var, p_mean, -a12 / a11, 1.0 / a11


def _population_prior(form: _Form, grid: np.ndarray, loglik: np.ndarray, scales: np.ndarray, draws: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A hierarchical prior on t(theta) (log b for the power form, theta itself for the log form): normal with
    mean mu and spread tau, both unknown, and the noise scale kappa (a factor on every language's noise sd), all
    three averaged over their posterior given the languages' marginal likelihoods (``loglik``: kappa x language x
    theta grid; flat hyperpriors on mu, tau and log kappa over grids). Averaging rather than taking the best
    (mu, tau) matters: with noisy pilots the profiles are wide and the best tau collapses towards 0, which would
    shrink every language onto one exponent. Estimating kappa here matters too: a noise sd pooled from a fit that
    shares one exponent across languages also holds that fit's lack of fit, and a noise taken too large flattens
    every likelihood, so the prior shrinks the exponents too far and the plan under-predicts what reallocation
    gains. Returns, per replicate, the log prior on the theta grid of one (mu, tau) and its kappa, drawn together
    from that posterior: the same draw for every language of the replicate, so the population's own uncertainty
    moves all languages together (a sum over 30 languages is not 30 independent errors)."""
    t = np.log(grid) if form.name == "power" else grid
    jac = -np.log(grid) if form.name == "power" else np.zeros_like(grid)  # log |dt/dtheta|
    like = np.exp(loglik - loglik.max(axis=(0, 2), keepdims=True))  # K x L x G
    span = float(t.max() - t.min())
    mus = np.linspace(t.min(), t.max(), 48)
    taus = np.linspace(0.01, 0.5, 50) * span
    dens = np.exp(-0.5 * ((t[None, None, :] - mus[:, None, None]) / taus[None, :, None]) ** 2 + jac) \
        / taus[None, :, None]  # M x T x G, unnormalised density in theta
    dens /= dens.sum(axis=2, keepdims=True)
    log_marginal = np.log(np.einsum("klg,mtg->klmt", like, dens, optimize=True) + 1e-300).sum(axis=1)  # K x M x T
    weight = np.exp(log_marginal - log_marginal.max()).reshape(-1)
    weight /= weight.sum()
    pick = rng.choice(len(weight), size=draws, p=weight)
    k, mt = np.divmod(pick, len(mus) * len(taus))
    return np.log(dens.reshape(-1, len(grid))[mt] + 1e-300), scales[k]  # R x G, R


def _language_loglik(form: _Form, points: list[Measurement], noise: np.ndarray, prior, scales: np.ndarray,
                     x_ref: float, grid: np.ndarray) -> np.ndarray:
    """One language's log marginal likelihood on the population's theta grid for each noise scale (K x G)."""
    x = np.array([m.pairs for m in points], dtype=float)
    y = np.array([m.score for m in points], dtype=float)
    z = form.basis(x / x_ref, grid)
    # The noise scale's own term: kappa^-n with p and q integrated out; the profile leaves two parameters
    # fitted, kappa^-(n-2), or kappa would go to 0 whenever the laws can pass through their points.
    fitted = 0 if prior is not None else 2
    unit = form.unit(grid, x_ref)
    rows = [_theta_loglik(z, y, 1.0 / (kappa * noise) ** 2, prior, form.sign, unit)
            - (len(x) - fitted) * math.log(kappa)
            for kappa in scales]
    return np.array(rows)


def _theta_loglik(z: np.ndarray, y: np.ndarray, w: np.ndarray, prior, sign: float,
                  unit: np.ndarray) -> np.ndarray:
    """The log likelihood of each theta (rows of ``z``) up to a constant: p and q integrated out under their
    population prior, or, before that prior exists (``prior`` None), the profile likelihood (p and q at their
    best). A flat prior on p and q is no substitute for either: integrating them out under it adds
    -log|Z'WZ|/2, which grows without bound as the exponent goes to 0 where z loses its spread, and pulls every
    exponent to its bound."""
    if prior is None:
        return -0.5 * _weighted_regression(z, np.broadcast_to(y, z.shape), w, sign)[2]
    return _linear_posterior(z, y, w, prior, sign, unit)[0]


def _posterior_replicates(form: _Form, points: list[Measurement], noise: np.ndarray, log_prior: np.ndarray,
                          scale: np.ndarray, prior, rng: np.random.Generator, x_ref: float,
                          grid: np.ndarray) -> tuple[LawReplicates, np.ndarray, np.ndarray]:
    """Draws of one language's law: theta from its grid posterior (the marginal likelihood, p and q integrated
    out under their population prior, times the population prior on theta), then q and p from their normal
    conditional given theta, with the noise scaled per draw. Returns the replicates and the draws of p and of
    the amplitude u. ``x_ref`` and ``grid`` are the population's (one theta means the same law shape for every
    language: for the log form theta is ln(x0 / x_ref))."""
    x = np.array([m.pairs for m in points], dtype=float)
    y = np.array([m.score for m in points], dtype=float)
    z = form.basis(x / x_ref, grid)  # G x n
    R = len(scale)
    levels, index = np.unique(scale, return_inverse=True)
    unit = form.unit(grid, x_ref)
    log_post = np.empty((R, len(grid)))
    for k, kappa in enumerate(levels):  # one likelihood per distinct noise scale
        rows = index == k
        log_post[rows] = _theta_loglik(z, y, 1.0 / (kappa * noise) ** 2, prior, form.sign, unit)[None, :] \
            + log_prior[rows]
    post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    cdf = np.cumsum(post, axis=1)
    h = grid[1] - grid[0]
    pick = np.minimum((cdf < rng.random(R)[:, None] * cdf[:, -1:]).sum(axis=1), len(grid) - 1)
    theta = np.clip(grid[pick] + rng.uniform(-h / 2, h / 2, size=R), grid[0], grid[-1])
    zr = form.basis(x / x_ref, theta)  # R x n
    w = 1.0 / (scale[:, None] * noise[None, :]) ** 2  # R x n
    unit_r = form.unit(theta, x_ref)
    _, q_mean, q_var, p_mean, slope, p_var = _linear_posterior(zr, y, w, prior, form.sign, unit_r)
    q_draw = q_mean + np.sqrt(q_var) * rng.standard_normal(R)
    q_draw = np.where(form.sign * q_draw > 0, q_draw, form.sign * 1e-12)
    p_draw = p_mean + slope * (q_draw - q_mean) + np.sqrt(p_var) * rng.standard_normal(R)
    return _replicate_params(form, p_draw, q_draw, theta, x_ref), p_draw, q_draw / unit_r


def _update_linear_prior(draws: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float, float, float]:
    """One robust EM-like step for the population prior of p and u (the law's own amplitude): the centre of the
    languages' posterior medians, and a variance made of the spread of those medians plus the typical posterior
    spread within a language (medians and MADs, not means and variances: a language whose pilots allow an extreme
    exponent has amplitude draws over many orders of magnitude, which would decide a mean)."""
    def centre_and_variance(values: np.ndarray) -> tuple[float, float]:
        medians = np.median(values, axis=1)
        centre = float(np.median(medians))
        between = (1.4826 * np.median(np.abs(medians - centre))) ** 2
        within = np.median((1.4826 * np.median(np.abs(values - medians[:, None]), axis=1)) ** 2)
        return centre, float(max(between + within, 1e-12))

    m_p, v_p = centre_and_variance(np.array([d[0] for d in draws]))
    m_u, v_u = centre_and_variance(np.array([d[1] for d in draws]))
    return m_p, v_p, m_u, v_u


def _calibrate(results: dict[str, FitResult], groups: list[tuple[_GroupFit, list[str], bool]], bootstrap: int,
               rng: np.random.Generator, shared: _GroupFit | None = None) -> None:
    """Replicates, bands and noise for every fit (see the module docstring)."""
    sigma, dof, pooled_source = _pooled_noise(results, shared)
    every_se = all(m.se is not None for r in results.values() for m in r.points)
    if every_se and dof < TRUST_POOLED_DOF:
        # Every score brought its own sampling error and the residuals have too few degrees of freedom to say
        # more (or to show lack of fit): the known errors are the noise.
        sigma, dof = None, 0
    scale = np.sqrt(dof / rng.chisquare(dof, size=bootstrap)) if dof else np.ones(bootstrap)
    noise_of: dict[str, np.ndarray] = {}
    source_of: dict[str, str] = {}
    for fit, keep, _shared in groups:
        se = fit.group.se
        if sigma is not None:
            noise = np.fmax(np.full(len(se), sigma), np.nan_to_num(se, nan=0.0))
            source = pooled_source
        elif np.all(np.isfinite(se)):
            noise = np.maximum(se, 1e-3)
            source = "the measurements' sampling errors"
        else:
            noise = np.where(np.isfinite(se), se, ASSUMED_NOISE_SD)
            source = f"ASSUMED {ASSUMED_NOISE_SD:g} score point (no residual dof, no sampling errors)"
        for l, code in enumerate(fit.group.codes):
            if code in keep:
                noise_of[code] = noise[fit.group.member == l]
                source_of[code] = source
    draw_scale = scale if sigma is not None else np.ones(bootstrap)
    form = groups[0][0].form
    rich = [code for code, r in results.items() if r.sizes >= PARAMETERS_PER_LAW]
    if len(rich) >= POPULATION_MIN_LANGUAGES:
        # At least half the languages rich: ceiling and amplitude get their population prior too (EM), and a pooled
        # or assumed noise is rescaled by its posterior. Mostly two-point languages: those priors would rest on the
        # few rich ones (bands covered 74-78% at 95% in the benchmark, gains came out 4 points low), so the
        # exponent's prior alone, with the pooled variance redrawn from its chi-square.
        full = 2 * len(rich) >= len(results)
        scales = NOISE_SCALES if full and (sigma is not None or not every_se) else np.ones(1)
        x_all = np.array([m.pairs for r in results.values() for m in r.points], dtype=float)
        x_ref = float(np.exp(np.mean(np.log(x_all))))
        grid = form.grid(x_all / x_ref)
        prior = None  # the profile likelihood at first, then p and q under their population prior (EM)
        steps = POPULATION_EM_STEPS + 1 if full else 1
        for step in range(steps):
            loglik = np.array([_language_loglik(form, results[code].points, noise_of[code], prior, scales, x_ref,
                                                grid) for code in rich]).swapaxes(0, 1)
            log_prior, kappa = _population_prior(form, grid, loglik, scales, bootstrap, rng)
            if not full:
                kappa = draw_scale
            # A language with fewer sizes than parameters keeps p and q free (its points fix them given the
            # exponent, which comes from the population): integrating p and q out of two points under any prior,
            # however broad, adds a -log|Z'WZ|/2 term that pulls its exponent to one end of the grid.
            drawn = {code: _posterior_replicates(form, result.points, noise_of[code], log_prior, kappa,
                                                 prior if code in rich else None, rng, x_ref, grid)
                     for code, result in results.items()}
            if full and step + 1 < steps:
                prior = _update_linear_prior([drawn[code][1:] for code in rich])
        what = "exponent, ceiling and amplitude" if full else "exponent"
        for code, result in results.items():
            _store(result, drawn[code][0], noise_of[code], source_of[code] + f"; {what} under a population prior "
                   f"fitted to {len(rich)} languages")
        return
    for fit, keep, shared_theta in groups:
        y_star = fit.fitted()[None, :] + draw_scale[:, None] * np.concatenate(
            [noise_of.get(c, np.full(int((fit.group.member == l).sum()), ASSUMED_NOISE_SD))
             for l, c in enumerate(fit.group.codes)])[None, :] * rng.standard_normal((bootstrap, len(fit.group.y)))
        theta, p, q = _refit_replicates(fit, y_star, shared_theta)
        for l, code in enumerate(fit.group.codes):
            if code in keep:
                _store(results[code], _replicate_params(fit.form, p[:, l], q[:, l], theta, fit.x_ref),
                       noise_of[code], source_of[code])


def _store(result: FitResult, replicates: LawReplicates, noise: np.ndarray, source: str) -> None:
    x = np.array([m.pairs for m in result.points], dtype=float)
    grid_x = _band_grid(x)
    lower, upper = replicates.band(grid_x, BAND_LEVEL)
    result.replicates = replicates
    result.band = Band(x=grid_x, lower=lower, upper=upper)
    result.noise_sd = float(np.median(noise))
    result.noise_source = source


def fit_laws(
    measurements: Iterable[Measurement],
    form: str = "power",
    pooled: bool | None = None,
    bootstrap: int = 200,
    seed: int = 0,
) -> dict[str, FitResult]:
    """Fit one law per language. ``pooled``: True shares the exponent across all languages, False fits each alone,
    None (default) fits alone those with at least three measurements and pools the others. ``bootstrap`` replicates
    for the confidence band (0: none)."""
    if form not in LAW_FORMS:
        raise FitError(f"Unknown law form {form!r}; expected power or log.", field="form")
    points = list(measurements)
    if not points:
        raise FitError("No measurements to fit.", field="measurements")
    by_language: dict[str, list[Measurement]] = {}
    for i, point in enumerate(points, start=1):
        where = f"measurement {i} ({point.language})"
        for what, value in (("pairs", point.pairs), ("score", point.score)):
            numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            if not numeric or not math.isfinite(value):
                raise FitError(f"{where}: {what} must be a finite number, got {value!r}.", field=where)
        if point.pairs <= 0:
            raise FitError(f"{where}: pairs must be positive, got {point.pairs:g}.", field=where)
        by_language.setdefault(point.language, []).append(point)
    model = _FORM_MODELS[form]
    enough = {code for code, pts in by_language.items() if len({p.pairs for p in pts}) >= PARAMETERS_PER_LAW}
    if pooled is True:
        alone, shared = [], list(by_language)
    else:
        alone = [code for code in by_language if code in enough]
        shared = [code for code in by_language if code not in enough]
        if shared and pooled is False:
            code = shared[0]
            count = len({p.pairs for p in by_language[code]})
            raise FitError(
                f"{code!r} has measurements at {count} pair count(s); a {form} law needs at least "
                f"{PARAMETERS_PER_LAW} (allow pooling to share the exponent across languages).",
                field=code,
            )
    rng = np.random.default_rng(seed)
    results: dict[str, FitResult] = {}
    groups: list[tuple[_GroupFit, list[str], bool]] = []
    for code in alone:
        fitted, fit = _fit_languages(model, {code: by_language[code]}, [code], False)
        results[code] = fitted[code]
        groups.append((fit, [code], False))
    if shared:
        # The pooled fit uses every language's points to pin the shared exponent; results are kept for `shared`.
        for code in shared:
            if len({p.pairs for p in by_language[code]}) < 2:
                raise FitError(
                    f"{code!r} has measurements at only one pair count; even with the exponent shared across "
                    f"languages a fit needs at least two.",
                    field=code,
                )
        total = sum(len(pts) for pts in by_language.values())
        if total < 1 + 2 * len(by_language) or not enough:
            raise FitError(
                f"Too few measurements to pool: {total} points for {len(by_language)} language(s); a pooled fit "
                f"needs at least {1 + 2 * len(by_language)} and one language measured at {PARAMETERS_PER_LAW} or "
                f"more pair counts.",
                field=shared[0],
            )
        pooled_results, fit = _fit_languages(model, by_language, shared, True)
        results.update(pooled_results)
        groups.append((fit, list(shared), True))
    if bootstrap > 0:
        shared_fit = next((fit for fit, _keep, is_shared in groups if is_shared), None)
        if shared_fit is None and len(by_language) >= 2 and all(
                len({p.pairs for p in pts}) >= 2 for pts in by_language.values()):
            _, shared_fit = _fit_languages(model, by_language, [], True)
        _calibrate(results, groups, bootstrap, rng, shared_fit)
    return {code: results[code] for code in by_language}


def _fit_languages(
    model: _Form, by_language: dict[str, list[Measurement]], keep: Sequence[str], pooled: bool,
) -> tuple[dict[str, FitResult], _GroupFit]:
    codes = list(by_language)
    x_all = np.array([p.pairs for code in codes for p in by_language[code]], dtype=float)
    y_all = np.array([p.score for code in codes for p in by_language[code]], dtype=float)
    se_all = np.array([np.nan if p.se is None else p.se for code in codes for p in by_language[code]], dtype=float)
    member = np.array([l for l, code in enumerate(codes) for _ in by_language[code]], dtype=np.intp)
    x_ref = float(np.exp(np.mean(np.log(x_all))))
    group = _Group(codes, x_all / x_ref, y_all, member, se_all)
    theta, p, q = _fit_group(model, group)
    out = {}
    for l, code in enumerate(codes):
        if code not in keep:
            continue
        try:
            law = model.law(float(p[l]), float(q[l]), theta, x_ref)
        except PlanningError as exc:
            raise FitError(f"The fit for {code!r} gave an unusable law: {exc}", field=code) from None
        mask = member == l
        x, y = x_all[mask], y_all[mask]
        r2, rmse, dof = _goodness(law, x, y, 2 if pooled else PARAMETERS_PER_LAW)
        out[code] = FitResult(code, law, r2, rmse, int(len(x)), pooled, None, list(by_language[code]), dof=dof,
                              flags=_flags(model, law, theta, float(q[l]), x, y))
    return out, _GroupFit(model, group, theta, p, q, x_ref)


# ---------------------------------------------------------------------------------------------------------------
# Laws files


def save_measurements(measurements: Sequence[Measurement], path, *, comment: str = "") -> None:
    """Write measurements as the CSV ``load_measurements`` reads (``# comment`` lines, then language,pairs,score)."""
    from studio.planning.plan import write_text_atomic

    with_se = any(m.se is not None for m in measurements)
    lines = [f"# {line}" for line in comment.splitlines()] + ["language,pairs,score" + (",se" if with_se else "")]
    lines += [f"{m.language},{m.pairs:g},{m.score:.6g}" + (("," + ("" if m.se is None else f"{m.se:.4g}"))
                                                          if with_se else "") for m in measurements]
    write_text_atomic(Path(path), "\n".join(lines) + "\n")


def merge_measurements(base: Sequence[Measurement], extra: Sequence[Measurement]) -> list[Measurement]:
    """``base`` followed by the ``extra`` points it lacks (same language and pairs: the extra one replaces it)."""
    replaced = {(m.language, float(m.pairs)) for m in extra}
    return [m for m in base if (m.language, float(m.pairs)) not in replaced] + list(extra)


def laws_document(results: dict[str, FitResult]) -> dict[str, Any]:
    """The JSON document of a laws file (schema linguatune.laws/1)."""
    laws = {}
    for code, result in results.items():
        entry = result.law.to_dict()
        entry.update(r2=result.r2, rmse=result.rmse, n_points=result.n_points, dof=result.dof,
                     pooled=result.pooled, flags=list(result.flags))
        if result.r2 is None:
            entry["quality"] = result.quality()
        if result.measured is not None:
            entry["measured"] = [result.measured[0], result.measured[1]]
        if result.noise_sd is not None:
            entry.update(noise_sd=result.noise_sd, noise_source=result.noise_source)
        if result.replicates is not None:
            entry["replicates"] = result.replicates.to_dict()
        if result.band is not None:
            entry["band"] = {
                "level": result.band.level,
                "x": result.band.x.tolist(),
                "lower": result.band.lower.tolist(),
                "upper": result.band.upper.tolist(),
            }
        laws[code] = entry
    return {"schema": LAWS_SCHEMA, "laws": laws}


def save_laws(results: dict[str, FitResult], path) -> None:
    """Write a laws file (JSON) atomically."""
    from studio.planning.plan import write_text_atomic

    write_text_atomic(Path(path), json.dumps(laws_document(results), indent=2) + "\n")


def load_laws(path, catalogue=None) -> dict[str, ScalingLaw]:
    """Read a laws file; LawsFormatError names the bad field (``laws.ar.params.b``). Codes resolve through the
    catalogue when one is given."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LawsFormatError(f"Laws file {str(path)!r} does not exist.", field=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LawsFormatError(f"Laws file {str(path)!r} cannot be read: {exc}.", field=str(path)) from None
    except json.JSONDecodeError as exc:
        raise LawsFormatError(f"Laws file {path.name} is not valid JSON (line {exc.lineno}: {exc.msg}).",
                              field=str(path)) from None
    except (ValueError, RecursionError) as exc:
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise LawsFormatError(f"Laws file {path.name} is not usable: {reason}.", field=str(path)) from None
    try:
        return laws_from_document(data, catalogue, source=path.name)
    except RecursionError:
        raise LawsFormatError(f"Laws file {path.name} is nested too deeply.", field=str(path)) from None


def load_laws_with_evidence(path, catalogue=None) -> tuple[dict[str, ScalingLaw], dict[str, Evidence]]:
    """A laws file's laws and, per language, what its pilots said (measured sizes, replicates, flags)."""
    laws = load_laws(path, catalogue)  # validates the file (one sentence on anything wrong)
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return laws, evidence_from_document(data, catalogue, source=Path(path).name)


def evidence_from_document(data: Any, catalogue=None, source: str = "laws file") -> dict[str, Evidence]:
    out: dict[str, Evidence] = {}
    for code, entry in (data.get("laws") or {}).items():
        try:
            evidence = Evidence.from_dict(entry)
        except PlanningError as exc:
            path = f"laws.{code}" + (f".{exc.field}" if exc.field else "")
            raise LawsFormatError(f"{source}: {path}: {exc.message}", field=path) from None
        if evidence.replicates is not None and evidence.replicates.form != entry.get("form"):
            raise LawsFormatError(f"{source}: laws.{code}.replicates: their form differs from the law's.",
                                  field=f"laws.{code}.replicates")
        out[catalogue.get(code).code if catalogue is not None else code] = evidence
    return out


def laws_from_document(data: Any, catalogue=None, source: str = "laws file") -> dict[str, ScalingLaw]:
    """Validate a laws document and return its laws by catalogue code."""
    if not isinstance(data, dict):
        raise LawsFormatError(f"{source}: expected a JSON object with 'schema' and 'laws'.", field="")
    if data.get("schema") != LAWS_SCHEMA:
        raise LawsFormatError(f"{source}: schema must be {LAWS_SCHEMA!r}, got {data.get('schema')!r}.", field="schema")
    entries = data.get("laws")
    if not isinstance(entries, dict) or not entries:
        raise LawsFormatError(f"{source}: 'laws' must be a non-empty object keyed by language code.", field="laws")
    laws: dict[str, ScalingLaw] = {}
    for code, entry in entries.items():
        try:
            law = ScalingLaw.from_dict(entry)
        except PlanningError as exc:
            path = f"laws.{code}" + (f".{exc.field}" if exc.field else "")
            raise LawsFormatError(f"{source}: {path}: {exc.message}", field=path) from None
        key = catalogue.get(code).code if catalogue is not None else code
        laws[key] = law
    return laws
