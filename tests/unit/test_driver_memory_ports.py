"""NetworkService ports and DHCP leases (network flavor); the test flavor
leaves those slots empty, as test:///default does."""

from __future__ import annotations

import uuid

import pytest

from rpcnet.driver.base import PortCreateFlags
from rpcnet.driver.service import NetworkService, open_memory
from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.protocol.values import NetworkRef, ParamType, PortRef, TypedParam

P1 = "11111111-2222-4333-8444-555555555555"
OWNER = "<owner><name>vm1</name><uuid>aaaaaaaa-2222-4333-8444-555555555555</uuid></owner>"


def port_xml(port_uuid: str | None = P1, extra: str = "") -> str:
    uuid_el = f"<uuid>{port_uuid}</uuid>" if port_uuid else ""
    return f"<networkport>{uuid_el}{OWNER}<mac address='52:54:00:aa:bb:cc'/>{extra}</networkport>"


@pytest.fixture
async def drv() -> NetworkService:
    return await open_memory("network")


@pytest.fixture
async def default(drv: NetworkService) -> NetworkRef:
    return await drv.network_lookup_by_name("default")


def params(**values: int) -> list[TypedParam]:
    return [TypedParam(k.replace("_", "."), ParamType.UINT, v) for k, v in values.items()]


async def test_port_create_list_xml_delete(drv: NetworkService, default: NetworkRef) -> None:
    port = await drv.network_port_create_xml(default, port_xml(), 0)
    assert port == PortRef(default, uuid.UUID(P1).bytes)
    assert await drv.network_list_all_ports(default, 0) == [port]
    assert await drv.network_port_lookup_by_uuid(default, port.uuid) == port
    xml = await drv.network_port_get_xml_desc(port, 0)
    assert "<plug type='network' bridge='virbr0'/>" in xml
    assert xml.startswith(f"<networkport>\n  <uuid>{P1}</uuid>")
    assert (await drv.network_get_xml_desc(default, 0)).startswith("<network connections='1'>")
    assert (await drv.network_get_xml_desc(default, 1)).startswith("<network>\n")
    await drv.network_port_delete(port, 0)
    assert await drv.network_list_all_ports(default, 0) == []
    with pytest.raises(VirError) as info:
        await drv.network_port_get_xml_desc(port, 0)
    assert (info.value.code, info.value.domain) == (ErrorCode.NO_NETWORK_PORT, ErrorDomain.NETWORK)
    assert info.value.message == (
        f"network port not found: Network port with UUID {P1} does not exist"
    )


async def test_port_errors(drv: NetworkService, default: NetworkRef) -> None:
    with pytest.raises(VirError) as info:
        await drv.network_port_create_xml(default, port_xml(None), 0)
    assert (info.value.code, info.value.domain, info.value.message) == (
        ErrorCode.INTERNAL_ERROR,
        ErrorDomain.NETWORK,
        "internal error: network port has no uuid",
    )
    await drv.network_port_create_xml(default, port_xml(), 0)
    with pytest.raises(VirError) as info:
        await drv.network_port_create_xml(default, port_xml(), 0)
    assert info.value.code == ErrorCode.NETWORK_PORT_EXIST
    assert "Network port with UUID " + P1 + " already exists" in info.value.message
    with pytest.raises(VirError) as info:
        await drv.network_port_create_xml(default, port_xml(), PortCreateFlags.RECLAIM)
    assert info.value.message == ("invalid argument: Port reclaim requested but plug type is none")
    plugged = port_xml(str(uuid.uuid4()), "<plug type='network' bridge='virbr0'/>")
    with pytest.raises(VirError) as info:
        await drv.network_port_create_xml(default, plugged, 0)
    assert info.value.message == (
        "invalid argument: Port reclaim not requested but plug type is not none"
    )
    reclaimed = await drv.network_port_create_xml(default, plugged, PortCreateFlags.RECLAIM)
    assert len(await drv.network_list_all_ports(default, 0)) == 2
    assert "bridge='virbr0'" in await drv.network_port_get_xml_desc(reclaimed, 0)


