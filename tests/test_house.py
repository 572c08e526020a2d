"""The house plan (../shared/DESIGN.md): who may import whom.

Statically, by import-linter's contracts in pyproject.toml (``lint-imports``; tests/run.sh runs it too, so plain
``pytest`` and the test command both see a broken contract). At run time, by importing each Qt-free layer in a fresh
interpreter and looking at what got loaded: a Qt import that slips in through a plugin or ``importlib`` shows here.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6", "PyQt5", "PyQt6")
# The one import of the GUI by a face other than the GUI: `linguatune studio` opens the window, lazily.
LAZY_GUI_IMPORT = "studio.commands.studio -> studio.ui.app"
HOUSE_CONTRACTS = {
    "no-qt": "forbidden",
    "layers": "layers",
    "studio-uses-the-contract": "forbidden",
    "worker-without-studio": "forbidden",
    "pages-independent": "independence",
    "no-cycles": "acyclic_siblings",
}
WORKER_MODULES_FOR_THE_STUDIO = {"worker.contract", "worker.resources"}


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_the_import_contracts_hold():
    """``lint-imports`` with the contracts of pyproject.toml; a broken one prints its import chains."""
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                               "sys.exit(lint_imports_command())", "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    report = result.stdout[result.stdout.find("Contracts"):] + result.stderr
    assert result.returncode == 0, report
    for contract in contracts().values():
        assert contract["name"] in " ".join(result.stdout.split()), contract["name"]


def test_the_contracts_are_the_house_plan():
    found = contracts()
    assert {cid: c["type"] for cid, c in found.items() if cid in HOUSE_CONTRACTS} == HOUSE_CONTRACTS
    assert set(found["no-qt"]["source_modules"]) >= {"studio.planning", "studio.remote", "studio.session",
                                                     "studio.commands", "worker"}
    assert set(found["no-qt"]["forbidden_modules"]) >= {"PySide6", "pyqtgraph", "shiboken6"}
    assert found["layers"]["layers"][:3] == ["studio.ui | studio.commands", "studio.session",
                                             "studio.remote | studio.planning"]
    assert found["worker-without-studio"]["forbidden_modules"] == ["studio"]
    assert {"studio.ui.plan_page", "studio.ui.monitor_page"} <= set(found["pages-independent"]["modules"])
    # Nothing is waved through but the lazy GUI import of `linguatune studio`.
    for contract in found.values():
        assert set(contract.get("ignore_imports", [])) <= {LAZY_GUI_IMPORT}, contract["id"]


def test_the_studio_may_use_only_the_contract_of_the_worker():
    """The forbidden list names every worker module but contract and resources, so a new one cannot slip by."""
    top = {f"worker.{info.name}" for info in pkgutil.iter_modules([str(ROOT / "worker")])}
    assert WORKER_MODULES_FOR_THE_STUDIO <= top
    forbidden = set(contracts()["studio-uses-the-contract"]["forbidden_modules"])
    assert forbidden == top - WORKER_MODULES_FOR_THE_STUDIO
    assert contracts()["studio-uses-the-contract"]["source_modules"] == ["studio"]


def test_the_gui_import_of_the_cli_is_lazy():
    """The ignored import is inside the `studio` sub-command's function, never at module level."""
    importer, imported = (part.strip() for part in LAZY_GUI_IMPORT.split("->"))
    path = ROOT.joinpath(*importer.split(".")).with_suffix(".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    at_top = [alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names]
    at_top += [node.module or "" for node in tree.body if isinstance(node, ast.ImportFrom)]
    assert not [name for name in at_top if name == "studio.ui" or name.startswith("studio.ui.")], at_top
    lazy = [node for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef)
            for node in ast.walk(fn) if isinstance(node, ast.ImportFrom) and node.module == imported]
    assert lazy, f"{importer} no longer imports {imported} in a function; drop the ignore_imports entry"


# ------------------------------------------------------------------------------------------------- at run time
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
        "failed = []\n"
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


@pytest.mark.parametrize("package", ["studio.planning", "studio.remote", "studio.session", "studio.commands"])
def test_the_qt_free_layers_load_no_qt(package):
    report = loaded_after_import(modules_of(package))
    assert not report["failed"], report["failed"]
    assert not set(QT_MODULES) & set(report["loaded"])


def test_the_worker_loads_no_qt_and_no_studio():
    report = loaded_after_import(modules_of("worker"))
    # Modules that need the optional `worker` extra may be absent on a studio-only install; everything importable
    # here must still stay clear of Qt and studio.
    wrong = [f for f in report["failed"] if "No module named 'studio" in f or "PySide" in f]
    assert not wrong, wrong
    assert not set(QT_MODULES) & set(report["loaded"])
    assert "studio" not in report["loaded"]
