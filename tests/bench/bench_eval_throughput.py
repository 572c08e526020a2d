"""Evaluation throughput: greedy generation and COMET scoring, length-sorted batches vs unsorted fixed batches.

    python tests/bench/bench_eval_throughput.py [--segments 96] [--batch-size 16] [--max-new-tokens 32]

Generation runs the demo's tiny Llama (worker.model.build_tiny_model; random weights, so nearly every segment runs
to max_new_tokens); COMET runs the locally built tiny checkpoint (a pipeline check, not a quality metric). Segments
are the demo eval sentences (resources/demo/eval) when present, else the test sentences, joined into mixed lengths.
Prints a table; never fails on a time.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "evaluation"))


def _sentences() -> list[tuple[str, str]]:
    demo = ROOT / "resources" / "demo" / "eval"
    pairs: list[tuple[str, str]] = []
    for path in sorted(demo.glob("en-*.tsv")) if demo.is_dir() else []:
        lines = path.read_text(encoding="utf-8").splitlines()[1:]
        pairs.extend(tuple(line.split("\t")[:2]) for line in lines if line.count("\t") == 1)
    if not pairs:
        from eval_data import PAIRS

        pairs = [pair for lang_pairs in PAIRS.values() for pair in lang_pairs]
    return pairs


def _segments(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Segments of 1 to 6 joined sentences, shuffled, so lengths vary the way a real eval set's do."""
    rng = random.Random(seed)
    base = _sentences()
    out = []
    for _ in range(count):
        k = rng.choice([1, 1, 1, 2, 2, 3, 6])
        chosen = [rng.choice(base) for _ in range(k)]
        out.append((" ".join(en for en, _ in chosen), " ".join(xx for _, xx in chosen)))
    return out


def _padding_share(lengths: list[int], batches: list[list[int]]) -> float:
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return 1 - sum(lengths) / padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--hidden-size", type=int, default=None,
                        help="widen the demo model (intermediate = 2x hidden) to see where padding starts to cost")
    parser.add_argument("--layers", type=int, default=None, help="decoder layers (default: the demo's)")
    args = parser.parse_args()

    import torch

    from worker.evaluation.comet_tiny import ensure_tiny_comet
    from worker.evaluation.generation import greedy_generate, plan_batches
    from worker.evaluation.metrics import CometScorer
    from worker.evaluation.prompts import alpaca_translation_prompt

    torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        from worker.model import build_tiny_model

        settings = {}
        if args.hidden_size:
            settings.update(hidden_size=args.hidden_size, intermediate_size=2 * args.hidden_size)
        if args.layers:
            settings["num_hidden_layers"] = args.layers
        model, tokenizer = build_tiny_model(settings or None)
        model_name = "demo tiny Llama (worker.model.build_tiny_model" + (f", {settings}" if settings else "") + ")"
    except ImportError:
        from tiny_models import build_tiny_llama

        model, tokenizer = build_tiny_llama(tempfile.mkdtemp())
        model_name = "tiny Llama (tests/evaluation/tiny_models.py)"
    model.to(device).eval()
    segments = _segments(args.segments)
    prompts = [alpaca_translation_prompt("en", "zh", en) for en, _ in segments]
    lengths = [len(ids) for ids in tokenizer(prompts)["input_ids"]]

    rows = []
    greedy_generate(model, tokenizer, prompts[: args.batch_size], batch_size=args.batch_size, max_new_tokens=4,
                    device=device)  # warm-up
    hypotheses = {}
    for label, sort in (("length-sorted", True), ("unsorted fixed", False)):
        padding = _padding_share(lengths, plan_batches(lengths, args.batch_size, sort_by_length=sort))
        start = time.perf_counter()
        hypotheses[label] = greedy_generate(model, tokenizer, prompts, batch_size=args.batch_size,
                                            max_new_tokens=args.max_new_tokens, device=device, sort_by_length=sort)
        seconds = time.perf_counter() - start
        rows.append(("generation", label, len(prompts), seconds, len(prompts) / seconds, padding))

    ensure_tiny_comet()
    scorer = CometScorer.load("tiny-local")
    sources = [en for en, _ in segments]
    references = [xx for _, xx in segments]
    hyps = [hypotheses["length-sorted"][i] or "." for i in range(len(segments))]
    src_lengths = [len(s) for s in sources]
    scorer.score(sources[:8], hyps[:8], references[:8], batch_size=8, device=device)  # warm-up
    for label, sort in (("length-sorted", True), ("unsorted fixed", False)):
        order = sorted(range(len(sources)), key=lambda i: src_lengths[i]) if sort else list(range(len(sources)))
        batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
        padding = _padding_share(src_lengths, batches)
        start = time.perf_counter()
        scorer.score(sources, hyps, references, batch_size=args.batch_size, device=device, sort_by_length=sort)
        seconds = time.perf_counter() - start
        rows.append(("COMET tiny-local", label, len(sources), seconds, len(sources) / seconds, padding))

    print(f"model: {model_name}; device: {device}; threads: {args.threads}; batch size {args.batch_size}; "
          f"max_new_tokens {args.max_new_tokens}")
    print("COMET: tiny-local checkpoint (pipeline check, not a quality metric); padding share = padded positions "
          "/ all positions (COMET: of source characters)")
    header = f"{'stage':<18} {'batching':<15} {'segments':>8} {'seconds':>9} {'segments/s':>11} {'padding':>8}"
    print(header)
    print("-" * len(header))
    for stage, label, n, seconds, rate, padding in rows:
        print(f"{stage:<18} {label:<15} {n:>8} {seconds:>9.2f} {rate:>11.1f} {padding:>7.0%}")
    same = hypotheses["length-sorted"] == hypotheses["unsorted fixed"]
    print(f"same hypotheses with both batchings: {same}")


if __name__ == "__main__":
    main()
