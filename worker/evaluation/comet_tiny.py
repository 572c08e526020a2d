"""A tiny COMET checkpoint built locally, so the COMET code path runs offline (demo, tests, air-gapped boxes).

PIPELINE CHECK, NOT A QUALITY METRIC: the encoder is a 2-layer XLM-R with random weights and a SentencePiece
vocabulary trained on a few dozen sentences; its regression head is fitted for a few steps to sentence chrF on
synthetic corruptions. Its scores move with surface overlap and nothing more. Events scored with it carry
``note="pipeline-check"`` and ``comet_model="tiny-local"``.

Recipe (DESIGN.md): train a SentencePiece model (``hard_vocab_limit=False``), build ``XLMRobertaTokenizerFast`` from
it, save a tiny ``XLMRobertaConfig``, construct ``comet.models.RegressionMetric(pretrained_model=<dir>,
load_pretrained_weights=False, local_files_only=True)``, fit briefly, and save ``checkpoints/model.ckpt`` beside
``hparams.yaml`` — the layout ``comet.load_from_checkpoint`` and ``comet-score --model <ckpt>`` read.
The build runs under a file lock and is renamed into place, so concurrent ranks never see half a checkpoint.
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import tempfile
from pathlib import Path

TINY_COMET_NAME = "tiny-local"
TINY_COMET_VERSION = "v1"
PIPELINE_CHECK_NOTE = "pipeline-check"

# A small multilingual corpus (written for this module) for the SentencePiece vocabulary and the synthetic rows.
_CORPUS = [
    "The river rose after three days of rain and the bridge was closed.",
    "She bought fresh bread at the market before the shops closed.",
    "Our train leaves at seven in the morning from the central station.",
    "The committee will publish its report on water quality next week.",
    "Children learn new words quickly when they hear them every day.",
    "A small boat carried the doctor across the lake to the village.",
    "The museum opens a new exhibition about ancient maps in spring.",
    "He repaired the old radio with parts from his grandfather's workshop.",
    "Farmers in the valley grow rice, beans and several kinds of fruit.",
    "The library lends books, music and films to everyone in the town.",
    "ارتفع النهر بعد ثلاثة أيام من المطر وأغلق الجسر.",
    "اشترت خبزا طازجا من السوق قبل إغلاق المحلات.",
    "Το ποτάμι φούσκωσε μετά από τρεις μέρες βροχής και η γέφυρα έκλεισε.",
    "Αγόρασε φρέσκο ψωμί από την αγορά πριν κλείσουν τα μαγαζιά.",
    "तीन दिन की बारिश के बाद नदी चढ़ गई और पुल बंद कर दिया गया।",
    "उसने दुकानें बंद होने से पहले बाज़ार से ताज़ी रोटी खरीदी।",
    "Üç gün süren yağmurun ardından nehir yükseldi ve köprü kapatıldı.",
    "Dükkanlar kapanmadan önce pazardan taze ekmek aldı.",
    "Sông dâng cao sau ba ngày mưa và cây cầu đã bị đóng.",
    "Cô ấy mua bánh mì tươi ở chợ trước khi các cửa hàng đóng cửa.",
    "连续下了三天雨后河水上涨，桥被封闭了。",
    "她在商店关门前去市场买了新鲜的面包。",
    "Der Fluss stieg nach drei Tagen Regen und die Brücke wurde gesperrt.",
    "Elle a acheté du pain frais au marché avant la fermeture des magasins.",
]


def default_cache_root() -> Path:
    """``$LINGUATUNE_CACHE``, else ``$XDG_CACHE_HOME/linguatune``, else ``~/.cache/linguatune``."""
    env = os.environ.get("LINGUATUNE_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "linguatune"


def tiny_comet_dir(cache_root: str | Path | None = None) -> Path:
    """Folder of the tiny checkpoint (``checkpoints/model.ckpt``, ``hparams.yaml``, ``encoder/``)."""
    root = Path(cache_root) if cache_root else default_cache_root()
    return root / f"comet-tiny-{TINY_COMET_VERSION}"


def tiny_comet_checkpoint(cache_root: str | Path | None = None) -> Path:
    """Path of the tiny checkpoint file (it may not be built yet)."""
    return tiny_comet_dir(cache_root) / "checkpoints" / "model.ckpt"


def ensure_tiny_comet(cache_root: str | Path | None = None, *, train_steps: int = 60) -> Path:
    """Return the tiny checkpoint path, building it first if it is not cached. Safe to call from many processes."""
    final = tiny_comet_dir(cache_root)
    ckpt = final / "checkpoints" / "model.ckpt"
    if ckpt.is_file():
        return ckpt
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f"{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if ckpt.is_file():  # another process built it while we waited
                return ckpt
            staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
            try:
                _build(staging, final, train_steps=train_steps)
                os.replace(staging, final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return ckpt


def _build(staging: Path, final: Path, *, train_steps: int) -> None:
    import sentencepiece as spm
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaTokenizerFast

    encoder_dir = staging / "encoder"
    encoder_dir.mkdir(parents=True)
    corpus_file = staging / "corpus.txt"
    corpus_file.write_text("\n".join(_CORPUS) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus_file), model_prefix=str(encoder_dir / "sentencepiece.bpe"), vocab_size=1000,
        hard_vocab_limit=False, character_coverage=1.0, model_type="unigram",
        minloglevel=2, num_threads=1,
    )
    corpus_file.unlink()
    tokenizer = XLMRobertaTokenizerFast(vocab_file=str(encoder_dir / "sentencepiece.bpe.model"))
    tokenizer.save_pretrained(encoder_dir)
    XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=258, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    ).save_pretrained(encoder_dir)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 32-wide model gains nothing from threads, and loses a lot on a busy machine
    try:
        _train_and_save(staging, final, encoder_dir, train_steps)
    finally:
        torch.set_num_threads(threads)


def _train_and_save(staging: Path, final: Path, encoder_dir: Path, train_steps: int) -> None:
    import pytorch_lightning
    import torch
    import yaml

    from comet.models import RegressionMetric

    torch.manual_seed(0)
    model = RegressionMetric(
        pretrained_model=str(encoder_dir), load_pretrained_weights=False, local_files_only=True,
        nr_frozen_epochs=0, keep_embeddings_frozen=False, hidden_sizes=[64], batch_size=8,
        train_data=["synthetic"], validation_data=["synthetic"], dropout=0.0,
    )
    _fit(model, steps=train_steps)

    hparams = dict(model.hparams)
    hparams["pretrained_model"] = str(final / "encoder")  # where the encoder lives once renamed into place
    (staging / "checkpoints").mkdir()
    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": hparams,
            "pytorch-lightning_version": pytorch_lightning.__version__,
            "epoch": 0,
            "global_step": train_steps,
        },
        staging / "checkpoints" / "model.ckpt",
    )
    (staging / "hparams.yaml").write_text(yaml.safe_dump(hparams, sort_keys=True), encoding="utf-8")
    (staging / "README.txt").write_text(
        "Tiny COMET built by LinguaTune: a PIPELINE CHECK, NOT A QUALITY METRIC.\n"
        "Random 2-layer XLM-R encoder; regression head fitted to sentence chrF on synthetic corruptions.\n",
        encoding="utf-8",
    )


def synthetic_rows(count: int, seed: int = 0) -> list[dict]:
    """(src, mt, ref, score) rows: corrupted copies of corpus sentences scored by sentence chrF in [0, 1]."""
    from sacrebleu.metrics import CHRF

    rng = random.Random(seed)
    chrf = CHRF()
    rows = []
    for _ in range(count):
        ref = rng.choice(_CORPUS)
        words = ref.split()
        mode = rng.random()
        if mode < 0.25:
            mt_words = words
        elif mode < 0.5:
            mt_words = [w for w in words if rng.random() > 0.4] or words[:1]
        elif mode < 0.75:
            mt_words = words[:]
            rng.shuffle(mt_words)
        else:
            mt_words = rng.choice(_CORPUS).split()
        mt = " ".join(mt_words)
        rows.append({"src": ref, "mt": mt, "ref": ref, "score": chrf.sentence_score(mt, [ref]).score / 100.0})
    return rows


def _fit(model, *, steps: int) -> None:
    import torch

    rows = synthetic_rows(steps * 8)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        batch = rows[step * 8 : (step + 1) * 8]
        inputs, targets = model.prepare_sample(batch, stage="fit")
        prediction = model(**inputs)
        loss = torch.nn.functional.mse_loss(prediction.score, targets.score)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
