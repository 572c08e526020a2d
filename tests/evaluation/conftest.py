"""Fixtures for the evaluation tests: one tiny COMET checkpoint and one tiny Llama per session, sacrebleu pointed at
a private folder, and hand-written eval sets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from eval_data import PAIRS, write_eval_sets  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models run several times faster on one thread than on two contended ones (the shared test machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def comet_cache_root(tmp_path_factory) -> Path:
    """A cache root holding the tiny COMET checkpoint, built once for the session."""
    from worker.evaluation.comet_tiny import ensure_tiny_comet

    root = tmp_path_factory.mktemp("linguatune-cache")
    ensure_tiny_comet(root)
    return root


@pytest.fixture
def comet_cache(comet_cache_root, monkeypatch) -> Path:
    monkeypatch.setenv("LINGUATUNE_CACHE", str(comet_cache_root))
    return comet_cache_root


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    from tiny_models import build_tiny_llama

    directory = tmp_path_factory.mktemp("tiny-llama")
    build_tiny_llama(directory, initializer_range=0.2)
    return directory


@pytest.fixture
def tiny_llama(tiny_llama_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval(), AutoTokenizer.from_pretrained(tiny_llama_dir)


def train_standin_spm(directory: Path) -> Path:
    """A SentencePiece model trained here on the test sentences, saved where sacrebleu expects flores200's.

    It stands in for the real FLORES-200 model (which sacrebleu downloads and this machine cannot fetch) so that
    the spBLEU code path runs; its scores are not comparable with published spBLEU.
    """
    import sentencepiece as spm

    models = directory / "models"
    models.mkdir(parents=True, exist_ok=True)
    corpus = directory / "spm-corpus.txt"
    corpus.write_text("".join(f"{en}\n{xx}\n" for pairs in PAIRS.values() for en, xx in pairs) * 3,
                      encoding="utf-8")
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(models / "standin"), vocab_size=200,
                                   hard_vocab_limit=False, character_coverage=1.0, minloglevel=2, num_threads=1)
    target = models / "flores200sacrebleuspm"
    (models / "standin.model").rename(target)
    return target


@pytest.fixture
def sacrebleu_offline(tmp_path, monkeypatch) -> Path:
    """sacrebleu's model folder pointed at an empty private folder (the state of a fresh offline machine)."""
    from sacrebleu.tokenizers import tokenizer_spm

    folder = tmp_path / "sacrebleu"
    folder.mkdir()
    monkeypatch.setenv("SACREBLEU", str(folder))
    monkeypatch.setattr(tokenizer_spm, "SACREBLEU_DIR", str(folder))
    return folder


@pytest.fixture
def sacrebleu_with_spm(sacrebleu_offline) -> Path:
    """sacrebleu's model folder holding a stand-in flores200 SentencePiece model (see ``train_standin_spm``)."""
    train_standin_spm(sacrebleu_offline)
    return sacrebleu_offline


@pytest.fixture
def eval_spec(tmp_path) -> dict:
    return write_eval_sets(tmp_path / "sets")


DEMO_LANGS = ("ar", "el", "hi", "tr", "vi", "zh")


@pytest.fixture
def demo_eval_spec() -> dict:
    """The demo's eval section: the shipped sets for the six paper languages (paths relative to resources/)."""
    from worker.resources import resource_path

    missing = [lang for lang in DEMO_LANGS if not resource_path("demo", "eval", f"en-{lang}.tsv").is_file()]
    assert not missing, f"demo eval sets missing for {missing}"
    return {
        "every_steps": 10, "at_end": True, "batch_size": 8, "max_new_tokens": 6, "max_segments": 6,
        "comet_model": "tiny-local", "metrics": ["comet", "spbleu", "chrf"],
        "translation": {lang: {"path": f"demo/eval/en-{lang}.tsv"} for lang in DEMO_LANGS},
        "qa": {lang: {"path": f"demo/qa/{lang}.jsonl"} for lang in DEMO_LANGS},
        "alignment": {"enabled": True, "max_sentences": 50},
    }
