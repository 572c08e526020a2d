"""The house layering: the planning and remote cores and the worker load no Qt; the worker never imports studio."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6", "PyQt5", "PyQt6")


def modules_of(package: str) -> list[str]:
    folder = ROOT.joinpath(*package.split("."))
    names = [package]
    for info in pkgutil.walk_packages([str(folder)], prefix=f"{package}."):
        names.append(info.name)
    return sorted(names)


def loaded_after_import(modules: list[str]) -> dict[str, list[str]]:
    """Import ``modules`` in a fresh interpreter; return what got loaded (top-level names) and what failed."""
    code = (
        "import importlib, json, sys\n"
        f"failed = []\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as exc:\n"
        "        failed.append(f'{name}: {exc}')\n"
        "print(json.dumps({'loaded': sorted({m.split('.')[0] for m in sys.modules}), 'failed': failed}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", ["studio.planning", "studio.remote"])
def test_studio_cores_load_no_qt(package):
    modules = modules_of(package)
    report = loaded_after_import(modules)
    assert not report["failed"], report["failed"]
    assert not set(QT_MODULES) & set(report["loaded"])


def test_worker_loads_no_qt_and_no_studio():
    modules = modules_of("worker")
    report = loaded_after_import(modules)
    # Modules that need the optional `worker` extra may be absent on a studio-only install; everything importable
    # here must still stay clear of Qt and studio.
    missing_extra = [f for f in report["failed"] if "No module named 'studio" in f or "PySide" in f]
    assert not missing_extra, missing_extra
    assert not set(QT_MODULES) & set(report["loaded"])
    assert "studio" not in report["loaded"]


def imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_source_imports_respect_the_layers():
    offenders = []
    for folder, forbidden in (("worker", ("studio",) + QT_MODULES),
                              ("studio/planning", QT_MODULES + ("studio.ui",)),
                              ("studio/remote", QT_MODULES + ("studio.ui",))):
        for path in sorted(ROOT.joinpath(folder).rglob("*.py")):
            for name in imported_names(path):
                if any(name == bad or name.startswith(bad + ".") for bad in forbidden):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders
    assert len(list(ROOT.joinpath("worker").rglob("*.py"))) > 0
    assert len(list(ROOT.joinpath("studio/planning").rglob("*.py"))) > 3
