"""Network XML text -> :class:`NetworkDef`, with libvirt's parse-time checks.

Elements libvirt 9.0 does not know are dropped, as libvirt drops them.
Elements and attributes libvirt knows but rpcnet does not model are refused
(CONFIG_UNSUPPORTED) rather than silently lost on the next dumpxml.
"""

from __future__ import annotations

import ipaddress
import uuid as uuidlib
from copy import deepcopy

from lxml import etree

from rpcnet.errors import ErrorCode, ErrorDomain, VirError

from ._errors import (
    NONE_DOMAIN,
    bad_attr_value,
    bad_root,
    config_unsupported,
    detail_error,
    internal,
    missing_name,
    xml_error,
)
from .elements import (
    is_multicast_mac,
    normalize_mac,
    parse_dhcp_host,
    parse_dhcp_range,
    parse_dns_host,
    parse_dns_srv,
    parse_dns_txt,
    parse_forward_interface,
    parse_ip_address,
)
from .model import (
    BridgeDef,
    DnsDef,
    DnsForwarder,
    DomainDef,
    ForwardDef,
    IpDef,
    NetworkDef,
    PortgroupDef,
    RouteDef,
    VlanDef,
)
from .port import parse_bandwidth
from .schema import validate_schema
from .validate import check_network
from .xmlutil import attr, children, parse_uint, parse_xml, text_of, uint_attr, yes_no

URL = "(network_definition)"

FORWARD_MODES = ("nat", "route", "open", "bridge", "private", "vepa", "passthrough", "hostdev")
SUPPORTED_MODES = ("nat", "route", "open", "bridge")
MODES_NEEDING_IP = ("nat", "route", "open")

# Known to libvirt, not modelled here: refused instead of dropped.
_UNSUPPORTED_CHILDREN = {
    "network": ("bandwidth", "virtualport", "vlan", "port"),
    "portgroup": ("virtualport",),
    "forward": ("pf", "address", "driver"),
    "ip": ("tftp",),
    "dhcp": ("bootp",),
    "range": ("lease",),
    "host": ("lease",),
}
_UNSUPPORTED_ATTRS = {
    "network": ("trustGuestRxFilters",),
    "bridge": ("macTableManager", "zone"),
    "domain": ("register",),
    "dns": ("forwardPlainNames",),
    "ip": ("localPtr",),
    "forward": ("managed", "trustGuestRxFilters"),
}


def parse_network(xml: str, *, validate: bool = False) -> NetworkDef:
    """Parse a ``<network>`` document.

    With ``validate`` the document must also pass libvirt's network schema
    (unknown elements and attributes refused, code XML_INVALID_SCHEMA).
    Raises :class:`~rpcnet.errors.VirError` with libvirt's code and message.
    """
    root = parse_xml(xml, URL)
    if root.tag != "network":
        raise bad_root("network", str(root.tag))
    if validate:
        validate_schema(root)
    metadata = None
    if root.find("metadata") is not None:  # re-read keeping comments, as libvirt does
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, huge_tree=False, strip_cdata=False
        )
        metadata = etree.fromstring(xml.encode("utf-8"), parser).find("metadata")
    net = network_from_element(root, metadata)
    check_network(net)
    return net


