"""The rpcnet client against both servers: rpcnetd and a real libvirtd.

Every test runs four times: {rpcnetd, libvirtd} x {test:///default,
network:///system}. The expectations are libvirtd's answers; a test that
fails only for rpcnetd is a bug in rpcnetd. Networks get unique names,
subnets (10.8x.0.0/24) and bridges (virbr8x), and every test removes what it
defined, since the libvirtd fixture lives for the whole session.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from rpcnet.client import Network, NetworkEvent, Networks, RemoteDriver, connect
from rpcnet.driver.base import ListFlags, UpdateCommand, UpdateFlags, UpdateSection
from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.protocol.values import ParamType, TypedParam
from tests.peers.rpcnetd import RpcnetdPeer

pytestmark = pytest.mark.interop

PREFIX = "rpcc"
XML = """<network>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <bridge name='{bridge}' stp='on' delay='0'/>
  <mac address='52:54:00:8{n}:00:01'/>
  <ip address='10.8{n}.0.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.8{n}.0.10' end='10.8{n}.0.99'/>
    </dhcp>
  </ip>
</network>
"""
PORT_XML = """<networkport>
  <uuid>{uuid}</uuid>
  <owner>
    <name>vm{n}</name>
    <uuid>11111111-2222-3333-4444-55555555555{n}</uuid>
  </owner>
  <mac address='52:54:00:aa:8{n}:01'/>
