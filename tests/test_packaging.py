"""The wheel ships every import package and the resources; the package list in pyproject.toml is complete."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _package_dirs() -> set[str]:
    found = set()
    for top in ("studio", "worker"):
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    missing = _package_dirs() - listed
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True, cwd=build, capture_output=True,
    )
    (path,) = out.glob("linguatune-*.whl")
    return path


def test_wheel_contains_packages_and_resources(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in _package_dirs():
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    resources = {n for n in names if n.startswith("linguatune_resources/")}
    shipped = {
        "linguatune_resources/" + str(p.relative_to(ROOT / "resources"))
        for p in (ROOT / "resources").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped and shipped <= resources, sorted(shipped - resources)[:5]
    assert not any(n.startswith("tests/") for n in names)


def test_installed_wheel_finds_its_resources(wheel, tmp_path):
    """Unpacked wheel on sys.path (no source tree around it): resources resolve inside the installed copy."""
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = (
        "from worker.resources import resource_path; p = resource_path('languages.tsv'); "
        "assert p.is_file(), p; print(p)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout
    entry_points = (target / next(p.name for p in target.iterdir() if p.name.endswith(".dist-info"))
                    / "entry_points.txt").read_text()
    for script in ("linguatune =", "linguatune-worker =", "linguatune-studio ="):
        assert script in entry_points


@pytest.mark.parametrize("module", ["paramiko", "platformdirs"])
def test_linguatune_without_the_studio_extra_says_which_extra(module):
    # A GPU box gets the worker only (the studio's packages are an extra): `linguatune` there is one sentence.
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from studio.cli import main\n"
            "sys.exit(main(['hosts', 'list']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith("linguatune: error: the linguatune command needs the studio extra")
    assert "Traceback" not in done.stderr