def network_from_element(
    root: etree._Element, metadata: etree._Element | None = None
) -> NetworkDef:
    """``metadata``: the ``<metadata>`` element to keep, when it should come
    from another parse of the document than ``root`` (one keeping comments)."""
    refuse_unsupported(root)
    name = _parse_name(root)
    net_uuid = _parse_uuid(root)
    ipv6 = _parse_ipv6(root, name)
    bridge = _parse_bridge(root.find("bridge"), name)
    mac = _parse_mac(root.find("mac"), name)
    mtu = _parse_mtu(root.find("mtu"), name)
    domain_elem = root.find("domain")
    domain = None
    if domain_elem is not None and attr(domain_elem, "name") is not None:
        domain = DomainDef(
            name=str(attr(domain_elem, "name")), local_only=yes_no(domain_elem, "localOnly")
        )
    dns_elem = root.find("dns")
    dns = _parse_dns(dns_elem, name) if dns_elem is not None else None
    ips = tuple(_parse_ip(elem, name) for elem in children(root, "ip"))
    routes = tuple(_parse_route(elem, name) for elem in children(root, "route"))
    _check_gateways(routes, ips, name)
    fwd_elem = root.find("forward")
    forward = _parse_forward(fwd_elem, name) if fwd_elem is not None else None
    _check_forward(forward, bridge, ips, name)
    portgroups = tuple(parse_portgroup(elem) for elem in children(root, "portgroup"))
    if metadata is None:
        metadata = root.find("metadata")
    return NetworkDef(
        name=name,
        uuid=net_uuid,
        forward=forward,
        bridge=bridge,
        mtu=mtu,
        mac=mac,
        domain=domain,
        dns=None if dns is None or dns.is_empty else dns,
        ips=ips,
        routes=routes,
        portgroups=portgroups,
        ipv6=ipv6,
        metadata=None if metadata is None else format_metadata(metadata),
    )


def refuse_unsupported(root: etree._Element) -> None:
    for elem in root.iter():
        tag = elem.tag
        if not isinstance(tag, str) or any(a.tag == "metadata" for a in elem.iterancestors()):
            continue
        if tag.startswith("{"):
            raise config_unsupported(f"XML namespace element <{tag}> is not supported")
        for child_tag in _UNSUPPORTED_CHILDREN.get(tag, ()):
            if elem.find(child_tag) is not None:
                raise config_unsupported(f"<{child_tag}> in <{tag}> is not supported by rpcnet")
        for name in _UNSUPPORTED_ATTRS.get(tag, ()):
            if elem.get(name) is not None:
                raise config_unsupported(
                    f"attribute '{name}' of <{tag}> is not supported by rpcnet"
                )


def _parse_name(root: etree._Element) -> str:
    name = text_of(root.find("name"))
    if not name:
        raise missing_name()
    if "/" in name:
        raise detail_error("invalid char in name: /", ErrorDomain.XML)
    return name


def _parse_uuid(root: etree._Element) -> uuidlib.UUID | None:
    text = text_of(root.find("uuid"))
    if text is None:
        return None
    try:
        return uuidlib.UUID(text.strip())
    except ValueError:
        raise internal("malformed uuid element") from None


def _parse_ipv6(root: etree._Element, net_name: str) -> bool | None:
    text = attr(root, "ipv6")
    if text is None:
        return None
    if text not in ("yes", "no"):
        raise xml_error(f"Invalid ipv6 setting '{text}' in network '{net_name}'")
    return text == "yes"


def _parse_bridge(elem: etree._Element | None, net_name: str) -> BridgeDef | None:
    if elem is None:
        return None
    delay_text = attr(elem, "delay")
    delay = parse_uint(delay_text)
    if delay_text is not None and delay is None:
        raise xml_error(f"Invalid delay value in network '{net_name}'")
    return BridgeDef(name=attr(elem, "name"), stp=attr(elem, "stp") != "off", delay=delay or 0)


def _parse_mac(elem: etree._Element | None, net_name: str) -> str | None:
    if elem is None or attr(elem, "address") is None:
        return None
    text = str(attr(elem, "address"))
    mac = normalize_mac(text)
    if mac is None:
        raise xml_error(f"Invalid bridge mac address '{text}' in network '{net_name}'")
    if is_multicast_mac(mac):
        raise xml_error(f"Invalid multicast bridge mac address '{text}' in network '{net_name}'")
    return mac


def _parse_mtu(elem: etree._Element | None, net_name: str) -> int | None:
    if elem is None or attr(elem, "size") is None:
        return None
    text = str(attr(elem, "size"))
    size = parse_uint(text)
    if size is None or size > 0xFFFFFFFF:
        raise xml_error(f"Invalid mtu size '{text}' in network '{net_name}'")
    return size or None


