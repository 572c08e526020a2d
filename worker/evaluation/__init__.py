"""Evaluation of a training job: translation (COMET, spBLEU, chrF++), extractive QA, and layer-wise alignment.

The training loop calls ``evaluate(...)`` on every rank at each eval point; ``layerwise_alignment`` works on any
Hugging Face encoder or decoder; ``worker.evaluation.cli`` adds the ``evaluate`` and ``align`` commands.

Events (rank 0 only):
- ``eval``: step, lang, direction (``en-xx`` / ``xx-en``), metric, value, n. Metrics: ``comet`` (0-1; with
  ``comet_model``, and ``note="pipeline-check"`` when scored by the locally built ``tiny-local`` model), ``spbleu``
  (with ``tokenize``: flores200/flores101), ``chrf`` (chrF++, ``word_order=2``), and ``bleu`` (``tokenize`` 13a or
  zh) in place of spBLEU when sacrebleu's FLORES SentencePiece model is not on disk. QA: ``qa_hit``, ``qa_em``,
  ``qa_f1`` (percent) with ``direction`` = the language code and ``task="qa"``.
- ``alignment``: step, metric (``parallel_margin`` | ``retrieval_top1``), langs, layers (0 = embeddings), matrix
  [layer][lang], n (sentences per language).
- ``log`` with ``level="warning"``: a skipped set or metric, one sentence naming the file or model and the reason.
Files: ``eval/step-N/{en-xx,xx-en}.jsonl`` (source, reference, hypothesis[, comet]), ``qa-xx.jsonl``,
``scores.json``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import CometUnavailableError, EvalInputError

# The heavy parts (torch, transformers, COMET) load on first use, so `linguatune-worker --help` and the CLI's
# wiring stay light and a machine without torch gets a clear message instead of an import error at start-up.
_LAZY = {"AlignmentResult": "alignment", "layerwise_alignment": "alignment", "evaluate": "runner",
         "EvalSettings": "settings"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AlignmentResult",
    "CometUnavailableError",
    "EvalInputError",
    "EvalSettings",
    "evaluate",
    "layerwise_alignment",
]
