"""One DNS A query from inside a namespace, with a short timeout.

busybox nslookup waits seconds for a server that never answers; the tests
that expect silence want to know quickly.
"""

from __future__ import annotations

import secrets
import socket
import struct

from tests.peers.netns import NetNamespace, _in_netns


def _query(name: str) -> tuple[int, bytes]:
    ident = secrets.randbits(16)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return ident, struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\0\1\0\1"


def _first_a(reply: bytes, ident: int) -> str | None:
    rid, flags, qd, an = struct.unpack_from("!HHHH", reply)
    if rid != ident or flags & 0xF or not an:
        return None
    offset = 12
    for _ in range(qd):  # skip the question
        while reply[offset]:
            offset += reply[offset] + 1
        offset += 5
    for _ in range(an):
        offset += 2 if reply[offset] & 0xC0 == 0xC0 else reply.index(b"\0", offset) + 1 - offset
        kind, _, _, length = struct.unpack_from("!HHIH", reply, offset)
        offset += 10
        if kind == 1 and length == 4:
            return socket.inet_ntoa(reply[offset:offset + 4])
        offset += length
    return None


def resolve(ns: NetNamespace, server: str, name: str, timeout: float = 1.5) -> str | None:
    """The A record ``server`` gives for ``name``, asked from ``ns``; None
    when it answers no address or does not answer within ``timeout``."""
    ident, query = _query(name)

    def ask() -> str | None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(query, (server, 53))
            try:
                reply, _ = sock.recvfrom(4096)
            except TimeoutError:
                return None
            return _first_a(reply, ident)

    return _in_netns(ns.path, ask)
