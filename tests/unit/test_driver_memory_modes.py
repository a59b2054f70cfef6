"""NetworkService (network flavor) with the forward modes that use the host's
devices, and the bridge driver's checks of the newer network XML parts; the
same behaviour is compared with libvirtd in tests/integration/test_virsh.py."""

from __future__ import annotations

import pytest

from rpcnet.driver.backend import NullBackend
from rpcnet.driver.base import PortCreateFlags, UpdateFlags
from rpcnet.driver.service import NetworkService
from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.netxml import PciAddress
from rpcnet.protocol.values import NetworkRef, ParamType, PortRef, TypedParam

OWNER = "<owner><name>vm1</name><uuid>aaaaaaaa-2222-4333-8444-555555555555</uuid></owner>"
VF1 = PciAddress(bus=3, slot=16, function=1)
VF2 = PciAddress(bus=3, slot=16, function=3)


def port_xml(index: int, extra: str = "") -> str:
    return (
        f"<networkport><uuid>11111111-2222-4333-8444-55555555555{index}</uuid>{OWNER}"
        f"<mac address='52:54:00:aa:bb:0{index}'/>{extra}</networkport>"
    )


class FakeSriov(NullBackend):
    """A host whose eth0 has two virtual functions, the second without a netdev."""

    def virtual_functions(self, pf: str) -> list[tuple[PciAddress, str | None]]:
        return [(VF1, "eth0v1"), (VF2, None)] if pf == "eth0" else []

    def is_virtual_function(self, addr: PciAddress) -> bool:
        return addr in (VF1, VF2)


@pytest.fixture
async def drv() -> NetworkService:
    return await NetworkService.open("network", backend=FakeSriov())


async def error_of(call: object) -> VirError:
    with pytest.raises(VirError) as info:
        await call  # type: ignore[misc]
    return info.value


async def start(drv: NetworkService, body: str, attrs: str = "") -> NetworkRef:
    ref = await drv.network_define_xml_flags(f"<network{attrs}><name>n</name>{body}</network>", 0)
    await drv.network_create(ref)
    return ref


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "<forward mode='private'><interface dev='eth1'/></forward>"
            "<mac address='52:54:00:00:00:01'/>",
            "Unsupported <mac> element in network n with forward mode='private'",
        ),
        (
            "<forward mode='bridge'/><bridge name='br0'/><ip address='10.0.0.1' prefix='24'/>",
            "Unsupported <ip> element in network n with forward mode='bridge'",
        ),
        (
            "<forward mode='vepa'><interface dev='eth1'/></forward>"
            "<bandwidth><inbound average='1'/></bandwidth>",
            "Unsupported network-wide <bandwidth> element in network n with forward mode='vepa'",
        ),
        (
            "<forward mode='hostdev'><interface dev='eth1'/></forward>",
            "hostdev network 'n' lists 'eth1' in the device pool, but hostdev networks require "
            "all devices to be listed by PCI address, not network device name",
        ),
        (
            "<forward mode='hostdev'><address type='pci' bus='9' slot='1'/></forward>",
            "device '/sys/bus/pci/devices/0000:09:01.0' in network 'n' is not an SR-IOV "
            "Virtual Function",
        ),
        (
            "<forward mode='passthrough'><address type='pci' bus='3' slot='16' function='1'/>"
            "</forward>",
            # libvirt 9.0's message has the two blanks
            "network 'n' has forward mode 'passthrough'  but lists a device by PCI address in "
            "the device pool. This is only supported for networks with forward mode 'hostdev'",
        ),
        (
            "<bridge name='vb9'/><vlan><tag id='3'/></vlan>",
            "<vlan> element specified for network n, whose type doesn't support vlan "
            "configuration",
        ),
        (
            "<portgroup name='a' default='yes'/><portgroup name='b' default='yes'/>",
            "network 'n' has multiple default <portgroup> elements (a and b), but only one "
            "default is allowed",
        ),
        (
            "<forward mode='hostdev'/><portgroup name='a'><bandwidth><inbound average='1'/>"
            "</bandwidth></portgroup>",
            "Unsupported <bandwidth> element in network 'n' in portgroup 'a' with forward "
            "mode='hostdev'",
        ),
    ],
)
async def test_bridge_driver_refuses(drv: NetworkService, body: str, message: str) -> None:
    xml = f"<network><name>n</name>{body}</network>"
    err = await error_of(drv.network_define_xml_flags(xml, 0))
    assert (err.code, err.message) == (
        ErrorCode.CONFIG_UNSUPPORTED,
        f"unsupported configuration: {message}",
    )


