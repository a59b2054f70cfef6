"""NetworkDef -> XML text exactly as ``virsh net-dumpxml`` prints it.

libvirt writes single-quoted attributes with a two-space indent, which
lxml's serializer cannot produce, so this module writes the text itself
with libvirt's escaping; :func:`element` is the one place that does it.
"""

from __future__ import annotations

from collections.abc import Mapping

from rpcnet.vocabulary import ForwardMode, makes_bridge

from .model import (
    DhcpHost,
    DhcpRange,
    DnsDef,
    ForwardDef,
    IpDef,
    LeaseDef,
    NetworkDef,
    PciAddress,
    PortgroupDef,
    RouteDef,
)
from .netdev import format_bandwidth, format_virtualport, format_vlan
from .xmlutil import Attrs, attrs_text, element, escape, text_element

__all__ = ["Attrs", "element", "escape", "format_network", "text_element", "yes_no"]

def yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def format_network(
    net: NetworkDef,
    *,
    connections: int = 0,
    device_connections: Mapping[str, int] | None = None,
    inactive: bool = False,
) -> str:
    """The XML libvirt gives for ``net``, ending in a newline.

    ``connections`` (ports on the network) and ``device_connections`` (ports
    per forward interface) are printed as a running network's are; leave
    them out for the persistent definition. ``inactive`` is libvirt's
    VIR_NETWORK_XML_INACTIVE: a network naming a PF then leaves its pool of
    interfaces out.
    """
    head = attrs_text(
        [
            ("connections", connections or None),
            ("ipv6", "yes" if net.ipv6 else None),
            ("trustGuestRxFilters", yes_no(net.trust_guest_rx_filters)),
        ]
    )
    lines = [text_element(1, "name", net.name)]
    if net.uuid is not None:
        lines.append(text_element(1, "uuid", str(net.uuid)))
    if net.metadata is not None:
        lines.append(net.metadata)
    if net.forward is not None:
        lines += _forward(net.forward, device_connections or {}, inactive)
    lines += _bridge(net)
    if net.mtu is not None:
        lines += element(1, "mtu", [("size", net.mtu)])
    if net.mac is not None:
        lines += element(1, "mac", [("address", net.mac)])
    if net.domain is not None:
        lines += element(
            1, "domain", [("name", net.domain.name), ("localOnly", yes_no(net.domain.local_only))]
        )
    if net.dns is not None and not net.dns.is_empty:
        lines += _dns(net.dns)
    lines += format_vlan(1, net.vlan)
    lines += format_bandwidth(1, net.bandwidth)
    if net.port_isolated is not None:
        lines += element(1, "port", [("isolated", yes_no(net.port_isolated))])
    for ip in net.ips:
        lines += _ip(ip)
    for route in net.routes:
        lines += _route(route)
    lines += format_virtualport(1, net.virtualport)
    for group in net.portgroups:
        lines += _portgroup(group)
    return "\n".join([f"<network{head}>", *lines, "</network>", ""])


def pci_address_attrs(addr: PciAddress, *, with_type: bool = True) -> Attrs:
    """libvirt prints the function with %d after its '0x'."""
    return [
        ("type", "pci" if with_type else None),
        ("domain", f"0x{addr.domain:04x}"),
        ("bus", f"0x{addr.bus:02x}"),
        ("slot", f"0x{addr.slot:02x}"),
        ("function", f"0x{addr.function}"),
    ]


def _forward(fwd: ForwardDef, device_connections: Mapping[str, int], inactive: bool) -> list[str]:
    body: list[str] = []
    if fwd.driver is not None:
        body += element(2, "driver", [("name", fwd.driver)])
    if fwd.mode is ForwardMode.NAT and (fwd.has_nat or fwd.nat_ipv6 is not None):
        nat: list[str] = []
        if fwd.nat_address_start is not None:
            nat += element(
                3, "address", [("start", fwd.nat_address_start), ("end", fwd.nat_address_end)]
            )
        if fwd.nat_port_start is not None:
            nat += element(3, "port", [("start", fwd.nat_port_start), ("end", fwd.nat_port_end)])
        body += element(2, "nat", [("ipv6", yes_no(fwd.nat_ipv6))], nat or None)
    if fwd.pf is not None:
        body += element(2, "pf", [("dev", fwd.pf)])
    for addr in fwd.addresses:
        body += element(2, "address", pci_address_attrs(addr))
    for dev in fwd.interfaces if fwd.pf is None or not inactive else ():
        used = device_connections.get(dev, 0)
        body += element(2, "interface", [("dev", dev), ("connections", used or None)])
    managed = yes_no(fwd.managed) if fwd.mode is ForwardMode.HOSTDEV else None
    attrs = [("dev", fwd.dev), ("mode", fwd.mode), ("managed", managed)]
    return element(1, "forward", attrs, body or None)


