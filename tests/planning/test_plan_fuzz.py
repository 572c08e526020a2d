"""Bad plan files give one PlanFormatError naming the problem, never another exception (issue 12 item 9): the cases
found by fuzzing (deep nesting, integers past Python's digit limit, huge integers in float fields, oversized CSV
fields), then property-based mutations of a real plan (hypothesis, fixed example budget)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.errors import FitError, PlanFormatError
from studio.planning.fitting import LawsFormatError, load_laws_with_evidence, load_measurements
from studio.planning.plan import Plan, load_plan, make_plan
from tests.infra.mutations import paths, replace

VALID = json.loads(make_plan(["ar", "el", "hi"], "300k").to_json())


DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE = [  # (loader, error, file name, text)
    ("plan", PlanFormatError, "deep.json", DEEP),
    ("plan", PlanFormatError, "digits.json", '{"schema": "linguatune.plan/1", "budget": ' + "9" * 5000 + "}"),
    ("plan", PlanFormatError, "huge.json", json.dumps({**VALID, "predicted_total": 10 ** 400})),
    ("plan", PlanFormatError, "law.json", json.dumps({**VALID, "languages": [{**VALID["languages"][0], "law": {
        "form": "power", "params": {"c": 10 ** 400, "a": 1, "b": 0.3}}}]})),
    ("plan", PlanFormatError, "deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n"),
    ("plan", PlanFormatError, "field.csv", "# schema: \"linguatune.plan/1\"\ncode,pairs\n" + "x" * 200_000 + ",1\n"),
    ("measurements", FitError, "deep.json", DEEP),
    ("measurements", FitError, "digits.json", '[{"language": "ar", "pairs": 1000, "score": ' + "9" * 5000 + "}]"),
    ("measurements", FitError, "digits.csv", "language,pairs,score\nar,1000," + "9" * 5000 + "\n"),
    ("measurements", FitError, "field.csv", "language,pairs,score\nar,1000," + "1" * 200_000 + "\n"),
    ("laws", LawsFormatError, "deep.json", DEEP),
    ("laws", LawsFormatError, "digits.json", '{"schema": "linguatune.laws/1", "laws": {"ar": ' + "9" * 5000 + "}}"),
]
LOADERS = {"plan": load_plan, "measurements": load_measurements, "laws": load_laws_with_evidence}


@pytest.mark.parametrize("kind,error,name,text", HOSTILE, ids=[f"{k}-{n}" for k, _e, n, _t in HOSTILE])
def test_hostile_files_are_one_short_sentence(tmp_path, kind, error, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(error) as info:
        LOADERS[kind](path)
    assert len(str(info.value)) < 400 and "\n" not in str(info.value)


_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10 ** 30, max_value=10 ** 30),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                       max_leaves=12)


PATHS = [p for p in paths(VALID) if p]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), _values), min_size=1, max_size=3))
def test_mutated_plans_load_or_fail_with_a_plan_format_error(mutations):
    doc = VALID
    for path, value in mutations:
        try:
            doc = replace(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    try:
        plan = Plan.from_dict(doc)
    except PlanFormatError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(plan, Plan)


def test_saving_onto_a_folder_or_a_full_disk_is_one_sentence_and_leaves_nothing(tmp_path):
    import os
    import resource
    import signal
    import subprocess
    import sys

    from studio.errors import PlanningError
    from studio.planning.plan import save_plan

    with pytest.raises(PlanningError, match="is a folder"):
        save_plan(make_plan(["ar", "el"], "100k"), tmp_path)

    def tiny_disk():  # in the child: files may not grow past 200 bytes (EFBIG), as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))

    out = tmp_path / "plans"
    out.mkdir()
    result = subprocess.run([sys.executable, "-m", "studio.cli", "plan", "--languages", "ar,el,hi", "--budget",
                             "300k", "-o", str(out / "plan.json")], capture_output=True, text=True,
                            preexec_fn=tiny_disk, env={**os.environ}, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Cannot write" in result.stderr and "nothing was written" in result.stderr
    assert list(out.iterdir()) == []  # neither the plan nor its temporary file
