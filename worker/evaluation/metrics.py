"""Translation metrics: corpus spBLEU and chrF++ through sacrebleu, and COMET through unbabel-comet.

spBLEU needs sacrebleu's FLORES SentencePiece model, which sacrebleu downloads on first use into
``$SACREBLEU/models`` (default ``~/.sacrebleu/models``). We never trigger that download from a job: the tokenizer
is used only when its model file is already there (flores200 preferred, then flores101). Otherwise spBLEU is skipped
with a warning and BLEU with sacrebleu's standard tokenizer (``13a``; ``zh`` for Chinese targets) is reported as
metric ``bleu`` so the run still shows an n-gram score, never a silent zero.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .comet_tiny import PIPELINE_CHECK_NOTE, TINY_COMET_NAME, ensure_tiny_comet, tiny_comet_checkpoint
from .errors import CometUnavailableError

SPBLEU_TOKENIZERS = ("flores200", "flores101")
TRANSLATION_METRICS = ("comet", "spbleu", "chrf")


@dataclass
class MetricScore:
    """One corpus-level score with the extra fields its event should carry (tokenizer, note, ...)."""

    metric: str
    value: float
    n: int
    extra: dict[str, Any] = field(default_factory=dict)


def spbleu_model_file(tokenize: str) -> Path:
    """Where sacrebleu looks for (and would download) the SentencePiece model of ``tokenize``."""
    from sacrebleu.tokenizers import tokenizer_spm

    url = tokenizer_spm.SPM_MODELS[tokenize]["url"]
    return Path(tokenizer_spm.SACREBLEU_DIR) / "models" / os.path.basename(url)


def available_spbleu_tokenizer() -> str | None:
    """The first of flores200/flores101 whose SentencePiece model is on disk, or None (no download attempted)."""
    for name in SPBLEU_TOKENIZERS:
        if spbleu_model_file(name).is_file():
            return name
    return None


def spbleu_unavailable_reason() -> str:
    files = " or ".join(str(spbleu_model_file(name)) for name in SPBLEU_TOKENIZERS)
    return (
        f"spBLEU skipped: sacrebleu's FLORES SentencePiece model is not cached ({files}) and jobs never download it; "
        "reporting BLEU with the 13a tokenizer (zh for Chinese) instead."
    )


def fallback_bleu_tokenizer(target_lang: str) -> str:
    """sacrebleu's own tokenizer for a target language when no SentencePiece model is available."""
    return "zh" if target_lang.startswith("zh") else "13a"


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], tokenize: str) -> float:
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize=tokenize).corpus_score(list(hypotheses), [list(references)]).score


def corpus_chrf_plus_plus(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """chrF++ (character 6-grams plus word bigrams), as ``sacrebleu -m chrf --chrf-word-order 2``."""
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=2).corpus_score(list(hypotheses), [list(references)]).score


BOOTSTRAP_RESAMPLES = 200


def segment_bootstrap_se(metric: Any, hypotheses: Sequence[str], references: Sequence[str], *,
                         resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> float | None:
    """Standard error of a corpus-level sacrebleu metric over its test segments: the sentence statistics are
    resampled with replacement and the corpus score recomputed (as sacrebleu's paired bootstrap does). It is the
    sampling noise of one eval point, which the planner's fits and comparisons use. None if it cannot be computed."""
    import numpy as np

    n = len(hypotheses)
    if n < 2:
        return None
    try:
        stats = np.asarray(metric._extract_corpus_statistics(list(hypotheses), [list(references)]), dtype=float)
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, n, size=(resamples, n))
        scores = [metric._compute_score_from_stats(list(stats[idx].sum(axis=0))).score for idx in picks]
    except Exception:  # noqa: BLE001 - a sacrebleu without these internals: the score stands without its error
        return None
    return float(np.std(scores, ddof=1))


def string_metrics(
    hypotheses: Sequence[str], references: Sequence[str], target_lang: str, metrics: Sequence[str]
) -> tuple[list[MetricScore], list[str]]:
    """spBLEU (or its BLEU fallback) and chrF++ for one corpus; returns scores and warnings."""
    from sacrebleu.metrics import BLEU, CHRF

    scores: list[MetricScore] = []
    warnings: list[str] = []
    if "spbleu" in metrics:
        tokenize = available_spbleu_tokenizer()
        if tokenize:
            scores.append(_scored("spbleu", BLEU(tokenize=tokenize), hypotheses, references, {"tokenize": tokenize}))
        else:
            warnings.append(spbleu_unavailable_reason())
            tokenize = fallback_bleu_tokenizer(target_lang)
            scores.append(_scored("bleu", BLEU(tokenize=tokenize), hypotheses, references, {"tokenize": tokenize}))
    if "chrf" in metrics:
        scores.append(_scored("chrf", CHRF(word_order=2), hypotheses, references, {"word_order": 2}))
    return scores, warnings


