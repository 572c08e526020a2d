"""Entry point of the desktop studio: the `linguatune-studio` gui-script and `linguatune studio`."""

from __future__ import annotations

import sys


def create_application(argv: list[str] | None = None):
    """The QApplication (the existing one when there is one), with the studio's names and the Fusion style, and
    Python's garbage collection pinned to the GUI thread (studio/ui/gcpin.py)."""
    from PySide6.QtWidgets import QApplication

    from studio.ui.settings import APPLICATION, ORGANISATION

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "linguatune-studio", *(argv or [])])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("LinguaTune Studio")
    app.setStyle("Fusion")
    from studio.ui.gcpin import pin_garbage_collection

    pin_garbage_collection(app)
    return app


def main(argv: list[str] | None = None, *, demo: bool | None = None) -> int:
    """Open the studio window and run until it is closed; returns the exit code.

    ``demo`` (or ``--demo`` among the arguments) runs the measured loop in the demo world as soon as the window is up.
    """
    argv = list(argv if argv is not None else sys.argv[1:])
    if demo is None:
        demo = "--demo" in argv
    argv = [arg for arg in argv if arg != "--demo"]
    import pyqtgraph as pg

    from studio.errors import LinguaTuneError
    from studio.ui.compat import check_binding

    pg.setConfigOptions(antialias=True)
    app = create_application(argv)
    try:
        check_binding()
    except LinguaTuneError as exc:
        from PySide6.QtWidgets import QMessageBox

        print(f"linguatune-studio: error: {exc}", file=sys.stderr)
        QMessageBox.critical(None, "LinguaTune Studio", str(exc))
        return 2
    from studio.ui.mainwindow import MainWindow

    window = MainWindow()
    window.show()
    if demo:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, window.start_demo_loop)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