def _bridge(net: NetworkDef) -> list[str]:
    bridge = net.bridge
    name = bridge.name if bridge is not None else None
    manager = bridge.mac_table_manager if bridge is not None else None
    if not makes_bridge(net.forward_mode):
        if not (name or manager):
            return []
        return element(1, "bridge", [("name", name), ("macTableManager", manager)])
    zone = bridge.zone if bridge is not None else None
    stp = bridge.stp if bridge is not None else True
    delay = bridge.delay if bridge is not None else 0
    attrs = [
        ("name", name),
        ("zone", zone),
        ("stp", "on" if stp else "off"),
        ("delay", delay),
        ("macTableManager", manager),
    ]
    return element(1, "bridge", attrs)


def _dns(dns: DnsDef) -> list[str]:
    body: list[str] = []
    for fwd in dns.forwarders:
        body += element(2, "forwarder", [("domain", fwd.domain), ("addr", fwd.addr)])
    for txt in dns.txts:
        body += element(2, "txt", [("name", txt.name), ("value", txt.value)])
    for srv in dns.srvs:
        body += element(
            2,
            "srv",
            [
                ("service", srv.service),
                ("protocol", srv.protocol),
                ("domain", srv.domain),
                ("target", srv.target),
                ("port", srv.port),
                ("priority", srv.priority),
                ("weight", srv.weight),
            ],
        )
    for host in dns.hosts:
        names = [text_element(3, "hostname", name) for name in host.hostnames]
        body += element(2, "host", [("ip", host.ip)], names)
    attrs = [("enable", yes_no(dns.enable)), ("forwardPlainNames", yes_no(dns.forward_plain_names))]
    return element(1, "dns", attrs, body or None)


def dhcp_host_attrs(host: DhcpHost) -> list[tuple[str, object | None]]:
    return [("mac", host.mac), ("id", host.id), ("name", host.name), ("ip", host.ip)]


def _lease(indent: int, lease: LeaseDef | None) -> list[str] | None:
    """The body of a range or host: None (self-closing) without a lease."""
    if lease is None:
        return None
    unit = lease.unit if lease.expiry else None
    return element(indent, "lease", [("expiry", lease.expiry), ("unit", unit)])


def dhcp_range_lines(indent: int, rng: DhcpRange) -> list[str]:
    return element(
        indent, "range", [("start", rng.start), ("end", rng.end)], _lease(indent + 1, rng.lease)
    )


def dhcp_host_lines(indent: int, host: DhcpHost) -> list[str]:
    return element(indent, "host", dhcp_host_attrs(host), _lease(indent + 1, host.lease))


def _ip(ip: IpDef) -> list[str]:
    attrs = [
        ("family", ip.family if ip.family_explicit else None),
        ("address", ip.address),
        ("netmask", ip.netmask),
        ("prefix", ip.prefix),
        ("localPtr", yes_no(ip.local_ptr)),
    ]
    body: list[str] = []
    if ip.tftp_root is not None:
        body += element(2, "tftp", [("root", ip.tftp_root)])
    if ip.has_dhcp:
        dhcp: list[str] = []
        for rng in ip.dhcp_ranges:
            dhcp += dhcp_range_lines(3, rng)
        for host in ip.dhcp_hosts:
            dhcp += dhcp_host_lines(3, host)
        if ip.bootp_file is not None:
            dhcp += element(3, "bootp", [("file", ip.bootp_file), ("server", ip.bootp_server)])
        body += element(2, "dhcp", body=dhcp)
    # libvirt always writes <ip> open and closed, even with nothing inside.
    return element(1, "ip", attrs, body)


def _route(route: RouteDef) -> list[str]:
    return element(
        1,
        "route",
        [
            ("family", route.family),
            ("address", route.address),
            ("netmask", route.netmask),
            ("prefix", route.prefix),
            ("gateway", route.gateway),
            ("metric", route.metric),
        ],
    )


def _portgroup(group: PortgroupDef) -> list[str]:
    attrs = [
        ("name", group.name),
        ("default", "yes" if group.default else None),
        ("trustGuestRxFilters", yes_no(group.trust_guest_rx_filters)),
    ]
    body = format_vlan(2, group.vlan)
    body += format_virtualport(2, group.virtualport)
    body += format_bandwidth(2, group.bandwidth)
    # like <ip>, libvirt always writes <portgroup> open and closed
    return element(1, "portgroup", attrs, body)
