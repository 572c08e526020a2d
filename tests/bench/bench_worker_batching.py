"""Batching benchmark on the demo model: packing vs padding to the longest in the batch.

For each mode, one real 2-rank FSDP2 run (torchrun, gloo, CPU) of the demo job for a few optimizer steps; prints
real tokens/s per rank (from the `train` events) and the share of real tokens, both over the measured steps and
over a whole epoch of the demo mixture. Never fails on a time.

    python tests/bench/bench_worker_batching.py [--steps 12] [--nproc 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def epoch_share(spec: dict, packing: bool) -> tuple[float, int]:
    """Share of real tokens over one epoch with the trainer's row and micro-batch layout (one rank's view)."""
    from worker.contract import JobSpec
    from worker.data import build_mixture, column_array, epoch_rows
    from worker.model import build_byte_tokenizer

    job = JobSpec.from_dict(spec)
    with tempfile.TemporaryDirectory() as tmp:
        mix = build_mixture(job, build_byte_tokenizer(), base_dir=Path(tmp), cache_dir=Path(tmp) / "cache")
        lengths = column_array(mix.dataset, "length")
    rows = epoch_rows(lengths, max_length=job.train.max_length, packing=packing, seed=job.train.seed, epoch=0)
    bs = job.train.per_device_batch_size
    real = padded = 0
    for start in range(0, len(rows) - bs + 1, bs):
        sums = [int(lengths[r].sum()) for r in rows[start:start + bs]]
        real += sum(sums)
        padded += max(sums) * len(sums)
    return real / padded, len(rows)


def run_mode(spec: dict, packing: bool, steps: int, nproc: int, root: Path) -> dict:
    job = root / ("packed" if packing else "padded")
    job.mkdir()
    spec = json.loads(json.dumps(spec))
    spec["train"].update(packing=packing, max_steps=steps, checkpoint_every_steps=0)
    spec["eval"]["at_end"] = False
    (job / "job.json").write_text(json.dumps(spec))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    started = time.time()
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "-m",
                    "worker.cli", "run", str(job)], cwd=REPO, env=env, check=True, capture_output=True)
    wall = time.time() - started
    from worker.contract import read_events

    train = [e for e in read_events(job / "events.jsonl") if e.kind == "train"][2:]  # skip warm-up steps
    return {
        "tokens_per_s_per_rank": statistics.median(e["tokens_per_s_per_rank"] for e in train),
        "share": sum(e["tokens"] for e in train) / sum(e["tokens"] / e["real_token_share"] for e in train),
        "tokens_per_step": statistics.mean(e["tokens"] for e in train),
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--nproc", type=int, default=2)
    args = parser.parse_args()
    from worker.demo import demo_spec

    spec = demo_spec()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for packing in (True, False):
            result = run_mode(spec, packing, args.steps, args.nproc, Path(tmp))
            share, n_rows = epoch_share(spec, packing)
            rows.append((packing, result, share, n_rows))
    t = spec["train"]
    print(f"demo model, {args.nproc} CPU ranks (FSDP2/gloo), per-device batch {t['per_device_batch_size']} rows, "
          f"max_length {t['max_length']}, {args.steps} steps (first 2 not timed)")
    print(f"{'batching':<30} {'real tok/s/rank':>16} {'real share (run)':>17} {'real share (epoch)':>19} "
          f"{'rows/epoch':>11} {'real tok/step':>14}")
    for packing, r, share, n_rows in rows:
        name = "packing (ours)" if packing else "padding to longest in batch"
        print(f"{name:<30} {r['tokens_per_s_per_rank']:>16.0f} {r['share']:>17.3f} {share:>19.3f} {n_rows:>11} "
              f"{r['tokens_per_step']:>14.0f}")


if __name__ == "__main__":
    main()
