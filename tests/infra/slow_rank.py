"""TEST FIXTURE: a torchrun rank whose shutdown takes longer than any cancel grace (it ignores SIGTERM for a
minute), as a rank stuck in a collective or a slow checkpoint does. Writes rank<RANK>.pid in the working directory."""

import os
import signal
import time

signal.signal(signal.SIGTERM, lambda *_: time.sleep(60))
with open(f"rank{os.environ.get('RANK', '0')}.pid", "w") as fh:
    fh.write(str(os.getpid()))
time.sleep(300)
