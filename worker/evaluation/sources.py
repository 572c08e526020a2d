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