async def test_ports_need_an_active_network_and_go_with_it(
    drv: NetworkService, default: NetworkRef
) -> None:
    await drv.network_port_create_xml(default, port_xml(), 0)
    await drv.network_destroy(default)
    inactive = "Requested operation is not valid: network 'default' is not active"
    for call in (
        drv.network_list_all_ports(default, 0),
        drv.network_port_create_xml(default, port_xml(), 0),
    ):
        with pytest.raises(VirError) as info:
            await call
        assert (info.value.code, info.value.message) == (ErrorCode.OPERATION_INVALID, inactive)
    await drv.network_create(default)
    assert await drv.network_list_all_ports(default, 0) == []


async def test_port_parameters(drv: NetworkService, default: NetworkRef) -> None:
    port = await drv.network_port_create_xml(default, port_xml(), 0)
    # a port without bandwidth has no parameters (libvirtd 9.0)
    assert await drv.network_port_get_parameters(port, 0) == []
    await drv.network_port_set_parameters(
        port, params(inbound_average=100, inbound_peak=200, outbound_average=50), 0
    )
    got = await drv.network_port_get_parameters(port, 0)
    assert [(p.field, p.type) for p in got] == [
        (name, ParamType.UINT)
        for name in ("inbound.average", "inbound.peak", "inbound.floor", "inbound.burst",
                     "outbound.average", "outbound.peak", "outbound.burst")
    ]
    values = {p.field: p.value for p in got}
    assert values["inbound.average"] == 100 and values["inbound.peak"] == 200
    assert values["outbound.average"] == 50 and values["inbound.burst"] == 0
    xml = await drv.network_port_get_xml_desc(port, 0)
    assert "<inbound average='100' peak='200'/>" in xml
    assert "<outbound average='50'/>" in xml
    # As in libvirt, a set replaces the whole bandwidth.
    await drv.network_port_set_parameters(port, params(outbound_average=7), 0)
    values = {p.field: p.value for p in await drv.network_port_get_parameters(port, 0)}
    assert values == {"outbound.average": 7, "outbound.peak": 0, "outbound.burst": 0}
    with pytest.raises(VirError) as info:
        await drv.network_port_set_parameters(port, params(inbound_floor=10), 0)
    assert info.value.code == ErrorCode.OPERATION_UNSUPPORTED
    assert "network 'default' has no inbound QoS set" in info.value.message
    with pytest.raises(VirError) as info:
        await drv.network_port_get_parameters(port, 1)
    assert info.value.message == ("unsupported flags (0x1) in function networkPortGetParameters")


async def test_dhcp_leases(drv: NetworkService, default: NetworkRef) -> None:
    assert await drv.network_get_dhcp_leases(default, None, 0) == []
    assert await drv.network_get_dhcp_leases(default, "52:54:00:aa:bb:cc", 0) == []
    with pytest.raises(VirError) as info:
        await drv.network_get_dhcp_leases(default, "nonsense", 0)
    assert (info.value.code, info.value.message) == (44, "invalid MAC address: nonsense")


async def test_test_flavor_has_no_ports_or_leases() -> None:
    drv = await open_memory("test")
    ref = await drv.network_lookup_by_name("default")
    calls = {
        "virNetworkGetDHCPLeases": drv.network_get_dhcp_leases(ref, None, 0),
        "virNetworkListAllPorts": drv.network_list_all_ports(ref, 0),
        "virNetworkPortCreateXML": drv.network_port_create_xml(ref, port_xml(), 0),
    }
    for api, call in calls.items():
        with pytest.raises(VirError) as info:
            await call
        assert (info.value.code, info.value.domain) == (ErrorCode.NO_SUPPORT, ErrorDomain.NETWORK)
        assert info.value.message.endswith(api)
