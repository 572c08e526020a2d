"""A TCP relay with a fault plan, for benchmarks and tests of links that fail the way real ones do: every
connection is throttled to ``rate`` bytes/s (server to client), and connection i suffers ``faults[i]``, a
``("reset", n)`` (both sockets closed with RST after n bytes reached the client) or a ``("silence", n)`` (after n
bytes nothing more is forwarded either way, nothing is closed: a dead NAT entry or a pulled cable). Connections past
the plan (or given None) are clean. ``fault_times`` records when each fault struck (time.monotonic())."""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Sequence


class ChaosRelay:
    def __init__(self, target_port: int, faults: Sequence[tuple[str, int] | None], rate: float | None = None,
                 target_host: str = "127.0.0.1"):
        for fault in faults:
            if fault is not None and fault[0] not in ("reset", "silence"):
                raise ValueError(f"unknown fault {fault[0]!r}")
        self.target = (target_host, target_port)
        self.faults = list(faults)
        self.rate = rate
        self.connections = 0
        self.fault_times: list[tuple[str, float]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="chaos-relay").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            index = self.connections
            self.connections += 1
            fault = self.faults[index] if index < len(self.faults) else None
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            silent = threading.Event()
            threading.Thread(target=self._pump, args=(client, server, None, silent, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, fault, silent, self.rate), daemon=True).start()

    def _pump(self, source, sink, fault, silent: threading.Event, rate: float | None) -> None:
        sent = 0
        started = time.monotonic()
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if silent.is_set():
                    continue  # bytes vanish, nothing is closed
                if fault is not None and sent + len(data) >= fault[1]:
                    sink.sendall(data[: max(0, fault[1] - sent)])
                    self.fault_times.append((fault[0], time.monotonic()))
                    if fault[0] == "silence":
                        silent.set()
                        continue
                    for sock in (source, sink):
                        # SHUT_RD first: it wakes the other direction's thread blocked in recv on this socket, so
                        # the close really releases it and the RST goes out now (a close alone waits for that
                        # recv to return, i.e. for the client's next keepalive).
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        try:
                            sock.shutdown(socket.SHUT_RD)
                        except OSError:
                            pass
                        sock.close()
                    return
                sink.sendall(data)
                sent += len(data)
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
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
