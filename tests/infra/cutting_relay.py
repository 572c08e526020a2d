"""A TCP relay for tests that breaks connections on purpose: connection i is reset (or, with ``stall=True``, goes
silent: kept open, nothing more forwarded either way) after ``cuts[i]`` bytes have flowed from the server to the
client (None or past the list: never). Put it between a client and the test sshd to break a link in the middle of a
large transfer, deterministically."""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Sequence


class CuttingRelay:
    def __init__(self, target_port: int, cuts: Sequence[int | None], target_host: str = "127.0.0.1",
                 stall: bool = False):
        self.target = (target_host, target_port)
        self.cuts = list(cuts)
        self.stall = stall
        self._stalled: list[threading.Event] = []
        self.connections = 0
        self.cut_count = 0
        self.cut_times: list[float] = []  # time.monotonic() of each cut
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="cutting-relay").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            index = self.connections
            self.connections += 1
            cut = self.cuts[index] if index < len(self.cuts) else None
            server = socket.create_connection(self.target)
            silent = threading.Event()
            self._stalled.append(silent)
            threading.Thread(target=self._pump, args=(client, server, None, silent), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, cut, silent), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, cut: int | None, silent: threading.Event) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if silent.is_set():
                    continue  # a silent link: bytes vanish, nothing is closed
                if cut is not None and sent + len(data) >= cut:
                    sink.sendall(data[: max(0, cut - sent)])
                    self.cut_count += 1
                    self.cut_times.append(time.monotonic())
                    if self.stall:
                        silent.set()
                        continue
                    for sock in (source, sink):  # a reset, as a failing link gives
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        try:  # wakes the other direction's recv, so the close sends the RST now (chaos_relay.py)
                            sock.shutdown(socket.SHUT_RD)
                        except OSError:
                            pass
                        sock.close()
                    return
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.close()
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self._listener.close()
