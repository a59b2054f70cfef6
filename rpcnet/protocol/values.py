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
