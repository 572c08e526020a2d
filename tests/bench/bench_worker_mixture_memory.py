"""Peak memory of building a mixture of N parallel pairs from a local TSV (synthetic, written to a temp dir).

Each size runs in a fresh subprocess; prints pairs, seconds, peak RSS (MiB), its peak anonymous part (heap: what a
Python list of everything would inflate) and peak file-backed part (memory-mapped Arrow pages, reclaimable page
cache), and the Arrow size on disk. The mixture is Arrow-backed (datasets), so the anonymous peak must stay roughly
flat as N grows. Never fails on a time.

    python tests/bench/bench_worker_mixture_memory.py [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
WORDS = ("time person year way day thing man world life hand part child eye woman place work week case point "
         "government company number group problem fact river bridge stone market").split()


def write_pairs(path: Path, n: int) -> None:
    rng = random.Random(n)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("en\tvi\n")
        for i in range(n):
            words = [rng.choice(WORDS) for _ in range(rng.randint(4, 14))]
            fh.write(f"{' '.join(words)} {i}\t{' '.join(reversed(words))} {i}\n")


class MemorySampler:
    """Peak RssAnon / RssFile of this process, sampled from /proc/self/status every 50 ms (Linux)."""

    def __init__(self):
        import threading

        self.peak = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.05):
            try:
                with open("/proc/self/status") as fh:
                    for line in fh:
                        key = line.split(":")[0]
                        if key in self.peak:
                            self.peak[key] = max(self.peak[key], int(line.split()[1]) // 1024)
            except OSError:
                return

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def child(tmp: str, n: int) -> None:
    from worker.contract import JobSpec
    from worker.data import build_mixture, save_mixture
    from worker.model import build_byte_tokenizer

    sampler = MemorySampler()
    tmp_path = Path(tmp)
    spec = JobSpec.from_dict({"mode": "coit", "allocation": {"vi": n}, "data": {"pairs": {"vi": {
        "path": str(tmp_path / "pairs.tsv")}}}, "model": {"tiny": {}}, "train": {"max_length": 512}})
    started = time.time()
    mix = build_mixture(spec, build_byte_tokenizer(), base_dir=tmp_path, cache_dir=tmp_path / "cache")
    save_mixture(mix, tmp_path / "mixture")
    seconds = time.time() - started
    size = sum(p.stat().st_size for p in (tmp_path / "mixture").rglob("*") if p.is_file())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parts = sampler.stop()
    print(json.dumps({"pairs": n, "examples": mix.report["examples"], "seconds": seconds, "peak_rss_mib": peak,
                      "peak_anon_mib": parts["RssAnon"], "peak_file_mib": parts["RssFile"],
                      "arrow_mib": size / 2**20, "tokens": mix.report["tokens"]}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(f"{'pairs':>10} {'examples':>10} {'tokens':>12} {'seconds':>9} {'peak RSS MiB':>13} {'anon MiB':>9} "
          f"{'file MiB':>9} {'Arrow MiB':>10}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write_pairs(Path(tmp) / "pairs.tsv", n)
            out = subprocess.run([sys.executable, __file__, "--child", tmp, str(n)], capture_output=True, text=True,
                                 check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{r['pairs']:>10} {r['examples']:>10} {r['tokens']:>12} {r['seconds']:>9.1f} "
                  f"{r['peak_rss_mib']:>13.0f} {r['peak_anon_mib']:>9} {r['peak_file_mib']:>9} {r['arrow_mib']:>10.0f}")


if __name__ == "__main__":
    main()
