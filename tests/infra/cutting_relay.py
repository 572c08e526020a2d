"""A TCP relay for tests that breaks connections on purpose: connection i is reset (or, with ``stall=True``, goes
silent: kept open, nothing more forwarded either way) after ``cuts[i]`` bytes have flowed from the server to the
client (None or past the list: never). Put it between a client and the test sshd to break a link in the middle of a
large transfer, deterministically. The faults are ``ChaosRelay``'s (tests/infra/chaos_relay.py), without a throttle."""

from __future__ import annotations

from typing import Sequence

from tests.infra.chaos_relay import ChaosRelay


class CuttingRelay(ChaosRelay):
    def __init__(self, target_port: int, cuts: Sequence[int | None], target_host: str = "127.0.0.1",
                 stall: bool = False):
        kind = "silence" if stall else "reset"
        super().__init__(target_port, [None if cut is None else (kind, cut) for cut in cuts],
                         target_host=target_host)

    @property
    def cut_count(self) -> int:
        return len(self.fault_times)

    @property
    def cut_times(self) -> list[float]:
        """time.monotonic() of each cut."""
        return [when for _kind, when in self.fault_times]
