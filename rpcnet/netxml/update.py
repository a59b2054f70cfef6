"""``virNetworkUpdate``: apply one section edit to a definition.

As in libvirt, the edit is applied to a copy made by formatting and parsing
the definition, and the result is checked by formatting and parsing it again
(so an edit can never produce a definition that ``parse_network`` would
refuse); the edited copy itself is the result. The input definition is never
changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

from lxml import etree

from rpcnet.errors import ErrorCode, VirError, network_error
from rpcnet.vocabulary import UpdateCommand, UpdateSection

from .elements import (
    parse_dhcp_host,
    parse_dhcp_range,
    parse_dns_host,
    parse_dns_srv,
    parse_dns_txt,
    parse_forward_interface,
)
from .format import format_network
from .model import DhcpHost, DnsDef, DnsHost, DnsSrv, IpDef, NetworkDef
from .parse import network_from_element, parse_portgroup, refuse_unsupported
from .validate import check_network
from .xmlutil import attr, parse_xml

URL = "network_update_xml"

MODIFY, DELETE = UpdateCommand.MODIFY, UpdateCommand.DELETE
ADD_LAST, ADD_FIRST = UpdateCommand.ADD_LAST, UpdateCommand.ADD_FIRST
#: sections libvirt 9.0 refuses to update, with the name its error gives them
_NO_UPDATE: dict[int, str] = {
    UpdateSection.BRIDGE: "bridge",
    UpdateSection.DOMAIN: "domain",
    UpdateSection.IP: "ip",
    UpdateSection.FORWARD: "forward",
    UpdateSection.FORWARD_PF: "forward pf",
}

T = TypeVar("T")
Handler = Callable[[NetworkDef, int, int, etree._Element], NetworkDef]


def update_network(
    net: NetworkDef,
    command: int,
    section: int,
    parent_index: int,
    xml: str,
    *,
    live: bool = False,
) -> NetworkDef:
    """Return a new definition with ``xml`` applied to ``section``.

    ``command``: an :class:`UpdateCommand`; ``section``: an
    :class:`UpdateSection`; ``parent_index`` picks the ``<ip>`` for DHCP
    sections (-1: the one with DHCP). ``live``: ``net`` is the running
    definition (libvirt copies a persistent one in its inactive form).
    Raises :class:`VirError` as libvirt.
    """
    if section in _NO_UPDATE:
        raise network_error(
            ErrorCode.OPERATION_UNSUPPORTED,
            f"can't update '{_NO_UPDATE[section]}' section of network '{net.name}'",
        )
    entry = _SECTIONS.get(section)
    if entry is None:
        raise network_error(
            ErrorCode.OPERATION_UNSUPPORTED, "can't update unrecognized section of network"
        )
    expected, handler = entry
    elem = parse_xml(xml, URL)
    if elem.tag != expected:
        raise network_error(
            ErrorCode.XML_ERROR,
            f"unexpected element <{elem.tag}>, expecting <{expected}>, "
            f"while updating network '{net.name}'",
        )
    refuse_unsupported(elem)
    new = handler(_copy(net, live), command, parent_index, elem)
    # Check before the round trip: parsing normalizes raw newlines in attributes.
    check_network(new)
    _copy(new, live)
    return new


def _copy(net: NetworkDef, live: bool) -> NetworkDef:
    """libvirt's virNetworkDefCopy: the definition formatted and parsed again."""
    text = format_network(net, inactive=not live)
    again = network_from_element(parse_xml(text, "(network_definition)"))
    # the re-parse drops comments, which libvirt keeps in <metadata>
    return dataclasses.replace(again, metadata=net.metadata)


def _known(command: int) -> None:
    """libvirt reports an unknown command only where a section handler
    branches on it, after parsing (and matching) the element."""
    if command not in (MODIFY, DELETE, ADD_LAST, ADD_FIRST):
        raise network_error(
            ErrorCode.OPERATION_UNSUPPORTED, f"unrecognized network update command code {command}"
        )


def _insert(items: Sequence[T], item: T, command: int) -> tuple[T, ...]:
    return (item, *items) if command == ADD_FIRST else (*items, item)


def _without(items: Sequence[T], index: int) -> tuple[T, ...]:
    return (*items[:index], *items[index + 1 :])


