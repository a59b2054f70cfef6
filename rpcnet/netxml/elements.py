"""Parsers for the network sub-elements that ``virNetworkUpdate`` also
accepts on their own: DHCP ranges and hosts (with their leases), DNS
hosts/TXT/SRV records and forward interfaces. Messages are libvirt's, word
for word."""

from __future__ import annotations

import dataclasses
import ipaddress
import re

from lxml import etree

from rpcnet.errors import ErrorCode, general_error, network_error

from ._errors import bad_attr_value
from .model import DhcpHost, DhcpRange, DnsHost, DnsSrv, DnsTxt, IPAddress, IpDef, LeaseDef
from .xmlutil import attr, children, parse_uint, strtoul, text_of

LEASE_UNITS = ("seconds", "minutes", "hours")

_MAC_RE = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")


def parse_ip_address(text: str | None) -> IPAddress | None:
    """An IPv4/IPv6 address, or None when ``text`` is absent or not one."""
    if text is None:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def normalize_mac(text: str) -> str | None:
    """``aa:bb:..`` in lower case with two digits a byte, or None if malformed."""
    if not _MAC_RE.match(text):
        return None
    return ":".join(f"{int(part, 16):02x}" for part in text.split(":"))


def is_multicast_mac(mac: str) -> bool:
    return bool(int(mac[:2], 16) & 1)


def check_range(start: IPAddress, end: IPAddress, ip: IpDef) -> None:
    """libvirt's range checks (family, order, inside the subnet), reported
    from its socket-address helpers, hence the NONE domain."""
    if start.version != end.version:
        raise general_error(
            ErrorCode.INTERNAL_ERROR, f"mismatch of address family in range {start} - {end}"
        )
    if start.version != ip.address.version:
        raise general_error(
            ErrorCode.INTERNAL_ERROR,
            f"mismatch of address family in range {start} - {end} for network {ip.address}",
        )
    if int(start) > int(end):
        raise general_error(ErrorCode.INTERNAL_ERROR, f"range {start} - {end} is reversed ")
    net = ip.network
    if start.version != net.version or start not in net or end not in net:
        raise general_error(
            ErrorCode.INTERNAL_ERROR,
            f"range {start} - {end} is not entirely within network "
            f"{ip.address}/{ip.effective_prefix}",
        )


def parse_dhcp_range(elem: etree._Element, net_name: str, ip: IpDef) -> DhcpRange:
    start_text, end_text = attr(elem, "start"), attr(elem, "end")
    if start_text is None:
        raise network_error(
            ErrorCode.XML_ERROR, f"Missing 'start' attribute in dhcp range for network '{net_name}'"
        )
    start = parse_ip_address(start_text)
    if start is None:
        raise network_error(
            ErrorCode.XML_ERROR,
            f"Invalid dhcp range 'start' address '{start_text}' in network '{net_name}'",
        )
    if end_text is None:
        raise network_error(
            ErrorCode.XML_ERROR, f"Missing 'end' attribute in dhcp range for network '{net_name}'"
        )
    end = parse_ip_address(end_text)
    if end is None:
        raise network_error(
            ErrorCode.XML_ERROR,
            f"Invalid dhcp range 'end' address '{end_text}' in network '{net_name}'",
        )
    check_range(start, end, ip)
    return DhcpRange(start=start, end=end, lease=_lease_of(elem))


def _lease_of(elem: etree._Element) -> LeaseDef | None:
    """The ``<lease>`` of a range or host (the last one counts, as in libvirt)."""
    lease = None
    for child in children(elem, "lease"):
        lease = parse_lease(child) or lease
    return lease


def parse_lease(elem: etree._Element) -> LeaseDef | None:
    """``<lease expiry unit>``: None without an expiry; 0 is an infinite lease."""
    text = attr(elem, "expiry")
    if text is None:
        return None
    expiry = strtoul(text, base=0, limit=2**64 - 1, negative=False)
    if expiry is None:
        raise bad_attr_value("expiry", "lease", text, "non-negative integer value")
    unit = attr(elem, "unit") or "minutes"
    if unit not in LEASE_UNITS:
        raise bad_attr_value("unit", "lease", unit)
    if expiry and ((unit == "seconds" and expiry < 120) or (unit == "minutes" and expiry < 2)):
        raise network_error(
            ErrorCode.CONFIG_UNSUPPORTED, "The minimum lease time should be greater than 2 minutes"
        )
    return LeaseDef(expiry=expiry, unit=unit)


def parse_dhcp(elem: etree._Element, net_name: str, ip: IpDef) -> IpDef:
    """``<dhcp>`` of ``ip``, read in document order as libvirt does; a
    ``<bootp>`` counts for IPv4 only, and only with a file (the last wins)."""
    ranges: list[DhcpRange] = []
    hosts: list[DhcpHost] = []
    bootp_file, bootp_server = ip.bootp_file, ip.bootp_server
    for child in elem:
        if child.tag == "range":
            ranges.append(parse_dhcp_range(child, net_name, ip))
        elif child.tag == "host":
            hosts.append(parse_dhcp_host(child, net_name, ip.family))
        elif child.tag == "bootp" and ip.family == "ipv4" and attr(child, "file") is not None:
            bootp_file = attr(child, "file")
            server_text = attr(child, "server")
            bootp_server = None
            if server_text is not None:
                bootp_server = _exact_address(server_text)
                if bootp_server is None:
                    raise general_error(
                        ErrorCode.SYSTEM_ERROR,
                        f"Cannot parse socket address '{server_text}': Name or service not known",
                    )
    return dataclasses.replace(
        ip,
        dhcp_ranges=tuple(ranges),
        dhcp_hosts=tuple(hosts),
        bootp_file=bootp_file,
        bootp_server=bootp_server,
    )