async def test_direct_ports_take_the_least_used_device(drv: NetworkService) -> None:
    ref = await start(
        drv,
        "<forward mode='vepa'><interface dev='eth1'/><interface dev='eth2'/></forward>"
        "<port isolated='yes'/>",
        " trustGuestRxFilters='yes'",
    )
    refs = [await drv.network_port_create_xml(ref, port_xml(i), 0) for i in (1, 2, 3)]
    xml = await drv.network_port_get_xml_desc(refs[2], 0)
    assert xml.endswith(
        "  <port isolated='yes'/>\n"
        "  <rxfilters trustGuest='yes'/>\n  <plug type='direct' dev='eth1' mode='vepa'/>\n"
        "</networkport>\n"
    )
    live = await drv.network_get_xml_desc(ref, 0)
    assert live.startswith("<network connections='3' trustGuestRxFilters='yes'>")
    assert "<interface dev='eth1' connections='2'/>" in live
    assert "connections" not in await drv.network_get_xml_desc(ref, 1)
    await drv.network_port_delete(refs[0], 0)
    assert "<interface dev='eth1' connections='1'/>" in await drv.network_get_xml_desc(ref, 0)
    # a running network's update starts the counts afresh, as libvirt's copy does
    await drv.network_update(
        ref, 3, 7, -1, "<interface dev='eth3'/>", UpdateFlags.AFFECT_LIVE
    )
    assert "connections" not in await drv.network_get_xml_desc(ref, 0)


async def test_exclusive_modes_need_an_unused_device(drv: NetworkService) -> None:
    ref = await start(drv, "<forward mode='passthrough'><interface dev='eth1'/></forward>")
    await drv.network_port_create_xml(ref, port_xml(1), 0)
    err = await error_of(drv.network_port_create_xml(ref, port_xml(2), 0))
    assert err.message == (
        "internal error: network 'n' requires exclusive access to interfaces, "
        "but none are available"
    )


async def test_pf_pools_come_from_its_virtual_functions(drv: NetworkService) -> None:
    ref = await start(drv, "<forward mode='hostdev' managed='yes'><pf dev='eth0'/></forward>")
    assert "<pf dev='eth0'/>" in await drv.network_get_xml_desc(ref, 0)
    port = await drv.network_port_create_xml(ref, port_xml(1), 0)
    assert (await drv.network_port_get_xml_desc(port, 0)).endswith(
        "  <plug type='hostdev-pci' managed='yes'>\n"
        "    <address domain='0x0000' bus='0x03' slot='0x10' function='0x1'/>\n"
        "  </plug>\n</networkport>\n"
    )
    second = await drv.network_port_create_xml(ref, port_xml(2), 0)
    assert "function='0x3'" in await drv.network_port_get_xml_desc(second, 0)
    await error_of(drv.network_port_create_xml(ref, port_xml(3), 0))
    direct = await drv.network_create_xml(
        "<network><name>d</name><forward mode='passthrough'><pf dev='eth0'/></forward></network>"
    )
    plugged = await drv.network_port_create_xml(direct, port_xml(4), 0)
    assert "<plug type='direct' dev='eth0v1' mode='passthrough'/>" in (
        await drv.network_port_get_xml_desc(plugged, 0)
    )
    err = await error_of(
        drv.network_create_xml(
            "<network><name>e</name><forward mode='vepa'><pf dev='eth5'/></forward></network>"
        )
    )
    assert err.message == "internal error: No usable Vf's present on SRIOV PF eth5"