def _scored(name: str, metric: Any, hypotheses: Sequence[str], references: Sequence[str], extra: dict) -> MetricScore:
    value = metric.corpus_score(list(hypotheses), [list(references)]).score
    se = segment_bootstrap_se(metric, hypotheses, references)
    if se is not None:
        extra = {**extra, "se": round(se, 4)}
    return MetricScore(name, value, len(hypotheses), extra)


class CometScorer:
    """A loaded COMET model that scores (src, mt, ref) triples in length-sorted batches on one device.

    It calls the model's own ``prepare_for_inference`` and ``predict_step`` rather than ``model.predict``, which
    starts a Lightning Trainer: inside a torchrun job that Trainer would read the launcher's environment, whereas
    here every rank scores its own share independently and the shares are gathered afterwards.
    """

    def __init__(self, model: Any, name: str, *, note: str | None = None):
        self.model = model
        self.name = name
        self.note = note

    @classmethod
    def cached(cls, name: str) -> "CometScorer":
        """``load(name)`` once per process: eval points reuse the model (kept on the CPU between them)."""
        key = (name, str(tiny_comet_checkpoint()) if name == TINY_COMET_NAME else "")
        scorer = _LOADED.get(key)
        if scorer is None:
            scorer = _LOADED[key] = cls.load(name)
        return scorer

    @classmethod
    def load(cls, name: str, *, cache_root: str | Path | None = None) -> "CometScorer":
        """Load ``tiny-local``, a local checkpoint (``.ckpt`` file or its model folder) or a hub model name."""
        try:
            import comet
        except Exception as exc:  # ImportError, or a broken dependency pin failing at import time
            raise CometUnavailableError(f"COMET cannot be used: importing unbabel-comet failed ({exc}).",
                                        source=name) from None
        note = None
        if name == TINY_COMET_NAME:
            path = ensure_tiny_comet(cache_root)
            note = PIPELINE_CHECK_NOTE
        else:
            path = _local_checkpoint(name)
            if path is None:
                if name.startswith(("/", ".", "~")) or name.count("/") > 1 or name.endswith(".ckpt"):
                    raise CometUnavailableError(f"COMET checkpoint {name} does not exist.", source=name)
                try:
                    path = Path(comet.download_model(name))
                except Exception as exc:
                    raise CometUnavailableError(
                        f"COMET model {name} could not be downloaded from the Hugging Face hub "
                        f"(offline or unknown name: {type(exc).__name__}); name a local checkpoint path instead.",
                        source=name,
                    ) from None
        try:
            model = comet.load_from_checkpoint(str(path), local_files_only=True)
        except Exception as exc:
            raise CometUnavailableError(f"COMET checkpoint {path} could not be loaded ({exc}).",
                                        source=str(path)) from None
        model.eval()
        return cls(model, name, note=note)

    def score(self, sources: Sequence[str], hypotheses: Sequence[str], references: Sequence[str], *,
              batch_size: int = 16, device: Any = "cpu", sort_by_length: bool = True,
              half: bool | None = None) -> list[float]:
        """Segment scores in input order. ``half`` (default: on CUDA only) runs the model in float16 as
        ``comet-score`` does; float32 otherwise."""
        import torch

        device = torch.device(device)
        if half is None:
            half = device.type == "cuda"

        samples = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(sources, hypotheses, references)]
        if not samples:
            return []
        order = sorted(range(len(samples)), key=lambda i: len(samples[i]["src"])) if sort_by_length \
            else list(range(len(samples)))
        self.model.to(device=device, dtype=torch.float16 if half else torch.float32)
        scores = [0.0] * len(samples)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                batch = self.model.prepare_for_inference([samples[i] for i in chunk])
                batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
                values = self.model.predict_step(batch)["scores"].float().cpu().view(-1).tolist()
                for i, value in zip(chunk, values):
                    scores[i] = value
        if device.type != "cpu":
            self.model.to("cpu")  # free the accelerator for training between eval points
        return scores


_LOADED: dict[tuple[str, str], CometScorer] = {}


def _local_checkpoint(name: str) -> Path | None:
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".ckpt":
        return path
    if path.is_dir():
        for candidate in (path / "checkpoints" / "model.ckpt", path / "model.ckpt"):
            if candidate.is_file():
                return candidate
    return None
