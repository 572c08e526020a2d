"""``linguatune-worker evaluate`` / ``align`` and the evaluation part of ``doctor``.

``worker.cli`` calls ``add_commands(subparsers)``; each command sets ``func`` returning an exit code. Both commands
run in one process on the model in ``DIR/final`` (or a checkpoint's model with ``--checkpoint STEP``) and append
their events to ``DIR/events.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .errors import EvalInputError


class EvalCommandError(EvalInputError):
    """A job directory that ``evaluate``/``align`` cannot work on (no job.json, no final model, no checkpoint)."""


def add_commands(subparsers: Any) -> None:
    """Register ``evaluate DIR [--checkpoint STEP]`` and ``align DIR [--checkpoint STEP]``."""
    p = subparsers.add_parser("evaluate", help="evaluate the job's final model (or a checkpoint) in DIR")
    p.add_argument("job_dir", metavar="DIR")
    p.add_argument("--checkpoint", type=int, metavar="STEP", default=None,
                   help="evaluate the model saved in checkpoint STEP instead of final/")
    p.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    p.set_defaults(func=run_evaluate_command)
    p = subparsers.add_parser("align", help="layer-wise alignment of the job's final model (or a checkpoint)")
    p.add_argument("job_dir", metavar="DIR")
    p.add_argument("--checkpoint", type=int, metavar="STEP", default=None)
    p.add_argument("--device", default=None)
    p.set_defaults(func=run_align_command)


def run_evaluate_command(args: argparse.Namespace) -> int:
    return _run(args, alignment_only=False)


def run_align_command(args: argparse.Namespace) -> int:
    return _run(args, alignment_only=True)


def _run(args: argparse.Namespace, *, alignment_only: bool) -> int:
    import torch

    from worker.contract import EVENTS_FILE, EventLog

    from .runner import evaluate, evaluate_alignment

    job_dir = Path(args.job_dir)
    try:
        spec = _read_job_json(job_dir)
        model, tokenizer, step = load_job_model(job_dir, spec, checkpoint=args.checkpoint)
    except EvalInputError as exc:
        print(f"linguatune-worker: {exc}", file=sys.stderr)
        return 2
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(device).eval()
    with EventLog(job_dir / EVENTS_FILE) as log:
        run = evaluate_alignment if alignment_only else evaluate
        result = run(model, tokenizer, spec.get("eval") or {}, step=step, emit=log.emit, job_dir=job_dir,
                     rank=0, world_size=1, device=device)
    summary = {key: result[key] for key in ("translation", "qa") if key in result} if not alignment_only \
        else {key: result.get(key) for key in ("langs", "layers")}
    print(json.dumps({"step": step, **summary}, ensure_ascii=False, indent=1))
    return 0


def _read_job_json(job_dir: Path) -> dict:
    from worker.contract import JOB_FILE

    path = job_dir / JOB_FILE
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalCommandError(f"{path} does not exist; is {job_dir} a job directory?", source=str(path)) from None
    except (OSError, ValueError) as exc:
        raise EvalCommandError(f"{path} cannot be read as JSON ({exc}).", source=str(path)) from None
    if not isinstance(spec, dict):
        raise EvalCommandError(f"{path} does not hold a job spec object.", source=str(path))
    return spec


def load_job_model(job_dir: Path, spec: dict, *, checkpoint: int | None = None) -> tuple[Any, Any, int]:
    """(model, tokenizer, step): ``final/`` in save_pretrained layout, or the model shards of checkpoint STEP."""
    from worker.contract import CHECKPOINTS_DIR, FINAL_DIR

    if checkpoint is None:
        final = job_dir / FINAL_DIR
        if not (final / "config.json").is_file():
            raise EvalCommandError(f"{final} holds no saved model; the job has not finished (use --checkpoint STEP).",
                                   source=str(final))
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(final)
        tokenizer = AutoTokenizer.from_pretrained(final)
        return model, tokenizer, _last_step(job_dir)
    path = job_dir / CHECKPOINTS_DIR / f"step-{checkpoint:07d}"
    if not path.is_dir():
        found = sorted(p.name for p in (job_dir / CHECKPOINTS_DIR).glob("step-*"))
        raise EvalCommandError(
            f"checkpoint {path} does not exist (found: {', '.join(found) or 'none'}).", source=str(path)
        )
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, set_model_state_dict

    from worker.contract import ModelSpec
    from worker.model import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(ModelSpec.from_dict(spec.get("model") or {}), base_dir=job_dir)
    state = {"model": get_model_state_dict(model)}
    dcp.load(state, checkpoint_id=str(path))
    set_model_state_dict(model, state["model"])
    return model, tokenizer, checkpoint


def _last_step(job_dir: Path) -> int:
    from worker.contract import EVENTS_FILE, read_events, read_status

    status = read_status(job_dir) or {}
    if isinstance(status.get("step"), int):
        return status["step"]
    try:
        steps = [e["step"] for e in read_events(job_dir / EVENTS_FILE) if e.kind == "train"]
    except OSError:
        steps = []
    return steps[-1] if steps else 0


def doctor_report() -> dict:
    """Can COMET import, which COMET checkpoints are on disk, which sacrebleu tokenizers work offline."""
    from .comet_tiny import tiny_comet_checkpoint
    from .metrics import SPBLEU_TOKENIZERS, spbleu_model_file

    report: dict[str, Any] = {}
    try:
        import comet  # noqa: F401
        from importlib.metadata import version

        report["comet"] = {"importable": True, "version": version("unbabel-comet")}
    except Exception as exc:  # a broken pin shows up here as any kind of import-time error
        report["comet"] = {"importable": False, "error": f"{type(exc).__name__}: {exc}"}
    tiny = tiny_comet_checkpoint()
    report["tiny_comet"] = {"cached": tiny.is_file(), "path": str(tiny),
                            "note": "pipeline check, not a quality metric"}
    report["comet_checkpoints"] = _hub_comet_checkpoints()
    try:
        import sacrebleu

        tokenizers = {name: spbleu_model_file(name).is_file() for name in SPBLEU_TOKENIZERS}
        tokenizers.update({"13a": True, "zh": True, "char": True})
        report["sacrebleu"] = {"version": sacrebleu.__version__, "offline_tokenizers": tokenizers,
                               "spbleu": any(tokenizers[name] for name in SPBLEU_TOKENIZERS)}
    except Exception as exc:
        report["sacrebleu"] = {"error": f"{type(exc).__name__}: {exc}"}
    return report


def _hub_comet_checkpoints() -> list[str]:
    try:
        from huggingface_hub import constants
    except ImportError:
        return []
    root = Path(constants.HF_HUB_CACHE)
    return sorted(str(p) for p in root.glob("models--*/snapshots/*/checkpoints/model.ckpt"))