def _parse_dns(elem: etree._Element, net_name: str) -> DnsDef:
    enable = yes_no(elem, "enable")
    forwarders = []
    for fwd in children(elem, "forwarder"):
        addr_text, domain = attr(fwd, "addr"), attr(fwd, "domain")
        if addr_text is None and domain is None:
            raise xml_error(
                "Invalid forwarder element, must contain at least one of addr or domain"
            )
        addr = parse_ip_address(addr_text)
        if addr_text is not None and addr is None:
            raise xml_error(f"Invalid forwarder IP address '{addr_text}' in network '{net_name}'")
        forwarders.append(DnsForwarder(addr=addr, domain=domain))
    # libvirt reads (and so reports errors in) hosts, then SRV, then TXT records
    hosts = tuple(parse_dns_host(host, net_name) for host in children(elem, "host"))
    srvs = tuple(parse_dns_srv(srv, net_name) for srv in children(elem, "srv"))
    txts = tuple(parse_dns_txt(txt, net_name) for txt in children(elem, "txt"))
    dns = DnsDef(
        enable=enable,
        forwarders=tuple(forwarders),
        txts=txts,
        srvs=srvs,
        hosts=hosts,
    )
    if enable is False and (dns.forwarders or dns.txts or dns.srvs or dns.hosts):
        raise xml_error(f"Extra data in disabled network '{net_name}'")
    return dns


def _parse_ip(elem: etree._Element, net_name: str) -> IpDef:
    family_attr = attr(elem, "family")
    if family_attr not in (None, "ipv4", "ipv6"):
        raise xml_error(f"Unrecognized family '{family_attr}' in network '{net_name}'")
    address_text = attr(elem, "address")
    if address_text is None:
        raise xml_error(f"Missing required address attribute in network '{net_name}'")
    address = parse_ip_address(address_text)
    if address is None:
        raise xml_error(f"Invalid address '{address_text}' in network '{net_name}'")
    family = "ipv6" if address.version == 6 else "ipv4"
    if family_attr is not None and family_attr != family:
        version = family_attr[-1]
        raise config_unsupported(
            f"Family '{family_attr}' specified for non-IPv{version} address "
            f"'{address_text}' in network '{net_name}'"
        )
    prefix = uint_attr(elem, "prefix")
    netmask = _parse_netmask(elem, net_name, family, address_text, prefix)
    limit = 128 if family == "ipv6" else 32
    if prefix is not None and prefix > limit:
        raise config_unsupported(
            f"Invalid IPv{family[-1]} prefix '{prefix}' in network '{net_name}'"
        )
    ip = IpDef(
        address=address,
        family=family,
        family_explicit=family_attr is not None,
        netmask=netmask,
        prefix=prefix,
    )
    dhcp = elem.find("dhcp")
    if dhcp is None:
        return ip
    ranges = tuple(parse_dhcp_range(r, net_name, ip) for r in children(dhcp, "range"))
    hosts = tuple(parse_dhcp_host(h, net_name, family) for h in children(dhcp, "host"))
    return IpDef(
        address=address,
        family=family,
        family_explicit=family_attr is not None,
        netmask=netmask,
        prefix=prefix,
        dhcp_ranges=ranges,
        dhcp_hosts=hosts,
    )


def _parse_netmask(
    elem: etree._Element, net_name: str, family: str, address_text: str, prefix: int | None
) -> ipaddress.IPv4Address | None:
    text = attr(elem, "netmask")
    if text is None:
        return None
    if family == "ipv6":
        raise config_unsupported(
            f"netmask not allowed for IPv6 address '{address_text}' in network '{net_name}'"
        )
    if prefix is not None:
        raise config_unsupported(
            f"Network '{net_name}' IP address cannot have both a prefix and a netmask"
        )
    try:
        mask = ipaddress.IPv4Address(text)
        ipaddress.IPv4Network(f"0.0.0.0/{mask}")
    except ValueError:
        # libvirt accepts a non-contiguous mask; no kernel route can use one.
        raise xml_error(f"Invalid netmask '{text}' in network '{net_name}'") from None
    return mask


