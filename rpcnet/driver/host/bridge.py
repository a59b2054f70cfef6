"""Bridge links: create, bring up, look up, delete."""

from __future__ import annotations

import socket
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from .netlink import Netlink, is_missing

_USER_HZ = 100  # bridge timers travel over netlink in clock_t units
#: the device group of every bridge rpcnetd creates ("rp"): one iptables
#: rule matches them all (see .iptables)
GROUP = 0x7270


@dataclass(frozen=True, slots=True)
class BridgeSpec:
    name: str
    mac: str | None = None
    stp: bool = True
    delay: int = 0  # forward delay, seconds
    mtu: int | None = None
    #: ``macTableManager='libvirt'``: the bridge filters by VLAN so that its
    #: ports need not learn or flood (libvirt turns vlan_filtering on)
    vlan_filtering: bool = False
    group: int = GROUP


@dataclass(frozen=True, slots=True)
class LinkInfo:
    name: str
    index: int
    kind: str | None
    up: bool
    mac: str | None
    group: int = 0


def _link_info(msg: Any) -> LinkInfo:
    return LinkInfo(
        name=msg.get("ifname"),
        index=msg["index"],
        kind=msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND"),
        up=bool(msg["flags"] & 1),
        mac=msg.get("address"),
        group=msg.get("group") or 0,
    )


def exists(name: str) -> bool:
    """Whether the kernel has a link ``name`` (one ``if_nametoindex``, no listing)."""
    if not name or "\0" in name:
        return False
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


class KernelLinkNames(set[str]):
    """Names in use: the set's own, and every link the kernel has, asked
    one name at a time (``if_nametoindex``) instead of listing all links.
    A union with another set (``others | names``) keeps asking the kernel."""

    def __contains__(self, name: object) -> bool:
        if super().__contains__(name):
            return True
        return isinstance(name, str) and exists(name)

    def __or__(self, other: AbstractSet[str]) -> KernelLinkNames:  # type: ignore[override]
        return KernelLinkNames([*self, *other])

    def __ror__(self, other: AbstractSet[str]) -> KernelLinkNames:
        return KernelLinkNames([*other, *self])


async def all_links(nl: Netlink) -> dict[str, LinkInfo]:
    """Every link in the namespace by name (one dump, for a daemon start)."""

    def dump(ipr: Any) -> dict[str, LinkInfo]:
        return {info.name: info for info in map(_link_info, ipr.get_links())}

    return await nl.call("Unable to list links", dump)


async def create(nl: Netlink, spec: BridgeSpec) -> int:
    """Create the bridge (down); returns its ifindex. Raises if it exists."""
    attrs: dict[str, Any] = {
        "ifname": spec.name,
        "kind": "bridge",
        # Delay before STP: the kernel refuses delays below 2 s with STP on
        # and raises the delay to 2 s itself when STP starts.
        "br_forward_delay": spec.delay * _USER_HZ,
        "br_stp_state": 1 if spec.stp else 0,
        "group": spec.group,
    }
    if spec.mac:
        attrs["address"] = spec.mac
    if spec.mtu:
        attrs["mtu"] = spec.mtu
    if spec.vlan_filtering:
        attrs["br_vlan_filtering"] = 1

    def add(ipr: Any) -> int:
        ipr.link("add", **attrs)
        return int(ipr.link_lookup(ifname=spec.name)[0])

    return await nl.call(f"Unable to create bridge {spec.name}", add)


async def set_group(nl: Netlink, name: str, group: int = GROUP) -> None:
    """Put the link in device group ``group`` (a bridge of an earlier version)."""
    await nl.call(f"Failed to set the group of interface {name}",
                  lambda ipr: ipr.link("set", ifname=name, group=group))


async def set_up(nl: Netlink, name: str, up: bool = True) -> None:
    state = "up" if up else "down"
    await nl.call(f"Failed to set interface {name} {state}",
                  lambda ipr: ipr.link("set", ifname=name, state=state))


async def delete(nl: Netlink, name: str) -> bool:
    """Delete the link ``name``; False when it was not there."""
    try:
        await nl.call(f"Unable to delete bridge {name}",
                      lambda ipr: ipr.link("del", ifname=name))
    except Exception as exc:
        if is_missing(exc):
            return False
        raise
    return True
