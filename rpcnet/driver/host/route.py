"""The static routes of a network's ``<route>`` elements, via its bridge.

libvirt adds them once the bridge has its addresses (each gateway must be
on one of the network's subnets) with metric 1 unless the XML gives one;
they go away with the bridge, so stopping needs no step of its own.
"""

from __future__ import annotations

import socket
from typing import Any

from rpcnet.netxml import RouteDef

from .netlink import Netlink

DEFAULT_METRIC = 1
_RTPROT_BOOT = 3  # what libvirt's routes carry (pyroute2 would mark them "static")


def has_destination(route: RouteDef) -> bool:
    """False for a netmask that is not contiguous: libvirt defines such a
    route but cannot add it, and skips it at start."""
    try:
        route.network  # noqa: B018 - computing it is the check
    except ValueError:
        return False
    return True


async def add(nl: Netlink, index: int, ifname: str, route: RouteDef) -> None:
    """Add (or, when adopting, re-assert) ``route`` through link ``index``."""
    attrs: dict[str, Any] = {
        "family": socket.AF_INET if route.network.version == 4 else socket.AF_INET6,
        "dst": str(route.network.network_address),
        "dst_len": route.network.prefixlen,
        "gateway": str(route.gateway),
        "oif": index,
        "priority": route.metric or DEFAULT_METRIC,
        "proto": _RTPROT_BOOT,
    }
    await nl.call(f"Failed to add route to {route.network} via {route.gateway} on {ifname}",
                  lambda ipr: ipr.route("replace", **attrs))
