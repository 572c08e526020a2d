"""Benchmark: `linguatune demo` (the measured loop in the demo world) on this machine, time by phase, and what it
measured: chrF per pilot, the fitted laws, predicted against measured for the optimised plan and the uniform split.

    python tests/bench/bench_demo_loop.py [--concurrency 2] [--sizes 200,800,3200] [--budget 4800] [--keep DIR]

Runs the real CLI in a fresh LINGUATUNE_HOME and reads its --report. Target (issue 11): the whole loop under
6 minutes on a 2-core machine. Never fails on a time. Every number is of the SYNTHETIC demo world.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--sizes", default="200,800,3200")
    parser.add_argument("--budget", default="4800")
    parser.add_argument("--keep", help="use this folder as LINGUATUNE_HOME and keep it")
    parser.add_argument("--from-report", metavar="REPORT", help="print the tables of an earlier run's report")
    args = parser.parse_args()
    if args.from_report:
        print_report(json.loads(Path(args.from_report).read_text()), args.concurrency, None)
        return 0
    home = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-loop-"))
    report = home / "report.json"
    env = dict(os.environ, LINGUATUNE_HOME=str(home), PYTHONPATH=str(ROOT))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "studio.cli", "demo", "--sizes", args.sizes, "--budget",
                             args.budget, "--concurrency", str(args.concurrency), "--report", str(report)],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if result.returncode != 0:
        print(result.stdout[-4000:], result.stderr[-4000:])
        return 1
    print_report(json.loads(report.read_text()), args.concurrency, wall)
    if not args.keep:
        print(f"(home {home} left for inspection)")
    return 0


def print_report(data: dict, concurrency: int, wall: float | None) -> None:
    print(f"linguatune demo, {os.cpu_count()} cores, concurrency {concurrency} (SYNTHETIC demo world)\n")
    print("| phase | seconds |\n|---|---:|")
    for phase, seconds in data["timings_s"].items():
        print(f"| {phase} | {seconds:.0f} |")
    if wall is not None:
        print(f"| wall (process) | {wall:.0f} |")
    print()
    print("| language | pairs | chrF | s.e. |\n|---|---:|---:|---:|")
    for p in sorted(data["pilots"], key=lambda p: (p["lang"], p["pairs"])):
        print(f"| {p['lang']} | {p['pairs']} | {p['value']:.1f} | {p['se']:.1f} |")
    print("\n| language | law | fit | RMSE |\n|---|---|---|---:|")
    for code, law in data["law_fits"].items():
        params = ", ".join(f"{k}={v:.3g}" for k, v in law["params"].items())
        quality = law.get("quality") or (f"R2 {law['r2']:.3f}" if law.get("r2") is not None else "exact fit")
        print(f"| {code} | {law['form']}: {params} | {quality} | {law['rmse']:.2f} |")
    print("\n| language | opt pairs | opt predicted | opt measured | uni pairs | uni predicted | uni measured |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    opt, uni = data["final"]["optimised"], data["final"]["uniform"]
    for code in opt["pairs"]:
        print(f"| {code} | {opt['pairs'][code]} | {opt['predicted'][code]:.1f} | {opt['measured'][code]:.1f} ± "
              f"{opt['se'][code]:.1f} | {uni['pairs'][code]} | {uni['predicted'][code]:.1f} | "
              f"{uni['measured'][code]:.1f} ± {uni['se'][code]:.1f} |")
    diff = data["comparison"]["difference"]
    print(f"\noptimised - uniform, summed chrF: predicted {diff['predicted']:+.1f}, measured {diff['measured']:+.1f} "
          f"± {diff['se']:.1f} (1 s.e., test-set sampling only)")
    if data.get("predicted_gain"):
        print(f"plan headline: {data['predicted_gain']['headline']} ({data['predicted_gain']['allocation']} "
              f"allocation)")


if __name__ == "__main__":
    raise SystemExit(main())