def _parse_route(elem: etree._Element, net_name: str) -> RouteDef:
    """One ``<route>``, checked as libvirt's virNetDevIPRouteCreate does
    (its messages start with the network name)."""
    prefix = uint_attr(elem, "prefix")
    metric = uint_attr(elem, "metric", nonzero=True)
    family = attr(elem, "family")
    address_text, gateway_text = attr(elem, "address"), attr(elem, "gateway")
    netmask_text = attr(elem, "netmask")

    def error(detail: str, where: str = " in route definition") -> VirError:
        return xml_error(f"{net_name}: {detail}{where}")

    if address_text is None:
        raise error("Missing required address attribute")
    if gateway_text is None:
        raise error("Missing required gateway attribute")
    address = _exact_address(address_text)
    if address is None:
        raise error(f"Bad network address '{address_text}'")
    gateway = _exact_address(gateway_text)
    if gateway is None:
        raise error(f"Bad gateway address '{gateway_text}'")
    netmask = None
    if family in (None, "ipv4"):
        said = "No family specified" if family is None else "IPv4 family specified"
        if address.version != 4:
            raise error(f"{said} for non-IPv4 address '{address_text}'")
        if gateway.version != 4:  # libvirt names the address here, not the gateway
            raise error(f"{said} for non-IPv4 gateway '{address_text}'")
        if netmask_text is not None:
            mask = _exact_address(netmask_text)
            if mask is None:
                raise error(f"Bad netmask address '{netmask_text}'")
            if not isinstance(mask, ipaddress.IPv4Address):
                raise error(
                    f"Invalid netmask '{netmask_text}' for address '{address_text}' "
                    "(both must be IPv4)",
                    "",
                )
            if prefix is not None:
                raise error("Route definition cannot have both a prefix and a netmask", "")
            netmask = mask
        limit = 32
    elif family == "ipv6":
        if address.version != 6:
            raise error(f"ipv6 family specified for non-IPv6 address '{address_text}'")
        if netmask_text is not None:
            raise error(f"Specifying netmask invalid for IPv6 address '{address_text}'")
        if gateway.version != 6:
            raise error(f"ipv6 specified for non-IPv6 gateway address '{gateway_text}'")
        limit = 128
    else:
        raise error(f"Unrecognized family '{family}'")
    if prefix is not None and prefix > limit:
        raise error(
            f"Invalid prefix {prefix} specified in route definition, must be 0 - {limit}", ""
        )
    if netmask is not None:
        masked = int(address) & int(netmask)
    else:
        masked = _mask(int(address), prefix or 0, limit)
    if masked != int(address):
        raise error(f"Address '{address_text}' in route definition is not a network address", "")
    return RouteDef(
        family=family,
        address=address,
        prefix=prefix,
        netmask=netmask,
        gateway=gateway,
        metric=metric,
    )


