"""Replay the client side of captures made against a real libvirtd's
test:///default driver and expect rpcnetd's replies byte for byte."""

from __future__ import annotations

import socket
import struct

import pytest

from tests.peers.rpcnetd import RpcnetdPeer
from tests.unit.vectors import frames

REPLY = 1


def read_frame(sock: socket.socket) -> bytes:
    head = _read_exact(sock, 4)
    (length,) = struct.unpack(">I", head)
    return head + _read_exact(sock, length - 4)


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


@pytest.mark.parametrize("capture", [
    "a_virsh_test_net_list",
    "d_python_test_driver",
    "h_raw_client_edge_cases",
    "i_raw_client_no_keepalive_feature",
])
def test_replies_match_libvirtd_byte_for_byte(rpcnetd: RpcnetdPeer, capture: str) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(rpcnetd.socket)
        for frame in frames(capture):
            mtype = struct.unpack(">i", frame.raw[16:20])[0]
            if frame.direction == "c2s":
                sock.sendall(frame.raw)
            elif mtype == REPLY:
                assert read_frame(sock).hex() == frame.raw.hex(), frame.summary


def test_malformed_length_closes_only_that_client(rpcnetd: RpcnetdPeer) -> None:
    hello = next(f.raw for f in frames("i_raw_client_no_keepalive_feature"))
    with socket.socket(socket.AF_UNIX) as good, socket.socket(socket.AF_UNIX) as bad:
        good.settimeout(5)
        bad.settimeout(5)
        good.connect(rpcnetd.socket)
        bad.connect(rpcnetd.socket)
        bad.sendall(struct.pack(">I", 3) + b"\x00" * 40)
        assert bad.recv(100) == b""
        good.sendall(hello)
        assert len(read_frame(good)) == 36
