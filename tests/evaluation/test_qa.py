"""QA scoring on hand-made cases: the paper's substring hit, SQuAD EM/F1, character-level F1 for Chinese."""

from __future__ import annotations

import pytest

from worker.evaluation.qa import answer_tokens, exact_match, is_hit, normalize_answer, score_qa, token_f1


def test_hit_is_a_case_insensitive_substring_of_the_prediction():
    assert is_hit("It was built in PARIS in 1889.", ["Paris"])
    assert not is_hit("It was built in Lyon.", ["Paris"])
    assert is_hit("Die Antwort ist Berlin", ["München", "berlin"])
    assert not is_hit("", ["Paris"])


def test_english_normalisation_drops_articles_and_punctuation():
    assert normalize_answer("The  Eiffel Tower!", "en") == "eiffel tower"
    assert exact_match("the Eiffel tower.", ["Eiffel Tower"], "en")
    # Articles are English only: Greek "το" is not stripped and punctuation rules are the same everywhere.
    assert normalize_answer("Το Σύνταγμα;", "el") == "το σύνταγμα"


def test_token_f1_on_partial_overlap():
    # prediction 4 tokens, gold 2 tokens, 2 in common -> P=0.5, R=1.0, F1=2/3
    assert token_f1("in the year 1889 exactly", ["year 1889"], "en") == pytest.approx(2 / 3)
    assert token_f1("completely wrong", ["1889"], "en") == 0.0
    assert token_f1("x", ["wrong", "x"], "en") == 1.0  # best over the gold answers


def test_chinese_f1_counts_characters():
    assert answer_tokens("长江，中国", "zh") == ["长", "江", "中", "国"]
    # prediction 长江流域 (4 chars) vs gold 长江 (2 chars): P=0.5, R=1 -> 2/3; whitespace tokens would give 0.
    assert token_f1("长江流域", ["长江"], "zh") == pytest.approx(2 / 3)
    assert exact_match("北京。", ["北京"], "zh")


def test_corpus_scores_are_percentages_over_questions():
    predictions = ["Paris", "the Seine river", "1900", "北京"]
    answers = [["Paris"], ["Seine"], ["1889"], ["北京"]]
    scores = score_qa(predictions[:3], answers[:3], "en")
    assert scores.n == 3
    assert scores.hit == pytest.approx(200 / 3)
    assert scores.exact_match == pytest.approx(100 / 3)
    assert scores.f1 == pytest.approx(100 * (1 + 2 / 3 + 0) / 3)  # "seine river" vs "seine": P=1/2, R=1
    with pytest.raises(ValueError):
        score_qa(["a"], [["a"], ["b"]], "en")


def test_punctuation_is_removed_as_the_official_squad_script_does():
    # Replacing punctuation by spaces split "U.S." into "u s" (F1 0.4 against "US Army") and "1,000" into "1 000".
    assert normalize_answer("U.S. Army", "en") == "us army"
    assert exact_match("U.S. Army", ["US Army"], "en")
    assert token_f1("U.S. Army", ["US Army"], "en") == 1.0
    assert token_f1("1,000 soldiers", ["1000"], "en") == pytest.approx(2 / 3)
    assert normalize_answer("«Αθήνα»", "el") == "αθήνα"  # Unicode punctuation too, as MLQA's script
    assert is_hit("About 1,000.", ["1,000"])  # the paper's hit rate is unchanged: raw lower-cased substring