def _exact_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address written exactly (libvirt's getaddrinfo takes no blanks)."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _mask(value: int, prefix: int, bits: int) -> int:
    return value & (((1 << prefix) - 1) << (bits - prefix))


def _check_gateways(routes: tuple[RouteDef, ...], ips: tuple[IpDef, ...], net_name: str) -> None:
    """Every route's gateway must be on the subnet of one of the network's addresses."""
    for route in routes:
        gateway = route.gateway
        bits = gateway.max_prefixlen
        if not any(
            ip.address.version == gateway.version
            and _mask(int(ip.address), ip.effective_prefix, bits)
            == _mask(int(gateway), ip.effective_prefix, bits)
            for ip in ips
        ):
            raise config_unsupported(
                f"unreachable static route gateway '{gateway}' specified for network '{net_name}'"
            )


def _parse_forward(elem: etree._Element, net_name: str) -> ForwardDef:
    mode = attr(elem, "mode") or "nat"
    if mode not in FORWARD_MODES:
        raise config_unsupported(f"unknown forwarding type '{mode}'")
    if mode not in SUPPORTED_MODES:
        raise config_unsupported(f"forward mode '{mode}' of network '{net_name}' is not supported")
    dev = attr(elem, "dev")
    interfaces = tuple(parse_forward_interface(i) for i in children(elem, "interface"))
    if dev is not None and interfaces and interfaces[0] != dev:
        raise xml_error(
            f"<forward dev='{dev}'> must match first <interface dev='{interfaces[0]}'/> "
            f"in network {net_name}"
        )
    if dev is not None and not interfaces:
        interfaces = (dev,)
    if len(interfaces) > 1 and mode in MODES_NEEDING_IP:
        raise xml_error(
            f"multiple forwarding interfaces specified for network '{net_name}', "
            "only one is supported"
        )
    nat = elem.find("nat")
    if nat is None:
        return ForwardDef(mode=mode, interfaces=interfaces)
    if mode != "nat":
        raise xml_error(
            f"The <nat> element can only be used when <forward> 'mode' is 'nat' "
            f"in network {net_name}"
        )
    return _parse_nat(nat, net_name, ForwardDef(mode=mode, interfaces=interfaces))


def _parse_nat(elem: etree._Element, net_name: str, fwd: ForwardDef) -> ForwardDef:
    where = f"in <nat> in <forward> in network {net_name}"
    nat_ipv6 = yes_no(elem, "ipv6")
    addr_start = addr_end = None
    port_start = port_end = None
    address = elem.find("address")
    if address is not None:
        values = []
        for which in ("start", "end"):
            text = attr(address, which)
            if text is None:
                raise xml_error(f"missing '{which}' attribute in <address> element {where}")
            value = parse_ip_address(text)
            if not isinstance(value, ipaddress.IPv4Address):
                raise xml_error(
                    f"Bad ipv4 {which} address '{text}' in <nat> in <forward> "
                    f"in network '{net_name}'"
                )
            values.append(value)
        addr_start, addr_end = values
        if int(addr_start) > int(addr_end):
            raise internal(f"range {addr_start} - {addr_end} is reversed ", NONE_DOMAIN)
    port = elem.find("port")
    if port is not None:
        port_start = parse_uint(attr(port, "start"))
        if port_start is None or port_start > 65535:
            raise detail_error(f"Missing or invalid 'start' attribute in <port> {where}")
        port_end = parse_uint(attr(port, "end"))
        if port_end is None or port_end > 65535 or port_end < port_start:
            raise detail_error(f"Missing or invalid 'end' attribute in <port> {where}")
    return ForwardDef(
        mode=fwd.mode,
        interfaces=fwd.interfaces,
        nat_address_start=addr_start,
        nat_address_end=addr_end,
        nat_port_start=port_start,
        nat_port_end=port_end,
        nat_ipv6=nat_ipv6,
    )


def _check_forward(
    forward: ForwardDef | None, bridge: BridgeDef | None, ips: tuple[IpDef, ...], net_name: str
) -> None:
    if forward is None:
        return
    if forward.mode in MODES_NEEDING_IP and not ips:
        raise xml_error(
            f"{forward.mode} forwarding requested, but no IP address provided "
            f"for network '{net_name}'"
        )
    if forward.mode == "bridge" and bridge is not None and bridge.name and forward.interfaces:
        raise xml_error(
            "A network with forward mode='bridge' can specify a bridge name or a forward dev, "
            f"but not both (network '{net_name}')"
        )


def format_metadata(elem: etree._Element) -> str:
    """``<metadata>`` as libvirt prints it: only the first element of each
    namespace kept, blanks dropped, libxml2's indented dump one level deep."""
    wrapper = etree.Element("network")
    nsmap = {key: value for key, value in elem.nsmap.items() if key is not None}
    meta = etree.SubElement(wrapper, "metadata", nsmap=nsmap)
    meta.attrib.update(elem.attrib)
    seen: set[str] = set()
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str) or not tag.startswith("{"):
            continue
        namespace = tag[1:].split("}", 1)[0]
        if namespace in seen:
            continue
        seen.add(namespace)
        copy = deepcopy(child)
        copy.tail = None
        meta.append(copy)
    for node in meta.iter():
        if len(node) and node.text is not None and not node.text.strip():
            node.text = None
        if node is not meta and node.tail is not None and not node.tail.strip():
            node.tail = None
    text = etree.tostring(wrapper, pretty_print=True, encoding="unicode")
    return text.split("\n", 1)[1].rsplit("</network>", 1)[0].rstrip("\n")


