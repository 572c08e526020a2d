"""The language catalogue: every language a plan can name, with its codes, script, family, available English-X
pairs (the default cap) and typological similarity to English.

The data live in ``resources/languages.tsv``; its header comments say where each column comes from. The similarity
column is generated with lang2vec, which is *not* a runtime dependency: only ``build_similarity_column`` and
``python -m studio.planning.languages --rebuild-similarity`` import it.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from studio.errors import PlanningError, UnknownLanguageError
from worker.resources import resource_path

PAPER_LANGUAGES = ("ar", "el", "hi", "tr", "vi", "zh")
"""The six target languages of the x-LLaMA / m-LLaMA paper."""

COLUMNS = ("code", "iso639_1", "iso639_3", "name", "script", "family", "pairs", "similarity")

SIMILARITY_FEATURES = "syntax_knn+phonology_knn+inventory_knn"
"""The lang2vec (URIEL) feature sets whose concatenation is compared with English's by cosine."""

SYNTHETIC_FAMILY = "Synthetic"
"""The family column of the demo world's made-up languages (``resources/demo-world/languages.tsv``)."""

_MAX_SUGGESTIONS = 3
_SUGGESTION_CUTOFF = 0.6


class CatalogueFormatError(PlanningError):
    """A language catalogue file that cannot be read (missing column, bad number, duplicate code)."""


@dataclass(frozen=True)
class Language:
    """One language of the catalogue.

    ``code`` is the catalogue key: the ISO 639-1 code when one exists, else the WikiMatrix code ("arz", "nds_nl").
    ``pairs`` is the number of English-X pairs in WikiMatrix v1 (the default cap of a plan); ``similarity`` is the
    typological similarity to English in (0, 1], or None when lang2vec has no vector for the language.
    """

    code: str
    iso639_1: str | None
    iso639_3: str
    name: str
    script: str
    family: str
    pairs: int
    similarity: float | None
    paper: bool = False

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


def _normalise(text: str) -> str:
    """Lower-case, trimmed, with '-' read as '_' so 'nds-nl' finds 'nds_nl'."""
    return " ".join(text.strip().lower().replace("-", "_").split())


class Catalogue:
    """An ordered, validated collection of languages with lookup by code or English name."""

    def __init__(self, languages: Iterable[Language], extra: Iterable[Language] = ()):
        """``extra`` languages (the synthetic demo world) can be named, resolved and searched, but are not listed:
        ``len``, iteration and ``codes`` cover the real languages only."""
        by_code: dict[str, Language] = {}
        extra = tuple(extra)
        for language in (*languages, *extra):
            if language.code in by_code:
                raise CatalogueFormatError(
                    f"The language catalogue lists code {language.code!r} twice.", field=language.code
                )
            by_code[language.code] = language
        extra_codes = {language.code for language in extra}
        self._languages = tuple(sorted((lang for lang in by_code.values() if lang.code not in extra_codes),
                                       key=lambda lang: lang.code))
        self._extra = tuple(sorted(extra, key=lambda lang: lang.code))
        self._by_code = by_code
        self._index = self._build_index(self._languages + self._extra)

    @staticmethod
    def _build_index(languages: Sequence[Language]) -> dict[str, Language]:
        """Map every accepted spelling to its language.

        Filled from the weakest kind of name to the strongest, so a catalogue key always wins: 'nds' is Low German
        even though Dutch Low Saxon shares that ISO 639-3 code.
        """
        index: dict[str, Language] = {}
        for attribute in ("name", "iso639_3", "iso639_1", "code"):
            for language in languages:
                value = getattr(language, attribute)
                if value:
                    index[_normalise(value)] = language
        return index

    def __len__(self) -> int:
        return len(self._languages)

    def __iter__(self) -> Iterator[Language]:
        return iter(self._languages)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and _normalise(code) in self._index

    def __repr__(self) -> str:
        return f"Catalogue({len(self)} languages)"

    @property
    def codes(self) -> tuple[str, ...]:
        """The catalogue keys, sorted."""
        return tuple(language.code for language in self._languages)

    def get(self, code_or_name: str) -> Language:
        """The language with this key, ISO 639-1 or 639-3 code, or English name (case-insensitive).

        Raises UnknownLanguageError carrying up to three close matches (catalogue keys).
        """
        if not isinstance(code_or_name, str):
            raise UnknownLanguageError(repr(code_or_name), [])
        language = self._index.get(_normalise(code_or_name))
        if language is None:
            raise UnknownLanguageError(code_or_name, self.suggest(code_or_name))
        return language

    def suggest(self, text: str, limit: int = _MAX_SUGGESTIONS) -> list[str]:
        """Keys of the languages whose codes or names are closest to ``text``, best first."""
        query = _normalise(text)
        if not query:
            return []
        best: dict[str, float] = {}
        for spelling, language in self._index.items():
            ratio = difflib.SequenceMatcher(None, query, spelling).ratio()
            if ratio >= _SUGGESTION_CUTOFF and ratio > best.get(language.code, 0.0):
                best[language.code] = ratio
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        return [code for code, _ in ranked[:limit]]

    def search(self, query: str) -> list[Language]:
        """Languages whose code, ISO codes, name, script or family contain ``query`` (case-insensitive)."""
        needle = _normalise(query)
        if not needle:
            return list(self._languages)
        found = []
        for language in self._languages + self._extra:
            haystack = (
                language.code,
                language.iso639_1 or "",
                language.iso639_3,
                language.name,
                language.script,
                language.family,
            )
            if any(needle in _normalise(field) for field in haystack):
                found.append(language)
        return found

    def resolve(self, codes: Iterable[str]) -> list[Language]:
        """The languages named by ``codes``, in order; unknown codes and duplicates are errors."""
        resolved: list[Language] = []
        seen: set[str] = set()
        for code in codes:
            language = self.get(code)
            if language.code in seen:
                raise PlanningError(f"Language {language.code!r} is listed twice.", field=language.code)
            seen.add(language.code)
            resolved.append(language)
        return resolved


