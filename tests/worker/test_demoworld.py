"""The demo world: deterministic, disjoint splits, nested pilot subsets, three languages that really differ, and
the shipped generated files (tokenizer, catalogue rows) equal to what the generator builds now."""

from __future__ import annotations

import collections

import pytest

from worker import demoworld
from worker.resources import resource_path


def test_pairs_are_deterministic_and_the_splits_disjoint():
    for lang in demoworld.LANGUAGES:
        train = demoworld.pairs(lang, "train")
        test = demoworld.pairs(lang, "test")
        assert len(train) == demoworld.POOL_SIZE and len(test) == demoworld.TEST_SIZE
        assert not {en for en, _ in train} & {en for en, _ in test}
        assert len({en for en, _ in train}) == len(train)  # distinct sentences
        # A prefix subset is what a pilot of that size trains on: nested by construction.
        assert demoworld.pairs(lang, "train", 800)[:200] == demoworld.pairs(lang, "train", 200)
    # Same English clauses in every language (a parallel corpus), different renderings.
    english = [en for en, _ in demoworld.pairs("demo_lex", "test")]
    assert english == [en for en, _ in demoworld.pairs("demo_kana", "test")]
    renders = {lang: demoworld.pairs(lang, "test")[0][1] for lang in demoworld.LANGUAGES}
    assert len(set(renders.values())) == 3


def test_the_languages_differ_as_described():
    en, lex = demoworld.pairs("demo_lex", "test")[0]
    _, sov = demoworld.pairs("demo_sov", "test")[0]
    _, kana = demoworld.pairs("demo_kana", "test")[0]
    assert len(lex.split()) == len(en.split())        # word for word
    assert any("\u0400" <= ch <= "\u04ff" for ch in lex)  # Cyrillic
    assert " " not in kana and kana.endswith("。")     # no spaces, its own full stop
    assert all("\u30a0" <= ch <= "\u30ff" or ch == "。" for ch in kana)
    assert all(ch.isalpha() and ch < "\u0250" or ch in " ." for ch in sov)  # Latin letters
    # SOV: the verb (last word) carries the verb stem; English puts the verb second or third.
    lexicon = demoworld.lexicon("demo_sov")
    clause = demoworld.clauses("test")[0]
    assert sov.rstrip(".").split()[-1].startswith(lexicon[clause.verb])


def test_word_frequencies_follow_zipf_so_more_pairs_cover_more_test_words():
    """The data-scaling mechanism of the world: rare words keep appearing, so coverage grows with diminishing
    returns (not a curve put in by hand)."""
    def words(rows):
        return [w.strip(".").lower() for en, _ in rows for w in en.split()]

    train = demoworld.pairs("demo_lex", "train")
    test_words = words(demoworld.pairs("demo_lex", "test"))
    coverage = []
    for n in (200, 800, 3200, 12800):
        seen = set(words(train[:n]))
        coverage.append(sum(w in seen for w in test_words) / len(test_words))
    assert coverage == sorted(coverage) and coverage[0] < 0.95
    gains = [b - a for a, b in zip(coverage, coverage[1:])]
    assert gains == sorted(gains, reverse=True)  # diminishing returns
    counts = collections.Counter(words(train))
    assert counts["cat"] > 5 * counts["pig"]  # rank 1 against rank 60 of the animate nouns


def test_instructions_are_in_the_language_and_fixed():
    for lang in demoworld.LANGUAGES:
        records = demoworld.instructions(lang)
        assert len(records) == demoworld.INSTRUCTIONS
        assert records == demoworld.instructions(lang)
        assert all(r["instruction"] and r["output"] for r in records)


def test_unknown_language_is_a_key_error_naming_the_languages():
    with pytest.raises(KeyError, match="demo_lex"):
        demoworld.pairs("xx", "train")


@pytest.mark.slow
def test_shipped_tokenizer_and_catalogue_are_what_the_generator_builds():
    shipped = resource_path(*demoworld.TOKENIZER_FILE.split("/")).read_text(encoding="utf-8")
    assert shipped == demoworld.build_tokenizer_json(), "rebuild: python -m worker.demoworld --write-tokenizer"
    catalogue = resource_path(*demoworld.CATALOGUE_FILE.split("/")).read_text(encoding="utf-8")
    assert catalogue == demoworld.catalogue_tsv(), "rebuild: python -m worker.demoworld --write-catalogue"


def test_the_tokenizer_round_trips_every_language():
    from worker.model import load_tokenizer_file

    tokenizer = load_tokenizer_file(resource_path(*demoworld.TOKENIZER_FILE.split("/")))
    for lang in demoworld.LANGUAGES:
        en, xx = demoworld.pairs(lang, "test")[0]
        for text in (en, xx):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert tokenizer.decode(ids) == text
            assert len(ids) < 3 * len(text.split()) + 40
