"""The seam for a second program, with real peers: the tiny ADMIN table
(tests/unit/tiny_admin.py) over the unchanged sans-IO connection classes,
driven by nothing but a blocking socket loop, talks to a real libvirtd's admin
socket, and serves a real ``virt-admin``."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpcnet.protocol.connection import ClientConnection, Reply, ServerConnection
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.requirements import need_executable
from tests.unit.tiny_admin import ADMIN

pytestmark = pytest.mark.interop


class BlockingClient:
    """A ClientConnection over a blocking socket: send a call, read until its reply."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.conn: ClientConnection[int] = ClientConnection(ADMIN)

    def call(self, number: int, args: tuple[Any, ...] = ()) -> Reply[int]:
        self.conn.send_call(number, args, number)
        self.sock.sendall(self.conn.data_to_send())
        while True:
            event = self.conn.next_event()
            if isinstance(event, Reply):
                return event
            data = self.sock.recv(65536)
            assert data, "the daemon closed the connection"
            self.conn.receive_data(data, 0)


def test_the_tiny_admin_table_talks_to_libvirtds_admin_socket(libvirtd: LibvirtdPeer) -> None:
    client = BlockingClient(libvirtd.socket_admin)
    try:
        assert client.call(1, (0,)).error is None  # CONNECT_OPEN
        assert client.conn.opened
        assert client.call(3).result == (9_000_000,)  # CONNECT_GET_LIB_VERSION: 9.0.0
        assert client.call(2).error is None  # CONNECT_CLOSE
    finally:
        client.sock.close()


@pytest.fixture
def tiny_admin_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A one-client admin server on a UNIX socket: (its path, the calls it was handed)."""
    path = str(tmp_path / "admin-sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)
    listener.settimeout(10)
    handed: list[str] = []
    answers = {1: lambda flags: None, 2: lambda: None, 3: lambda: (8_001_002,)}

    def serve() -> None:
        sock, _ = listener.accept()
        conn = ServerConnection(ADMIN)
        with sock:
            while conn.closed is None and (data := sock.recv(65536)):
                conn.receive_data(data, 0)
                while (call := conn.next_event()) is not None:
                    handed.append(call.procedure.name)
                    conn.reply(call, answers[call.header.proc](*call.args))
                sock.sendall(conn.data_to_send())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield path, handed
    finally:
        listener.close()
        thread.join(10)


def test_virt_admin_is_served_by_the_tiny_admin_table(
    tiny_admin_server: tuple[str, list[str]]
) -> None:
    path, handed = tiny_admin_server
    virt_admin = need_executable("virt-admin")
    result = subprocess.run([virt_admin, "-c", f"libvirtd:///system?socket={path}", "version"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert "Running against daemon: 8.1.2" in result.stdout
    assert handed == ["CONNECT_OPEN", "CONNECT_GET_LIB_VERSION", "CONNECT_CLOSE"]
