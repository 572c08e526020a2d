"""Readers for evaluation sets: parallel TSV files (header ``en<TAB>xx``) and extractive-QA JSON lines.

Every problem is an ``EvalInputError`` whose message names the file and what is wrong, so the caller can emit it as
one warning and skip that set instead of scoring an empty or misaligned corpus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import EvalInputError


@dataclass(frozen=True)
class ParallelSet:
    """English sentences and their translations into ``lang``, aligned line by line."""

    lang: str
    english: list[str]
    foreign: list[str]
    path: str = ""

    def __len__(self) -> int:
        return len(self.english)


@dataclass(frozen=True)
class QAItem:
    """One extractive-QA question with its passage and the accepted gold answers."""

    id: str
    context: str
    question: str
    answers: list[str]


def generated_parallel_set(lang: str, *, limit: int | None = None) -> ParallelSet:
    """The held-out test pairs of the demo world (synthetic) for ``lang``."""
    from worker import demoworld

    try:
        rows = demoworld.pairs(lang, "test", limit)
    except KeyError as exc:
        raise EvalInputError(f"the demo world has no language {lang!r}.", source=demoworld.GENERATOR) from exc
    return ParallelSet(lang, [en for en, _ in rows], [xx for _, xx in rows], path=f"{demoworld.GENERATOR}:test")


def read_parallel_tsv(path: str | Path, lang: str, *, limit: int | None = None) -> ParallelSet:
    """Read a parallel TSV whose header is ``en<TAB><lang>``; raise ``EvalInputError`` on any malformed row."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvalInputError(f"eval file {path} for {lang} does not exist.", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalInputError(f"eval file {path} for {lang} cannot be read ({exc}).", source=str(path)) from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise EvalInputError(f"eval file {path} for {lang} is empty.", source=str(path))
    header = lines[0].split("\t")
    if len(header) != 2 or header[0].strip() != "en" or header[1].strip() != lang:
        raise EvalInputError(
            f"eval file {path} must start with the header 'en<TAB>{lang}', found {lines[0]!r}.", source=str(path)
        )
    english: list[str] = []
    foreign: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != 2 or not cells[0].strip() or not cells[1].strip():
            raise EvalInputError(
                f"eval file {path} line {number} does not have exactly two non-empty columns (en, {lang}).",
                source=str(path),
            )
        english.append(cells[0].strip())
        foreign.append(cells[1].strip())
    if not english:
        raise EvalInputError(f"eval file {path} for {lang} has a header but no sentence pairs.", source=str(path))
    if limit is not None and limit > 0:
        english, foreign = english[:limit], foreign[:limit]
    return ParallelSet(lang=lang, english=english, foreign=foreign, path=str(path))


# FLORES file names of a language: FLORES-200 / flores_plus (``arb_Arab``) and FLORES-101 (``ara``).
FLORES_CODES = {
    "en": ("eng_Latn", "eng"), "ar": ("arb_Arab", "ara"), "el": ("ell_Grek", "ell"), "hi": ("hin_Deva", "hin"),
    "tr": ("tur_Latn", "tur"), "vi": ("vie_Latn", "vie"), "zh": ("zho_Hans", "zho_simpl"), "de": ("deu_Latn", "deu"),
    "fr": ("fra_Latn", "fra"), "es": ("spa_Latn", "spa"), "ru": ("rus_Cyrl", "rus"), "ja": ("jpn_Jpan", "jpn"),
    "ko": ("kor_Hang", "kor"), "sw": ("swh_Latn", "swh"), "th": ("tha_Thai", "tha"), "id": ("ind_Latn", "ind"),
    "pt": ("por_Latn", "por"), "it": ("ita_Latn", "ita"),
}


def read_flores(folder: str | Path, split: str, lang: str, code: str | None = None, *,
                limit: int | None = None) -> ParallelSet:
    """English and ``lang`` from a FLORES release folder as published (``<folder>/<split>/<code>.<split>``, one
    sentence a line): FLORES-200 / flores_plus names (``arb_Arab``) or FLORES-101 ones (``ara``), whichever is
    there; ``code`` names the file for a language not in the table."""
    folder = Path(folder)
    if split not in ("dev", "devtest"):
        raise EvalInputError(f"a FLORES split is dev or devtest, not {split!r}.", source=str(folder))

    def find(language: str, given: str | None) -> Path:
        names = (given,) if given else FLORES_CODES.get(language, ())
        if not names:
            raise EvalInputError(f"no FLORES file name is known for {language!r}; give it as flores_code "
                                 f"(e.g. 'arb_Arab').", source=str(folder))
        for name in names:
            candidate = folder / split / f"{name}.{split}"
            if candidate.is_file():
                return candidate
        raise EvalInputError(f"FLORES folder {folder} has no {split} file for {language} (looked for "
                             f"{', '.join(f'{split}/{n}.{split}' for n in names)}).", source=str(folder))

    pair = read_parallel_pair(find("en", None), find(lang, code), lang)
    if limit is not None and limit > 0:
        pair = ParallelSet(lang=lang, english=pair.english[:limit], foreign=pair.foreign[:limit], path=pair.path)
    return pair


def read_parallel_pair(source_path: str | Path, target_path: str | Path, lang: str) -> ParallelSet:
    """Read FLORES-style twin files (one sentence a line); their line counts must match."""
    src = Path(source_path).read_text(encoding="utf-8").splitlines()
    tgt = Path(target_path).read_text(encoding="utf-8").splitlines()
    if not src or not tgt:
        empty = source_path if not src else target_path
        raise EvalInputError(f"eval file {empty} for {lang} is empty.", source=str(empty))
    if len(src) != len(tgt):
        raise EvalInputError(
            f"eval files {source_path} ({len(src)} lines) and {target_path} ({len(tgt)} lines) for {lang} "
            "have different line counts.",
            source=str(target_path),
        )
    return ParallelSet(lang=lang, english=src, foreign=tgt, path=str(target_path))


def read_qa_jsonl(path: str | Path, lang: str, *, limit: int | None = None) -> list[QAItem]:
    """Read QA records ``{"id", "context", "question", "answers": [...]}``, one JSON object a line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvalInputError(f"QA file {path} for {lang} does not exist.", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalInputError(f"QA file {path} for {lang} cannot be read ({exc}).", source=str(path)) from None
    items: list[QAItem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            answers = record["answers"]
            if isinstance(answers, dict):  # SQuAD/XQuAD layout {"text": [...], "answer_start": [...]}
                answers = answers.get("text", [])
            answers = [str(a) for a in answers if str(a).strip()]
            item = QAItem(str(record.get("id", number)), str(record["context"]), str(record["question"]), answers)
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalInputError(
                f"QA file {path} line {number} is not a record with context, question and answers ({exc}).",
                source=str(path),
            ) from None
        if not item.answers:
            raise EvalInputError(f"QA file {path} line {number} has no gold answer.", source=str(path))
        items.append(item)
    if not items:
        raise EvalInputError(f"QA file {path} for {lang} is empty.", source=str(path))
    return items[:limit] if limit else items
