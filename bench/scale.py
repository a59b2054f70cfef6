"""Scale figures: many networks, many idle connections, one event to many."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rpcnet.client.driver import RemoteDriver
from rpcnet.client.uri import RemoteUri
from rpcnet.protocol import remote
from rpcnet.protocol.message import Framer, Header, MessageType, Status, encode_frame
from rpcnet.protocol.remote import Proc
from rpcnet.protocol.values import NetworkRef

from .load import close_all, open_many
from .servers import cpu_seconds, rss_bytes

#: calls in flight while defining networks (the daemons run 5 per client)
DEFINE_WINDOW = 64


def network_xml(index: int) -> str:
    return f"<network><name>bench-{index:05d}</name></network>"


async def define_networks(driver: RemoteDriver, first: int, count: int) -> None:
    """Define ``bench-<first>`` .. ``bench-<first+count-1>`` (pipelined)."""
    for start in range(first, first + count, DEFINE_WINDOW):
        stop = min(start + DEFINE_WINDOW, first + count)
        await asyncio.gather(*(driver.network_define_xml(network_xml(i))
                               for i in range(start, stop)))


async def raw_list_all_seconds(uri: str, rounds: int) -> float:
    """Median time from sending a list-all call to holding the whole reply, on
    a raw socket: the server's share of a list-all, without client decoding."""
    parsed = RemoteUri.parse(uri)
    reader, writer = await asyncio.open_unix_connection(parsed.socket_path(readonly=False))
    framer = Framer()

    async def call(proc: int, args: tuple[object, ...], serial: int) -> None:
        payload = remote.BY_NUMBER[proc].args.encode(args)
        writer.write(encode_frame(Header(remote.PROGRAM, remote.VERSION, proc,
                                         MessageType.CALL, serial, Status.OK), payload))
        while (message := framer.next_message()) is None:
            framer.feed(await reader.read(1 << 20))
        assert message.header.status == Status.OK, message

    try:
        await call(Proc.AUTH_LIST, (), 0)
        await call(Proc.CONNECT_OPEN, (parsed.open_name, 0), 1)
        times = []
        for serial in range(2, 2 + rounds):
            t0 = time.perf_counter()
            await call(283, (1, 0), serial)
            times.append(time.perf_counter() - t0)
    finally:
        writer.close()
    return statistics.median(times)


@dataclass(frozen=True, slots=True)
class IdleResult:
    connections: int
    rss_before: int
    rss_after: int
    cpu_percent: float

    @property
    def per_connection(self) -> float:
        return (self.rss_after - self.rss_before) / self.connections


async def idle_connections(uri: str, pid: int, drivers: Sequence[RemoteDriver],
                           seconds: float) -> IdleResult:
    """Daemon memory and CPU while ``drivers`` (already open) sit idle with keepalive."""
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    return IdleResult(len(drivers), 0, rss_bytes(pid), 100 * (cpu1 - cpu0) / (t1 - t0))


async def fan_out_seconds(uri: str, subscribers: Sequence[RemoteDriver], rounds: int,
                          first_name: int) -> float:
    """Median time from a define call to the last subscriber holding its event."""
    expected = len(subscribers)
    state = {"count": 0, "last": 0.0}
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def callback(_cid: int, _net: NetworkRef, _event: int, _detail: int) -> None:
        state["count"] += 1
        if state["count"] == expected:
            state["last"] = time.perf_counter()
            if not done.done():
                done.set_result(None)

    ids = await asyncio.gather(*(d.connect_network_event_register_any(0, None, callback)
                                 for d in subscribers))
    trigger = await RemoteDriver.open(uri)
    times = []
    try:
        for i in range(rounds):
            state["count"] = 0
            done = asyncio.get_running_loop().create_future()
            t0 = time.perf_counter()
            await trigger.network_define_xml(network_xml(first_name + i))
            await asyncio.wait_for(done, 30)
            times.append(state["last"] - t0)
    finally:
        await asyncio.gather(*(d.connect_network_event_deregister_any(cid)
                               for d, cid in zip(subscribers, ids, strict=True)))
        await trigger.close()
    return statistics.median(times)


@dataclass(frozen=True, slots=True)
class ConnectionsResult:
    idle: IdleResult
    fan_out: float


async def many_connections(uri: str, pid: int, count: int, idle_seconds: float,
                           rounds: int, first_name: int) -> ConnectionsResult:
    """Open ``count`` keepalive connections; measure them idle, then fan an event out."""
    rss_before = rss_bytes(pid)
    drivers = await open_many(uri, count)
    try:
        idle = await idle_connections(uri, pid, drivers, idle_seconds)
        idle = IdleResult(count, rss_before, idle.rss_after, idle.cpu_percent)
        fan_out = await fan_out_seconds(uri, drivers, rounds, first_name)
    finally:
        await close_all(drivers)
    return ConnectionsResult(idle, fan_out)