def _ip_for_dhcp(net: NetworkDef, parent_index: int) -> int:
    """Index into ``net.ips`` of the ``<ip>`` a DHCP edit applies to."""
    if parent_index >= 0:
        if parent_index < len(net.ips):
            return parent_index
        raise network_error(
            ErrorCode.OPERATION_INVALID,
            f"couldn't update dhcp host entry - no <ip> element found at index "
            f"{parent_index} in network '{net.name}'",
        )
    for family in (None, "ipv4", "ipv6"):
        for index, ip in enumerate(net.ips):
            if (family is None and ip.has_dhcp) or ip.family == family:
                return index
    raise network_error(
        ErrorCode.OPERATION_INVALID,
        f"couldn't update dhcp host entry - no <ip> element found in network '{net.name}'",
    )


def _check_multi_dhcp(net: NetworkDef, index: int) -> None:
    """An addition may not give a second address of one family DHCP."""
    family = net.ips[index].family
    for other, ip in enumerate(net.ips):
        if other != index and ip.family == family and ip.has_dhcp:
            label = "IPv4" if family == "ipv4" else "IPv6"
            raise network_error(
                ErrorCode.OPERATION_INVALID,
                f"dhcp is supported only for a single {label} address on each network",
            )


def _with_ip(net: NetworkDef, index: int, ip: IpDef) -> NetworkDef:
    ips = (*net.ips[:index], ip, *net.ips[index + 1 :])
    return dataclasses.replace(net, ips=ips)


