"""The language catalogue: contents match the shared WikiMatrix counts, lookups, suggestions, validation."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.errors import PlanningError, UnknownLanguageError
from studio.planning.languages import (
    PAPER_LANGUAGES,
    Catalogue,
    CatalogueFormatError,
    Language,
    load_catalogue,
    read_catalogue,
)
from worker.resources import resource_path

ROOT = Path(__file__).resolve().parents[2]
SHARED_COUNTS = ROOT.parent / "shared" / "data" / "wikimatrix_en_pairs.tsv"


def wikimatrix_counts() -> dict[str, int]:
    """The English-X pair counts of the shared WikiMatrix list, read independently of the catalogue code."""
    if not SHARED_COUNTS.is_file():
        pytest.skip(f"{SHARED_COUNTS} is not present in this checkout's surroundings")
    counts = {}
    lines = [line for line in SHARED_COUNTS.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert lines[0].split("\t") == ["lang", "pairs"]
    for line in lines[1:]:
        code, pairs = line.split("\t")
        counts[code] = int(pairs)
    return counts


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_every_wikimatrix_language_is_catalogued_with_its_count(catalogue):
    counts = wikimatrix_counts()
    assert len(counts) == 78
    assert len(catalogue) == 78
    assert {language.code: language.pairs for language in catalogue} == counts


def test_paper_language_caps_match_reference():
    # REFERENCE.md quotes these WikiMatrix counts; checked even where the shared TSV is not beside the checkout.
    expected = {"ar": 999_762, "el": 620_801, "hi": 231_459, "tr": 477_735, "vi": 1_073_751, "zh": 786_511}
    assert {code: load_catalogue().get(code).pairs for code in expected} == expected
    assert len(load_catalogue()) == 78


def test_iteration_is_sorted_by_code_and_contains_works(catalogue):
    codes = [language.code for language in catalogue]
    assert codes == sorted(codes)
    assert "nds_nl" in catalogue and "ara" in catalogue and "Greek" in catalogue
    assert "xx" not in catalogue and 3 not in catalogue


def test_iso_codes_are_well_formed_and_unique(catalogue):
    iso1 = [language.iso639_1 for language in catalogue if language.iso639_1]
    iso3 = [language.iso639_3 for language in catalogue]
    assert all(re.fullmatch(r"[a-z]{2}", code) for code in iso1)
    assert all(re.fullmatch(r"[a-z]{3}", code) for code in iso3)
    assert len(set(iso1)) == len(iso1)
    # Dutch Low Saxon has no ISO 639-3 code of its own; the catalogue documents that it shares Low German's.
    shared = {code for code in iso3 if iso3.count(code) > 1}
    assert shared == {"nds"}
    assert sorted(lang.code for lang in catalogue if lang.iso639_3 == "nds") == ["nds", "nds_nl"]
    for language in catalogue:
        # The key is the ISO 639-1 code when one exists.
        assert language.code == (language.iso639_1 or language.code)
        if language.iso639_1 is None:
            assert language.code in {"arz", "bar", "ceb", "lmo", "mwl", "nds", "nds_nl", "wuu"}
        assert language.name and language.script and language.family


def test_names_are_unique(catalogue):
    names = [language.name.lower() for language in catalogue]
    assert len(set(names)) == len(names)


def test_paper_languages_are_flagged(catalogue):
    assert PAPER_LANGUAGES == ("ar", "el", "hi", "tr", "vi", "zh")
    assert {language.code for language in catalogue if language.paper} == set(PAPER_LANGUAGES)


def test_similarity_matches_the_values_in_design(catalogue):
    # DESIGN.md: cosine of lang2vec URIEL vectors with English's, to two decimals.
    expected = {"ar": 0.68, "el": 0.73, "hi": 0.68, "tr": 0.62, "vi": 0.72, "zh": 0.71, "de": 0.82, "fr": 0.77}
    for code, value in expected.items():
        assert catalogue.get(code).similarity == pytest.approx(value, abs=0.0051), code
    for language in catalogue:
        assert language.similarity is None or 0.0 < language.similarity <= 1.0


@pytest.mark.parametrize(
    "query, code",
    [
        ("ar", "ar"),
        ("ara", "ar"),
        ("Arabic", "ar"),
        ("  aRaBiC ", "ar"),
        ("ZH", "zh"),
        ("zho", "zh"),
        ("Chinese", "zh"),
        ("ell", "el"),
        ("greek", "el"),
        ("nds_nl", "nds_nl"),
        ("nds-nl", "nds_nl"),
        ("Dutch Low Saxon", "nds_nl"),
        ("nds", "nds"),
        ("sh", "sh"),
        ("hbs", "sh"),
        ("wuu", "wuu"),
        ("Egyptian Arabic", "arz"),
    ],
)
def test_get_by_key_iso_codes_and_name(catalogue, query, code):
    assert catalogue.get(query).code == code


def test_language_fields(catalogue):
    arabic = catalogue.get("ar")
    assert arabic == Language(
        code="ar", iso639_1="ar", iso639_3="ara", name="Arabic", script="Arabic", family="Afro-Asiatic",
        pairs=999762, similarity=0.68, paper=True,
    )
    assert catalogue.get("wuu").iso639_1 is None


@pytest.mark.parametrize("query, suggested", [("arb", "ar"), ("arabik", "ar"), ("grek", "el"), ("turkis", "tr")])
def test_unknown_codes_suggest_close_matches(catalogue, query, suggested):
    with pytest.raises(UnknownLanguageError) as caught:
        catalogue.get(query)
    error = caught.value
    assert error.code == query
    assert suggested in error.suggestions
    assert 1 <= len(error.suggestions) <= 3
    assert all(code in catalogue for code in error.suggestions)
    assert repr(query) in str(error) and suggested in str(error)


def test_unknown_code_without_any_close_match(catalogue):
    with pytest.raises(UnknownLanguageError) as caught:
        catalogue.get("qqqqqqqqqq")
    assert caught.value.suggestions == []
    assert str(caught.value) == "Unknown language code 'qqqqqqqqqq'."


def test_resolve_keeps_order_and_rejects_unknown_and_duplicates(catalogue):
    resolved = catalogue.resolve(["zh", "Arabic", "ell"])
    assert [language.code for language in resolved] == ["zh", "ar", "el"]
    with pytest.raises(UnknownLanguageError) as caught:
        catalogue.resolve(["ar", "xyz1", "qqq"])
    assert caught.value.code == "xyz1"
    with pytest.raises(PlanningError, match=r"^Language 'ar' is listed twice\.$"):
        catalogue.resolve(["ar", "el", "ara"])


def test_search(catalogue):
    assert len(catalogue.search("")) == 78
    assert {language.code for language in catalogue.search("han")} == {"ja", "ko", "wuu", "zh"}  # Hangul contains "han"
    assert {language.code for language in catalogue.search("arabic")} == {"ar", "arz", "fa", "ug"}
    assert {language.code for language in catalogue.search("Dravidian")} == {"ml", "ta", "te"}
    assert catalogue.search("no such thing") == []
    turkic = catalogue.search("TURKIC")
    assert [language.code for language in turkic] == sorted(language.code for language in turkic)
    assert "tr" in {language.code for language in turkic}


def test_duplicate_codes_are_rejected():
    arabic = load_catalogue().get("ar")
    with pytest.raises(CatalogueFormatError, match="'ar' twice"):
        Catalogue([arabic, arabic])


def _write_catalogue(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "languages.tsv"
    header = "code\tiso639_1\tiso639_3\tname\tscript\tfamily\tpairs\tsimilarity"
    path.write_text("# test\n" + "\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_reading_a_catalogue_file_validates_rows(tmp_path):
    good = "ar\tar\tara\tArabic\tArabic\tAfro-Asiatic\t10\t0.5"
    assert len(read_catalogue(_write_catalogue(tmp_path, [good, "xx\t\txxx\tX\tLatin\tIsolate\t3\t"]))) == 2
    with pytest.raises(CatalogueFormatError, match="line 3.*twice|twice"):
        read_catalogue(_write_catalogue(tmp_path, [good, good]))
    with pytest.raises(CatalogueFormatError, match="line 3: pairs 'many'"):
        read_catalogue(_write_catalogue(tmp_path, [good.replace("\t10\t", "\tmany\t")]))
    with pytest.raises(CatalogueFormatError, match="outside"):
        read_catalogue(_write_catalogue(tmp_path, [good.replace("0.5", "1.5")]))
    with pytest.raises(CatalogueFormatError, match="columns"):
        read_catalogue(_write_catalogue(tmp_path, ["ar\tar\tara"]))


def test_shipped_file_has_source_comments():
    text = resource_path("languages.tsv").read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    joined = "\n".join(comments)
    for needle in ("WikiMatrix v1", "1.04", "LASER", "lang2vec 1.1.2", "syntax_knn+phonology_knn+inventory_knn"):
        assert needle in joined


def test_importing_the_module_does_not_need_lang2vec():
    code = "import sys, studio.planning.languages as m; m.load_catalogue(); print('lang2vec' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_rebuilding_similarity_reproduces_the_shipped_column(tmp_path):
    pytest.importorskip("lang2vec")
    from studio.planning.languages import rebuild_similarity

    copy = tmp_path / "languages.tsv"
    shutil.copy(resource_path("languages.tsv"), copy)
    blanked = [
        "\t".join(line.split("\t")[:-1] + [""]) if not line.startswith(("#", "code\t")) else line
        for line in copy.read_text(encoding="utf-8").splitlines()
    ]
    copy.write_text("\n".join(blanked) + "\n", encoding="utf-8")
    assert all(language.similarity is None for language in read_catalogue(copy))
    assert rebuild_similarity(copy) == 78
    assert copy.read_text(encoding="utf-8") == resource_path("languages.tsv").read_text(encoding="utf-8")


def test_similarity_is_none_for_codes_lang2vec_cannot_map():
    pytest.importorskip("lang2vec")
    from studio.planning.languages import build_similarity_column

    values = build_similarity_column(["ell", "qqz", "eng"])
    assert values["qqz"] is None
    assert values["eng"] == 1.0
    assert values["ell"] == pytest.approx(0.729)
