"""The client's connection machinery against real servers: keepalive finds a
server that stopped answering, pending calls fail when the connection goes,
and auto-reconnect survives a server restart with its event callbacks."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest

from rpcnet.client import ConnectionClosed, Networks, ReconnectPolicy, connect
from rpcnet.client.blocking import connect as blocking_connect
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.rpcnetd import RpcnetdPeer

pytestmark = pytest.mark.interop

NET = """<network><name>{name}</name><bridge name='virbr8{n}'/>
<ip address='10.8{n}.0.1' netmask='255.255.255.0'/></network>"""


def frozen(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.fixture(params=["rpcnetd", "libvirtd"])
def stoppable(request: pytest.FixtureRequest) -> tuple[str, int]:
    """(URI, pid of the server process) of either server."""
    if request.param == "rpcnetd":
        peer: RpcnetdPeer = request.getfixturevalue("rpcnetd")
        assert peer.proc is not None
        return peer.uri("test"), peer.proc.pid
    lvd: LibvirtdPeer = request.getfixturevalue("libvirtd")
    assert lvd.pid is not None
    return lvd.uri("test"), lvd.pid


async def test_keepalive_detects_a_server_that_stopped(stoppable: tuple[str, int]) -> None:
    uri, pid = stoppable
    interval, count = 0.2, 2
    async with connect(uri, keepalive_interval=interval, keepalive_count=count) as drv:
        assert await drv.connect_get_type() == "TEST"
        for _ in frozen(pid):
            start = time.monotonic()
            pending = asyncio.ensure_future(drv.connect_list_all_networks(0))
            with pytest.raises(ConnectionClosed) as exc:
                await asyncio.wait_for(pending, 5)
            elapsed = time.monotonic() - start
        assert exc.value.message == "connection closed due to keepalive timeout"
        assert elapsed <= interval * (count + 1) + 0.3
        assert drv.closed
        with pytest.raises(ConnectionClosed):
            await drv.connect_get_type()


async def test_pending_calls_fail_when_the_server_dies(rpcnetd: RpcnetdPeer) -> None:
    assert rpcnetd.proc is not None
    async with connect(rpcnetd.uri(), keepalive_interval=0) as drv:
        os.kill(rpcnetd.proc.pid, signal.SIGSTOP)
        calls = [asyncio.ensure_future(drv.connect_list_all_networks(0)) for _ in range(5)]
        await asyncio.sleep(0.05)
        assert not any(c.done() for c in calls)
        rpcnetd.stop(signal.SIGKILL)
        results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
        closed = await drv.wait_closed()
        # EOF or a reset (the killed server had unread calls): one error for all
        assert all(r is closed for r in results)
        assert isinstance(closed, ConnectionClosed) and closed.message


async def test_auto_reconnect_after_restart_keeps_event_callbacks(rpcnetd: RpcnetdPeer) -> None:
    policy = ReconnectPolicy(initial=0.05, maximum=0.2)
    async with connect(rpcnetd.uri(), reconnect=policy) as drv:
        hv = Networks(drv)
        by_callback: list[tuple[str, str]] = []
        await hv.on_event(lambda e: by_callback.append((e.network.name, e.name)))
        by_stream: list[tuple[str, str]] = []

        async def consume() -> None:
            async for event in hv.events():
                by_stream.append((event.network.name, event.name))
                if len(by_stream) == 2:
                    return

        consumer = asyncio.create_task(consume())
        reconnects: list[int] = []
        drv.add_reconnect_listener(lambda: reconnects.append(1))
        await asyncio.sleep(0.05)
        first = drv.connection
        rpcnetd.stop()
        await asyncio.wait_for(first.wait_closed(), 5)
        with pytest.raises(ConnectionClosed):
            await drv.connect_list_all_networks(0)
        rpcnetd.start()
        await asyncio.wait_for(drv.wait_connected(), 10)
        assert drv.connection is not first and reconnects == [1]
        net = await hv.define(NET.format(name="rpcr1", n=1))
        await net.undefine()
        await asyncio.wait_for(consumer, 5)
        assert by_stream == [("rpcr1", "Defined"), ("rpcr1", "Undefined")]
        assert by_callback == by_stream


async def test_event_stream_fails_when_reconnecting_gives_up(rpcnetd: RpcnetdPeer) -> None:
    policy = ReconnectPolicy(initial=0.02, attempts=2)
    async with connect(rpcnetd.uri(), reconnect=policy) as drv:
        stream = Networks(drv).events()
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.05)
        rpcnetd.stop()
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(first, 5)


async def test_stream_ends_when_the_client_closes(rpcnetd: RpcnetdPeer) -> None:
    drv = await connect(rpcnetd.uri())
    collected = []

    async def consume() -> None:
        async for event in drv.lifecycle_events():
            collected.append(event)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    await drv.close()
    await asyncio.wait_for(consumer, 5)
    assert collected == []


def test_blocking_facade(rpcnetd: RpcnetdPeer) -> None:
    with blocking_connect(rpcnetd.uri(), timeout=10) as conn:
        nets = conn.connect_list_all_networks(0)
        assert [n.name for n in nets] == ["default"]
        assert conn.network_is_active(nets[0]) is True
        assert "<name>default</name>" in conn.network_get_xml_desc(nets[0], 0)