def _same_mac(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


def _show(value: object | None, missing: str = "(null)") -> str:
    return missing if value is None else str(value)


def _dhcp_host(
    net: NetworkDef, command: int, parent_index: int, elem: etree._Element
) -> NetworkDef:
    index = _ip_for_dhcp(net, parent_index)
    ip = net.ips[index]
    host = parse_dhcp_host(elem, net.name, ip.family, partial=command == DELETE)
    if command != DELETE and host.ip is not None and host.ip.version != ip.address.version:
        raise network_error(
            ErrorCode.OPERATION_INVALID,
            "the address family of a host entry IP must match the address family of the "
            "dhcp element's parent",
        )
    _known(command)
    hosts = ip.dhcp_hosts
    if command == DELETE:
        for i, old in enumerate(hosts):
            if _delete_matches(host, old):
                return _with_ip(net, index, dataclasses.replace(ip, dhcp_hosts=_without(hosts, i)))
        raise network_error(
            ErrorCode.OPERATION_INVALID,
            f"couldn't locate a matching dhcp host entry in network '{net.name}'",
        )
    found = [i for i, old in enumerate(hosts) if _host_overlaps(host, old)]
    if command == MODIFY:
        if not found:
            raise network_error(
                ErrorCode.OPERATION_INVALID,
                f"couldn't locate an existing dhcp host entry with "
                f"\"mac='{_show(host.mac, 'unknown')}'\" \"name='{_show(host.name)}'\" "
                f"\"ip='{_show(host.ip)}'\" in network '{net.name}'",
            )
        new_hosts = (*hosts[: found[0]], host, *hosts[found[0] + 1 :])
        return _with_ip(net, index, dataclasses.replace(ip, dhcp_hosts=new_hosts))
    _check_multi_dhcp(net, index)
    if found:
        raise network_error(
            ErrorCode.OPERATION_INVALID,
            f"there is an existing dhcp host entry in network '{net.name}' that matches "
            f"\"<host mac='{_show(host.mac)}' name='{_show(host.name)}' ip='{_show(host.ip)}'/>\"",
        )
    new_ip = dataclasses.replace(ip, dhcp_hosts=_insert(hosts, host, command))
    return _with_ip(net, index, new_ip)


def _host_overlaps(new: DhcpHost, old: DhcpHost) -> bool:
    return (
        _same_mac(new.mac, old.mac)
        or (new.id is not None and new.id == old.id)
        or (new.name is not None and new.name == old.name)
        or (new.ip is not None and new.ip == old.ip)
    )


def _delete_matches(new: DhcpHost, old: DhcpHost) -> bool:
    """Every field the request gives must match (a host without a mac
    matches any mac, as in libvirt)."""
    return (
        (new.mac is None or old.mac is None or _same_mac(new.mac, old.mac))
        and (new.id is None or new.id == old.id)
        and (new.name is None or new.name == old.name)
        and (new.ip is None or new.ip == old.ip)
    )


def _dhcp_range(
    net: NetworkDef, command: int, parent_index: int, elem: etree._Element
) -> NetworkDef:
    index = _ip_for_dhcp(net, parent_index)
    ip = net.ips[index]
    if command == MODIFY:
        raise network_error(
            ErrorCode.OPERATION_UNSUPPORTED, "dhcp ranges cannot be modified, only added or deleted"
        )
    rng = parse_dhcp_range(elem, net.name, ip)
    _known(command)
    ranges = ip.dhcp_ranges
    # a range is known by its start and end; its lease does not count
    found = [i for i, old in enumerate(ranges) if (old.start, old.end) == (rng.start, rng.end)]
    if command == DELETE:
        if not found:
            raise network_error(
                ErrorCode.OPERATION_INVALID,
                f"couldn't locate a matching dhcp range entry in network '{net.name}'",
            )
        new_ranges = _without(ranges, found[0])
    else:
        _check_multi_dhcp(net, index)
        if found:
            raise network_error(
                ErrorCode.OPERATION_INVALID,
                f"there is an existing dhcp range entry in network '{net.name}' that matches "
                f"\"<range start='{rng.start}' end='{rng.end}'/>\"",
            )
        new_ranges = _insert(ranges, rng, command)
    return _with_ip(net, index, dataclasses.replace(ip, dhcp_ranges=new_ranges))


def _forward_interface(net: NetworkDef, command: int, _: int, elem: etree._Element) -> NetworkDef:
    if command == MODIFY:
        raise network_error(
            ErrorCode.OPERATION_UNSUPPORTED,
            "forward interface entries cannot be modified, only added or deleted",
        )
    dev = parse_forward_interface(elem)
    _known(command)
    fwd = net.forward
    devs = fwd.interfaces if fwd is not None else ()
    if command == DELETE:
        if dev not in devs:
            raise network_error(
                ErrorCode.OPERATION_INVALID,
                f"couldn't find an interface entry in network '{net.name}' "
                f"matching <interface dev='{dev}'>",
            )
        new_devs = _without(devs, devs.index(dev))
    elif dev in devs:
        raise network_error(
            ErrorCode.OPERATION_INVALID,
            f"there is an existing interface entry in network '{net.name}' that matches "
            f"\"<interface dev='{dev}'>\"",
        )
    else:
        new_devs = _insert(devs, dev, command)
    if fwd is None:
        # libvirt adds it to a pool nothing prints or uses, and loses it on the next copy
        return net
    if command == ADD_FIRST and fwd.addresses:
        # first in the pool, libvirt prints it as <forward dev> next to the addresses
        raise network_error(
            ErrorCode.XML_ERROR,
            "the <forward> 'dev' attribute cannot be used when <address> or <pf> "
            "sub-elements are present in network %s",
        )
    return dataclasses.replace(net, forward=dataclasses.replace(fwd, interfaces=new_devs))


def _dns_of(net: NetworkDef) -> DnsDef:
    return net.dns if net.dns is not None else DnsDef()


def _dns_host(net: NetworkDef, command: int, _: int, elem: etree._Element) -> NetworkDef:
    if command == MODIFY:
        raise network_error(
            ErrorCode.OPERATION_UNSUPPORTED,
            "DNS HOST records cannot be modified, only added or deleted",
        )
    host = parse_dns_host(elem, net.name, partial=command not in (ADD_FIRST, ADD_LAST))
    has_ip = attr(elem, "ip") is not None
    dns = _dns_of(net)
    found = [i for i, old in enumerate(dns.hosts) if _dns_host_matches(host, has_ip, old)]
    _known(command)
    if command == DELETE:
        if not found:
            raise network_error(
                ErrorCode.OPERATION_INVALID,
                f"couldn't locate a matching DNS HOST record in network {net.name}",
            )
        if len(found) > 1:
            raise network_error(
                ErrorCode.OPERATION_INVALID,
                f"multiple matching DNS HOST records were found in network {net.name}",
            )
        hosts = _without(dns.hosts, found[0])
    elif any(old.ip == host.ip for old in dns.hosts):
        raise network_error(
            ErrorCode.OPERATION_INVALID,
            f"there is already at least one DNS HOST record with a matching field "
            f"in network {net.name}",
        )
    else:
        hosts = _insert(dns.hosts, host, command)
    return dataclasses.replace(net, dns=dataclasses.replace(dns, hosts=hosts))


def _dns_host_matches(new: DnsHost, has_ip: bool, old: DnsHost) -> bool:
    return (has_ip and new.ip == old.ip) or bool(set(new.hostnames) & set(old.hostnames))


def _dns_txt(net: NetworkDef, command: int, _: int, elem: etree._Element) -> NetworkDef:
    if command == MODIFY:
        raise network_error(
            ErrorCode.OPERATION_UNSUPPORTED,
            "DNS TXT records cannot be modified, only added or deleted",
        )
    txt = parse_dns_txt(elem, net.name, partial=command not in (ADD_FIRST, ADD_LAST))
    dns = _dns_of(net)
    found = [i for i, old in enumerate(dns.txts) if old.name == txt.name]
    _known(command)
    if command == DELETE:
        if not found:
            raise network_error(
                ErrorCode.OPERATION_INVALID,
                f"couldn't locate a matching DNS TXT record in network {net.name}",
            )
        txts = _without(dns.txts, found[0])
    elif found:
        raise network_error(
            ErrorCode.OPERATION_INVALID,
            f"there is already a DNS TXT record with name '{txt.name}' in network {net.name}",
        )
    else:
        txts = _insert(dns.txts, txt, command)
    return dataclasses.replace(net, dns=dataclasses.replace(dns, txts=txts))


def _dns_srv(net: NetworkDef, command: int, _: int, elem: etree._Element) -> NetworkDef:
    if command == MODIFY:
        raise network_error(
            ErrorCode.OPERATION_UNSUPPORTED,
            "DNS SRV records cannot be modified, only added or deleted",
        )
    srv = parse_dns_srv(elem, net.name, partial=command not in (ADD_FIRST, ADD_LAST))
    dns = _dns_of(net)
    found = [i for i, old in enumerate(dns.srvs) if _srv_matches(srv, old)]
    _known(command)
    if command == DELETE:
        if not found:
            raise network_error(
                ErrorCode.OPERATION_INVALID,
                f"couldn't locate a matching DNS SRV record in network {net.name}",
            )
        if len(found) > 1:
            raise network_error(
                ErrorCode.OPERATION_INVALID,
                f"multiple DNS SRV records matching all specified fields were found "
                f"in network {net.name}",
            )
        srvs = _without(dns.srvs, found[0])
    elif found:
        raise network_error(
            ErrorCode.OPERATION_INVALID,
            f"there is already at least one DNS SRV record matching all specified fields "
            f"in network {net.name}",
        )
    else:
        srvs = _insert(dns.srvs, srv, command)
    return dataclasses.replace(net, dns=dataclasses.replace(dns, srvs=srvs))


def _srv_matches(new: DnsSrv, old: DnsSrv) -> bool:
    fields = ("service", "protocol", "domain", "target", "port", "priority", "weight")
    return all(getattr(new, f) is None or getattr(new, f) == getattr(old, f) for f in fields)


def _portgroup(net: NetworkDef, command: int, _: int, elem: etree._Element) -> NetworkDef:
    group = parse_portgroup(elem)
    groups = net.portgroups
    found = [i for i, old in enumerate(groups) if old.name == group.name]
    if command in (MODIFY, DELETE) and not found:
        raise network_error(
            ErrorCode.OPERATION_INVALID,
            f"couldn't find a portgroup entry in network '{net.name}' "
            f"matching <portgroup name='{group.name}'>",
        )
    if command in (ADD_FIRST, ADD_LAST) and found:
        raise network_error(
            ErrorCode.OPERATION_INVALID,
            f"there is an existing portgroup entry in network '{net.name}' that matches "
            f"\"<portgroup name='{group.name}'>\"",
        )
    others = [old for i, old in enumerate(groups) if i not in found]
    if command != DELETE and group.default and any(old.default for old in others):
        raise network_error(
            ErrorCode.OPERATION_INVALID,
            f"a different portgroup entry in network '{net.name}' is already set as "
            "the default. Only one default is allowed.",
        )
    _known(command)
    if command == DELETE:
        new_groups = _without(groups, found[0])
    elif command == MODIFY:
        new_groups = (*groups[: found[0]], group, *groups[found[0] + 1 :])
    else:
        new_groups = _insert(groups, group, command)
    return dataclasses.replace(net, portgroups=new_groups)


_SECTIONS: dict[int, tuple[str, Handler]] = {
    UpdateSection.IP_DHCP_HOST: ("host", _dhcp_host),
    UpdateSection.IP_DHCP_RANGE: ("range", _dhcp_range),
    UpdateSection.FORWARD_INTERFACE: ("interface", _forward_interface),
    UpdateSection.PORTGROUP: ("portgroup", _portgroup),
    UpdateSection.DNS_HOST: ("host", _dns_host),
    UpdateSection.DNS_TXT: ("txt", _dns_txt),
    UpdateSection.DNS_SRV: ("srv", _dns_srv),
}

__all__ = ["VirError", "update_network"]