def _parse_row(fields: list[str], line_number: int, path: Path) -> Language:
    where = f"{path.name} line {line_number}"
    if len(fields) != len(COLUMNS):
        raise CatalogueFormatError(
            f"{where} has {len(fields)} columns; expected {len(COLUMNS)} ({', '.join(COLUMNS)}).", field=where
        )
    row = dict(zip(COLUMNS, (field.strip() for field in fields)))
    for required in ("code", "iso639_3", "name", "script", "family", "pairs"):
        if not row[required]:
            raise CatalogueFormatError(f"{where} has an empty {required!r} column.", field=where)
    try:
        pairs = int(row["pairs"])
    except ValueError:
        raise CatalogueFormatError(f"{where}: pairs {row['pairs']!r} is not a whole number.", field=where) from None
    if pairs < 0:
        raise CatalogueFormatError(f"{where}: pairs {pairs} is negative.", field=where)
    similarity: float | None = None
    if row["similarity"]:
        try:
            similarity = float(row["similarity"])
        except ValueError:
            raise CatalogueFormatError(
                f"{where}: similarity {row['similarity']!r} is not a number.", field=where
            ) from None
        if not (math.isfinite(similarity) and 0.0 < similarity <= 1.0):
            raise CatalogueFormatError(f"{where}: similarity {similarity} is outside (0, 1].", field=where)
    return Language(
        code=row["code"],
        iso639_1=row["iso639_1"] or None,
        iso639_3=row["iso639_3"],
        name=row["name"],
        script=row["script"],
        family=row["family"],
        pairs=pairs,
        similarity=similarity,
        paper=row["code"] in PAPER_LANGUAGES,
    )


