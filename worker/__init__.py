"""LinguaTune worker: the half that runs on the GPU machine.

It builds the cross-lingual instruction-tuning data mixture, trains with torch FSDP2, evaluates, and reports
everything through the job directory (see ``worker.contract``). It never imports ``studio`` or Qt.
"""

__version__ = "0.1.0"
