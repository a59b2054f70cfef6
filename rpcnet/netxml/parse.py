"""Network XML text -> :class:`NetworkDef`, with libvirt's parse-time checks.

Elements and attributes libvirt 9.0 does not know are dropped, as libvirt
drops them; everything it knows is modelled. The order in which parts are
read follows libvirt's, so a definition with several faults gets the same
error.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import uuid as uuidlib
from copy import deepcopy

from lxml import etree

from rpcnet.errors import (
    ErrorCode,
    VirError,
    general_error,
    network_error,
    xml_domain_error,
)
from rpcnet.vocabulary import ForwardMode, routes_ip, uses_device_pool

from ._errors import bad_attr_value, bad_root, missing_name
from .elements import (
    is_multicast_mac,
    normalize_mac,
    parse_dhcp,
    parse_dns_host,
    parse_dns_srv,
    parse_dns_txt,
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
    PciAddress,
    PortgroupDef,
    RouteDef,
)
from .netdev import parse_bandwidth, parse_virtualport, parse_vlan
from .schema import validate_schema
from .validate import check_network
from .xmlutil import attr, children, parse_uint, parse_xml, strtoul, text_of, uint_attr, yes_no

URL = "(network_definition)"

MAC_TABLE_MANAGERS = ("kernel", "libvirt")
DRIVER_NAMES = ("kvm", "vfio")


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
    trust = yes_no(root, "trustGuestRxFilters")
    domain = _parse_domain(root.find("domain"))
    bw_elem = root.find("bandwidth")
    bandwidth = parse_bandwidth(bw_elem, allow_floor=False) if bw_elem is not None else None
    vlan_elem = root.find("vlan")
    vlan = parse_vlan(vlan_elem) if vlan_elem is not None else None
    port_elem = root.find("port")
    port_isolated = yes_no(port_elem, "isolated") if port_elem is not None else None
    bridge_elem = root.find("bridge")
    bridge = _parse_bridge(bridge_elem, name)
    mac = _parse_mac(root.find("mac"), name)
    mtu = _parse_mtu(root.find("mtu"), name)
    dns_elem = root.find("dns")
    dns = _parse_dns(dns_elem, name) if dns_elem is not None else None
    vport_elem = root.find("virtualport")
    virtualport = None
    if vport_elem is not None:
        virtualport = parse_virtualport(vport_elem, require_type=True)
    portgroups = tuple(parse_portgroup(elem) for elem in children(root, "portgroup"))
    ips = tuple(_parse_ip(elem, name) for elem in children(root, "ip"))
    routes = tuple(_parse_route(elem, name) for elem in children(root, "route"))
    _check_gateways(routes, ips, name)
    fwd_elem = root.find("forward")
    forward = _parse_forward(fwd_elem, name) if fwd_elem is not None else None
    _check_forward(forward, bridge, bridge_elem, ips, name)
    if mtu and forward is not None and not routes_ip(forward.mode):
        raise network_error(
            ErrorCode.XML_ERROR,
            f"mtu size only allowed in open, route, nat, and isolated mode, "
            f"not in {forward.mode} (network '{name}')",
        )
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
        trust_guest_rx_filters=trust,
        bandwidth=bandwidth,
        vlan=vlan,
        port_isolated=port_isolated,
        virtualport=virtualport,
        metadata=None if metadata is None else format_metadata(metadata),
    )


def refuse_unsupported(root: etree._Element) -> None:
    """Refuse namespaced elements outside ``<metadata>`` (libvirt's network
    driver would read ``dnsmasq:options``, which rpcnet does not pass on)."""
    for elem in root.iter():
        tag = elem.tag
        if not isinstance(tag, str) or any(a.tag == "metadata" for a in elem.iterancestors()):
            continue
        if tag.startswith("{"):
            raise network_error(
                ErrorCode.CONFIG_UNSUPPORTED, f"XML namespace element <{tag}> is not supported"
            )


def _parse_name(root: etree._Element) -> str:
    name = text_of(root.find("name"))
    if not name:
        raise missing_name()
    if "/" in name:
        raise xml_domain_error(ErrorCode.XML_DETAIL, "invalid char in name: /")
    return name


def _parse_uuid(root: etree._Element) -> uuidlib.UUID | None:
    text = text_of(root.find("uuid"))
    if text is None:
        return None
    try:
        return uuidlib.UUID(text.strip())
    except ValueError:
        raise network_error(ErrorCode.INTERNAL_ERROR, "malformed uuid element") from None


def _parse_ipv6(root: etree._Element, net_name: str) -> bool | None:
    text = attr(root, "ipv6")
    if text is None:
        return None
    if text not in ("yes", "no"):
        raise network_error(
            ErrorCode.XML_ERROR, f"Invalid ipv6 setting '{text}' in network '{net_name}'"
        )
    return text == "yes"


def _parse_domain(elem: etree._Element | None) -> DomainDef | None:
    if elem is None:
        return None
    local_only = yes_no(elem, "localOnly")
    name = attr(elem, "name")
    return DomainDef(name=name, local_only=local_only) if name is not None else None


def _parse_bridge(elem: etree._Element | None, net_name: str) -> BridgeDef | None:
    if elem is None:
        return None
    delay_text = attr(elem, "delay")
    delay = parse_uint(delay_text)
    if delay_text is not None and delay is None:
        raise network_error(ErrorCode.XML_ERROR, f"Invalid delay value in network '{net_name}'")
    manager = attr(elem, "macTableManager")
    if manager is not None and manager not in MAC_TABLE_MANAGERS:
        raise network_error(
            ErrorCode.XML_ERROR,
            f"Invalid macTableManager setting '{manager}' in network '{net_name}'",
        )
    return BridgeDef(
        name=attr(elem, "name") or None,
        stp=attr(elem, "stp") != "off",
        delay=delay or 0,
        zone=attr(elem, "zone") or None,
        mac_table_manager=manager,
    )


def _parse_mac(elem: etree._Element | None, net_name: str) -> str | None:
    if elem is None or attr(elem, "address") is None:
        return None
    text = str(attr(elem, "address"))
    mac = normalize_mac(text)
    if mac is None:
        raise network_error(
            ErrorCode.XML_ERROR, f"Invalid bridge mac address '{text}' in network '{net_name}'"
        )
    if is_multicast_mac(mac):
        raise network_error(
            ErrorCode.XML_ERROR,
            f"Invalid multicast bridge mac address '{text}' in network '{net_name}'",
        )
    return mac


def _parse_mtu(elem: etree._Element | None, net_name: str) -> int | None:
    if elem is None or attr(elem, "size") is None:
        return None
    text = str(attr(elem, "size"))
    size = parse_uint(text)
    if size is None or size > 0xFFFFFFFF:
        raise network_error(
            ErrorCode.XML_ERROR, f"Invalid mtu size '{text}' in network '{net_name}'"
        )
    return size or None


def _parse_dns(elem: etree._Element, net_name: str) -> DnsDef:
    enable = yes_no(elem, "enable")
    forward_plain_names = yes_no(elem, "forwardPlainNames")
    forwarders = []
    for fwd in children(elem, "forwarder"):
        addr_text, domain = attr(fwd, "addr"), attr(fwd, "domain")
        if addr_text is None and domain is None:
            raise network_error(
                ErrorCode.XML_ERROR,
                "Invalid forwarder element, must contain at least one of addr or domain",
            )
        addr = parse_ip_address(addr_text)
        if addr_text is not None and addr is None:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"Invalid forwarder IP address '{addr_text}' in network '{net_name}'",
            )
        forwarders.append(DnsForwarder(addr=addr, domain=domain))
    # libvirt reads (and so reports errors in) hosts, then SRV, then TXT records
    hosts = tuple(parse_dns_host(host, net_name) for host in children(elem, "host"))
    srvs = tuple(parse_dns_srv(srv, net_name) for srv in children(elem, "srv"))
    txts = tuple(parse_dns_txt(txt, net_name) for txt in children(elem, "txt"))
    dns = DnsDef(
        enable=enable,
        forward_plain_names=forward_plain_names,
        forwarders=tuple(forwarders),
        txts=txts,
        srvs=srvs,
        hosts=hosts,
    )
    if enable is False and (dns.forwarders or dns.txts or dns.srvs or dns.hosts):
        raise network_error(ErrorCode.XML_ERROR, f"Extra data in disabled network '{net_name}'")
    return dns


def _parse_ip(elem: etree._Element, net_name: str) -> IpDef:
    family = attr(elem, "family")
    address_text = attr(elem, "address")
    if address_text is None:
        raise network_error(
            ErrorCode.XML_ERROR, f"Missing required address attribute in network '{net_name}'"
        )
    address = parse_ip_address(address_text)
    if address is None:
        raise network_error(
            ErrorCode.XML_ERROR, f"Invalid address '{address_text}' in network '{net_name}'"
        )
    netmask_text = attr(elem, "netmask")
    netmask = parse_ip_address(netmask_text) if netmask_text is not None else None
    if netmask_text is not None and netmask is None:
        raise network_error(
            ErrorCode.XML_ERROR, f"Invalid netmask '{netmask_text}' in network '{net_name}'"
        )
    # libvirt takes a prefix of 0 for none (and never prints it)
    prefix = uint_attr(elem, "prefix") or None
    local_ptr = yes_no(elem, "localPtr")
    where = f"'{address_text}' in network '{net_name}'"
    if family in (None, "ipv4"):
        if address.version != 4:
            said = "no" if family is None else "ipv4"
            raise network_error(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"{said} family specified for non-IPv4 address {where}",
            )
        if netmask_text is not None:
            if netmask is None or netmask.version != 4:
                raise network_error(
                    ErrorCode.CONFIG_UNSUPPORTED,
                    f"Invalid netmask '{netmask_text}' for address {where} (both must be IPv4)",
                )
            if prefix is not None:
                raise network_error(
                    ErrorCode.CONFIG_UNSUPPORTED,
                    f"Network '{net_name}' IP address cannot have both a prefix and a netmask",
                )
        elif prefix is not None and prefix > 32:
            raise network_error(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"Invalid IPv4 prefix '{prefix}' in network '{net_name}'",
            )
    elif family == "ipv6":
        if address.version != 6:
            raise network_error(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"Family 'ipv6' specified for non-IPv6 address {where}",
            )
        if netmask_text is not None:
            raise network_error(
                ErrorCode.CONFIG_UNSUPPORTED, f"netmask not allowed for IPv6 address {where}"
            )
        if prefix is not None and prefix > 128:
            raise network_error(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"Invalid IPv6 prefix '{prefix}' in network '{net_name}'",
            )
    else:
        raise network_error(
            ErrorCode.XML_ERROR, f"Unrecognized family '{family}' in network '{net_name}'"
        )
    if isinstance(netmask, ipaddress.IPv4Address):
        try:
            ipaddress.IPv4Network(f"0.0.0.0/{netmask}")
        except ValueError:
            # libvirt accepts a non-contiguous mask; no kernel route can use one.
            raise network_error(
                ErrorCode.XML_ERROR, f"Invalid netmask '{netmask_text}' in network '{net_name}'"
            ) from None
    ip = IpDef(
        address=address,
        family="ipv6" if address.version == 6 else "ipv4",
        family_explicit=family is not None,
        netmask=netmask if isinstance(netmask, ipaddress.IPv4Address) else None,
        prefix=prefix,
        local_ptr=local_ptr,
    )
    dhcp = elem.find("dhcp")
    if dhcp is not None:
        ip = parse_dhcp(dhcp, net_name, ip)
    tftp = elem.find("tftp")
    if tftp is not None:
        if ip.family != "ipv4":
            raise network_error(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"Unsupported <tftp> element in an IPv6 element in network '{net_name}'",
            )
        ip = dataclasses.replace(ip, tftp_root=attr(tftp, "root") or None)
    return ip


def _parse_route(elem: etree._Element, net_name: str) -> RouteDef:
    """One ``<route>``, checked as libvirt's virNetDevIPRouteCreate does
    (its messages start with the network name)."""
    prefix = uint_attr(elem, "prefix")
    metric = uint_attr(elem, "metric", nonzero=True)
    family = attr(elem, "family")
    address_text, gateway_text = attr(elem, "address"), attr(elem, "gateway")
    netmask_text = attr(elem, "netmask")

    def error(detail: str, where: str = " in route definition") -> VirError:
        return network_error(ErrorCode.XML_ERROR, f"{net_name}: {detail}{where}")

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
            raise network_error(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"unreachable static route gateway '{gateway}' specified for network '{net_name}'",
            )


def _parse_forward(elem: etree._Element, net_name: str) -> ForwardDef:
    """``<forward>`` as libvirt reads it: a pool of ``<interface>`` devices
    (or the ``dev`` attribute) wins over ``<address>`` devices, which win
    over a ``<pf>``; the others are dropped."""
    mode_name = attr(elem, "mode") or "nat"
    mode = ForwardMode.lookup(mode_name)
    if mode is None:
        raise network_error(ErrorCode.CONFIG_UNSUPPORTED, f"unknown forwarding type '{mode_name}'")
    managed = (attr(elem, "managed") or "").lower() == "yes"
    driver_elem = elem.find("driver")
    driver = attr(driver_elem, "name") if driver_elem is not None else None
    if driver is not None and driver not in DRIVER_NAMES:
        raise network_error(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"Unknown forward <driver name='{driver}'/> in network {net_name}",
        )
    if_elems = children(elem, "interface")
    addr_elems = children(elem, "address")
    pf_elems = children(elem, "pf")
    nat_elems = children(elem, "nat")
    fwd = ForwardDef(mode=mode, managed=managed, driver=driver or None)
    if len(nat_elems) > 1:
        raise network_error(
            ErrorCode.XML_ERROR,
            f"Only one <nat> element is allowed in <forward> of network {net_name}",
        )
    if nat_elems:
        if mode is not ForwardMode.NAT:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"The <nat> element can only be used when <forward> 'mode' is 'nat' "
                f"in network {net_name}",
            )
        fwd = _parse_nat(nat_elems[0], net_name, fwd)
    dev = attr(elem, "dev")
    if dev is not None and (addr_elems or pf_elems):
        # libvirt's message really ends in a literal %s
        raise network_error(
            ErrorCode.XML_ERROR,
            "the <forward> 'dev' attribute cannot be used when <address> or <pf> "
            "sub-elements are present in network %s",
        )
    if if_elems or dev is not None:
        return dataclasses.replace(fwd, interfaces=_forward_devs(dev, if_elems, net_name))
    if addr_elems:
        return dataclasses.replace(fwd, addresses=_forward_addresses(addr_elems, net_name))
    if len(pf_elems) > 1:
        raise network_error(
            ErrorCode.XML_ERROR,
            f"Only one <pf> element is allowed in <forward> of network {net_name}",
        )
    if pf_elems:
        pf = attr(pf_elems[0], "dev")
        if pf is None:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"Missing required dev attribute in <pf> element of network '{net_name}'",
            )
        return dataclasses.replace(fwd, pf=pf)
    return fwd


def _forward_devs(dev: str | None, elems: list[etree._Element], net_name: str) -> tuple[str, ...]:
    devs = [dev] if dev is not None else []
    for index, elem in enumerate(elems):
        name = attr(elem, "dev")
        if name is None:
            raise network_error(
                ErrorCode.XML_ERROR,
                "Missing required dev attribute in <forward> <interface> element "
                f"of network {net_name}",
            )
        if index == 0 and dev is not None:
            if name != dev:
                raise network_error(
                    ErrorCode.XML_ERROR,
                    f"<forward dev='{dev}'> must match first <interface dev='{name}'/> "
                    f"in network {net_name}",
                )
            continue
        if name in devs[:index]:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"interface '{name}' can only be listed once in network {net_name}",
            )
        devs.append(name)
    return tuple(devs)


def _forward_addresses(elems: list[etree._Element], net_name: str) -> tuple[PciAddress, ...]:
    found: list[PciAddress] = []
    for elem in elems:
        kind = attr(elem, "type")
        if kind is None:
            raise network_error(ErrorCode.XML_ERROR, f"missing address type in network {net_name}")
        if kind not in ("none", "pci", "netdev"):
            raise network_error(
                ErrorCode.CONFIG_UNSUPPORTED, f"unknown address type '{kind}' in network {net_name}"
            )
        if kind != "pci":
            raise network_error(
                ErrorCode.XML_ERROR, f"unsupported address type '{kind}' in network {net_name}"
            )
        addr = parse_pci_address(elem)
        if addr in found:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"PCI device '{addr}' can only be listed once in network {net_name}",
            )
        found.append(addr)
    return tuple(found)


def parse_pci_address(elem: etree._Element) -> PciAddress:
    """``<address type='pci' domain bus slot function/>`` (numbers in any C
    base), checked only when domain, bus or slot is set, as libvirt does."""
    values = {}
    for field in ("domain", "bus", "slot", "function"):
        text = attr(elem, field)
        value = strtoul(text, base=0, negative=False) if text is not None else 0
        if value is None:
            raise bad_attr_value(field, "address", str(text), "non-negative integer value")
        values[field] = value
    multi = attr(elem, "multifunction")
    if multi is not None and multi not in ("on", "off"):
        raise bad_attr_value("multifunction", "address", multi)
    addr = PciAddress(**values)
    if addr.domain or addr.bus or addr.slot:
        for field, limit, shown in (
            ("bus", 0xFF, "bus='0x{:x}', must be <= 0xFF"),
            ("slot", 0x1F, "slot='0x{:x}', must be <= 0x1F"),
            ("function", 7, "function=0x{:x}, must be <= 7"),
        ):
            if values[field] > limit:
                raise general_error(
                    ErrorCode.XML_ERROR, "Invalid PCI address " + shown.format(values[field])
                )
    return addr


def _parse_nat(elem: etree._Element, net_name: str, fwd: ForwardDef) -> ForwardDef:
    where = f"in <nat> in <forward> in network {net_name}"
    nat_ipv6 = yes_no(elem, "ipv6")
    addr_start = addr_end = None
    port_start = port_end = None
    for what in ("address", "port"):
        if len(children(elem, what)) > 1:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"Only one <{what}> element is allowed in <nat> in <forward> in network {net_name}",
            )
    address = elem.find("address")
    if address is not None:
        values = []
        for which in ("start", "end"):
            text = attr(address, which)
            if text is None:
                raise network_error(
                    ErrorCode.XML_ERROR, f"missing '{which}' attribute in <address> element {where}"
                )
            value = parse_ip_address(text)
            if not isinstance(value, ipaddress.IPv4Address):
                raise network_error(
                    ErrorCode.XML_ERROR,
                    f"Bad ipv4 {which} address '{text}' in <nat> in <forward> "
                    f"in network '{net_name}'",
                )
            values.append(value)
        addr_start, addr_end = values
        if int(addr_start) > int(addr_end):
            raise general_error(
                ErrorCode.INTERNAL_ERROR, f"range {addr_start} - {addr_end} is reversed "
            )
    port = elem.find("port")
    if port is not None:
        port_start = parse_uint(attr(port, "start"))
        if port_start is None or port_start > 65535:
            raise network_error(
                ErrorCode.XML_DETAIL, f"Missing or invalid 'start' attribute in <port> {where}"
            )
        port_end = parse_uint(attr(port, "end"))
        if port_end is None or port_end > 65535 or port_end < port_start:
            raise network_error(
                ErrorCode.XML_DETAIL, f"Missing or invalid 'end' attribute in <port> {where}"
            )
    return dataclasses.replace(
        fwd,
        nat_address_start=addr_start,
        nat_address_end=addr_end,
        nat_port_start=port_start,
        nat_port_end=port_end,
        nat_ipv6=nat_ipv6,
    )


def _check_forward(
    forward: ForwardDef | None,
    bridge: BridgeDef | None,
    bridge_elem: etree._Element | None,
    ips: tuple[IpDef, ...],
    net_name: str,
) -> None:
    """What libvirt checks of the rest of the network against the forward mode."""
    if forward is None:
        return
    mode = forward.mode
    pool = len(forward.interfaces) + len(forward.addresses)
    if routes_ip(mode):
        if not ips:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"{mode} forwarding requested, but no IP address provided for network '{net_name}'",
            )
        if pool > 1:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"multiple forwarding interfaces specified for network '{net_name}', "
                "only one is supported",
            )
        if mode is ForwardMode.OPEN and pool:
            raise network_error(
                ErrorCode.XML_ERROR,
                f"forward dev not allowed for network '{net_name}' with forward mode='open'",
            )
        return
    name = bridge.name if bridge is not None else None
    zone = bridge.zone if bridge is not None else None
    manager = bridge.mac_table_manager if bridge is not None else None
    if uses_device_pool(mode):
        for value, what in (
            (name, "bridge name"),
            (zone, "bridge zone"),
            (manager, "bridge macTableManager setting"),
        ):
            if value is not None:
                raise network_error(
                    ErrorCode.XML_ERROR, f"{what} not allowed in {mode} mode (network '{net_name}')"
                )
    delay = bridge.delay if bridge is not None else 0
    stp_given = bridge_elem is not None and attr(bridge_elem, "stp") is not None
    if delay or stp_given or zone is not None:
        raise network_error(
            ErrorCode.XML_ERROR,
            "bridge delay/stp/zone options only allowed in route, nat, and isolated mode, "
            f"not in {mode} (network '{net_name}')",
        )
    if name and (pool or forward.pf is not None):
        raise network_error(
            ErrorCode.XML_ERROR,
            f"A network with forward mode='{mode}' can specify a bridge name or a forward dev, "
            f"but not both (network '{net_name}')",
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
        raise network_error(ErrorCode.XML_ERROR, "Missing required name attribute in portgroup")
    default = (attr(elem, "default") or "").lower() == "yes"
    trust = yes_no(elem, "trustGuestRxFilters")
    vport_elem = elem.find("virtualport")
    virtualport = None
    if vport_elem is not None:
        virtualport = parse_virtualport(vport_elem, require_type=False)
    bw_elem = elem.find("bandwidth")
    bandwidth = parse_bandwidth(bw_elem, allow_floor=False) if bw_elem is not None else None
    vlan_elem = elem.find("vlan")
    vlan = parse_vlan(vlan_elem) if vlan_elem is not None else None
    return PortgroupDef(
        name=name,
        default=default,
        trust_guest_rx_filters=trust,
        vlan=vlan,
        bandwidth=bandwidth,
        virtualport=virtualport,
    )
