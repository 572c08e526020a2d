"""The ``linguatune`` command line: every GUI action has an equivalent here.

Sub-commands are registered by small modules in ``studio.commands`` (planning, remote, studio). A user error
(``LinguaTuneError``) prints one line on stderr and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from studio import __version__
from studio.errors import LinguaTuneError

EXIT_USER_ERROR = 2
# What the studio extra brings (pyproject.toml); the worker-only install of a GPU box lacks them.
STUDIO_MODULES = {"scipy", "paramiko", "platformdirs", "keyring", "PySide6", "pyqtgraph"}


def build_parser() -> argparse.ArgumentParser:
    from studio.commands import calibrate, demo, planning, remote, studio as studio_cmd

    parser = argparse.ArgumentParser(
        prog="linguatune",
        description="Plan and run cross-lingual instruction tuning: scaling laws, budget allocation, "
        "FSDP training on remote GPUs, live monitoring.",
    )
    parser.add_argument("--version", action="version", version=f"linguatune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (planning, calibrate, remote, demo, studio_cmd):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in STUDIO_MODULES:
            raise
        # A GPU box installs the worker only; the studio's commands need the studio extra.
        print(f"linguatune: error: the linguatune command needs the studio extra ({exc.name} is not installed): "
              f"pip install 'linguatune[studio]' (a GPU box runs linguatune-worker).", file=sys.stderr)
        return EXIT_USER_ERROR


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return int(args.func(args) or 0)
    except LinguaTuneError as exc:
        print(f"linguatune: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("linguatune: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
