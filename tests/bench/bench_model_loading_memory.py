"""Benchmark: host memory while a pretrained model is loaded and sharded (FSDP2, CPU ranks under torchrun, gloo).

    python tests/bench/bench_model_loading_memory.py [--hidden 768 --layers 12 --vocab 32000]

A Llama of ~110M parameters is saved as hub models are (safetensors, bf16), then loaded by 1 and 2 ranks in the
two ways the worker knows: ``full`` (every rank reads the whole checkpoint in fp32, then shards) and ``sharded``
(meta device, shard, each rank reads its own rows; worker/sharded_load.py). Prints each rank's peak RSS above its
baseline (after imports, before loading), their sum, and the sum against one fp32 copy of the weights, then the
projection for LLaMA-7B on 8 ranks. Target (issue 13): 2 ranks summed <= 1.25 x one fp32 copy. Never fails on a
number.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(folder: str, mode: str, out: str) -> None:
    import torch
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from worker import sharded_load
    from worker.contract import ModelSpec
    from worker.model import decoder_layers, load_model_and_tokenizer

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    # Imports are part of the baseline, not of loading: the modeling code, safetensors, FSDP.
    import safetensors.torch  # noqa: F401
    import transformers
    from transformers.models.llama import modeling_llama  # noqa: F401

    transformers.AutoModelForCausalLM, transformers.AutoTokenizer, transformers.AutoConfig  # noqa: B018

    baseline = rss_mib()
    spec = ModelSpec(name_or_path=folder, load=mode)
    if mode == "sharded":
        model, _tok, pending = sharded_load.build_on_meta(spec)
    else:
        model, _tok = load_model_and_tokenizer(spec)
    mesh = init_device_mesh("cpu", (world,))
    for layer in decoder_layers(model):
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    if mode == "sharded":
        model.to_empty(device=torch.device("cpu"))
        sharded_load.load_into_shards(model, pending, torch.device("cpu"))
    import gc

    gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    after = rss_mib()
    params = sum(p.numel() for p in model.parameters())
    result = {"rank": rank, "world": world, "mode": mode, "baseline": baseline, "peak": peak, "after": after,
              "params": params}
    Path(f"{out}.{rank}").write_text(json.dumps(result))
    dist.destroy_process_group()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--child", nargs=3, metavar=("FOLDER", "MODE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models

    base = Path(tempfile.mkdtemp(prefix="lt-bench-load-"))
    folder = base / "model"
    config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.hidden * 8 // 3,
                         num_hidden_layers=args.layers, num_attention_heads=max(1, args.hidden // 64),
                         num_key_value_heads=max(1, args.hidden // 64), tie_word_embeddings=False)
    with torch.no_grad():
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)
    params = sum(p.numel() for p in model.parameters())
    del model
    vocab = {f"t{i}": i for i in range(args.vocab - 4)}
    vocab.update({"<s>": args.vocab - 4, "</s>": args.vocab - 3, "<unk>": args.vocab - 2, "<pad>": args.vocab - 1})
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")),
                                  bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>")
    tok.save_pretrained(folder)
    fp32_copy = params * 4 / 2**20
    rows = []
    for world in (1, 2):
        for mode in ("full", "sharded"):
            out = base / f"r-{world}-{mode}"
            env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
            subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                            str(world), __file__, "--child", str(folder), mode, str(out)], check=True, env=env,
                           cwd=ROOT, capture_output=True)
            ranks = [json.loads(Path(f"{out}.{r}").read_text()) for r in range(world)]
            above = [r["peak"] - r["baseline"] for r in ranks]
            rows.append([f"{world}", mode, " / ".join(f"{a:,.0f}" for a in above), f"{sum(above):,.0f}",
                         f"{sum(above) / fp32_copy:.2f}x"])
    print(f"bench_model_loading_memory: Llama {params / 1e6:.0f}M parameters (one fp32 copy {fp32_copy:,.0f} MiB), "
          f"checkpoint bf16 safetensors, CPU ranks (gloo), peak RSS above each rank's baseline\n")
    header = ["ranks", "load", "peak per rank (MiB)", "summed (MiB)", "summed / one fp32 copy"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
    by = {(r[0], r[1]): float(r[4][:-1]) for r in rows}
    seven_b = 6.74e9 * 4 / 2**30
    print(f"\nProjection, LLaMA-7B (6.74B parameters, one fp32 copy {seven_b:.1f} GiB) on 8 ranks of one node, from the "
          f"2-rank ratios above (summed peak = ratio x one copy, growing with ranks for `full`):")
    full_per_rank = by[("2", "full")] / 2
    print(f"  full:    ~{full_per_rank * 8 * seven_b:,.0f} GiB for the node ({full_per_rank:.2f} copies per rank x 8)")
    print(f"  sharded: ~{by[('2', 'sharded')] * seven_b:,.0f} GiB for the node (the 2-rank sum; each rank holds "
          f"its 1/8th plus transient slices)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
