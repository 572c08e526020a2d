"""Base models and tokenizers: a tiny Llama built from a config with an offline byte-level tokenizer (the demo and
the tests), or a pretrained causal LM from the hub or a local folder; pad-token handling as in REFERENCE.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from worker.contract import ModelSpec

PAD_TOKEN = "<pad>"
# Defaults of the demo model: small enough to train on two CPU cores in a couple of minutes.
TINY_DEFAULTS: dict[str, Any] = {
    "hidden_size": 96,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "initializer_range": 0.02,
    "tie_word_embeddings": False,
    "seed": 0,
}


class ModelLoadError(RuntimeError):
    """The base model or its tokenizer could not be loaded."""


def build_byte_tokenizer():
    """A byte-level tokenizer needing no training data: the 256 byte symbols plus ``<s>``, ``</s>``, ``<pad>``,
    ``<unk>``. Every UTF-8 text round-trips exactly."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "</s>", PAD_TOKEN, "<unk>"]
    alphabet = sorted(ByteLevel.alphabet())
    vocab = {tok: i for i, tok in enumerate(specials)}
    for symbol in alphabet:
        vocab[symbol] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token=PAD_TOKEN, unk_token="<unk>",
        model_max_length=4096, clean_up_tokenization_spaces=False,
    )


def tiny_llama_config(settings: dict[str, Any] | None, tokenizer) -> "Any":
    """A ``LlamaConfig`` for the tiny demo model, ``settings`` overriding ``TINY_DEFAULTS``."""
    from transformers import LlamaConfig

    values = {**TINY_DEFAULTS, **(settings or {})}
    values.pop("seed", None)
    return LlamaConfig(
        vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, use_cache=False, **values,
    )


def load_tokenizer_file(path: Path):
    """A tokenizer from a ``tokenizer.json`` file (the demo world's BPE) with LinguaTune's special tokens."""
    from transformers import PreTrainedTokenizerFast

    if not path.is_file():
        raise ModelLoadError(f"the tokenizer file {path} does not exist")
    try:
        return PreTrainedTokenizerFast(tokenizer_file=str(path), bos_token="<s>", eos_token="</s>",
                                       pad_token=PAD_TOKEN, unk_token="<unk>", model_max_length=4096,
                                       clean_up_tokenization_spaces=False)
    except Exception as exc:  # tokenizers raises bare Exception subclasses for a malformed file
        raise ModelLoadError(f"the tokenizer file {path} could not be read: {_first_line(exc)}") from exc


def build_tiny_model(settings: dict[str, Any] | None = None, *, attn_implementation: str = "sdpa",
                     tokenizer=None):
    """(model, tokenizer): a freshly initialised tiny Llama (seeded, so every rank builds the same weights), with
    ``tokenizer`` or the byte-level one."""
    from transformers import LlamaForCausalLM

    tokenizer = tokenizer if tokenizer is not None else build_byte_tokenizer()
    config = tiny_llama_config(settings, tokenizer)
    seed = int((settings or {}).get("seed", TINY_DEFAULTS["seed"]))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        config._attn_implementation = attn_implementation
        model = LlamaForCausalLM(config)
    return model, tokenizer


def load_model_and_tokenizer(spec: ModelSpec, *, base_dir: Path | None = None):
    """(model, tokenizer) in fp32 on CPU, with a pad token (added and mean-initialised when the tokenizer lacks one).

    FSDP2 shards the fp32 weights (the master copy) afterwards; bf16 compute comes from its mixed-precision policy.
    """
    if spec.tiny is not None:
        tokenizer = None
        if spec.tokenizer:  # a tokenizer.json file, resolved like data files (job directory, then resources)
            from worker.resources import resolve_job_path

            tokenizer = load_tokenizer_file(resolve_job_path(spec.tokenizer, base_dir))
        return build_tiny_model(spec.tiny, attn_implementation=spec.attn_implementation, tokenizer=tokenizer)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = spec.name_or_path or ""
    if base_dir is not None and (name.startswith("./") or name.startswith("../")):
        name = str((base_dir / name).resolve())
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.tokenizer or name, trust_remote_code=spec.trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            name, torch_dtype=torch.float32, attn_implementation=spec.attn_implementation,
            trust_remote_code=spec.trust_remote_code, low_cpu_mem_usage=True,
        )
    except Exception as exc:  # transformers raises OSError, ValueError, HFValidationError, ... for the same cause
        raise ModelLoadError(f"the model {name!r} could not be loaded: {_first_line(exc)}") from exc
    add_pad_token(model, tokenizer)
    model.config.use_cache = False
    return model, tokenizer


def load_tokenizer(spec: ModelSpec, *, base_dir: Path | None = None):
    """The tokenizer a job trains with, without its model (as ``load_model_and_tokenizer`` leaves it, pad token
    included), for looking at the data before spending GPU hours on it."""
    if spec.tiny is not None:
        if spec.tokenizer:
            from worker.resources import resolve_job_path

            return load_tokenizer_file(resolve_job_path(spec.tokenizer, base_dir))
        return build_byte_tokenizer()
    from transformers import AutoTokenizer

    name = spec.tokenizer or spec.name_or_path or ""
    if base_dir is not None and (name.startswith("./") or name.startswith("../")):
        name = str((base_dir / name).resolve())
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=spec.trust_remote_code)
    except Exception as exc:  # the same many types as for the model
        raise ModelLoadError(f"the tokenizer of {name!r} could not be loaded: {_first_line(exc)}") from exc
    if tokenizer.pad_token_id is None:
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return tokenizer


def add_pad_token(model, tokenizer, token: str = PAD_TOKEN) -> bool:
    """Give the tokenizer a pad token when it has none: ``token`` (``<pad>``), added to the vocabulary with its
    embedding (and output row) set to the mean of the existing rows, or reused when the vocabulary already holds
    it. Returns True when the tokenizer's pad token changed."""
    if tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
        return False
    old = model.get_input_embeddings().weight.shape[0]
    tokenizer.add_special_tokens({"pad_token": token})
    if len(tokenizer) <= old:  # the token was already in the vocabulary
        model.config.pad_token_id = tokenizer.pad_token_id
        return True
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    with torch.no_grad():
        emb = model.get_input_embeddings().weight
        emb[old:] = emb[:old].mean(dim=0, keepdim=True)
        out = model.get_output_embeddings()
        if out is not None and out.weight.data_ptr() != emb.data_ptr():
            out.weight[old:] = out.weight[:old].mean(dim=0, keepdim=True)
    model.config.pad_token_id = tokenizer.pad_token_id
    return True


def decoder_layers(model) -> list[torch.nn.Module]:
    """The transformer blocks FSDP2 wraps one by one: ``model.model.layers`` when present, else every module whose
    class name ends in ``DecoderLayer``/``Block``."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if isinstance(layers, torch.nn.ModuleList) and len(layers):
        return list(layers)
    found = [m for m in model.modules() if type(m).__name__.endswith(("DecoderLayer", "Block"))]
    if not found:
        raise ModelLoadError(f"cannot find the decoder layers of {type(model).__name__} to shard")
    return found


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
