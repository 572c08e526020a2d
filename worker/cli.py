"""``linguatune-worker``: run or resume a job directory, write the demo job, check the machine.

    linguatune-worker run DIR        train the job in DIR (resumes from its latest checkpoint when there is one)
    linguatune-worker resume DIR     the same, but DIR must already hold a job that was started
    linguatune-worker demo DIR       write the demo job (tiny Llama, shipped sample data) into DIR
    linguatune-worker evaluate DIR [--checkpoint STEP]   translation, QA and alignment scores of the tuned model
    linguatune-worker align DIR [--checkpoint STEP]      layer-wise alignment only
    linguatune-worker doctor [--json]

Several ranks: ``torchrun --nproc-per-node N -m worker.cli run DIR``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    from worker import contract

    job_dir = Path(args.job_dir)
    if not (job_dir / contract.JOB_FILE).is_file():
        print(f"linguatune-worker: {job_dir} holds no {contract.JOB_FILE}", file=sys.stderr)
        return 2
    if args.command == "resume" and not (job_dir / contract.EVENTS_FILE).is_file():
        print(f"linguatune-worker: {job_dir} has not been started yet; use 'run'", file=sys.stderr)
        return 2
    exit_file = job_dir / contract.EXIT_CODE_FILE
    if exit_file.is_file() and exit_file.read_text().strip() == "0" and (job_dir / contract.FINAL_DIR).is_dir():
        print(f"linguatune-worker: the job in {job_dir} has already finished", file=sys.stderr)
        return 0
    from worker.train import run_job

    return run_job(job_dir)


def _demo(args: argparse.Namespace) -> int:
    from worker.contract import JobSpecError
    from worker.demo import write_demo_job

    try:
        path = write_demo_job(Path(args.job_dir), overrides={"train.max_steps": args.max_steps}
                              if args.max_steps else None)
    except (JobSpecError, FileNotFoundError, FileExistsError) as exc:
        print(f"linguatune-worker: {exc}", file=sys.stderr)
        return 2
    print(f"demo job written to {path}; start it with: linguatune-worker run {args.job_dir}\n"
          f"or with two ranks: torchrun --nproc-per-node 2 -m worker.cli run {args.job_dir}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    import json

    from worker.doctor import collect, format_report

    report = collect(Path(args.path))
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0 if report["ok"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linguatune-worker", description="LinguaTune training worker")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "train the job in DIR (continues from its latest checkpoint)"),
                       ("resume", "continue a started job from its latest checkpoint")):
        p = sub.add_parser(name, help=text)
        p.add_argument("job_dir", metavar="DIR")
        p.set_defaults(func=_run)
    p = sub.add_parser("demo", help="write the demo job spec (tiny model, shipped sample data) into DIR")
    p.add_argument("job_dir", metavar="DIR")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    p.set_defaults(func=_demo)
    from worker.evaluation.cli import add_commands as add_evaluation_commands

    add_evaluation_commands(sub)
    p = sub.add_parser("doctor", help="report python, torch, CUDA, GPUs, disk and libraries")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--path", default=".", help="where to measure free disk space (default: here)")
    p.set_defaults(func=_doctor)
    return parser


WORKER_LIBRARIES = ("torch", "numpy", "transformers", "datasets", "accelerate", "comet", "sacrebleu", "sentencepiece",
                    "pyarrow", "tokenizers", "safetensors")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in WORKER_LIBRARIES:
            print(f"linguatune-worker: {exc.name.split('.')[0]} is not installed in {sys.executable}; install the "
                  "worker with: pip install 'linguatune[worker]'", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
