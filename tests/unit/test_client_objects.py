"""The friendly layer over a local driver (the in-memory one): the same
objects serve a RemoteDriver and any other NetworkDriver."""

from __future__ import annotations

import asyncio

import pytest

from rpcnet.client import NetworkEvent, Networks
from rpcnet.client.driver import ReconnectPolicy
from rpcnet.driver.base import ListFlags, UpdateCommand, UpdateFlags, UpdateSection
from rpcnet.driver.service import open_memory
from rpcnet.errors import ErrorCode, VirError

XML = ("<network><name>local1</name><bridge name='virbr88'/>"
       "<ip address='10.88.0.1' netmask='255.255.255.0'><dhcp>"
       "<range start='10.88.0.2' end='10.88.0.9'/></dhcp></ip></network>")
PORT = ("<networkport><uuid>3f1d0b1e-2a4b-4c6d-8e9f-0a1b2c3d4e88</uuid><owner><name>vm</name>"
        "<uuid>11111111-2222-3333-4444-555555555588</uuid></owner>"
        "<mac address='52:54:00:aa:88:01'/></networkport>")


@pytest.fixture
async def hv() -> Networks:
    return Networks(await open_memory("network"))


async def test_network_objects_over_a_local_driver(hv: Networks) -> None:
    events: list[NetworkEvent] = []
    callback_id = await hv.on_event(events.append)
    net = await hv.define(XML)
    assert await hv.get(net.uuid) == net == await hv.lookup("local1")
    assert {n.name for n in await hv.all()} == {"default", "local1"}
    assert net in await hv.all(ListFlags.INACTIVE)
    await net.start()
    await net.set_autostart(True)
    assert (await net.is_active(), await net.autostart(), await net.bridge()) == (
        True, True, "virbr88")
    await net.update(UpdateCommand.ADD_LAST, UpdateSection.IP_DHCP_HOST,
                     "<host mac='52:54:00:00:88:07' ip='10.88.0.7'/>",
                     flags=UpdateFlags.AFFECT_LIVE)
    assert "52:54:00:00:88:07" in await net.xml()
    assert "52:54:00:00:88:07" not in await net.xml(inactive=True)
    assert await net.leases() == []
    port = await net.create_port(PORT)
    assert await net.ports() == [port] and await net.port(port.uuid) == port
    assert "52:54:00:aa:88:01" in await port.xml()
    await port.delete()
    await net.destroy()
    await net.undefine()
    with pytest.raises(VirError) as exc:
        await net.is_active()
    assert exc.value.code == ErrorCode.NO_NETWORK
    await hv.off_event(callback_id)
    assert [e.name for e in events] == ["Defined", "Started", "Stopped", "Undefined"]


async def test_event_iterator_over_a_local_driver(hv: Networks) -> None:
    stream = hv.events()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    await hv.create(XML)
    event = await asyncio.wait_for(first, 5)
    assert (event.network.name, event.name) == ("local1", "Started")
    await stream.aclose()


def test_reconnect_delays_grow_to_the_maximum() -> None:
    policy = ReconnectPolicy(initial=0.1, maximum=0.5, factor=2, attempts=5)
    assert list(policy.delays()) == [0.1, 0.2, 0.4, 0.5, 0.5]
    forever = ReconnectPolicy().delays()
    assert [next(forever) for _ in range(3)] == [0.1, 0.2, 0.4]
