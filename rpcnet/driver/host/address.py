"""IP addresses on a link."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from .netlink import Netlink

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


async def list_(nl: Netlink, index: int) -> set[Interface]:
    """The addresses on link ``index`` (both families, link-local included)."""

    def dump(ipr: Any) -> set[Interface]:
        found: set[Interface] = set()
        for msg in ipr.get_addr(index=index):
            family = msg["family"]
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            found.add(ipaddress.ip_interface(f"{msg.get('address')}/{msg['prefixlen']}"))
        return found

    return await nl.call(f"Unable to list addresses of link {index}", dump)


async def routes_overlapping(nl: Netlink, net: ipaddress.IPv4Network | ipaddress.IPv6Network,
                             ) -> list[str]:
    """Names of links with a route into ``net`` (libvirt refuses such a subnet)."""
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6

    def dump(ipr: Any) -> list[str]:
        names = {m["index"]: m.get("ifname") for m in ipr.get_links()}
        hits: list[str] = []
        for msg in ipr.get_routes(family=family, table=254):
            dst = msg.get("dst")
            if dst is None or msg.get("oif") is None:
                continue
            route = ipaddress.ip_network(f"{dst}/{msg['dst_len']}", strict=False)
            if route.prefixlen and route.overlaps(net):
                hits.append(names.get(msg.get("oif"), "?"))
        return hits

    return await nl.call("Unable to read the routing table", dump)
