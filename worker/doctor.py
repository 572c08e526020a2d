"""``linguatune-worker doctor``: what this machine offers a training job (python, torch, CUDA, GPUs, disk,
libraries)."""

from __future__ import annotations

import importlib
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

LIBRARIES = ("transformers", "datasets", "accelerate", "comet", "sacrebleu", "sentencepiece", "pyarrow", "numpy")


def _library(name: str) -> dict[str, Any]:
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # a broken install raises anything from ImportError to AttributeError
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    return {"ok": True, "version": getattr(module, "__version__", None)}


def collect(path: Path = Path(".")) -> dict[str, Any]:
    """A JSON-able report; ``ok`` is False when torch is missing."""
    report: dict[str, Any] = {
        "python": sys.version.split()[0], "executable": sys.executable, "platform": platform.platform(),
        "hostname": platform.node(),
    }
    try:
        import torch

        cuda = torch.cuda.is_available()
        gpus = []
        if cuda:
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                gpus.append({"index": i, "name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                             "bf16": torch.cuda.is_bf16_supported()})
        report["torch"] = {"ok": True, "version": torch.__version__, "cuda_available": cuda,
                           "cuda_version": torch.version.cuda, "gpu_count": len(gpus), "gpus": gpus,
                           "nccl": bool(cuda and torch.distributed.is_nccl_available()),
                           "gloo": torch.distributed.is_gloo_available(), "cpu_threads": torch.get_num_threads()}
    except Exception as exc:
        report["torch"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    report["libraries"] = {name: _library(name) for name in LIBRARIES}
    usage = shutil.disk_usage(path)
    report["disk"] = {"path": str(Path(path).resolve()), "free_gib": round(usage.free / 2**30, 1),
                      "total_gib": round(usage.total / 2**30, 1)}
    try:
        from worker.evaluation.cli import doctor_report

        report["evaluation"] = doctor_report()
    except Exception as exc:  # a broken evaluation stack is reported, not raised: doctor must always answer
        report["evaluation"] = {"error": f"{type(exc).__name__}: {exc}"}
    report["ok"] = bool(report["torch"].get("ok"))
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [f"python       {report['python']} ({report['executable']})", f"host         {report['hostname']}"]
    t = report["torch"]
    if t.get("ok"):
        lines.append(f"torch        {t['version']}  CUDA {'yes (' + str(t['cuda_version']) + ')' if t['cuda_available'] else 'no'}"
                     f"  NCCL {'yes' if t['nccl'] else 'no'}  gloo {'yes' if t['gloo'] else 'no'}")
        lines.append(f"GPUs         {t['gpu_count']}")
        for gpu in t["gpus"]:
            lines.append(f"  [{gpu['index']}] {gpu['name']}  {gpu['memory_gib']} GiB  bf16 {'yes' if gpu['bf16'] else 'no'}")
    else:
        lines.append(f"torch        MISSING: {t['error']}")
    for name, info in report["libraries"].items():
        lines.append(f"{name:<12} {info.get('version') or '' if info['ok'] else 'MISSING: ' + info['error']}")
    ev = report.get("evaluation", {})
    if "error" in ev:
        lines.append(f"evaluation   BROKEN: {ev['error']}")
    elif ev:
        comet = ev.get("comet", {})
        lines.append(f"COMET        {'importable' if comet.get('importable') else 'MISSING: ' + str(comet.get('error'))}"
                     f"; tiny pipeline-check checkpoint {'cached' if ev.get('tiny_comet', {}).get('cached') else 'built on first use'}"
                     f"; {len(ev.get('comet_checkpoints', []))} hub checkpoint(s) cached")
        bleu = ev.get("sacrebleu", {})
        if "error" not in bleu:
            lines.append(f"spBLEU       {'available' if bleu.get('spbleu') else 'unavailable offline (FLORES SentencePiece model not downloaded): BLEU 13a instead'}")
    d = report["disk"]
    lines.append(f"disk         {d['free_gib']} GiB free of {d['total_gib']} GiB at {d['path']}")
    return "\n".join(lines)
