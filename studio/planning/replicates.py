"""Bootstrap replicates of one language's law: the same family with R parameter draws, evaluated all at once.

A fit (studio/planning/fitting.py) draws them by a parametric bootstrap; plans use them to put an interval on the
predicted gain and to allocate for the expected score rather than the point estimate (studio/planning/robust.py).
Stored in laws files as ``replicates: {"form", "params": {name: [R values]}}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio.errors import PlanningError

PARAMS = {"power": ("c", "a", "b", "g"), "log": ("a", "b", "x0")}
LEVEL = 0.95


def evaluate(form: str, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The law family's score, broadcasting parameter arrays against ``x`` (the one place the formulas are written
    for arrays of draws; studio/planning/laws.py has them for one law)."""
    with np.errstate(divide="ignore", over="ignore"):
        if form == "power":
            return params["c"] - params["a"] * np.power(params["g"] * x, -params["b"])
        return params["a"] * np.log1p(x / params["x0"]) + params["b"]


@dataclass
class LawReplicates:
    """``params[name]`` is an array of R draws; every draw is a valid (concave, increasing) law of ``form``."""

    form: str
    params: dict[str, np.ndarray]
    # Tabulated robust curves of these draws (studio/planning/robust.py), kept between plans of one session.
    curve_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.form not in PARAMS:
            raise PlanningError(f"Unknown scaling-law form {self.form!r} in replicates.", field="replicates.form")
        names = PARAMS[self.form]
        if self.form == "power" and "g" not in self.params:
            self.params = {**self.params, "g": np.ones_like(np.asarray(self.params.get("c", []), dtype=float))}
        arrays = {}
        for name in names:
            if name not in self.params:
                raise PlanningError(f"Replicates of a {self.form} law lack parameter {name}.",
                                    field=f"replicates.params.{name}")
            arrays[name] = np.asarray(self.params[name], dtype=float).reshape(-1)
        sizes = {len(a) for a in arrays.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise PlanningError("Replicate parameter lists must be non-empty and of one length.",
                                field="replicates.params")
        if not all(np.all(np.isfinite(a)) for a in arrays.values()):
            raise PlanningError("Replicate parameters must be finite numbers.", field="replicates.params")
        positive = ("a", "b", "g") if self.form == "power" else ("a", "x0")
        if any(np.any(arrays[name] <= 0) for name in positive):
            raise PlanningError(f"Replicates of a {self.form} law must keep {', '.join(positive)} positive.",
                                field="replicates.params")
        self.params = arrays

    def __len__(self) -> int:
        return len(next(iter(self.params.values())))

    # ----------------------------------------------------------------------------------------------- evaluation
    def values(self, x) -> np.ndarray:
        """Scores of every draw: shape (R,) for a scalar x, (R, len(x)) for an array."""
        xs = np.asarray(x, dtype=float)
        out = evaluate(self.form, {k: v[:, None] for k, v in self.params.items()}, np.atleast_1d(xs)[None, :])
        return out[:, 0] if xs.ndim == 0 else out

    def band(self, x, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise percentile band of the draws at ``x``."""
        tail = 100 * (1 - level) / 2
        lower, upper = np.percentile(self.values(np.atleast_1d(np.asarray(x, dtype=float))), [tail, 100 - tail],
                                     axis=0)
        return lower, upper

    def head(self, count: int) -> "LawReplicates":
        return LawReplicates(self.form, {k: v[:count] for k, v in self.params.items()})

    def law(self, index: int):
        """Draw ``index`` as a ScalingLaw."""
        from studio.planning.laws import ScalingLaw

        return ScalingLaw.from_dict({"form": self.form,
                                     "params": {k: float(v[index]) for k, v in self.params.items()}})

    # ---------------------------------------------------------------------------------------------- documents
    def to_dict(self) -> dict[str, Any]:
        names = [n for n in PARAMS[self.form] if not (n == "g" and np.all(self.params[n] == 1.0))]
        return {"form": self.form, "params": {n: [float(f"{v:.6g}") for v in self.params[n]] for n in names}}

    @staticmethod
    def from_dict(data: Any) -> "LawReplicates":
        if not isinstance(data, dict) or not isinstance(data.get("params"), dict):
            raise PlanningError("replicates must be an object with form and params.", field="replicates")
        params = {}
        for name, values in data["params"].items():
            if not isinstance(values, list) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
                raise PlanningError(f"replicates.params.{name} must be a list of finite numbers.",
                                    field=f"replicates.params.{name}")
            params[name] = np.array(values, dtype=float)
        return LawReplicates(str(data.get("form")), params)


@dataclass
class Evidence:
    """What the pilots say about one language's law beyond its point estimate: the pair counts it was measured
    at, its bootstrap replicates, its fit quality and flags. Plans use it for floors, extrapolation marks, the gain
    interval and the robust allocation."""

    measured: tuple[float, float] | None = None
    replicates: LawReplicates | None = None
    quality: str = ""
    flags: tuple[str, ...] = ()

    def to_dict(self, *, with_replicates: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.measured is not None:
            data["measured"] = [float(self.measured[0]), float(self.measured[1])]
        if self.quality:
            data["quality"] = self.quality
        if self.flags:
            data["flags"] = list(self.flags)
        if with_replicates and self.replicates is not None:
            data["replicates"] = self.replicates.to_dict()
        return data

    @staticmethod
    def from_dict(data: Any) -> "Evidence":
        """From a laws-file entry (or ``to_dict`` output); PlanningError names the bad field."""
        if not isinstance(data, dict):
            raise PlanningError("Evidence must be an object.", field="")
        measured = data.get("measured")
        if measured is not None:
            ok = (isinstance(measured, list) and len(measured) == 2
                  and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                          for v in measured) and measured[0] <= measured[1])
            if not ok:
                raise PlanningError(f"measured must be [smallest, largest] positive pair counts, got {measured!r}.",
                                    field="measured")
            measured = (float(measured[0]), float(measured[1]))
        replicates = LawReplicates.from_dict(data["replicates"]) if data.get("replicates") is not None else None
        flags = data.get("flags") or []
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise PlanningError("flags must be a list of text.", field="flags")
        quality = data.get("quality")
        if quality is None and isinstance(data.get("r2"), (int, float)):
            quality = f"R2 {data['r2']:.3f}"
        return Evidence(measured, replicates, str(quality or ""), tuple(flags))
