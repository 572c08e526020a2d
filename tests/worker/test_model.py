"""Models and tokenizers: the offline byte-level tokenizer, the tiny Llama, pad-token handling, layer discovery."""

from __future__ import annotations

import torch

from worker.model import add_pad_token, build_byte_tokenizer, build_tiny_model, decoder_layers


def test_byte_tokenizer_round_trips_every_script():
    tok = build_byte_tokenizer()
    for text in ("Hello, world!", "مرحبا بالعالم", "Γειά σου κόσμε", "नमस्ते दुनिया", "Merhaba dünya", "Xin chào",
                 "你好，世界", "tab\tand\nnewline"):
        ids = tok(text, add_special_tokens=False).input_ids
        assert tok.decode(ids) == text
        assert len(ids) == len(text.encode("utf-8"))
    assert len(tok) == 260 and tok.pad_token_id is not None and tok.eos_token_id != tok.pad_token_id


def test_tiny_model_is_seeded_and_shaped_by_its_settings():
    a, _ = build_tiny_model({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
                             "num_attention_heads": 2, "num_key_value_heads": 1})
    b, _ = build_tiny_model({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
                             "num_attention_heads": 2, "num_key_value_heads": 1})
    assert len(decoder_layers(a)) == 3
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_missing_pad_token_is_added_with_the_mean_embedding():
    model, tok = build_tiny_model({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                   "num_attention_heads": 2, "num_key_value_heads": 1})
    tok.pad_token = None
    before_in = model.get_input_embeddings().weight.detach().clone()
    before_out = model.get_output_embeddings().weight.detach().clone()
    assert add_pad_token(model, tok, token="<extra_pad>")
    pad = tok.pad_token_id
    assert pad == before_in.shape[0] and len(tok) == pad + 1 and model.config.pad_token_id == pad
    torch.testing.assert_close(model.get_input_embeddings().weight[pad], before_in.mean(dim=0))
    torch.testing.assert_close(model.get_output_embeddings().weight[pad], before_out.mean(dim=0))
    assert not add_pad_token(model, tok)


def test_pad_token_already_in_the_vocabulary_is_reused():
    model, tok = build_tiny_model({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                   "num_attention_heads": 2, "num_key_value_heads": 1})
    tok.pad_token = None
    assert add_pad_token(model, tok)
    assert tok.pad_token == "<pad>" and tok.pad_token_id == 2 and len(tok) == 260
    assert model.get_input_embeddings().weight.shape[0] == 260
