"""The words of libvirt's network API that every layer shares: forward
modes, macvtap modes and the commands and sections of ``virNetworkUpdate``.

They are declared once, here beside :mod:`rpcnet.errors`, and used by the
XML code (which re-exports them), the driver and the console alike; not in
:mod:`rpcnet.netxml` itself, whose import loads lxml, which the console
keeps out of its startup. Enum members compare equal to libvirt's strings
and numbers, so they pass unchanged into XML and onto the wire.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Self


class _Word(StrEnum):
    """A word of libvirt's XML."""

    @classmethod
    def lookup(cls, name: str) -> Self | None:
        """The member spelled ``name``; None for a word libvirt does not know."""
        try:
            return cls(name)
        except ValueError:
            return None


class ForwardMode(_Word):
    """``<forward mode=...>``; an isolated network has no forward mode (None)."""

    NAT = "nat"
    ROUTE = "route"
    OPEN = "open"
    BRIDGE = "bridge"
    PRIVATE = "private"
    VEPA = "vepa"
    PASSTHROUGH = "passthrough"
    HOSTDEV = "hostdev"

#: modes of a network that routes IP itself: it has addresses on its bridge
_ROUTED = frozenset({ForwardMode.NAT, ForwardMode.ROUTE, ForwardMode.OPEN})
#: modes whose guests are given the host's own devices (macvtap or PCI)
_DEVICE_POOL = frozenset(
    {ForwardMode.PRIVATE, ForwardMode.VEPA, ForwardMode.PASSTHROUGH, ForwardMode.HOSTDEV}
)


def makes_bridge(mode: ForwardMode | None) -> bool:
    """Whether libvirt creates and configures the network's bridge itself:
    isolated, nat, route and open networks. In the other modes the network
    uses the host's bridge or devices, which libvirt never creates or deletes."""
    return mode is None or mode in _ROUTED


def routes_ip(mode: ForwardMode | None) -> bool:
    """nat, route and open: the modes that forward IP between the bridge and
    the host (an isolated network has addresses but forwards nothing)."""
    return mode in _ROUTED


def uses_device_pool(mode: ForwardMode | None) -> bool:
    """private, vepa, passthrough, hostdev: each guest gets one of a pool of
    the host's devices (a macvtap on an interface, or a PCI device)."""
    return mode in _DEVICE_POOL


def is_macvtap(mode: ForwardMode | None) -> bool:
    """private, vepa, passthrough: guests plug a ``direct`` (macvtap) device
    on an interface of the pool."""
    return mode in _DEVICE_POOL and mode is not ForwardMode.HOSTDEV


class MacvtapMode(_Word):
    """The ``mode`` of a port's ``<plug type='direct'>``; VEPA when not given."""

    VEPA = "vepa"
    PRIVATE = "private"
    BRIDGE = "bridge"
    PASSTHROUGH = "passthrough"


class _CliNamed(IntEnum):
    """An enum virsh names in lower case with dashes (``add-last``)."""

    @property
    def cli_name(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def from_cli_name(cls, name: str) -> Self | None:
        """The member virsh calls ``name``; None (also for ``none``) if there is none."""
        for member in cls:
            if member and member.cli_name == name:
                return member
        return None


class UpdateCommand(_CliNamed):
    """``virNetworkUpdateCommand``."""

    NONE = 0
    MODIFY = 1
    DELETE = 2
    ADD_LAST = 3
    ADD_FIRST = 4


class UpdateSection(_CliNamed):
    """``virNetworkUpdateSection``."""

    NONE = 0
    BRIDGE = 1
    DOMAIN = 2
    IP = 3
    IP_DHCP_HOST = 4
    IP_DHCP_RANGE = 5
    FORWARD = 6
    FORWARD_INTERFACE = 7
    FORWARD_PF = 8
    PORTGROUP = 9
    DNS_HOST = 10
    DNS_TXT = 11
    DNS_SRV = 12
