"""Plain value types carried by the network procedures.

These are the decoded forms of the XDR structs of ``remote_protocol.x``
that the driver interface speaks in; each XDR struct codec builds them
positionally, in wire order.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class NetworkRef:
    """``remote_nonnull_network``: a network handle (name and raw 16-byte uuid)."""

    name: str
    uuid: bytes

    @property
    def uuid_str(self) -> str:
        return str(UUID(bytes=self.uuid))


@dataclass(frozen=True, slots=True)
class PortRef:
    """``remote_nonnull_network_port``: a port handle within a network."""

    network: NetworkRef
    uuid: bytes

    @property
    def uuid_str(self) -> str:
        return str(UUID(bytes=self.uuid))


@dataclass(frozen=True, slots=True)
class DomainRef:
    """``remote_nonnull_domain``; only appears (always NULL) inside errors."""

    name: str
    uuid: bytes
    id: int


@dataclass(frozen=True, slots=True)
class DhcpLease:
    """``remote_network_dhcp_lease``, fields in wire order."""

    iface: str
    expirytime: int
    type: int
    mac: str | None
    iaid: str | None
    ipaddr: str
    prefix: int
    hostname: str | None
    clientid: str | None


class ParamType:
    """``virTypedParameterType`` values."""

    INT = 1
    UINT = 2
    LLONG = 3
    ULLONG = 4
    DOUBLE = 5
    BOOLEAN = 6
    STRING = 7


@dataclass(frozen=True, slots=True)
class TypedParam:
    """``remote_typed_param``: a named value whose XDR form depends on ``type``."""

    field: str
    type: int
    value: int | float | bool | str


@dataclass(frozen=True, slots=True)
class LinkCounters:
    """The kernel's counters of a network's bridge (``rtnl_link_stats64``):
    what the host sends into the bridge is its ``tx``, what guests send to
    the host through it is its ``rx``. Traffic between two guests of the
    same bridge is not counted here."""

    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    rx_dropped: int
    tx_dropped: int


@dataclass(frozen=True, slots=True)
class DnsmasqState:
    """A network's dnsmasq as its supervisor sees it."""

    up: bool
    #: times the supervisor restarted it since the daemon started
    restarts: int


@dataclass(frozen=True, slots=True)
class NetworkStats:
    """``rpcnet_network_stats``: one network's counters (rpcnet's own program)."""

    name: str
    active: bool
    #: its bridge, if it has one
    bridge: str | None
    #: None when the backend has no kernel counters for it (inactive, the
    #: in-memory driver, a forward mode that uses the host's interfaces)
    link: LinkCounters | None
    #: DHCP leases in use (not expired)
    leases: int
    #: addresses in its DHCP ranges (0: no DHCP)
    pool_size: int
    #: ports in use (virNetworkPort objects)
    ports: int
    #: None when no dnsmasq runs for it (inactive, or the in-memory driver)
    dnsmasq: DnsmasqState | None
