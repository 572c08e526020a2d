"""Greedy batched generation: left padding, length-sorted batches, prompt stripped, EOS respected, lockstep shares."""

from __future__ import annotations

import torch

from worker.evaluation.distributed import lockstep_share
from worker.evaluation.generation import greedy_generate, plan_batches
from worker.evaluation.prompts import alpaca_translation_prompt

PROMPTS = [alpaca_translation_prompt("en", "zh", text) for text in (
    "Hi.", "The river rose after three days of rain and the bridge was closed to traffic.", "Good morning, friends.",
    "She bought bread.", "Our train leaves at seven in the morning from the central station.",
)]


def test_length_sorted_batches_cover_every_prompt_once():
    batches = plan_batches([3, 9, 1, 7, 5], 2)
    assert batches == [[1, 3], [4, 0], [2]]
    assert plan_batches([3, 9, 1], 2, sort_by_length=False) == [[0, 1], [2]]


def test_lockstep_shares_have_equal_length_and_cover_all_batches():
    batches = [[0], [1], [2], [3], [4]]
    shares = [lockstep_share(batches, rank, 2) for rank in range(2)]
    assert [len(s) for s in shares] == [3, 3]
    real = sorted(b[0] for share in shares for b, is_real in share if is_real)
    assert real == [0, 1, 2, 3, 4]
    assert [is_real for _, is_real in shares[1]] == [True, True, False]
    # More ranks than batches: idle ranks still run (discarded) forwards.
    idle = lockstep_share([[0]], 2, 3)
    assert idle == [([0], False)]


def test_batched_left_padded_generation_equals_one_by_one(tiny_llama):
    model, tokenizer = tiny_llama
    one_by_one = greedy_generate(model, tokenizer, PROMPTS, batch_size=1, max_new_tokens=6)
    batched = greedy_generate(model, tokenizer, PROMPTS, batch_size=3, max_new_tokens=6)
    unsorted = greedy_generate(model, tokenizer, PROMPTS, batch_size=3, max_new_tokens=6, sort_by_length=False)
    assert set(one_by_one) == set(range(len(PROMPTS)))
    assert batched == one_by_one == unsorted
    assert len(set(one_by_one.values())) > 1, "a random model should not answer every prompt identically"


def _force_next_token(model, token_id: int) -> None:
    head = model.lm_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight)
        biased.bias.zero_()
        biased.bias[token_id] = 1e4
    model.lm_head = biased


def test_prompt_is_stripped_and_generation_stops_at_eos(tiny_llama):
    model, tokenizer = tiny_llama
    word_id = tokenizer.convert_tokens_to_ids("river")
    if word_id == tokenizer.unk_token_id or word_id is None:
        word_id = 100
    _force_next_token(model, word_id)
    answers = greedy_generate(model, tokenizer, PROMPTS[:2], batch_size=2, max_new_tokens=3)
    assert answers[0] == answers[1] == tokenizer.decode([word_id] * 3).strip()
    _force_next_token(model, tokenizer.eos_token_id)
    answers = greedy_generate(model, tokenizer, PROMPTS[:2], batch_size=2, max_new_tokens=5)
    assert answers == {0: "", 1: ""}