def _exact_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_dhcp_host(
    elem: etree._Element, net_name: str, family: str, *, partial: bool = False
) -> DhcpHost:
    """A ``<host>`` of ``<dhcp>``; ``partial`` (DELETE) lets any field be absent."""
    mac, host_id, name = attr(elem, "mac"), attr(elem, "id"), attr(elem, "name")
    if mac is not None:
        if family == "ipv6":
            raise network_error(
                ErrorCode.XML_ERROR,
                f"Invalid to specify MAC address '{mac}' in network '{net_name}' "
                "IPv6 static host definition",
            )
        normal = normalize_mac(mac)
        if normal is None:
            raise network_error(
                ErrorCode.XML_ERROR, f"Cannot parse MAC address '{mac}' in network '{net_name}'"
            )
        if is_multicast_mac(normal):
            raise network_error(
                ErrorCode.XML_ERROR,
                f"expected unicast mac address, found multicast '{mac}' in network '{net_name}'",
            )
    if name is not None and not name[:1].isalpha():
        raise network_error(
            ErrorCode.XML_ERROR, f"Cannot use host name '{name}' in network '{net_name}'"
        )
    ip_text = attr(elem, "ip")
    ip = parse_ip_address(ip_text)
    if ip_text is not None and ip is None:
        raise network_error(
            ErrorCode.XML_ERROR,
            f"Invalid IP address in static host definition for network '{net_name}'",
        )
    if not partial:
        if family == "ipv6" and host_id is None and name is None:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"Static host definition in IPv6 network '{net_name}' "
                "must have id or name attribute",
            )
        if family != "ipv6" and mac is None and name is None:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"Static host definition in IPv4 network '{net_name}' "
                "must have mac or name attribute",
            )
        if ip is None:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"Missing IP address in static host definition for network '{net_name}'",
            )
    return DhcpHost(mac=mac, id=host_id, name=name, ip=ip, lease=_lease_of(elem))


def parse_dns_host(elem: etree._Element, net_name: str, *, partial: bool = False) -> DnsHost:
    """A DNS ``<host>``; in ``partial`` mode a missing ip or hostname is allowed
    (the returned host then has the unspecified address ``0.0.0.0``)."""
    ip_text = attr(elem, "ip")
    ip = parse_ip_address(ip_text)
    if ip_text is not None and ip is None:
        raise network_error(
            ErrorCode.XML_DETAIL, f"Invalid IP address in network '{net_name}' DNS HOST record"
        )
    if ip is None and not partial:
        raise network_error(
            ErrorCode.XML_DETAIL, f"Missing IP address in network '{net_name}' DNS HOST record"
        )
    names = tuple((text_of(child) or "").strip() for child in children(elem, "hostname"))
    names = tuple(name for name in names if name)
    if not names and not partial:
        raise network_error(
            ErrorCode.XML_DETAIL, f"Missing hostname in network '{net_name}' DNS HOST record"
        )
    if ip is None and not names:
        raise network_error(
            ErrorCode.XML_DETAIL, f"Missing ip and hostname in network '{net_name}' DNS HOST record"
        )
    return DnsHost(ip=ip or ipaddress.IPv4Address(0), hostnames=names)


def parse_dns_txt(elem: etree._Element, net_name: str, *, partial: bool = False) -> DnsTxt:
    name, value = attr(elem, "name"), attr(elem, "value")
    if name is None:
        raise network_error(
            ErrorCode.XML_DETAIL,
            f"missing required name attribute in DNS TXT record of network {net_name}",
        )
    if " " in name or "," in name:
        raise network_error(
            ErrorCode.XML_DETAIL,
            f"prohibited character in DNS TXT record name '{name}' of network {net_name}",
        )
    if value is None and not partial:
        raise network_error(
            ErrorCode.XML_DETAIL,
            f"missing required value attribute in DNS TXT record named '{name}' "
            f"of network {net_name}",
        )
    return DnsTxt(name=name, value=value)


def parse_dns_srv(elem: etree._Element, net_name: str, *, partial: bool = False) -> DnsSrv:
    service, protocol = attr(elem, "service"), attr(elem, "protocol")
    if service is None and not partial:
        raise network_error(
            ErrorCode.XML_DETAIL,
            f"missing required service attribute in DNS SRV record of network '{net_name}'",
        )
    if protocol is None and not partial:
        raise network_error(
            ErrorCode.XML_DETAIL,
            f"missing required protocol attribute in DNS SRV record '{service}' "
            f"of network '{net_name}'",
        )
    target = attr(elem, "target")
    numbers: dict[str, int | None] = {}
    for field in ("port", "priority", "weight"):
        text = attr(elem, field)
        number = parse_uint(text)
        if text is not None and (number is None or number > 65535):
            raise network_error(
                ErrorCode.XML_DETAIL,
                f"invalid DNS SRV {field} attribute for service '{service}' "
                f"in network '{net_name}'",
            )
        if number is not None and target is None:
            raise network_error(
                ErrorCode.XML_DETAIL,
                f"DNS SRV {field} attribute not permitted without target for service "
                f"'{service}' in network '{net_name}'",
            )
        numbers[field] = number
    return DnsSrv(
        service=service,
        protocol=protocol,
        domain=attr(elem, "domain"),
        target=target,
        port=numbers["port"],
        priority=numbers["priority"],
        weight=numbers["weight"],
    )


def parse_forward_interface(elem: etree._Element) -> str:
    dev = attr(elem, "dev")
    if not dev:
        raise network_error(ErrorCode.XML_ERROR, "missing dev attribute in <interface> element")
    return dev