def read_catalogue(path: str | os.PathLike) -> Catalogue:
    """Read a catalogue TSV: '#' comment lines, a header naming COLUMNS, then one language per line."""
    path = Path(path)
    languages: list[Language] = []
    header_seen = False
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.startswith("#"):
                continue
            fields = text.split("\t")
            if not header_seen:
                if tuple(field.strip() for field in fields) != COLUMNS:
                    raise CatalogueFormatError(
                        f"{path.name} line {line_number}: the header must be {' '.join(COLUMNS)}.",
                        field=f"{path.name} line {line_number}",
                    )
                header_seen = True
                continue
            languages.append(_parse_row(fields, line_number, path))
    if not header_seen:
        raise CatalogueFormatError(f"{path.name} has no header line.", field=path.name)
    return Catalogue(languages)


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The catalogue shipped with LinguaTune (``resources/languages.tsv``), read once per process, plus the
    synthetic languages of the demo world (``resources/demo-world/languages.tsv``) as unlisted extras."""
    real = read_catalogue(resource_path("languages.tsv"))
    demo = read_catalogue(resource_path("demo-world", "languages.tsv"))
    return Catalogue(real, extra=demo)


def is_synthetic(language: Language) -> bool:
    """True for a language of the synthetic demo world (never a real language's measurement)."""
    return language.family.startswith(SYNTHETIC_FAMILY)


# --- generating the similarity column (needs lang2vec, a development-only tool) -----------------------------------


def build_similarity_column(iso639_3_codes: Iterable[str]) -> dict[str, float | None]:
    """Cosine similarity to English of each language's lang2vec URIEL vector (SIMILARITY_FEATURES).

    Works offline: lang2vec 1.1.2 ships the URIEL data. A code lang2vec cannot map gets None. Values are
    rounded to three decimals, as stored in the catalogue.
    """
    import warnings

    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lang2vec imports the deprecated pkg_resources
        import lang2vec.lang2vec as l2v

    def as_vector(values: list) -> np.ndarray | None:
        array = np.array([np.nan if value == "--" else float(value) for value in values])
        return array if np.all(np.isfinite(array)) and np.linalg.norm(array) > 0 else None

    def vectors(codes: list[str]) -> dict[str, np.ndarray | None]:
        # One call for all codes is fast (lang2vec reads its data files per call), but a single unknown code makes
        # lang2vec raise a bare Exception for the whole batch; then fall back to one call per code.
        try:
            return {code: as_vector(values) for code, values in l2v.get_features(codes, SIMILARITY_FEATURES).items()}
        except Exception:
            if len(codes) == 1:
                return {codes[0]: None}
            found: dict[str, np.ndarray | None] = {}
            for code in codes:
                found.update(vectors([code]))
            return found

    codes = list(dict.fromkeys(iso639_3_codes))
    found = vectors(["eng", *codes])
    english = found["eng"]
    if english is None:
        raise RuntimeError("lang2vec has no vector for English; is lang2vec 1.1.2 installed?")
    result: dict[str, float | None] = {}
    for code in codes:
        other = found.get(code)
        if other is None:
            result[code] = None
            continue
        cosine = float(other @ english / (np.linalg.norm(other) * np.linalg.norm(english)))
        result[code] = round(cosine, 3) if cosine > 0 else None
    return result


def rebuild_similarity(path: str | os.PathLike | None = None) -> int:
    """Rewrite the similarity column of a catalogue TSV in place (atomically); returns how many rows got a value."""
    path = Path(path) if path is not None else resource_path("languages.tsv")
    lines = path.read_text(encoding="utf-8").splitlines()
    catalogue = read_catalogue(path)
    similarity = build_similarity_column(sorted({language.iso639_3 for language in catalogue}))
    by_code = {language.code: similarity.get(language.iso639_3) for language in catalogue}
    out: list[str] = []
    header_seen = False
    for line in lines:
        if not line.strip() or line.startswith("#"):
            out.append(line)
            continue
        if not header_seen:
            header_seen = True
            out.append(line)
            continue
        fields = line.split("\t")
        value = by_code[fields[0].strip()]
        fields[COLUMNS.index("similarity")] = "" if value is None else f"{value:.3f}"
        out.append("\t".join(fields))
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    try:
        with handle:
            handle.write("\n".join(out) + "\n")
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise
    load_catalogue.cache_clear()
    return sum(value is not None for value in by_code.values())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m studio.planning.languages --rebuild-similarity [PATH]``: regenerate the similarity column."""
    parser = argparse.ArgumentParser(prog="python -m studio.planning.languages", description=main.__doc__)
    parser.add_argument("--rebuild-similarity", action="store_true", help="recompute similarity with lang2vec")
    parser.add_argument("path", nargs="?", help="catalogue TSV (default: the shipped resources/languages.tsv)")
    args = parser.parse_args(argv)
    if not args.rebuild_similarity:
        parser.print_help()
        return 0
    count = rebuild_similarity(args.path)
    print(f"similarity written for {count} languages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
