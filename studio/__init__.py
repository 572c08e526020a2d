"""LinguaTune studio: the workstation half (planning core, remote control, GUI).

``studio.planning`` and ``studio.remote`` are Qt-free; ``studio.ui`` is the only place Qt lives.
"""

from worker import __version__

__all__ = ["__version__"]
