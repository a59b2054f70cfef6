"""NetworkService: lifecycle, uniqueness, listing, events, update, XML, as
libvirt 9.0's bridge driver (and, where it differs, test:///default) answers."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from rpcnet.driver.base import ListFlags, UpdateFlags
from rpcnet.driver.policy import TEST_DEFAULT_UUID
from rpcnet.driver.service import NetworkService, open_memory
from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.protocol.values import NetworkRef

U1 = "11111111-1111-4111-8111-111111111111"
U2 = "22222222-2222-4222-8222-222222222222"


def net_xml(name: str, uuid_: str | None = None, extra: str = "") -> str:
    uuid_el = f"<uuid>{uuid_}</uuid>" if uuid_ else ""
    return f"<network><name>{name}</name>{uuid_el}{extra}</network>"


def ip(third: int) -> str:
    return f"<ip address='10.0.{third}.1' prefix='24'/>"


async def raises(coro: Any, code: int, domain: int, message: str) -> VirError:
    with pytest.raises(VirError) as info:
        await coro
    err = info.value
    assert (err.code, err.domain, err.message) == (code, domain, message)
    return err


@pytest.fixture
async def drv() -> NetworkService:
    return await open_memory("network")


@pytest.fixture
async def test_drv() -> NetworkService:
    return await open_memory("test")


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[int, str, int, int]] = []

    def __call__(self, callback_id: int, net: NetworkRef, event: int, detail: int) -> None:
        self.seen.append((callback_id, net.name, event, detail))


# -- fresh state ---------------------------------------------------------------


async def test_network_flavor_default(drv: NetworkService) -> None:
    ref = await drv.network_lookup_by_name("default")
    assert await drv.connect_get_type() == "network"
    assert await drv.network_is_active(ref)
    assert await drv.network_is_persistent(ref)
    assert await drv.network_get_autostart(ref)
    assert await drv.network_get_bridge_name(ref) == "virbr0"
    xml = await drv.network_get_xml_desc(ref, 0)
    assert f"<uuid>{uuid.UUID(bytes=ref.uuid)}</uuid>" in xml
    # running, it shows the port range libvirt masquerades to; defined, it does not
    assert "<nat>\n      <port start='1024' end='65535'/>\n    </nat>" in xml
    assert "<forward mode='nat'/>" in await drv.network_get_xml_desc(ref, 1)
    assert "<bridge name='virbr0' stp='on' delay='0'/>" in xml
    assert "<mac address='52:54:00:" in xml
    assert "<range start='192.168.122.2' end='192.168.122.254'/>" in xml


async def test_test_flavor_default(test_drv: NetworkService) -> None:
    ref = await test_drv.network_lookup_by_name("default")
    assert ref.uuid == TEST_DEFAULT_UUID.bytes
    assert await test_drv.connect_get_type() == "TEST"
    assert await test_drv.network_is_active(ref)
    assert await test_drv.network_is_persistent(ref)
    assert not await test_drv.network_get_autostart(ref)
    xml = await test_drv.network_get_xml_desc(ref, 0)
    assert "<mac" not in xml
    assert "<bridge name='virbr0' stp='on' delay='0'/>" in xml


async def test_unsupported_connection_calls(drv: NetworkService) -> None:
    await raises(
        drv.connect_get_version(),
        ErrorCode.NO_SUPPORT,
        ErrorDomain.DOMAIN,
        "this function is not supported by the connection driver: virConnectGetVersion",
    )


# -- lifecycle -----------------------------------------------------------------


async def test_define_start_destroy_undefine(drv: NetworkService) -> None:
    ref = await drv.network_define_xml(net_xml("n1", U1, ip(1)))
    assert ref == NetworkRef("n1", uuid.UUID(U1).bytes)
    assert not await drv.network_is_active(ref)
    assert await drv.network_is_persistent(ref)
    assert await drv.network_get_bridge_name(ref) == "virbr1"
    await drv.network_create(ref)
    assert await drv.network_is_active(ref)
    await raises(
        drv.network_create(ref),
        ErrorCode.OPERATION_INVALID,
        ErrorDomain.NETWORK,
        "Requested operation is not valid: network is already active",
    )
    await drv.network_destroy(ref)
    await raises(
        drv.network_destroy(ref),
        ErrorCode.OPERATION_INVALID,
        ErrorDomain.NETWORK,
        "Requested operation is not valid: network 'n1' is not active",
    )
    await drv.network_undefine(ref)
    await raises(
        drv.network_lookup_by_name("n1"),
        ErrorCode.NO_NETWORK,
        ErrorDomain.NETWORK,
        "Network not found: no network with matching name 'n1'",
    )
    await raises(
        drv.network_is_active(ref),
        ErrorCode.NO_NETWORK,
        ErrorDomain.NETWORK,
        f"Network not found: no network with matching uuid '{U1}' (n1)",
    )


async def test_transient_network(drv: NetworkService) -> None:
    ref = await drv.network_create_xml(net_xml("t1", U1, ip(1)))
    assert await drv.network_is_active(ref)
    assert not await drv.network_is_persistent(ref)
    await raises(
        drv.network_undefine(ref),
        ErrorCode.OPERATION_INVALID,
        ErrorDomain.NETWORK,
        "Requested operation is not valid: can't undefine transient network",
    )
    await raises(
        drv.network_set_autostart(ref, True),
        ErrorCode.OPERATION_INVALID,
        ErrorDomain.NETWORK,
        "Requested operation is not valid: cannot set autostart for transient network",
    )
    await drv.network_destroy(ref)
    with pytest.raises(VirError):
        await drv.network_lookup_by_uuid(ref.uuid)


async def test_define_of_running_network_waits_for_restart(drv: NetworkService) -> None:
    ref = await drv.network_define_xml(net_xml("n1", U1, ip(1)))
    await drv.network_create(ref)
    await drv.network_define_xml(net_xml("n1", U1, ip(2)))
    assert "10.0.1.1" in await drv.network_get_xml_desc(ref, 0)
    assert "10.0.2.1" in await drv.network_get_xml_desc(ref, 1)
    await drv.network_destroy(ref)
    await drv.network_create(ref)
    assert "10.0.2.1" in await drv.network_get_xml_desc(ref, 0)


async def test_define_makes_running_transient_persistent(drv: NetworkService) -> None:
    ref = await drv.network_create_xml(net_xml("t1", U1, ip(1)))
    await drv.network_define_xml(net_xml("t1", U1, ip(1)))
    assert await drv.network_is_persistent(ref)
    await drv.network_destroy(ref)
    assert not await drv.network_is_active(ref)


async def test_undefine_running_makes_transient(drv: NetworkService) -> None:
    ref = await drv.network_define_xml(net_xml("n1", U1, ip(1)))
    await drv.network_set_autostart(ref, True)
    await drv.network_create(ref)
    await drv.network_undefine(ref)
    assert await drv.network_is_active(ref)
    assert not await drv.network_is_persistent(ref)
    assert not await drv.network_get_autostart(ref)
    assert "10.0.1.1" in await drv.network_get_xml_desc(ref, 1)
    await drv.network_destroy(ref)
    assert await drv.connect_list_all_networks(0) == [await drv.network_lookup_by_name("default")]


async def test_create_xml_starts_an_inactive_persistent_network(drv: NetworkService) -> None:
    ref = await drv.network_define_xml(net_xml("n1", U1, ip(1)))
    await drv.network_create_xml(net_xml("n1", U1, ip(3)))
    assert await drv.network_is_persistent(ref)
    assert "10.0.3.1" in await drv.network_get_xml_desc(ref, 0)
    assert "10.0.1.1" in await drv.network_get_xml_desc(ref, 1)


# -- uniqueness ----------------------------------------------------------------


async def test_name_and_uuid_conflicts(drv: NetworkService) -> None:
    await drv.network_define_xml(net_xml("n1", U1))
    await drv.network_define_xml(net_xml("n1", U1))  # same name and uuid: update
    await raises(
        drv.network_define_xml(net_xml("n1", U2)),
        ErrorCode.OPERATION_FAILED,
        ErrorDomain.NETWORK,
        f"operation failed: network 'n1' already exists with uuid {U1}",
    )
    # libvirt gives a definition without <uuid> a random one: same error.
    await raises(
        drv.network_define_xml(net_xml("n1")),
        ErrorCode.OPERATION_FAILED,
        ErrorDomain.NETWORK,
        f"operation failed: network 'n1' already exists with uuid {U1}",
    )
    await raises(
        drv.network_define_xml(net_xml("n2", U1)),
        ErrorCode.OPERATION_FAILED,
        ErrorDomain.NETWORK,
        f"operation failed: network 'n1' is already defined with uuid {U1}",
    )
    await drv.network_create_xml(net_xml("n1", U1, ip(1)))
    await raises(
        drv.network_create_xml(net_xml("n1", U1)),
        ErrorCode.OPERATION_INVALID,
        ErrorDomain.NETWORK,
        "Requested operation is not valid: network is already active as 'n1'",
    )


async def test_bridge_names(drv: NetworkService) -> None:
    await raises(
        drv.network_define_xml(net_xml("n1", extra="<bridge name='virbr0'/>")),
        ErrorCode.INTERNAL_ERROR,
        ErrorDomain.NETWORK,
        "internal error: bridge name 'virbr0' already in use.",
    )
    a = await drv.network_define_xml(net_xml("a"))
    b = await drv.network_define_xml(net_xml("b", extra="<bridge name='virbr2'/>"))
    c = await drv.network_define_xml(net_xml("c", extra="<bridge name='br%d'/>"))
    d = await drv.network_define_xml(net_xml("d"))
    names = [await drv.network_get_bridge_name(r) for r in (a, b, c, d)]
    assert names == ["virbr1", "virbr2", "br0", "virbr3"]
    # Redefining a network may keep its own bridge.
    await drv.network_define_xml(await drv.network_get_xml_desc(b, 0))


async def test_subnet_overlap_refused_at_start(drv: NetworkService) -> None:
    ref = await drv.network_define_xml(
        net_xml("n1", extra="<ip address='192.168.122.7' prefix='28'/>")
    )
    await raises(
        drv.network_create(ref),
        ErrorCode.INTERNAL_ERROR,
        ErrorDomain.NETWORK,
        "internal error: Network is already in use by interface virbr0",
    )
    assert not await drv.network_is_active(ref)
    with pytest.raises(VirError):
        await drv.network_create_xml(net_xml("t", extra="<ip address='192.168.0.1' prefix='16'/>"))
    assert [n.name for n in await drv.connect_list_all_networks(0)] == ["default", "n1"]


# -- test flavor quirks ----------------------------------------------------------


async def test_test_flavor_lifecycle_quirks(test_drv: NetworkService) -> None:
    d = test_drv
    ref = await d.network_lookup_by_name("default")
    await raises(
        d.network_create(ref),
        ErrorCode.OPERATION_INVALID,
        ErrorDomain.TEST,
        "Requested operation is not valid: Network 'default' is already running",
    )
    await raises(
        d.network_undefine(ref),
        ErrorCode.OPERATION_INVALID,
        ErrorDomain.TEST,
        "Requested operation is not valid: Network 'default' is still running",
    )
    await raises(
        d.network_get_xml_desc(ref, 1),
        ErrorCode.INVALID_ARG,
        ErrorDomain.TEST,
        "unsupported flags (0x1) in function testNetworkGetXMLDesc",
    )
    await d.network_destroy(ref)
    await d.network_destroy(ref)  # the test driver does not mind
    t = await d.network_create_xml(net_xml("t"))
    await d.network_set_autostart(t, True)  # accepted on a transient network
    assert await d.network_get_autostart(t)
    # no bridge name filled in
    await raises(
        d.network_get_bridge_name(t),
        ErrorCode.INTERNAL_ERROR,
        ErrorDomain.TEST,
        "internal error: network 't' does not have a bridge name.",
    )
    # handles resolve by name
    stale = NetworkRef("gone", t.uuid)
    await raises(
        d.network_get_xml_desc(stale, 0),
        ErrorCode.NO_NETWORK,
        ErrorDomain.TEST,
        "Network not found: no network with matching name 'gone'",
    )


async def test_test_flavor_never_applies_a_redefinition_made_while_running(
    test_drv: NetworkService,
) -> None:
    d = test_drv
    ref = await d.network_lookup_by_name("default")
    xml = (await d.network_get_xml_desc(ref, 0)).replace("192.168.122", "192.168.123")
    await d.network_define_xml(xml)
    await d.network_destroy(ref)
    await d.network_create(ref)
    assert "192.168.122.1" in await d.network_get_xml_desc(ref, 0)


# -- listing -------------------------------------------------------------------


async def test_list_filters(drv: NetworkService) -> None:
    inactive = await drv.network_define_xml(net_xml("inactive", U1))
    transient = await drv.network_create_xml(net_xml("transient", U2, ip(5)))
    default = await drv.network_lookup_by_name("default")

    async def names(flags: int) -> list[str]:
        return [ref.name for ref in await drv.connect_list_all_networks(flags)]

    assert await names(0) == ["default", "inactive", "transient"]
    assert await names(ListFlags.ACTIVE) == ["default", "transient"]
    assert await names(ListFlags.INACTIVE) == ["inactive"]
    assert await names(ListFlags.ACTIVE | ListFlags.INACTIVE) == await names(0)
    assert await names(ListFlags.PERSISTENT) == ["default", "inactive"]
    assert await names(ListFlags.TRANSIENT) == ["transient"]
    assert await names(ListFlags.AUTOSTART) == ["default"]
    assert await names(ListFlags.NO_AUTOSTART) == ["inactive", "transient"]
    assert await names(ListFlags.ACTIVE | ListFlags.NO_AUTOSTART) == ["transient"]
    assert await drv.connect_num_of_networks() == 2
    assert await drv.connect_list_networks(16) == ["default", "transient"]
    assert await drv.connect_list_networks(1) == ["default"]
    assert await drv.connect_num_of_defined_networks() == 1
    assert await drv.connect_list_defined_networks(0) == []
    assert await drv.connect_list_defined_networks(5) == ["inactive"]
    assert {inactive, transient, default} == set(await drv.connect_list_all_networks(0))
    await raises(
        drv.connect_list_all_networks(64),
        ErrorCode.INVALID_ARG,
        ErrorDomain.NETWORK,
        "unsupported flags (0x40) in function networkConnectListAllNetworks",
    )


@pytest.mark.parametrize(
    ("call", "function"),
    [
        (lambda d, r: d.network_get_xml_desc(r, 0x101), "networkGetXMLDesc"),
        (lambda d, r: d.network_define_xml_flags(net_xml("x"), 2), "networkDefineXMLFlags"),
        (lambda d, r: d.network_create_xml_flags(net_xml("x"), 2), "networkCreateXMLFlags"),
        (lambda d, r: d.network_update(r, 3, 4, -1, "<host/>", 4), "networkUpdate"),
        (lambda d, r: d.network_get_dhcp_leases(r, None, 1), "networkGetDHCPLeases"),
        (lambda d, r: d.network_list_all_ports(r, 1), "networkListAllPorts"),
        (lambda d, r: d.network_port_create_xml(r, "", 4), "networkPortCreateXML"),
    ],
)
async def test_unknown_flags(drv: NetworkService, call: Any, function: str) -> None:
    ref = await drv.network_lookup_by_name("default")
    with pytest.raises(VirError) as info:
        await call(drv, ref)
    err = info.value
    assert (err.code, err.domain, err.str1, err.str2) == (
        ErrorCode.INVALID_ARG,
        ErrorDomain.NETWORK,
        function,
        "flags",
    )
    assert err.message.endswith(f"in function {function}")


async def test_negative_maxnames(drv: NetworkService) -> None:
    with pytest.raises(VirError) as info:
        await drv.connect_list_networks(-1)
    assert info.value.code == ErrorCode.INVALID_ARG


# -- events --------------------------------------------------------------------


async def test_lifecycle_events(drv: NetworkService) -> None:
    everything, only_n1 = Events(), Events()
    assert await drv.connect_network_event_register_any(0, None, everything) == 0
    n1 = await drv.network_define_xml(net_xml("n1", U1, ip(1)))
    assert await drv.connect_network_event_register_any(0, n1, only_n1) == 1
    await drv.network_create(n1)
    await drv.network_create_xml(net_xml("t", U2, ip(2)))
    await drv.network_destroy(await drv.network_lookup_by_name("t"))
    await drv.network_destroy(n1)
    await drv.network_undefine(n1)
    assert everything.seen == [
        (0, "n1", 0, 0),
        (0, "n1", 2, 0),
        (0, "t", 2, 0),
        (0, "t", 3, 0),
        (0, "n1", 3, 0),
        (0, "n1", 1, 0),
    ]
    assert only_n1.seen == [(1, "n1", 2, 0), (1, "n1", 3, 0), (1, "n1", 1, 0)]
    await drv.connect_network_event_deregister_any(0)
    await drv.network_define_xml(net_xml("n1", U1))
    assert len(everything.seen) == 6
    await raises(
        drv.connect_network_event_deregister_any(0),
        ErrorCode.INVALID_ARG,
        ErrorDomain.NONE,
        "invalid argument: could not find event callback 0 for deletion",
    )
    assert await drv.connect_network_event_register_any(0, None, everything) == 2


async def test_failing_callback_does_not_break_others(drv: NetworkService) -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("callback bug")

    good = Events()
    await drv.connect_network_event_register_any(0, None, boom)
    await drv.connect_network_event_register_any(0, None, good)
    ref = await drv.network_define_xml(net_xml("n1", U1))
    assert good.seen == [(1, "n1", 0, 0)]
    assert await drv.network_is_persistent(ref)


async def test_unknown_event_id(drv: NetworkService) -> None:
    await raises(
        drv.connect_network_event_register_any(1, None, Events()),
        ErrorCode.INVALID_ARG,
        ErrorDomain.NETWORK,
        "invalid argument: eventID in virConnectNetworkEventRegisterAny must be less than 1",
    )


# -- update --------------------------------------------------------------------

HOST = "<host mac='52:54:00:00:00:09' ip='192.168.122.9'/>"


async def test_update_current_live_config(drv: NetworkService) -> None:
    ref = await drv.network_lookup_by_name("default")
    await drv.network_update(ref, 3, 4, -1, HOST, 0)  # current = live on a running network
    assert "192.168.122.9" in await drv.network_get_xml_desc(ref, 0)
    assert "192.168.122.9" not in await drv.network_get_xml_desc(ref, 1)
    host2 = HOST.replace(":09", ":0a").replace(".9'", ".10'")
    await drv.network_update(ref, 3, 4, -1, host2, UpdateFlags.AFFECT_CONFIG)
    assert "192.168.122.10" in await drv.network_get_xml_desc(ref, 1)
    assert "192.168.122.10" not in await drv.network_get_xml_desc(ref, 0)
    await drv.network_destroy(ref)
    await drv.network_update(ref, 2, 4, -1, host2, 0)  # current = config when inactive
    assert "192.168.122.10" not in await drv.network_get_xml_desc(ref, 0)
    await raises(
        drv.network_update(ref, 3, 4, -1, HOST, UpdateFlags.AFFECT_LIVE),
        ErrorCode.OPERATION_INVALID,
        ErrorDomain.NETWORK,
        "Requested operation is not valid: network is not running",
    )


async def test_update_config_of_transient_refused(drv: NetworkService) -> None:
    ref = await drv.network_create_xml(
        net_xml("t", U1, "<ip address='10.9.9.1' prefix='24'><dhcp/></ip>")
    )
    await raises(
        drv.network_update(ref, 3, 4, -1, HOST, UpdateFlags.AFFECT_CONFIG),
        ErrorCode.OPERATION_INVALID,
        ErrorDomain.NETWORK,
        "Requested operation is not valid: cannot change persistent config of a transient network",
    )


async def test_failed_update_keeps_definition(drv: NetworkService) -> None:
    ref = await drv.network_lookup_by_name("default")
    live = await drv.network_get_xml_desc(ref, 0)
    config = await drv.network_get_xml_desc(ref, 1)
    with pytest.raises(VirError) as info:
        await drv.network_update(ref, 3, 4, -1, "<txt name='x'/>", 3)
    assert info.value.code == ErrorCode.XML_ERROR
    assert await drv.network_get_xml_desc(ref, 0) == live
    assert await drv.network_get_xml_desc(ref, 1) == config


# -- concurrency ---------------------------------------------------------------


async def test_concurrent_defines_of_one_name(drv: NetworkService) -> None:
    xmls = [net_xml("race", str(uuid.uuid4())) for _ in range(10)]
    results = await asyncio.gather(
        *(drv.network_define_xml(x) for x in xmls), return_exceptions=True
    )
    assert sum(isinstance(r, NetworkRef) for r in results) == 1
    assert all(
        isinstance(r, NetworkRef) or (isinstance(r, VirError) and r.code == 9) for r in results
    )


async def test_concurrent_creates_get_distinct_bridges(drv: NetworkService) -> None:
    refs = await asyncio.gather(
        *(drv.network_create_xml(net_xml(f"c{i}", extra=ip(i))) for i in range(8))
    )
    bridges = {await drv.network_get_bridge_name(r) for r in refs}
    assert len(bridges) == 8 and "virbr0" not in bridges
