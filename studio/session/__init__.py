"""The workflows both faces run, each written once and Qt-free: planning (``planning``), launching (``launch``,
``hosts``), monitoring (``monitor``, ``series``) and measurements from finished runs (``measurements``).

``studio.commands`` parses arguments and prints; ``studio.ui`` holds widgets and signals; both call these.
This layer may import ``studio.planning``, ``studio.remote`` and ``worker.contract``, never Qt.
"""
