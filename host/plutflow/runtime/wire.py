"""Framing of the driver <-> simulator-server socket protocol.

A message is a 4-byte big-endian header length, a JSON header and, if the header says
``"payload": n``, n raw bytes (bulk data: stream words as little-endian uint64).
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any


class ConnectionClosed(ConnectionError):
    """The peer closed the socket."""


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise ConnectionClosed(f"connection closed after {got} of {n} bytes")
        got += k
    return bytes(buf)


def send_msg(sock: socket.socket, header: dict[str, Any], payload: bytes = b"") -> None:
    head = dict(header, payload=len(payload))
    raw = json.dumps(head).encode()
    sock.sendall(struct.pack(">I", len(raw)) + raw + payload)


def recv_msg(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    (n,) = struct.unpack(">I", _recv_exact(sock, 4))
    header = json.loads(_recv_exact(sock, n))
    size = int(header.get("payload", 0))
    return header, (_recv_exact(sock, size) if size else b"")
