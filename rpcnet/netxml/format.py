"""NetworkDef -> XML text exactly as ``virsh net-dumpxml`` prints it.

libvirt writes single-quoted attributes with a two-space indent, which
lxml's serializer cannot produce, so this module writes the text itself
with libvirt's escaping; :func:`element` is the one place that does it.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import DhcpHost, DnsDef, ForwardDef, IpDef, NetworkDef, PortgroupDef, RouteDef

_ESCAPES = str.maketrans({"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;"})

Attrs = Iterable[tuple[str, object | None]]


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def _attrs(attrs: Attrs) -> str:
    return "".join(f" {key}='{escape(str(value))}'" for key, value in attrs if value is not None)


def element(indent: int, tag: str, attrs: Attrs = (), body: list[str] | None = None) -> list[str]:
    """Lines of one element: self-closing when ``body`` is None, else open,
    the body lines, close."""
    pad = "  " * indent
    if body is None:
        return [f"{pad}<{tag}{_attrs(attrs)}/>"]
    return [f"{pad}<{tag}{_attrs(attrs)}>", *body, f"{pad}</{tag}>"]


def text_element(indent: int, tag: str, text: str) -> str:
    return f"{'  ' * indent}<{tag}>{escape(text)}</{tag}>"


def yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def format_network(net: NetworkDef) -> str:
    """The XML libvirt gives for ``net``, ending in a newline."""
    lines = [text_element(1, "name", net.name)]
    if net.uuid is not None:
        lines.append(text_element(1, "uuid", str(net.uuid)))
    if net.metadata is not None:
        lines.append(net.metadata)
    if net.forward is not None:
        lines += _forward(net.forward)
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
    for ip in net.ips:
        lines += _ip(ip)
    for route in net.routes:
        lines += _route(route)
    for group in net.portgroups:
        lines += _portgroup(group)
    head = f"<network{_attrs([('ipv6', 'yes' if net.ipv6 else None)])}>"
    return "\n".join([head, *lines, "</network>", ""])


def _forward(fwd: ForwardDef) -> list[str]:
    body: list[str] = []
    if fwd.mode == "nat" and (fwd.has_nat or fwd.nat_ipv6 is not None):
        nat: list[str] = []
        if fwd.nat_address_start is not None:
            nat += element(
                3, "address", [("start", fwd.nat_address_start), ("end", fwd.nat_address_end)]
            )
        if fwd.nat_port_start is not None:
            nat += element(3, "port", [("start", fwd.nat_port_start), ("end", fwd.nat_port_end)])
        body += element(2, "nat", [("ipv6", yes_no(fwd.nat_ipv6))], nat or None)
    for dev in fwd.interfaces:
        body += element(2, "interface", [("dev", dev)])
    return element(1, "forward", [("dev", fwd.dev), ("mode", fwd.mode)], body or None)


def _bridge(net: NetworkDef) -> list[str]:
    bridge = net.bridge
    name = bridge.name if bridge is not None else None
    if net.forward is not None and net.forward.mode == "bridge":
        return element(1, "bridge", [("name", name)]) if name else []
    stp = bridge.stp if bridge is not None else True
    delay = bridge.delay if bridge is not None else 0
    return element(1, "bridge", [("name", name), ("stp", "on" if stp else "off"), ("delay", delay)])


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
    return element(1, "dns", [("enable", yes_no(dns.enable))], body or None)


def dhcp_host_attrs(host: DhcpHost) -> list[tuple[str, object | None]]:
    return [("mac", host.mac), ("id", host.id), ("name", host.name), ("ip", host.ip)]


def _ip(ip: IpDef) -> list[str]:
    attrs = [
        ("family", ip.family if ip.family_explicit else None),
        ("address", ip.address),
        ("netmask", ip.netmask),
        ("prefix", ip.prefix),
    ]
    body: list[str] = []
    if ip.has_dhcp:
        dhcp: list[str] = []
        for rng in ip.dhcp_ranges:
            dhcp += element(3, "range", [("start", rng.start), ("end", rng.end)])
        for host in ip.dhcp_hosts:
            dhcp += element(3, "host", dhcp_host_attrs(host))
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


_RATE_FIELDS = ("average", "peak", "floor", "burst")


def _portgroup(group: PortgroupDef) -> list[str]:
    attrs = [
        ("name", group.name),
        ("default", "yes" if group.default else None),
        ("trustGuestRxFilters", yes_no(group.trust_guest_rx_filters)),
    ]
    body: list[str] = []
    vlan = group.vlan
    if vlan is not None:
        tags: list[str] = []
        for tag in vlan.tags:
            native = vlan.native_mode if tag == vlan.native_tag else None
            tags += element(3, "tag", [("id", tag), ("nativeMode", native)])
        body += element(2, "vlan", [("trunk", "yes" if vlan.trunk else None)], tags)
    if group.bandwidth is not None:
        rates: list[str] = []
        for direction in ("inbound", "outbound"):
            rate = getattr(group.bandwidth, direction)
            # libvirt skips a direction whose average (and floor) is 0
            if rate is not None and (rate.average or rate.floor):
                values = [(f, getattr(rate, f) or None) for f in _RATE_FIELDS]
                rates += element(3, direction, values)
        body += element(2, "bandwidth", body=rates)
    # like <ip>, libvirt always writes <portgroup> open and closed
    return element(1, "portgroup", attrs, body)
