"""`linguatune studio`: open the desktop studio (the GUI)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("studio", help="open the desktop studio")
    p.add_argument("--demo", action="store_true",
                   help="run the measured loop of `linguatune demo` in the window: pilots, laws, plan, both trained")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from studio.ui.app import main  # Qt is imported only here

    return main([], demo=args.demo)