async def test_reclaimed_ports_must_fit_the_pool(drv: NetworkService) -> None:
    ref = await start(drv, "<forward mode='private'><interface dev='eth1'/></forward>")
    plug = "<plug type='direct' dev='eth1' mode='private'/>"
    port = await drv.network_port_create_xml(ref, port_xml(1, plug), PortCreateFlags.RECLAIM)
    assert isinstance(port, PortRef)
    assert "<interface dev='eth1' connections='1'/>" in await drv.network_get_xml_desc(ref, 0)
    pci = "<plug type='hostdev-pci'><address domain='0' bus='3' slot='16' function='1'/></plug>"
    err = await error_of(
        drv.network_port_create_xml(ref, port_xml(2, pci), PortCreateFlags.RECLAIM)
    )
    assert err.message == (
        "internal error: network 'n' doesn't have PCI device 0000:03:10.1 in use by network port"
    )


async def test_virtualports_merge_and_are_checked(drv: NetworkService) -> None:
    ref = await start(
        drv,
        "<forward mode='bridge'/><bridge name='ovsbr0'/><virtualport type='openvswitch'/>"
        "<portgroup name='pg' default='yes'><virtualport><parameters profileid='web'/>"
        "</virtualport></portgroup>",
    )
    port = await drv.network_port_create_xml(ref, port_xml(1), 0)
    xml = await drv.network_port_get_xml_desc(port, 0)
    assert "<virtualport type='openvswitch'>\n    <parameters interfaceid='" in xml
    assert "profileid='web'/>" in xml and "<plug type='bridge' bridge='ovsbr0'/>" in xml
    nat = await drv.network_create_xml(
        "<network><name>v</name><forward mode='nat'/><bridge name='vb5'/>"
        "<virtualport type='openvswitch'/><ip address='10.5.0.1' prefix='24'/></network>"
    )
    err = await error_of(drv.network_port_create_xml(nat, port_xml(2), 0))
    assert err.message == (
        "unsupported configuration: <virtualport type='openvswitch'> not supported for "
        "network 'v' which uses IP forwarding"
    )


async def test_running_nat_networks_show_the_masquerade_ports(drv: NetworkService) -> None:
    ref = await start(
        drv,
        "<forward mode='nat'/><bridge name='vb1'/>"
        "<ip family='ipv6' address='fd00::1' prefix='64'/>",
    )
    assert "<forward mode='nat'/>" in await drv.network_get_xml_desc(ref, 0)
    await drv.network_destroy(ref)
    await drv.network_undefine(ref)
    ref = await start(
        drv,
        "<forward mode='nat'><nat ipv6='yes'/></forward><bridge name='vb1'/>"
        "<ip family='ipv6' address='fd00::1' prefix='64'/>",
    )
    assert "<nat ipv6='yes'>\n      <port start='1024' end='65535'/>" in (
        await drv.network_get_xml_desc(ref, 0)
    )


async def test_a_firewalld_zone_cannot_be_honoured(drv: NetworkService) -> None:
    ref = await drv.network_define_xml_flags(
        "<network><name>z</name><bridge name='vb2' zone='trusted'/></network>", 0
    )
    err = await error_of(drv.network_create(ref))
    assert (err.domain, err.message) == (
        ErrorDomain.NONE,
        "internal error: zone trusted requested for network z but firewalld is not active",
    )


async def test_port_floors_share_the_network_inbound_qos(drv: NetworkService) -> None:
    ref = await start(
        drv,
        "<forward mode='nat'/><bridge name='vb3'/><bandwidth><inbound average='100'/>"
        "</bandwidth><ip address='10.3.0.1' prefix='24'/>",
    )
    floor = "<bandwidth><inbound average='10' floor='60'/></bandwidth>"
    port = await drv.network_port_create_xml(ref, port_xml(1, floor), 0)
    assert "<bandwidth classID='3'>" in await drv.network_port_get_xml_desc(port, 0)
    err = await error_of(drv.network_port_create_xml(ref, port_xml(2, floor), 0))
    assert err.message == (
        "Requested operation is not valid: Cannot plug '52:54:00:aa:bb:02' interface into "
        "'vb3' because new combined inbound floor=120 would overcommit average=100 on "
        "network 'n'"
    )
    lower = [TypedParam("inbound.average", ParamType.UINT, 10)]
    await drv.network_port_set_parameters(port, lower, 0)
    assert "classID" not in await drv.network_port_get_xml_desc(port, 0)
    await drv.network_port_create_xml(ref, port_xml(2, floor), 0)
