"""Greedy batched generation for evaluation: left padding, length-sorted batches, prompt stripped from the output.

Prompts are sorted by token length so each batch pads little, cut into batches, shared over ranks in lockstep (see
``distributed.py``), and the answers are returned keyed by the prompt's original index, so order is restored by
the caller whatever the batching.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

from .distributed import distributed_active, lockstep_share

# An Alpaca-tuned model that does not stop at EOS tends to start a new "### Instruction:" block; cut it off there.
RESPONSE_STOP_MARKERS = ("\n### ", "\n\n###")


def plan_batches(lengths: Sequence[int], batch_size: int, *, sort_by_length: bool = True) -> list[list[int]]:
    """Prompt indices cut into batches; longest first when sorted, so a memory problem shows up at once."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)) if sort_by_length \
        else list(range(len(lengths)))
    size = max(1, int(batch_size))
    return [order[start : start + size] for start in range(0, len(order), size)]


def clean_response(text: str) -> str:
    for marker in RESPONSE_STOP_MARKERS:
        cut = text.find(marker)
        if cut >= 0:
            text = text[:cut]
    return text.strip()


def greedy_generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    batch_size: int = 8,
    max_new_tokens: int = 128,
    device: Any = None,
    sort_by_length: bool = True,
    rank: int = 0,
    world_size: int = 1,
) -> dict[int, str]:
    """Greedy answers for this rank's share of ``prompts``, keyed by prompt index.

    Every rank must call this with the same prompts; with ``world_size > 1`` the union over ranks covers them all.
    """
    import torch

    if not prompts:
        return {}
    device = device if device is not None else next(model.parameters()).device
    encoded = tokenizer(list(prompts), add_special_tokens=True)["input_ids"]
    batches = plan_batches([len(ids) for ids in encoded], batch_size, sort_by_length=sort_by_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    synced = distributed_active(world_size)
    answers: dict[int, str] = {}
    for batch, is_real in lockstep_share(batches, rank, world_size):
        width = max(len(encoded[i]) for i in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):  # left padding: the prompt ends where generation starts
            ids = encoded[i]
            input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, width - len(ids):] = 1
        with torch.no_grad():  # not inference_mode: FSDP2 reuses its all-gather buffers in training
            output = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=pad_id,
                eos_token_id=tokenizer.eos_token_id,
                synced_gpus=synced,
                use_cache=True,
            )
        if not is_real:
            continue
        new_tokens = output[:, width:].cpu()
        for row, i in enumerate(batch):
            answers[i] = clean_response(tokenizer.decode(new_tokens[row], skip_special_tokens=True))
    return answers


def forward_accepts(model: Any, name: str) -> bool:
    """Whether the model's forward takes a keyword (e.g. ``logits_to_keep``)."""
    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
