"""Extractive-QA scoring: the paper's hit rate and SQuAD-style exact match and token F1.

- ``hit``: the lower-cased gold answer occurs as a substring of the lower-cased prediction (the paper's accuracy).
- ``exact_match`` / ``f1``: the official SQuAD v1.1 normalisation (lower case, punctuation removed, not replaced by a
  space, so "U.S." is "us" and "1,000" is "1000"; English drops the articles a/an/the; whitespace collapsed), with
  every Unicode punctuation character counted as punctuation, as MLQA's evaluation does, then token overlap. Languages written without spaces between words (Chinese,
  Japanese, Thai) are compared character by character, since whitespace tokens would make a whole sentence one token.
All corpus figures are percentages (0-100), the maximum over the gold answers of each question, averaged.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

CHARACTER_LEVEL_LANGS = frozenset({"zh", "ja", "th", "yue", "wuu", "lo", "km", "my"})
_ENGLISH_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _base(lang: str) -> str:
    return lang.split("-")[0].split("_")[0].lower()


def normalize_answer(text: str, lang: str) -> str:
    """Lower-case, remove punctuation (every Unicode P* character), drop English articles, collapse whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    if _base(lang) == "en":
        text = _ENGLISH_ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_tokens(text: str, lang: str) -> list[str]:
    """Tokens for F1: characters for languages written without spaces, whitespace words otherwise."""
    normalized = normalize_answer(text, lang)
    if _base(lang) in CHARACTER_LEVEL_LANGS:
        return [ch for ch in normalized if not ch.isspace()]
    return normalized.split()


def is_hit(prediction: str, answers: Sequence[str]) -> bool:
    """The paper's criterion: some lower-cased gold answer is a substring of the lower-cased prediction."""
    lowered = prediction.lower()
    return any(answer.strip() and answer.strip().lower() in lowered for answer in answers)


def exact_match(prediction: str, answers: Sequence[str], lang: str) -> bool:
    normalized = normalize_answer(prediction, lang)
    return any(normalized == normalize_answer(answer, lang) for answer in answers)


def token_f1(prediction: str, answers: Sequence[str], lang: str) -> float:
    """Best token-overlap F1 (0-1) of the prediction against any gold answer."""
    predicted = answer_tokens(prediction, lang)
    best = 0.0
    for answer in answers:
        gold = answer_tokens(answer, lang)
        if not predicted or not gold:
            best = max(best, float(predicted == gold))
            continue
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


@dataclass(frozen=True)
class QAScores:
    """Corpus QA figures in percent over ``n`` questions."""

    hit: float
    exact_match: float
    f1: float
    n: int


def score_qa(predictions: Sequence[str], answer_sets: Sequence[Sequence[str]], lang: str) -> QAScores:
    """Average hit, EM and F1 (percentages) of predictions against their gold answer lists."""
    if len(predictions) != len(answer_sets):
        raise ValueError(f"{len(predictions)} predictions for {len(answer_sets)} questions")
    n = len(predictions)
    if n == 0:
        raise ValueError("no QA predictions to score")
    hits = sum(is_hit(p, a) for p, a in zip(predictions, answer_sets))
    ems = sum(exact_match(p, a, lang) for p, a in zip(predictions, answer_sets))
    f1s = sum(token_f1(p, a, lang) for p, a in zip(predictions, answer_sets))
    return QAScores(hit=100.0 * hits / n, exact_match=100.0 * ems / n, f1=100.0 * f1s / n, n=n)
