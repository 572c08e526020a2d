"""The prompt template, once for training and evaluation: the standard Stanford Alpaca template, as REFERENCE.md
requires (its two preambles verbatim, the English scaffold for every language). The target follows ``### Response:``
directly, with nothing in between, as in Alpaca's own training code; generation starts at the same place."""

from __future__ import annotations

PREAMBLE_WITH_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further "
                       "context. Write a response that appropriately completes the request.")
PREAMBLE_NO_INPUT = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
RESPONSE_MARK = "### Response:"


def alpaca_prompt(instruction: str, input_text: str = "") -> str:
    """The prompt up to where the response begins (``... ### Response:``)."""
    if input_text:
        return (f"{PREAMBLE_WITH_INPUT}\n\n### Instruction:\n{instruction}\n\n### Input:\n{input_text}\n\n"
                f"{RESPONSE_MARK}")
    return f"{PREAMBLE_NO_INPUT}\n\n### Instruction:\n{instruction}\n\n{RESPONSE_MARK}"
