"""A pretrained checkpoint (safetensors, saved locally) loaded straight into the FSDP2 shards trains exactly as the
plain path that has every rank read it whole (issue 13 item 6): two CPU ranks under torchrun, gloo, the same loss
at every step; also when the tokenizer has no pad token and one row is added and mean-initialised."""

from __future__ import annotations

import pytest

from tests.worker.jobkit import losses_by_step, make_job, run_to_end, small_job
from worker.contract import EVENTS_FILE, read_events

pytestmark = pytest.mark.slow


def _save_pretrained(folder, *, with_pad: bool) -> None:
    """A tiny Llama saved as hub models are (safetensors, bf16) with a byte-level BPE tokenizer whose vocabulary
    has a <pad> token or, like LLaMA's, none (then both loaders add one and mean-initialise its rows)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from worker.model import build_tiny_model

    specials = ["<s>", "</s>", "<unk>"] + (["<pad>"] if with_pad else [])
    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(["Below is an instruction that describes a task. Translate the sentence."] * 20,
                             trainers.BpeTrainer(vocab_size=400, special_tokens=specials, show_progress=False,
                                                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                        **({"pad_token": "<pad>"} if with_pad else {}))
    if not with_pad:
        tokenizer.pad_token = None
    model, _ = build_tiny_model({"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                                 "num_attention_heads": 4, "num_key_value_heads": 2, "seed": 3}, tokenizer=tokenizer)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


@pytest.mark.parametrize("with_pad", [True, False])
def test_loading_into_shards_trains_exactly_like_loading_whole(data_dir, tmp_path, with_pad):
    folder = tmp_path / "pretrained"
    _save_pretrained(folder, with_pad=with_pad)
    losses = {}
    for load in ("full", "auto"):
        spec = small_job(data_dir, max_steps=6, checkpoint_every_steps=0)
        spec["model"] = {"name_or_path": str(folder), "load": load}
        job = make_job(tmp_path, f"job-{load}", spec)
        assert run_to_end(job, nproc=2) == 0, (tmp_path / f"job-{load}.launcher.log").read_text()[-3000:]
        losses[load] = losses_by_step(job)
        warnings = [e.data["message"] for e in read_events(job / EVENTS_FILE)
                    if e.kind == "log" and e.data.get("level") == "warning"]
        assert not [w for w in warnings if "reads the whole checkpoint" in w], warnings
    assert sorted(losses["auto"]) == sorted(losses["full"]) == list(range(1, 7))
    for step, loss in losses["full"].items():
        assert losses["auto"][step] == pytest.approx(loss, rel=1e-5, abs=1e-6), step
