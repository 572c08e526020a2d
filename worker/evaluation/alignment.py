"""Layer-wise cross-lingual alignment from parallel sentences.

For every layer (index 0 = the embedding output, then one per transformer layer) each sentence is represented by
the mean of its hidden states over its own tokens only (a masked mean): padding never enters, and neither do the
special tokens the tokenizer adds (BOS, EOS), whose states are the same for every sentence in every language and
would pull all vectors together; ``include_special=True`` keeps them. For each target
language, with English vectors ``e_i`` and their translations ``x_i``:

- ``parallel_margin`` = mean cos(e_i, x_i) - mean cos(e_i, x_j) over i != j (above 0: translations sit closer);
- ``retrieval_top1`` = share of English sentences whose nearest target-language sentence is their translation
  (chance is 1/n).

Works on any Hugging Face encoder or decoder that returns ``hidden_states``; with a sharded model every rank must
call it with the same pairs (forward calls run in lockstep, results are gathered on rank 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .distributed import gather_to_rank0, lockstep_share
from .generation import forward_accepts, plan_batches

ALIGNMENT_METRICS = ("parallel_margin", "retrieval_top1")


@dataclass(frozen=True)
class AlignmentResult:
    """Per-layer, per-language alignment; ``matrix(metric)[layer][lang]`` follows ``layers`` x ``langs``."""

    langs: list[str]
    layers: list[int]
    parallel_margin: list[list[float]]
    retrieval_top1: list[list[float]]
    n: dict[str, int]

    def matrix(self, metric: str) -> list[list[float]]:
        if metric not in ALIGNMENT_METRICS:
            raise KeyError(metric)
        return getattr(self, metric)


def pooled_hidden_states(
    model: Any, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 16, device: Any = None,
    max_length: int = 256, rank: int = 0, world_size: int = 1, include_special: bool = False,
) -> dict[int, Any]:
    """Masked-mean hidden states, ``{text index: float32 array [layers, hidden]}`` for this rank's share."""
    import torch

    device = device if device is not None else next(model.parameters()).device
    encoded = tokenizer(list(texts), add_special_tokens=True, truncation=True, max_length=max_length)["input_ids"]
    batches = plan_batches([len(ids) for ids in encoded], batch_size, sort_by_length=True)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    special = set() if include_special else set(getattr(tokenizer, "all_special_ids", None) or [])
    extra = {"logits_to_keep": 1} if forward_accepts(model, "logits_to_keep") else {}
    pooled: dict[int, Any] = {}
    for batch, is_real in lockstep_share(batches, rank, world_size):
        width = max(len(encoded[i]) for i in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        pool = torch.zeros((len(batch), width), dtype=torch.float32)
        for row, i in enumerate(batch):  # right padding: real tokens keep positions 0..len-1
            ids = encoded[i]
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
            own = [0.0 if t in special else 1.0 for t in ids]
            pool[row, : len(ids)] = torch.tensor(own if any(own) else [1.0] * len(ids))  # only specials: all
        with torch.no_grad():  # not inference_mode: FSDP2 reuses its all-gather buffers in training
            out = model(input_ids=input_ids.to(device), attention_mask=mask.to(device), output_hidden_states=True,
                        **extra)
        if not is_real:
            continue
        hidden = torch.stack([h.float() for h in out.hidden_states], dim=1)  # [batch, layers, tokens, dim]
        weights = pool.to(hidden.device)[:, None, :, None]
        means = (hidden * weights).sum(dim=2) / weights.sum(dim=2).clamp(min=1.0)
        for row, i in enumerate(batch):
            pooled[i] = means[row].cpu().numpy()
    return pooled


def alignment_scores(english: Any, foreign: Any) -> tuple[float, float]:
    """(parallel_margin, retrieval_top1) for row-aligned vectors ``english[i] <-> foreign[i]`` (numpy, n x d)."""
    import numpy as np

    e = english / np.maximum(np.linalg.norm(english, axis=1, keepdims=True), 1e-12)
    x = foreign / np.maximum(np.linalg.norm(foreign, axis=1, keepdims=True), 1e-12)
    sims = e @ x.T
    n = sims.shape[0]
    if n < 2:
        raise ValueError("alignment needs at least two parallel sentences")
    diagonal = float(np.trace(sims)) / n
    off_diagonal = (float(sims.sum()) - float(np.trace(sims))) / (n * (n - 1))
    retrieval = float(np.mean(np.argmax(sims, axis=1) == np.arange(n)))
    return diagonal - off_diagonal, retrieval


def layerwise_alignment(
    model: Any,
    tokenizer: Any,
    pairs_by_lang: Mapping[str, Sequence[tuple[str, str]]],
    *,
    batch_size: int = 16,
    max_sentences: int | None = None,
    device: Any = None,
    rank: int = 0,
    world_size: int = 1,
    include_special: bool = False,
) -> AlignmentResult | None:
    """Alignment of English with each language, per layer; the result on rank 0, None on other ranks.

    ``pairs_by_lang`` maps a language code to ``(english, translation)`` pairs; languages with fewer than two pairs
    are left out (a margin or a retrieval over one sentence means nothing).
    """
    import numpy as np

    langs = [lang for lang, pairs in pairs_by_lang.items() if len(pairs) >= 2]
    texts: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    for lang in langs:
        pairs = list(pairs_by_lang[lang])[: max_sentences or None]
        start = len(texts)
        texts.extend(en for en, _ in pairs)
        texts.extend(xx for _, xx in pairs)
        spans[lang] = (start, len(pairs))
    local = pooled_hidden_states(model, tokenizer, texts, batch_size=batch_size, device=device,
                                 rank=rank, world_size=world_size, include_special=include_special) if texts else {}
    shares = gather_to_rank0(local, rank, world_size)
    if shares is None:
        return None
    pooled: dict[int, Any] = {}
    for share in shares:
        pooled.update(share)
    if not langs:
        return AlignmentResult([], [], [], [], {})
    n_layers = pooled[0].shape[0]
    margin = [[0.0] * len(langs) for _ in range(n_layers)]
    retrieval = [[0.0] * len(langs) for _ in range(n_layers)]
    for column, lang in enumerate(langs):
        start, n = spans[lang]
        english = np.stack([pooled[start + i] for i in range(n)])  # [n, layers, dim]
        foreign = np.stack([pooled[start + n + i] for i in range(n)])
        for layer in range(n_layers):
            margin[layer][column], retrieval[layer][column] = alignment_scores(english[:, layer], foreign[:, layer])
    return AlignmentResult(
        langs=langs, layers=list(range(n_layers)), parallel_margin=margin, retrieval_top1=retrieval,
        n={lang: spans[lang][1] for lang in langs},
    )
