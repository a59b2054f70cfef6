"""The seam for a second program, with real peers: the tiny ADMIN table
(tests/unit/tiny_admin.py) over the unchanged connection classes talks to a
real libvirtd's admin socket through the client's asyncio adapter, and,
driven by nothing but a blocking socket loop, serves a real ``virt-admin``."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpcnet.client.connection import Connection
from rpcnet.errors import VirError
from rpcnet.protocol.connection import ServerConnection
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.requirements import need_executable
from tests.unit.tiny_admin import ADMIN

pytestmark = pytest.mark.interop


async def test_the_tiny_admin_table_talks_to_libvirtds_admin_socket(
    libvirtd: LibvirtdPeer
) -> None:
    conn = await Connection.open_unix(libvirtd.socket_admin, program=ADMIN)
    try:
        assert await conn.call(1, (0,)) is None  # CONNECT_OPEN
        assert await conn.call(3, ()) == (9_000_000,)  # CONNECT_GET_LIB_VERSION: 9.0.0
        assert await conn.call(1, (0,)) is None  # ADMIN, unlike REMOTE, opens again
        with pytest.raises(VirError) as info:
            await conn.call(1, (1,))
        assert (info.value.code, info.value.domain) == (8, 62)  # unsupported flags
    finally:
        await conn.close()  # CONNECT_CLOSE, the program's
    assert conn.closed


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
