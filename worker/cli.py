"""``linguatune-worker``: run or resume a job directory, write the demo job, check the machine.

    linguatune-worker run DIR        train the job in DIR (resumes from its latest checkpoint when there is one)
    linguatune-worker resume DIR     the same, but DIR must already hold a job that was started
    linguatune-worker demo DIR       write the demo job (tiny Llama, shipped sample data) into DIR
    linguatune-worker evaluate DIR [--checkpoint STEP]   translation, QA and alignment scores of the tuned model
    linguatune-worker align DIR [--checkpoint STEP]      layer-wise alignment only
    linguatune-worker inspect DIR [--n 5]  the first rendered training examples per source, then a summary
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


def _inspect(args: argparse.Namespace) -> int:
    """JSON lines: the first ``--n`` training examples of every source as the model will see them (prompt, target,
    token counts, truncated or not), then one summary line per source. The mixture is built (or read) in the job's
    own cache, so the run that follows reuses it."""
    import json

    from worker import contract
    from worker import data as mixdata
    from worker.model import load_tokenizer

    job_dir = Path(args.job_dir)
    try:
        spec = contract.load_job_spec(job_dir)
    except (contract.JobSpecError, FileNotFoundError) as exc:
        print(f"linguatune-worker: {exc}", file=sys.stderr)
        return 2
    try:
        tokenizer = load_tokenizer(spec.model, base_dir=job_dir)
        cache = job_dir / "cache"
        target = cache / f"mixture-{mixdata.mixture_fingerprint(spec, tokenizer, job_dir)}"
        mixture = mixdata.load_mixture(target)
        if mixture is None:
            mixture = mixdata.build_mixture(spec, tokenizer, base_dir=job_dir, cache_dir=cache / "datasets")
            mixdata.save_mixture(mixture, target)
            mixture = mixdata.load_mixture(target)
    except (mixdata.DataError, RuntimeError) as exc:
        print(f"linguatune-worker: {exc}", file=sys.stderr)
        return 2
    ds = mixture.dataset
    max_length = spec.train.max_length
    sources, langs = ds["source"], ds["lang"]
    first: dict[tuple[str, str], list[int]] = {}
    for row, key in enumerate(zip(sources, langs)):
        if len(first.setdefault(key, [])) < args.n:
            first[key].append(row)
    for row in sorted(r for rows in first.values() for r in rows):
        example = ds[row]
        ids, plen = example["input_ids"], example["prompt_len"]
        truncated = len(ids) == max_length and ids[-1] != tokenizer.eos_token_id
        print(json.dumps({
            "source": example["source"], "lang": example["lang"],
            "prompt": tokenizer.decode(ids[:plen], skip_special_tokens=True),
            "target": tokenizer.decode(ids[plen:], skip_special_tokens=True),
            "prompt_tokens": plen, "target_tokens": len(ids) - plen, "tokens": len(ids), "truncated": truncated,
        }, ensure_ascii=False))
    for entry in mixture.report["sources"]:
        print(json.dumps({"summary": entry}, ensure_ascii=False))
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
    p = sub.add_parser("inspect", help="the first rendered training examples of each source, and a summary")
    p.add_argument("job_dir", metavar="DIR")
    p.add_argument("--n", type=int, default=5, help="examples per source (default 5)")
    p.set_defaults(func=_inspect)
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
