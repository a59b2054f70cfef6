"""The client over a child process instead of a socket: ``nc -U SOCKET`` in
between, as libvirt's ssh transport runs it on the remote side, to rpcnetd
and to a real libvirtd. Calls, errors, events and the close all cross the
child's stdin and stdout; what it says on stderr ends up in the error, and
no child outlives its connection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rpcnet.client import ConnectionClosed, RemoteDriver, connect
from rpcnet.client.connection import Connection
from rpcnet.client.uri import RemoteUri
from rpcnet.errors import VirError
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.requirements import need_executable
from tests.peers.rpcnetd import RpcnetdPeer

pytestmark = pytest.mark.interop

NET = "<network><name>rpcpipe</name><bridge name='virbr91'/></network>"


@pytest.fixture(scope="module")
def netcat() -> str:
    """OpenBSD netcat (package netcat-openbsd), the one that speaks UNIX sockets."""
    return need_executable("nc.openbsd")


@pytest.fixture(params=["rpcnetd", "libvirtd"])
def server(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(URI of the test driver, its socket) of either server."""
    if request.param == "rpcnetd":
        peer: RpcnetdPeer = request.getfixturevalue("rpcnetd")
        return peer.uri("test"), peer.socket
    lvd: LibvirtdPeer = request.getfixturevalue("libvirtd")
    return lvd.uri("test"), lvd.socket


async def test_a_driver_over_the_pipes_of_nc(netcat: str, server: tuple[str, str]) -> None:
    uri, socket_path = server
    conn = await Connection.open_process([netcat, "-U", socket_path])
    await conn.handshake("test:///default")
    driver = RemoteDriver(RemoteUri.parse(uri), conn, readonly=False, keepalive_interval=5,
                          keepalive_count=5)
    async with driver, connect(uri) as other:
        nets = await driver.connect_list_all_networks(0)
        assert [n.name for n in nets] == ["default"]
        with pytest.raises(VirError) as missing:
            await driver.network_lookup_by_name("nosuch")
        assert (missing.value.code, missing.value.domain) == (43, 12)
        seen: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        await driver.connect_network_event_register_any(
            0, None, lambda _cid, net, event, _detail: seen.put_nowait((net.name, event)))
        net = await other.network_define_xml(NET)
        await other.network_undefine(net)
        got = [await asyncio.wait_for(seen.get(), 5) for _ in range(2)]
        assert got == [("rpcpipe", 0), ("rpcpipe", 1)]  # defined, undefined
    assert conn.closed
    with pytest.raises(ConnectionClosed):
        await conn.call(46, ("default",))


async def test_a_command_that_ends_closes_the_connection(netcat: str) -> None:
    conn = await Connection.open_process([netcat, "-U", "/nonexistent/socket"])
    closed = await asyncio.wait_for(conn.wait_closed(), 5)
    assert closed.message == ("End of file while reading data: nc.openbsd: /nonexistent/socket: "
                              "No such file or directory: Input/output error")
    with pytest.raises(ConnectionClosed):
        await conn.call(66, ())


async def test_a_child_that_dies_fails_pending_calls_at_once() -> None:
    conn = await Connection.open_process(
        ["sh", "-c", "head -c 28 >/dev/null; echo 'far side: gone' >&2; kill -9 $$"])
    started = asyncio.get_running_loop().time()
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(conn.call(66, ()), 10)
    assert asyncio.get_running_loop().time() - started < 2
    assert info.value.message.startswith("End of file while reading data: far side: gone")


async def test_a_child_that_dies_before_reading_says_so(tmp_path: Path) -> None:
    conn = await Connection.open_process(["sh", "-c", "echo 'ssh: no route' >&2"])
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(conn.call(66, ()), 10)
    assert info.value.message in (  # whether the child was gone before our first write,
        "Cannot write data: ssh: no route: Broken pipe",  # or after it, not reading it
        "Cannot recv data: ssh: no route: Connection reset by peer")


async def test_closing_ends_a_child_that_ignores_its_input(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    conn = await Connection.open_process(
        ["sh", "-c", f"echo $$ > {pid_file}; trap '' HUP; exec sleep 600"])
    while not pid_file.exists() or not pid_file.read_text().strip():
        await asyncio.sleep(0.01)
    pid = int(pid_file.read_text())
    await asyncio.wait_for(conn.close(), 10)  # grace, then SIGTERM
    assert not Path(f"/proc/{pid}").exists()


async def test_a_command_that_cannot_start_is_a_libvirt_error() -> None:
    with pytest.raises(VirError) as info:
        await Connection.open_process(["/nonexistent/command"])
    assert info.value.message.startswith("Cannot run '/nonexistent/command'")
