"""Run evaluate() on a tiny Llama sharded with FSDP2 over gloo; launched by the tests with torchrun.

Usage: torchrun --nproc-per-node 2 fsdp_eval_job.py MODEL_DIR JOB_DIR SPEC_JSON
Rank 0 writes events to JOB_DIR/events.jsonl; every rank writes JOB_DIR/rank-N.json with its forward-call count.
"""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.distributed as dist
from torch.distributed.fsdp import fully_shard
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from worker.contract import EventLog  # noqa: E402
from worker.evaluation import evaluate  # noqa: E402


def main() -> None:
    model_dir, job_dir, spec_path = sys.argv[1:4]
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    for layer in model.model.layers:
        fully_shard(layer)
    fully_shard(model)
    model.eval()
    forwards = {"count": 0}
    model.register_forward_pre_hook(lambda *_: forwards.__setitem__("count", forwards["count"] + 1))
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    log = EventLog(os.path.join(job_dir, "events.jsonl")) if rank == 0 else None
    emit = log.emit if log else (lambda kind, **fields: None)
    result = evaluate(model, tokenizer, spec, step=5, emit=emit, job_dir=job_dir, rank=rank,
                      world_size=world_size, device=torch.device("cpu"))
    eval_forwards = forwards["count"]
    # The training loop continues after an eval point: one training step on the same sharded model must work.
    model.train()
    batch = tokenizer(["The river rose after the rain."], return_tensors="pt")
    loss = model(**batch, labels=batch["input_ids"]).loss
    loss.backward()
    grads_finite = all(bool(torch.isfinite(p.grad.full_tensor()).all()) for p in model.parameters()
                       if p.grad is not None)
    with open(os.path.join(job_dir, f"rank-{rank}.json"), "w", encoding="utf-8") as fh:
        json.dump({"forwards": eval_forwards, "result_keys": sorted(result), "train_loss": float(loss),
                   "grads_finite": grads_finite}, fh)
    if log:
        log.close()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
