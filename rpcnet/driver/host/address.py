"""IP addresses on a link."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

from .netlink import Netlink, is_netlink_error

_IFA_F_NODAD = 0x02

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


async def add(nl: Netlink, index: int, ifname: str, addr: Interface) -> None:
    """Add ``addr`` (address/prefix) to link ``index``.

    IPv4 gets its broadcast address; IPv6 skips duplicate address detection,
    so dnsmasq can bind and send router advertisements at once."""
    attrs: dict[str, Any] = {
        "index": index,
        "address": str(addr.ip),
        "prefixlen": addr.network.prefixlen,
    }
    if addr.version == 4:
        attrs["broadcast"] = str(addr.network.broadcast_address)
    else:
        attrs["flags"] = _IFA_F_NODAD
    await nl.call(f"Failed to add IP address {addr} to {ifname}",
                  lambda ipr: ipr.addr("add", **attrs))


def _by_link(messages: Any) -> dict[int, set[Interface]]:
    found: dict[int, set[Interface]] = {}
    for msg in messages:
        if msg["family"] in (socket.AF_INET, socket.AF_INET6):
            addr = ipaddress.ip_interface(f"{msg.get('address')}/{msg['prefixlen']}")
            found.setdefault(msg["index"], set()).add(addr)
    return found


async def all_by_link(nl: Netlink) -> dict[int, set[Interface]]:
    """Every address in the namespace by link index (one dump, for a daemon start)."""
    return await nl.call("Unable to list addresses", lambda ipr: _by_link(ipr.get_addr()))


_RTM_F_FIB_MATCH = 0x2000  # answer with the route as it is in the table
_MAIN_TABLE = 254


async def route_collision(nl: Netlink, net: ipaddress.IPv4Network) -> str | None:
    """The interface of a main-table route to exactly ``net`` (libvirt's
    check before a start: it refuses a subnet the host already routes), or
    None. One route lookup: the route matching the subnet's address is the
    one to compare, unless a more specific route covers that address; only
    then is the whole table read, as libvirt always reads it."""

    def lookup(ipr: Any) -> str | None:
        try:
            [found] = ipr.route("get", dst=str(net.network_address), table=_MAIN_TABLE,
                                flags=_RTM_F_FIB_MATCH)
        except Exception as exc:
            if is_netlink_error(exc):
                return None  # no route at all
            raise
        if found["dst_len"] > net.prefixlen:
            return _exact_route_in_proc(net)
        if found["dst_len"] != net.prefixlen or found.get("dst") != str(net.network_address):
            return None
        index = found.get("oif")
        links = ipr.get_links(index) if index is not None else []
        return str(links[0].get("ifname")) if links else "?"

    return await nl.call("Unable to read the routing table", lookup)


def _exact_route_in_proc(net: ipaddress.IPv4Network) -> str | None:
    """libvirt's way: scan /proc/net/route for destination and mask equal to ``net``."""
    try:
        lines = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        # the kernel prints the network-order words as host-order hex
        dest, mask = socket.ntohl(int(fields[1], 16)), socket.ntohl(int(fields[7], 16))
        if dest & mask == int(net.network_address) and mask == int(net.netmask):
            return fields[0]
    return None
