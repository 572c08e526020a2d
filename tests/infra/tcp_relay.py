"""A minimal ProxyCommand for tests (no netcat here): relays stdin/stdout to HOST PORT."""

import os
import select
import socket
import sys

sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
while True:
    ready, _, _ = select.select([stdin, sock], [], [])
    if stdin in ready:
        data = os.read(stdin, 65536)
        if not data:
            sock.shutdown(socket.SHUT_WR)
            break
        sock.sendall(data)
    if sock in ready:
        data = sock.recv(65536)
        if not data:
            break
        os.write(stdout, data)