</networkport>
"""


def net_xml(n: int) -> str:
    return XML.format(name=f"{PREFIX}{n}", uuid=f"6c3f0e52-8{n}00-4d0c-9e1a-0000000000{n}{n}",
                      bridge=f"virbr8{n}", n=n)


@pytest.fixture(scope="module")
def rpcnetd_peer() -> Iterator[RpcnetdPeer]:
    with RpcnetdPeer() as peer:
        yield peer


@pytest.fixture(params=[("rpcnetd", "test"), ("rpcnetd", "network"),
                        ("libvirtd", "test"), ("libvirtd", "network")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def server(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """(server kind, driver, URI)."""
    kind, driver = request.param
    peer = request.getfixturevalue("rpcnetd_peer" if kind == "rpcnetd" else "libvirtd")
    return kind, driver, peer.uri(driver)


@pytest.fixture
def driver_name(server: tuple[str, str, str]) -> str:
    return server[1]


@pytest.fixture
def dom(driver_name: str) -> int:
    """The error domain of the driver's own errors (libvirt's test driver: TEST)."""
    return ErrorDomain.TEST if driver_name == "test" else ErrorDomain.NETWORK


@pytest.fixture
async def conn(server: tuple[str, str, str]) -> AsyncIterator[RemoteDriver]:
    async with connect(server[2]) as drv:
        try:
            yield drv
        finally:
            await remove_ours(drv)


async def remove_ours(drv: RemoteDriver) -> None:
    for ref in await drv.connect_list_all_networks(0):
        if ref.name.startswith(PREFIX):
            with contextlib.suppress(VirError):
                await drv.network_destroy(ref)
            with contextlib.suppress(VirError):
                await drv.network_undefine(ref)


@pytest.fixture
def hv(conn: RemoteDriver) -> Networks:
    return Networks(conn)


def error_of(exc: pytest.ExceptionInfo[VirError]) -> tuple[int, int, str]:
    return exc.value.code, exc.value.domain, exc.value.message


async def test_list_and_lookup(hv: Networks) -> None:
    net = await hv.define(net_xml(1))
    assert (net.name, net.uuid) == ("rpcc1", "6c3f0e52-8100-4d0c-9e1a-000000000011")
    assert net in await hv.all()
    assert net in await hv.all(ListFlags.INACTIVE)
    assert net not in await hv.all(ListFlags.ACTIVE)
    assert net in await hv.all(ListFlags.PERSISTENT | ListFlags.NO_AUTOSTART)
    assert net not in await hv.all(ListFlags.TRANSIENT)
    assert await hv.lookup("rpcc1") == net
    assert await hv.lookup_by_uuid(net.uuid) == net
    assert await hv.get(net.uuid) == net
    assert await hv.get("rpcc1") == net
    assert "rpcc1" in await hv.driver.connect_list_defined_networks(100)
    assert "rpcc1" not in await hv.driver.connect_list_networks(100)
    defined = await hv.driver.connect_num_of_defined_networks()
    assert defined == len(await hv.driver.connect_list_defined_networks(100))


async def test_lifecycle_and_xml(hv: Networks, driver_name: str, dom: int) -> None:
    net = await hv.define(net_xml(2))
    assert (await net.is_active(), await net.is_persistent()) == (False, True)
    assert await net.bridge() == "virbr82"
    await net.start()
    assert await net.is_active()
    assert net in await hv.active()
    xml = await net.xml()
    assert "<name>rpcc2</name>" in xml
    assert "<uuid>6c3f0e52-8200-4d0c-9e1a-000000000022</uuid>" in xml
    assert "<ip address='10.82.0.1' netmask='255.255.255.0'>" in xml
    assert "<range start='10.82.0.10' end='10.82.0.99'/>" in xml
    if driver_name == "test":
        with pytest.raises(VirError) as exc:
            await net.xml(inactive=True)
        assert error_of(exc) == (ErrorCode.INVALID_ARG, ErrorDomain.TEST,
                                 "unsupported flags (0x1) in function testNetworkGetXMLDesc")
    else:
        assert await net.xml(inactive=True) == xml
    await net.destroy()
    assert not await net.is_active()
    await net.undefine()
    with pytest.raises(VirError) as exc:
        await hv.lookup("rpcc2")
    assert error_of(exc) == (ErrorCode.NO_NETWORK, dom,
                             "Network not found: no network with matching name 'rpcc2'")


async def test_transient_network(hv: Networks, driver_name: str, dom: int) -> None:
    net = await hv.create(net_xml(3))
    assert (await net.is_active(), await net.is_persistent()) == (True, False)
    assert net in await hv.all(ListFlags.TRANSIENT)
    with pytest.raises(VirError) as exc:
        await net.undefine()
    if driver_name == "test":  # libvirt's test driver words it its own way
        assert error_of(exc) == (ErrorCode.OPERATION_INVALID, dom, "Requested operation is "
                                 "not valid: Network 'rpcc3' is still running")
        await net.set_autostart(True)
    else:
        assert error_of(exc) == (ErrorCode.OPERATION_INVALID, dom, "Requested operation is "
                                 "not valid: can't undefine transient network")
        with pytest.raises(VirError) as exc:
            await net.set_autostart(True)
        assert error_of(exc) == (ErrorCode.OPERATION_INVALID, dom, "Requested operation is "
                                 "not valid: cannot set autostart for transient network")
    await net.destroy()
    with pytest.raises(VirError) as exc:
        await net.is_active()
    assert exc.value.code == ErrorCode.NO_NETWORK


async def test_autostart(hv: Networks) -> None:
    net = await hv.define(net_xml(4))
    assert not await net.autostart()
    await net.set_autostart(True)
    assert await net.autostart()
    assert net in await hv.all(ListFlags.AUTOSTART)
    assert net not in await hv.all(ListFlags.NO_AUTOSTART)
    await net.set_autostart(False)
    assert not await net.autostart()


async def test_update_dhcp_host(hv: Networks, driver_name: str) -> None:
    net = await hv.define(net_xml(5))
    await net.start()
    host = "<host mac='52:54:00:00:85:07' name='g7' ip='10.85.0.7'/>"
    both = UpdateFlags.AFFECT_LIVE | UpdateFlags.AFFECT_CONFIG
    await net.update(UpdateCommand.ADD_LAST, UpdateSection.IP_DHCP_HOST, host, flags=both)
    assert host in await net.xml()
    config_too = driver_name != "test"  # the test driver has no XML_INACTIVE
    assert not config_too or host in await net.xml(inactive=True)
    with pytest.raises(VirError) as exc:
        await net.update(UpdateCommand.ADD_LAST, UpdateSection.IP_DHCP_HOST, host, flags=both)
    assert error_of(exc) == (
        ErrorCode.OPERATION_INVALID, ErrorDomain.NETWORK,
        "Requested operation is not valid: there is an existing dhcp host entry in network "
        f"'rpcc5' that matches \"{host}\"")
    await net.update(UpdateCommand.DELETE, UpdateSection.IP_DHCP_HOST,
                     "<host mac='52:54:00:00:85:07'/>", flags=UpdateFlags.AFFECT_LIVE)
    assert host not in await net.xml()
    assert not config_too or host in await net.xml(inactive=True)


async def test_leases(hv: Networks, driver_name: str) -> None:
    net = await hv.define(net_xml(6))
    await net.start()
    if driver_name == "test":
        with pytest.raises(VirError) as exc:
            await net.leases()
        assert error_of(exc) == (
            ErrorCode.NO_SUPPORT, ErrorDomain.NETWORK,
            "this function is not supported by the connection driver: virNetworkGetDHCPLeases")
        return
    assert await net.leases() == []
    assert await net.leases("52:54:00:00:86:07") == []
    await net.destroy()
    assert await net.leases() == []


async def test_events_iterator_and_callbacks(hv: Networks) -> None:
    seen: list[tuple[str, str]] = []
    callback_id = await hv.on_event(lambda e: seen.append((e.network.name, e.name)))
    stream: list[NetworkEvent] = []

    async def consume() -> None:
        async for event in hv.events():
            if event.network.name.startswith(PREFIX):
                stream.append(event)
                if len(stream) == 4:
                    return

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    net = await hv.define(net_xml(7))
    await net.start()
    await net.destroy()
    await net.undefine()
    await asyncio.wait_for(consumer, 5)
    assert [(e.network.name, e.name) for e in stream] == [
        ("rpcc7", "Defined"), ("rpcc7", "Started"), ("rpcc7", "Stopped"), ("rpcc7", "Undefined")]
    assert all(e.network == net for e in stream)
    await hv.off_event(callback_id)
    assert [s for s in seen if s[0] == "rpcc7"] == [(e.network.name, e.name) for e in stream]


async def test_events_of_one_network(hv: Networks) -> None:
    mine = await hv.define(net_xml(8))
    other = await hv.define(net_xml(9))
    seen: list[tuple[str, int]] = []
    callback_id = await hv.on_event(lambda e: seen.append((e.network.name, e.event)), mine)
    await other.start()
    await mine.start()
    await mine.destroy()
    await other.destroy()
    for _ in range(50):
        if len(seen) >= 2:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    await hv.off_event(callback_id)
    assert seen == [("rpcc8", 2), ("rpcc8", 3)]
    with pytest.raises(VirError) as exc:
        await hv.off_event(callback_id)
    assert exc.value.code == ErrorCode.INVALID_ARG


async def test_ports(hv: Networks, driver_name: str) -> None:
    net = await hv.define(net_xml(1))
    port_uuid = "3f1d0b1e-2a4b-4c6d-8e9f-0a1b2c3d4e81"
    xml = PORT_XML.format(uuid=port_uuid, n=1)
    if driver_name == "test":
        await net.start()
        with pytest.raises(VirError) as exc:
            await net.ports()
        assert error_of(exc) == (
            ErrorCode.NO_SUPPORT, ErrorDomain.NETWORK,
            "this function is not supported by the connection driver: virNetworkListAllPorts")
        return
    with pytest.raises(VirError) as exc:
        await net.create_port(xml)
    assert error_of(exc) == (ErrorCode.OPERATION_INVALID, ErrorDomain.NETWORK,
                             "Requested operation is not valid: network 'rpcc1' is not active")
    await net.start()
    assert await net.ports() == []
    port = await net.create_port(xml)
    assert port.uuid == port_uuid
    assert await net.ports() == [port]
    assert await net.port(port_uuid) == port
    port_xml = await port.xml()
    assert "<mac address='52:54:00:aa:81:01'/>" in port_xml
    assert "<plug type='network' bridge='virbr81'/>" in port_xml
    with pytest.raises(VirError) as exc:
        await net.create_port(xml)
    assert exc.value.code == ErrorCode.NETWORK_PORT_EXIST
    await port.delete()
    assert await net.ports() == []
    with pytest.raises(VirError) as exc:
        await net.port(port_uuid)
    assert error_of(exc) == (
        ErrorCode.NO_NETWORK_PORT, ErrorDomain.NETWORK,
        f"network port not found: Network port with UUID {port_uuid} does not exist")


async def test_errors(hv: Networks, driver_name: str, dom: int) -> None:
    drv = hv.driver
    with pytest.raises(VirError) as exc:
        await hv.lookup_by_uuid("00000000-0000-0000-0000-00000000abcd")
    assert error_of(exc) == (ErrorCode.NO_NETWORK, dom,
                             "Network not found: no network with matching uuid "
                             "'00000000-0000-0000-0000-00000000abcd'")
    net = await hv.define(net_xml(2))
    if driver_name == "test":
        await net.destroy()  # libvirt's test driver does not check that it runs
    else:
        with pytest.raises(VirError) as exc:
            await net.destroy()
        assert error_of(exc) == (ErrorCode.OPERATION_INVALID, dom, "Requested operation is "
                                 "not valid: network 'rpcc2' is not active")
    await net.start()
    with pytest.raises(VirError) as exc:
        await net.start()
    running = "Network 'rpcc2' is already running" if driver_name == "test" \
        else "network is already active"
    assert error_of(exc) == (ErrorCode.OPERATION_INVALID, dom,
                             f"Requested operation is not valid: {running}")
    with pytest.raises(VirError) as exc:
        await hv.define(net_xml(2).replace("-000000000022", "-000000000099"))
    assert error_of(exc) == (ErrorCode.OPERATION_FAILED, ErrorDomain.NETWORK,
                             "operation failed: network 'rpcc2' already exists with uuid "
                             "6c3f0e52-8200-4d0c-9e1a-000000000022")
    with pytest.raises(VirError) as exc:
        await hv.define("<network><name>rpcc3</name>")
    assert (exc.value.code, exc.value.domain) == (ErrorCode.XML_DETAIL, ErrorDomain.NETWORK)
    with pytest.raises(VirError) as exc:
        await drv.network_get_xml_desc(net.ref, 0x100)
    function = "testNetworkGetXMLDesc" if driver_name == "test" else "networkGetXMLDesc"
    assert error_of(exc) == (ErrorCode.INVALID_ARG, dom,
                             f"unsupported flags (0x100) in function {function}")


async def test_many_concurrent_calls(hv: Networks) -> None:
    nets = await asyncio.gather(*(hv.define(net_xml(n)) for n in range(1, 6)))
    xmls = await asyncio.gather(*(n.xml() for n in nets for _ in range(20)))
    assert len(xmls) == 100
    assert all(f"<name>{nets[i // 20].name}</name>" in x for i, x in enumerate(xmls))


async def test_read_only_connection(server: tuple[str, str, str]) -> None:
    async with connect(server[2], readonly=True) as ro:
        nets = await Networks(ro).all()
        assert isinstance(nets, list) and all(isinstance(n, Network) for n in nets)
        with pytest.raises(VirError) as exc:
            await ro.network_define_xml(net_xml(3))
        assert error_of(exc) == (
            ErrorCode.OPERATION_DENIED, ErrorDomain.NETWORK,
            "operation forbidden: read only access prevents virNetworkDefineXML")


async def test_config_outlives_a_live_only_change_and_destroy(
        hv: Networks, server: tuple[str, str, str], request: pytest.FixtureRequest) -> None:
    net = await hv.define(net_xml(3))
    await net.start()
    host = "<host mac='52:54:00:00:83:07' name='g7' ip='10.83.0.7'/>"
    await net.update(UpdateCommand.ADD_LAST, UpdateSection.IP_DHCP_HOST, host,
                     flags=UpdateFlags.AFFECT_LIVE | UpdateFlags.AFFECT_CONFIG)
    await net.update(UpdateCommand.DELETE, UpdateSection.IP_DHCP_HOST, host,
                     flags=UpdateFlags.AFFECT_LIVE)
    await net.destroy()
    # inactive: CURRENT means the persistent definition, which still has the host
    await net.update(UpdateCommand.DELETE, UpdateSection.IP_DHCP_HOST, host)


async def test_port_parameters(hv: Networks, server: tuple[str, str, str],
                               request: pytest.FixtureRequest) -> None:
    net = await hv.define(net_xml(4))
    await net.start()
    xml = PORT_XML.format(uuid="3f1d0b1e-2a4b-4c6d-8e9f-0a1b2c3d4e84", n=4)
    if server[1] == "test":
        with pytest.raises(VirError) as exc:
            await net.create_port(xml)
        assert exc.value.code == ErrorCode.NO_SUPPORT
        return
    port = await net.create_port(xml)
    assert await port.parameters() == []
    await port.set_parameters([TypedParam("inbound.average", ParamType.UINT, 1000)])
    assert [(p.field, p.value) for p in await port.parameters()] == [
        ("inbound.average", 1000), ("inbound.peak", 0), ("inbound.floor", 0),
        ("inbound.burst", 0)]
