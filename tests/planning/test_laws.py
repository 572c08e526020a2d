"""Scaling laws: closed-form value, derivative and inverses agree with each other and with finite differences;
illegal parameters are refused with the parameter named."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.errors import PlanningError
from studio.planning.laws import LogLaw, PowerLaw, ScalingLaw

power_laws = st.builds(
    PowerLaw,
    c=st.floats(0, 100),
    a=st.floats(0.1, 500),
    b=st.floats(0.05, 2.0),
    g=st.floats(0.05, 3.0),
)
log_laws = st.builds(LogLaw, a=st.floats(0.1, 20), b=st.floats(-50, 50), x0=st.floats(1.0, 1e5))
laws = st.one_of(power_laws, log_laws)
pair_counts = st.floats(10.0, 1e7)


@settings(max_examples=150, deadline=None)
@given(law=laws, x=pair_counts)
def test_derivative_matches_finite_difference(law, x):
    h = x * 1e-5
    numeric = (law.value(x + h) - law.value(x - h)) / (2 * h)
    assert law.derivative(x) == pytest.approx(numeric, rel=1e-4, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(law=laws, x=pair_counts)
def test_inverses_undo_value_and_derivative(law, x):
    assert law.inverse_derivative(law.derivative(x)) == pytest.approx(x, rel=1e-8)
    score = law.value(x)
    assert law.value(law.inverse(score)) == pytest.approx(score, rel=1e-10, abs=1e-10)
    if law.derivative(x) * x > 1e-4 * max(1.0, abs(score)):  # away from a flat tail, x itself is recoverable
        assert law.inverse(score) == pytest.approx(x, rel=1e-6)


@settings(max_examples=100, deadline=None)
@given(law=laws)
def test_laws_are_increasing_and_concave(law):
    x = np.geomspace(10, 1e7, 200)
    values = law.value(x)
    slopes = law.derivative(x)
    assert np.all(slopes > 0)
    assert np.all(np.diff(slopes) < 0)
    assert np.all(np.diff(values) > -1e-9 * np.abs(values[1:]))


def test_scalars_stay_scalars_and_arrays_stay_arrays():
    law = PowerLaw(c=90, a=240, b=0.28)
    assert isinstance(law.value(1000), float)
    assert isinstance(law.derivative(1000.0), float)
    assert isinstance(law.inverse(80.0), float)
    out = law.value(np.array([1e3, 1e6]))
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    assert out[0] == pytest.approx(90 - 240 * 1000 ** -0.28)


def test_power_law_value_matches_its_formula_with_g():
    law = PowerLaw(c=80, a=100, b=0.5, g=0.25)
    assert law.value(400.0) == pytest.approx(80 - 100 * (0.25 * 400) ** -0.5)
    assert law.value(400.0) == pytest.approx(70.0)


def test_inverse_at_or_above_the_ceiling_is_infinite():
    law = PowerLaw(c=90, a=240, b=0.28)
    assert law.inverse(90.0) == math.inf
    assert law.inverse(95.0) == math.inf
    assert np.all(np.isinf(law.inverse(np.array([90.0, 120.0]))))


def test_log_law_inverses_clip_at_zero_pairs():
    law = LogLaw(a=5, b=30, x0=100)
    assert law.value(0.0) == pytest.approx(30)
    assert law.inverse(20.0) == 0.0  # below the score at zero pairs
    assert law.inverse_derivative(1.0) == 0.0  # steeper than the first pair's slope a/x0 = 0.05
    assert law.inverse_derivative(0.01) == pytest.approx(5 / 0.01 - 100)


@pytest.mark.parametrize(
    "factory, name",
    [
        (lambda: PowerLaw(c=90, a=-1, b=0.3), "a"),
        (lambda: PowerLaw(c=90, a=1, b=0), "b"),
        (lambda: PowerLaw(c=90, a=1, b=0.3, g=-2), "g"),
        (lambda: PowerLaw(c=float("nan"), a=1, b=0.3), "c"),
        (lambda: PowerLaw(c=90, a=float("inf"), b=0.3), "a"),
        (lambda: LogLaw(a=0, b=1, x0=1), "a"),
        (lambda: LogLaw(a=1, b=float("-inf"), x0=1), "b"),
        (lambda: LogLaw(a=1, b=1, x0=-5), "x0"),
        (lambda: LogLaw(a=True, b=1, x0=5), "a"),
    ],
)
def test_illegal_parameters_are_refused_by_name(factory, name):
    with pytest.raises(PlanningError) as info:
        factory()
    assert info.value.field == f"params.{name}"
    assert f"parameter {name} " in str(info.value)


def test_dict_round_trip_and_validation():
    for law in (PowerLaw(c=88.5, a=300.25, b=0.31, g=0.4), LogLaw(a=3.5, b=21.0, x0=750.0)):
        assert ScalingLaw.from_dict(law.to_dict()) == law
    assert PowerLaw(c=1, a=1, b=1).to_dict() == {"form": "power", "params": {"c": 1.0, "a": 1.0, "b": 1.0, "g": 1.0}}
    assert ScalingLaw.from_dict({"form": "power", "params": {"c": 1, "a": 1, "b": 1}}).g == 1.0
    cases = [
        ({"form": "cubic", "params": {}}, "form"),
        ({"form": "log", "params": {"a": 1, "b": 1}}, "params.x0"),
        ({"form": "log", "params": {"a": 1, "b": 1, "x0": 1, "k": 2}}, "params.k"),
        ({"form": "power", "params": {"c": 1, "a": 1, "b": "0.3"}}, "params.b"),
        ({"form": "power", "params": [1, 2, 3]}, "params"),
    ]
    for data, field in cases:
        with pytest.raises(PlanningError) as info:
            ScalingLaw.from_dict(data)
        assert info.value.field == field
