"""Tiny offline models for evaluation tests and the benchmark: a byte-level BPE tokenizer trained on a few lines
and a randomly initialised Llama built from a config (no downloads)."""

from __future__ import annotations

from pathlib import Path

_TOKENIZER_TEXT = [
    "Below is an instruction that describes a task, paired with an input that provides further context.",
    "Write a response that appropriately completes the request.",
    "### Instruction: Translate the following sentences from English to Arabic.",
    "### Input: The river rose after three days of rain. ### Response:",
    "Answer the question using a short span copied from the passage.",
]


def build_byte_tokenizer(directory: str | Path):
    """Train a byte-level BPE (about 400 tokens) and save it as a ``PreTrainedTokenizerFast`` in ``directory``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(_TOKENIZER_TEXT * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tokenizer.save_pretrained(directory)
    return tokenizer


def build_tiny_llama(directory: str | Path, *, hidden_size: int = 32, layers: int = 2, seed: int = 0,
                     initializer_range: float = 0.02):
    """A random ``LlamaForCausalLM`` (plus tokenizer) saved with ``save_pretrained`` in ``directory``.

    A wide ``initializer_range`` makes the random model's answers depend on the whole prompt (with the default 0.02
    every prompt gets the same continuation, which would hide padding or ordering bugs)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    directory = Path(directory)
    tokenizer = build_byte_tokenizer(directory)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False, initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    return model, tokenizer
