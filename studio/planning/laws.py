"""Scaling laws: predicted quality of a language as a function of the parallel pairs it is tuned on.

Two concave, increasing families (see REFERENCE.md), scores in the metric's own unit:

- ``power``: score(x) = c - a * (g*x) ** (-b), with a > 0, b > 0, g > 0 and c the ceiling;
- ``log``:   score(x) = a * ln(1 + x/x0) + b, with a > 0, x0 > 0.

Every method accepts a float or a numpy array and returns the same kind. All inverses are closed form, which is what
makes the allocator exact and fast.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from studio.errors import PlanningError, short_repr

LAW_FORMS = ("power", "log")


def _same_kind(result: np.ndarray, like: Any):
    """Return a Python float when the caller passed a scalar, the array otherwise."""
    if np.ndim(like) == 0 and not isinstance(like, np.ndarray):
        return float(result)
    return result


def _check_param(form: str, name: str, value: Any, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise PlanningError(
            f"The {form} law's parameter {name} must be a number, got {short_repr(value)}.", field=f"params.{name}"
        )
    if isinstance(value, int) and value.bit_length() > 1000:
        raise PlanningError(f"The {form} law's parameter {name} must be finite, got {short_repr(value)}.",
                            field=f"params.{name}")
    number = float(value)
    if not math.isfinite(number):
        raise PlanningError(f"The {form} law's parameter {name} must be finite, got {number}.", field=f"params.{name}")
    if positive and number <= 0:
        raise PlanningError(
            f"The {form} law's parameter {name} must be positive (a concave, increasing law), got {number:g}.",
            field=f"params.{name}",
        )
    return number


class ScalingLaw(ABC):
    """A concave, increasing score-vs-pairs curve with closed-form derivative and inverses."""

    form: ClassVar[str]
    _positive: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        for item in fields(self):  # type: ignore[arg-type]
            checked = _check_param(self.form, item.name, getattr(self, item.name), positive=item.name in self._positive)
            object.__setattr__(self, item.name, checked)

    @abstractmethod
    def value(self, x):
        """Predicted score after tuning on ``x`` pairs."""

    @abstractmethod
    def derivative(self, x):
        """Marginal score per pair at ``x``."""

    @abstractmethod
    def inverse_derivative(self, slope):
        """The x >= 0 where the marginal score equals ``slope`` (0 where even the first pair gains less)."""

    @abstractmethod
    def inverse(self, score):
        """The x >= 0 that reaches ``score`` (inf at or above the ceiling, 0 at or below the value at x = 0)."""

    @property
    def ceiling(self) -> float:
        """The score the law approaches as pairs grow without bound (inf when unbounded)."""
        return math.inf

    def params(self) -> dict[str, float]:
        """The parameters by the names REFERENCE.md uses."""
        return {item.name: float(getattr(self, item.name)) for item in fields(self)}  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """``{"form": ..., "params": {...}}``: the law as stored in plans and laws files."""
        return {"form": self.form, "params": self.params()}

    @staticmethod
    def from_dict(data: Any) -> "ScalingLaw":
        """Build and validate a law from ``to_dict`` output; PlanningError's ``field`` names the bad entry."""
        if not isinstance(data, dict):
            raise PlanningError(f"A scaling law must be an object with form and params, got {short_repr(data)}.",
                                field="")
        form = data.get("form")
        if not isinstance(form, str) or form not in _FORMS:
            raise PlanningError(
                f"Unknown scaling-law form {short_repr(form)}; expected one of {', '.join(LAW_FORMS)}.", field="form"
            )
        cls = _FORMS[form]
        params = data.get("params")
        if not isinstance(params, dict):
            raise PlanningError(f"The {form} law's params must be an object, got {short_repr(params)}.", field="params")
        names = [item.name for item in fields(cls)]
        optional = {"g"} if cls is PowerLaw else set()
        for name in names:
            if name not in params and name not in optional:
                raise PlanningError(f"The {form} law is missing its parameter {name}.", field=f"params.{name}")
        extra = sorted(set(params) - set(names))
        if extra:
            raise PlanningError(
                f"The {form} law has no parameter {short_repr(extra[0])} (expected {', '.join(names)}).",
                field=f"params.{extra[0]}",
            )
        return cls(**{name: params[name] for name in names if name in params})


@dataclass(frozen=True)
class PowerLaw(ScalingLaw):
    """score(x) = c - a * (g*x) ** (-b): a decreasing-power gain towards the ceiling c.

    ``g`` scales the pairs a language needs: a language with g = 0.25 needs four times the pairs of one with g = 1
    for the same score.
    """

    c: float
    a: float
    b: float
    g: float = 1.0

    form: ClassVar[str] = "power"
    _positive: ClassVar[frozenset[str]] = frozenset({"a", "b", "g"})

    @property
    def ceiling(self) -> float:
        return self.c

    def value(self, x):
        x_arr = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            result = self.c - self.a * np.power(self.g * x_arr, -self.b)
        return _same_kind(result, x)

    def derivative(self, x):
        x_arr = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            result = self.a * self.b * self.g ** (-self.b) * np.power(x_arr, -self.b - 1.0)
        return _same_kind(result, x)

    def inverse_derivative(self, slope):
        s = np.asarray(slope, dtype=float)
        with np.errstate(divide="ignore"):
            result = np.power(self.a * self.b * self.g ** (-self.b) / s, 1.0 / (self.b + 1.0))
        return _same_kind(result, slope)

    def inverse(self, score):
        y = np.asarray(score, dtype=float)
        gap = self.c - y
        with np.errstate(divide="ignore", invalid="ignore"):
            result = np.where(gap > 0, np.power(np.maximum(gap, 1e-300) / self.a, -1.0 / self.b) / self.g, np.inf)
        return _same_kind(result, score)


@dataclass(frozen=True)
class LogLaw(ScalingLaw):
    """score(x) = a * ln(1 + x/x0) + b: b at zero pairs, then a logarithmic gain (no ceiling)."""

    a: float
    b: float
    x0: float

    form: ClassVar[str] = "log"
    _positive: ClassVar[frozenset[str]] = frozenset({"a", "x0"})

    def value(self, x):
        x_arr = np.asarray(x, dtype=float)
        return _same_kind(self.a * np.log1p(x_arr / self.x0) + self.b, x)

    def derivative(self, x):
        x_arr = np.asarray(x, dtype=float)
        return _same_kind(self.a / (self.x0 + x_arr), x)

    def inverse_derivative(self, slope):
        s = np.asarray(slope, dtype=float)
        with np.errstate(divide="ignore"):
            result = np.maximum(self.a / s - self.x0, 0.0)
        return _same_kind(result, slope)

    def inverse(self, score):
        y = np.asarray(score, dtype=float)
        with np.errstate(over="ignore"):
            result = np.maximum(self.x0 * np.expm1((y - self.b) / self.a), 0.0)
        return _same_kind(result, score)


_FORMS: dict[str, type[ScalingLaw]] = {"power": PowerLaw, "log": LogLaw}
