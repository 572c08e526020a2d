"""The data mixture (composition, cleaning, prompts) and packed batching (no example attends to another)."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch

from worker.contract import JobSpec
from worker.data import (
    DataError, TRANSLATION_PHRASINGS, build_mixture, collate, column_array, epoch_rows, language_name,
    translation_prompt,
)
from worker.model import build_byte_tokenizer, build_tiny_model

from tests.worker.jobkit import small_job, write_pairs


def _mixture(data_dir, tmp_path, **train):
    spec = JobSpec.from_dict(small_job(data_dir, **train))
    tok = build_byte_tokenizer()
    return spec, tok, build_mixture(spec, tok, base_dir=tmp_path, cache_dir=tmp_path / "cache")


def test_composition_matches_the_allocation(data_dir, tmp_path):
    spec, tok, mix = _mixture(data_dir, tmp_path)
    ds = mix.dataset
    counts = collections.Counter(zip(ds["source"], ds["lang"]))
    assert counts == {("english_instructions", "en"): 30, ("translated_instructions", "ar"): 20,
                      ("translated_instructions", "zh"): 20, ("pairs", "ar"): 120, ("pairs", "zh"): 80}
    by_key = {(s["source"], s["lang"]): s for s in mix.report["sources"]}
    assert by_key[("pairs", "ar")]["duplicates"] == 5 and by_key[("pairs", "ar")]["allocated"] == 120
    assert by_key[("pairs", "zh")]["examples"] == 80
    assert mix.report["examples"] == len(ds) == 270
    assert mix.report["tokens"] == int(column_array(ds, "length").sum())


def test_pairs_become_translation_instructions_with_loss_on_the_response_only(data_dir, tmp_path):
    spec, tok, mix = _mixture(data_dir, tmp_path)
    expected = {}
    for line in (data_dir / "en-ar.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        en, ar = line.split("\t")
        expected[en] = ar
    pairs = mix.dataset.filter(lambda s, l: s == "pairs" and l == "ar", input_columns=["source", "lang"])
    phrasings_seen = set()
    for example in pairs.select(range(40)):
        text = tok.decode(example["input_ids"])
        source = text.split("### Input:\n")[1].split("\n\n### Response:")[0]
        assert text.endswith(expected[source] + "</s>")
        instruction = text.split("### Instruction:\n")[1].split("\n\n")[0]
        phrasings_seen.add(instruction)
        batch = collate([[example]], pad_id=tok.pad_token_id, packed=True)
        target = batch.labels[0][batch.labels[0] != -100].tolist()
        assert tok.decode(target) == expected[source] + "</s>"
    assert len(phrasings_seen) >= 3  # several phrasings at training time
    assert all("English" in p and "Arabic" in p for p in phrasings_seen)


def test_random_subset_is_seeded_and_prefix_takes_the_first_rows(data_dir, tmp_path):
    def ar_inputs(mix):
        pairs = mix.dataset.filter(lambda s, l: s == "pairs" and l == "ar", input_columns=["source", "lang"])
        return [tuple(x) for x in pairs["input_ids"]]

    _, _, a = _mixture(data_dir, tmp_path / "a", seed=7)
    _, _, b = _mixture(data_dir, tmp_path / "b", seed=7)
    _, _, c = _mixture(data_dir, tmp_path / "c", seed=8)
    _, tok, p = _mixture(data_dir, tmp_path / "p", subset="prefix")
    assert ar_inputs(a) == ar_inputs(b)
    assert set(ar_inputs(a)) != set(ar_inputs(c))
    first = [line.split("\t")[1] for line in (data_dir / "en-ar.tsv").read_text("utf-8").splitlines()[1:121]]
    got = [tok.decode(list(ids)).rsplit("### Response:", 1)[1].removesuffix("</s>") for ids in ar_inputs(p)]
    assert got == first


def test_examples_longer_than_max_length_are_truncated_not_dropped(data_dir, tmp_path):
    _, tok, full = _mixture(data_dir, tmp_path / "full")
    _, _, mix = _mixture(data_dir, tmp_path / "cut", max_length=300)
    lengths = column_array(mix.dataset, "length")
    assert lengths.max() == 300
    truncated = sum(s["truncated"] for s in mix.report["sources"])
    dropped = sum(s["too_long"] for s in mix.report["sources"])
    assert truncated > 0
    assert dropped > 0 and len(mix.dataset) == len(full.dataset) == 270  # the pool still fills the allocation
    cut = mix.dataset.select(np.flatnonzero(lengths == 300))[0]
    assert cut["input_ids"][-1] != tok.eos_token_id  # the target's tail (and its EOS) was cut off
    assert cut["prompt_len"] < 300
    from studio.session.monitor import describe_data

    assert f"{truncated} truncated to max_length" in describe_data(mix.report)


def test_the_prompt_is_the_standard_alpaca_template_in_training_and_evaluation(data_dir, tmp_path):
    from worker.evaluation.prompts import qa_prompt
    from worker.prompt import alpaca_prompt

    assert alpaca_prompt("Name a colour.") == (
        "Below is an instruction that describes a task. Write a response that appropriately completes the "
        "request.\n\n### Instruction:\nName a colour.\n\n### Response:")
    assert alpaca_prompt("Translate.", "Bonjour") == (
        "Below is an instruction that describes a task, paired with an input that provides further context. Write "
        "a response that appropriately completes the request.\n\n### Instruction:\nTranslate.\n\n### Input:\n"
        "Bonjour\n\n### Response:")
    assert translation_prompt("en", "ar", "Hi.") == alpaca_prompt(TRANSLATION_PHRASINGS[0].format(
        src="English", tgt="Arabic"), "Hi.")
    assert qa_prompt("en", "P", "Q?").endswith("### Input:\nPassage: P\nQuestion: Q?\n\n### Response:")
    # Training renders the same text, with the target right after "### Response:".
    _, tok, mix = _mixture(data_dir, tmp_path)
    example = mix.dataset.filter(lambda s: s == "english_instructions", input_columns=["source"])[0]
    text = tok.decode(example["input_ids"])
    prompt = tok.decode(example["input_ids"][:example["prompt_len"]])
    assert prompt.startswith(tok.bos_token or "") and prompt.endswith("### Response:")
    assert text.startswith((tok.bos_token or "") + "Below is an instruction that describes a task")


def test_language_without_usable_pairs_is_an_error(data_dir, tmp_path):
    (data_dir / "en-zh.tsv").write_text("en\tzh\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        _mixture(data_dir, tmp_path)
    assert "zh" in str(info.value) and info.value.field == "data.pairs.zh"


def test_missing_column_names_the_fields_mapping(data_dir, tmp_path):
    write_pairs(data_dir / "en-ar.tsv", "arb", 10)
    with pytest.raises(DataError) as info:
        _mixture(data_dir, tmp_path)
    assert info.value.field == "data.pairs.ar.fields" and "'ar'" in str(info.value)


def test_evaluation_prompt_is_fixed_and_names_languages():
    prompt = translation_prompt("en", "hi", "Good morning.")
    assert prompt == translation_prompt("en", "hi", "Good morning.")
    assert TRANSLATION_PHRASINGS[0].format(src="English", tgt="Hindi") in prompt
    assert prompt.endswith("### Input:\nGood morning.\n\n### Response:")
    assert language_name("vi") == "Vietnamese" and language_name("nds_nl") == "Dutch Low Saxon"


def test_packing_covers_every_example_once_and_keeps_real_tokens(data_dir, tmp_path):
    _, _, mix = _mixture(data_dir, tmp_path)
    lengths = column_array(mix.dataset, "length")
    rows = epoch_rows(lengths, max_length=1024, packing=True, seed=3, epoch=0)
    flat = np.concatenate(rows)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert all(lengths[r].sum() <= 1024 for r in rows)
    assert lengths.sum() / (1024 * len(rows)) >= 0.9  # 270 examples of 160-360 tokens: a short tail
    many = np.random.default_rng(0).integers(50, 400, 5000)
    assert many.sum() / (1024 * len(epoch_rows(many, max_length=1024, packing=True, seed=0, epoch=0))) >= 0.95
    assert [r.tolist() for r in rows] == [r.tolist() for r in epoch_rows(lengths, max_length=1024, packing=True,
                                                                        seed=3, epoch=0)]
    assert [r.tolist() for r in rows] != [r.tolist() for r in epoch_rows(lengths, max_length=1024, packing=True,
                                                                        seed=3, epoch=1)]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_examples_do_not_attend_to_each_other(attn):
    """Logits of each example packed with others equal its logits alone; the same packed row read with a plain
    all-ones attention mask (no isolation) differs, so the comparison would catch leakage."""
    model, tok = build_tiny_model({"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                                   "num_attention_heads": 4, "num_key_value_heads": 2}, attn_implementation=attn)
    model.eval()
    texts = ["first example, rather short", "the second one talks about rivers and bridges", "3rd: 你好 мир"]
    examples = [{"input_ids": [tok.bos_token_id] + tok(t, add_special_tokens=False).input_ids + [tok.eos_token_id],
                 "prompt_len": 3} for t in texts]
    batch = collate([examples], pad_id=tok.pad_token_id, packed=True, pad_to=128)
    with torch.no_grad():
        packed = model(**batch.model_inputs("cpu")).logits[0]
        leaky = model(input_ids=batch.input_ids, attention_mask=torch.ones_like(batch.input_ids),
                      use_cache=False).logits[0]
        cursor = 0
        for i, example in enumerate(examples):
            ids = torch.tensor([example["input_ids"]])
            alone = model(input_ids=ids, use_cache=False).logits[0]
            n = ids.shape[1]
            torch.testing.assert_close(packed[cursor:cursor + n], alone, atol=2e-5, rtol=1e-4)
            if i > 0:
                assert (leaky[cursor:cursor + n] - alone).abs().max() > 1e-3
            cursor += n
    assert batch.real_tokens == cursor and batch.attention_mask is None
