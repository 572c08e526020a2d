"""The demo data shipped in resources/demo/: shapes, headers, parallelism and consistency of every file."""

from __future__ import annotations

import csv
import json
import math

import pytest

from worker.resources import resource_path

LANGUAGES = ("ar", "el", "hi", "tr", "vi", "zh")
MIN_TRAIN_PAIRS = 240
EVAL_PAIRS = 40
INSTRUCTIONS = 40
QA_RECORDS = 8

# A character every target-language file must use: catches a file written in the wrong language or script.
SCRIPT_PROBES = {
    "ar": lambda text: any("\u0600" <= ch <= "\u06ff" for ch in text),
    "el": lambda text: any("\u0370" <= ch <= "\u03ff" for ch in text),
    "hi": lambda text: any("\u0900" <= ch <= "\u097f" for ch in text),
    "tr": lambda text: any(ch in "çğıöşüÇĞİÖŞÜ" for ch in text),
    "vi": lambda text: any(ch in "ăâđêôơưạảấầẩậắằẳặẹẻẽếềểệỉịọỏốồổộớờởợụủứừửựỳỷỹ" for ch in text.lower()),
    "zh": lambda text: any("\u4e00" <= ch <= "\u9fff" for ch in text),
}


def read_pairs(*parts: str, lang: str) -> list[tuple[str, str]]:
    """Rows of a pair file after checking its header; fails on a row that is not exactly two non-empty fields."""
    lines = resource_path(*parts).read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "file must end with a newline"
    lines = lines[:-1]
    assert lines[0] == f"en\t{lang}"
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        assert len(fields) == 2, f"{'/'.join(parts)} line {number}: {len(fields)} fields"
        english, target = fields
        assert english.strip() == english and english, f"line {number}: empty or padded English"
        assert target.strip() == target and target, f"line {number}: empty or padded target"
        rows.append((english, target))
    return rows


def read_jsonl(*parts: str) -> list[dict]:
    lines = resource_path(*parts).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_training_pairs(lang):
    pairs = read_pairs("demo", "pairs", f"en-{lang}.tsv", lang=lang)
    assert len(pairs) >= MIN_TRAIN_PAIRS
    assert len({english for english, _ in pairs}) == len(pairs), "duplicate English sentences"
    assert len({target for _, target in pairs}) == len(pairs), "duplicate translations"
    for english, target in pairs:
        assert 4 <= len(english.split()) <= 15, english
        assert target != english
    probe = SCRIPT_PROBES[lang]
    assert sum(probe(target) for _, target in pairs) >= 0.5 * len(pairs)
    if lang in ("ar", "el", "hi", "zh"):
        assert all(probe(target) for _, target in pairs)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_eval_pairs_are_disjoint_from_training(lang):
    train = read_pairs("demo", "pairs", f"en-{lang}.tsv", lang=lang)
    dev = read_pairs("demo", "eval", f"en-{lang}.tsv", lang=lang)
    assert len(dev) == EVAL_PAIRS
    assert len(set(dev)) == EVAL_PAIRS
    assert not {english for english, _ in dev} & {english for english, _ in train}
    assert not {target for _, target in dev} & {target for _, target in train}


@pytest.mark.parametrize("folder", ["pairs", "eval"])
def test_english_side_is_identical_across_languages(folder):
    english = {lang: [e for e, _ in read_pairs("demo", folder, f"en-{lang}.tsv", lang=lang)] for lang in LANGUAGES}
    reference = english["ar"]
    for lang in LANGUAGES:
        assert english[lang] == reference, lang


def test_instructions_are_parallel_alpaca_records():
    english = read_jsonl("demo", "instructions", "en.jsonl")
    assert len(english) == INSTRUCTIONS
    with_input = [i for i, record in enumerate(english) if record["input"]]
    assert 3 <= len(with_input) < INSTRUCTIONS
    for lang in ("en", *LANGUAGES):
        records = read_jsonl("demo", "instructions", f"{lang}.jsonl")
        assert len(records) == INSTRUCTIONS, lang
        for index, record in enumerate(records):
            assert set(record) == {"instruction", "input", "output"}, (lang, index)
            assert all(isinstance(value, str) for value in record.values())
            assert record["instruction"].strip() and record["output"].strip(), (lang, index)
            assert bool(record["input"]) == (index in with_input), (lang, index)
        if lang != "en":
            assert [r["instruction"] for r in records] != [r["instruction"] for r in english]
            probe = SCRIPT_PROBES[lang]
            assert sum(probe(r["instruction"] + r["output"]) for r in records) >= 0.9 * INSTRUCTIONS, lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_qa_answers_occur_in_their_contexts(lang):
    records = read_jsonl("demo", "qa", f"{lang}.jsonl")
    assert len(records) == QA_RECORDS
    assert len({record["id"] for record in records}) == QA_RECORDS
    for record in records:
        assert set(record) == {"id", "context", "question", "answers"}
        assert record["context"].strip() and record["question"].strip()
        assert isinstance(record["answers"], list) and record["answers"]
        for answer in record["answers"]:
            assert isinstance(answer, str) and answer.strip()
            assert answer in record["context"], (record["id"], answer)
        assert SCRIPT_PROBES[lang](record["context"]) and SCRIPT_PROBES[lang](record["question"] + record["context"])


def test_qa_ids_match_across_languages():
    ids = {lang: [record["id"] for record in read_jsonl("demo", "qa", f"{lang}.jsonl")] for lang in LANGUAGES}
    assert all(ids[lang] == ids["ar"] for lang in LANGUAGES)


def test_pilot_measurements_are_labelled_synthetic_and_well_formed():
    text = resource_path("demo", "pilot_measurements.csv").read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert any("SYNTHETIC" in line for line in comments)
    assert any("not the paper" in line.lower() for line in comments)
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert rows and list(rows[0]) == ["language", "pairs", "score"]
    by_language: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        pairs, score = int(row["pairs"]), float(row["score"])
        assert pairs > 0 and math.isfinite(score)
        by_language.setdefault(row["language"], []).append((pairs, score))
    assert set(by_language) == set(LANGUAGES)
    for lang, points in by_language.items():
        assert [pairs for pairs, _ in points] == [1000, 4000, 32000, 128000, 512000], lang
        # The generating curve rises by several points over the range; noise must not hide that.
        assert points[-1][1] - points[0][1] > 3.0, lang


def test_pilot_measurements_load_with_the_planning_loader():
    fitting = pytest.importorskip("studio.planning.fitting")
    points = fitting.load_measurements(resource_path("demo", "pilot_measurements.csv"))
    assert len(points) == 30
    assert {point.language for point in points} == set(LANGUAGES)