def parse_portgroup(elem: etree._Element) -> PortgroupDef:
    name = attr(elem, "name")
    if name is None:
        raise xml_error("Missing required name attribute in portgroup")
    trust = yes_no(elem, "trustGuestRxFilters")
    vlan_elem = elem.find("vlan")
    vlan = _parse_vlan(vlan_elem) if vlan_elem is not None else None
    bandwidth = None
    bw_elem = elem.find("bandwidth")
    if bw_elem is not None:
        bandwidth = parse_bandwidth(bw_elem)
        inbound = bandwidth.inbound
        if inbound is not None and inbound.floor is not None:
            raise VirError.make(
                ErrorCode.CONFIG_UNSUPPORTED,
                NONE_DOMAIN,
                "floor attribute is not supported for this config",
            )
        if bandwidth.inbound is None and bandwidth.outbound is None:
            bandwidth = None
    return PortgroupDef(
        name=name,
        default=attr(elem, "default") == "yes",
        trust_guest_rx_filters=trust,
        vlan=vlan,
        bandwidth=bandwidth,
    )


def _vlan_error(detail: str) -> VirError:
    return VirError.make(ErrorCode.XML_ERROR, NONE_DOMAIN, detail)


def _parse_vlan(elem: etree._Element) -> VlanDef:
    tags: list[int] = []
    native_mode = native_tag = None
    for tag in children(elem, "tag"):
        if attr(tag, "id") is None:
            raise VirError.make(
                ErrorCode.XML_ERROR,
                ErrorDomain.XML,
                "Missing required attribute 'id' in element 'tag'",
            )
        number = uint_attr(tag, "id")
        assert number is not None
        if number > 4095:
            raise _vlan_error(f"vlan tag id {number} too large (maximum 4095)")
        mode = attr(tag, "nativeMode")
        if mode is not None:
            if mode not in ("tagged", "untagged"):
                raise bad_attr_value("nativeMode", "tag", mode)
            if native_mode is not None:
                raise _vlan_error("duplicate native vlan setting")
            native_mode, native_tag = mode, number
        tags.append(number)
    trunk_text = attr(elem, "trunk")
    if len(tags) > 1:
        if trunk_text not in (None, "yes"):
            raise _vlan_error(
                f"invalid \"trunk='{trunk_text}'\" in <vlan> - trunk='yes' is required "
                "for more than one vlan tag"
            )
        trunk = True
    elif tags:
        if trunk_text not in (None, "yes", "no"):
            raise _vlan_error(f"invalid \"trunk='{trunk_text}'\" in <vlan> - must be yes or no")
        trunk = trunk_text == "yes"
        if trunk_text == "no" and native_mode is not None:
            raise _vlan_error(
                "invalid configuration in <vlan> - \"trunk='no'\" is not allowed "
                "with a native vlan id"
            )
    else:
        raise _vlan_error(
            "missing tag id - each <vlan> must have at least one <tag id='n'/> subelement"
        )
    return VlanDef(tags=tuple(tags), trunk=trunk, native_mode=native_mode, native_tag=native_tag)
