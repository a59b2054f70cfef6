"""The network driver vtable: one abstract interface for every backend.

Method names are the snake_case of libvirt's ``virNetworkDriver`` slots
(``networkLookupByName`` -> ``network_lookup_by_name``) plus the few
connection-level calls a network connection answers. A slot a backend does
not fill answers libvirt's "not supported by the connection driver" error,
as an empty slot in libvirt's vtable does.

The server holds one driver per URI and shares it between connections; the
client's ``RemoteDriver`` implements the same interface over one connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import IntEnum, IntFlag

from rpcnet.errors import ErrorDomain, unsupported
from rpcnet.protocol.values import DhcpLease, NetworkRef, NetworkStats, PortRef, TypedParam

# Declared in rpcnet.vocabulary; the client's public API also names them from here.
from rpcnet.vocabulary import UpdateCommand as UpdateCommand
from rpcnet.vocabulary import UpdateSection as UpdateSection

# callback(callback_id, network, event, detail); called on the event loop.
LifecycleCallback = Callable[[int, NetworkRef, int, int], None]


class ListFlags(IntFlag):
    """``virConnectListAllNetworksFlags``."""

    INACTIVE = 1
    ACTIVE = 2
    PERSISTENT = 4
    TRANSIENT = 8
    AUTOSTART = 16
    NO_AUTOSTART = 32


class XmlFlags(IntFlag):
    """``virNetworkXMLFlags``."""

    INACTIVE = 1


class DefineFlags(IntFlag):
    """``virNetworkDefineFlags`` and ``virNetworkCreateFlags`` (both VALIDATE = 1)."""

    VALIDATE = 1


class PortCreateFlags(IntFlag):
    RECLAIM = 1
    VALIDATE = 2


class UpdateFlags(IntFlag):
    """``virNetworkUpdateFlags``; CURRENT is 0."""

    AFFECT_LIVE = 1
    AFFECT_CONFIG = 2


class EventId(IntEnum):
    LIFECYCLE = 0


class LifecycleEvent(IntEnum):
    """``virNetworkEventLifecycleType``."""

    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    STOPPED = 3


class NetworkDriver:
    """Abstract network driver. Every method may raise :class:`VirError`.

    Handles (:class:`NetworkRef`, :class:`PortRef`) are resolved by uuid, as
    libvirt's drivers do; a stale handle raises ``NO_NETWORK``.
    """

    # -- connection level -------------------------------------------------

    async def connect_get_type(self) -> str:
        """The driver name ``virConnectGetType`` reports (``network``, ``TEST``)."""
        raise unsupported("virConnectGetType", ErrorDomain.DOMAIN)

    async def connect_get_version(self) -> int:
        raise unsupported("virConnectGetVersion", ErrorDomain.DOMAIN)

    async def connect_get_hostname(self) -> str:
        raise unsupported("virConnectGetHostname", ErrorDomain.DOMAIN)

    async def close(self) -> None:
        """Release the driver (the server calls it once, at shutdown)."""

    async def reload(self) -> None:
        """Make what runs match the driver's state again (the daemon's SIGHUP,
        libvirtd's reload); nothing to do for a driver with nothing outside."""

    # -- listing ----------------------------------------------------------

    async def connect_num_of_networks(self) -> int:
        raise unsupported("virConnectNumOfNetworks")

    async def connect_list_networks(self, maxnames: int) -> list[str]:
        raise unsupported("virConnectListNetworks")

    async def connect_num_of_defined_networks(self) -> int:
        raise unsupported("virConnectNumOfDefinedNetworks")

    async def connect_list_defined_networks(self, maxnames: int) -> list[str]:
        raise unsupported("virConnectListDefinedNetworks")

    async def connect_list_all_networks(self, flags: int) -> list[NetworkRef]:
        raise unsupported("virConnectListAllNetworks")

    # -- events -----------------------------------------------------------

    async def connect_network_event_register_any(
        self, event_id: int, net: NetworkRef | None, callback: LifecycleCallback
    ) -> int:
        """Register ``callback`` for ``event_id`` events (of ``net`` or of all
        networks); returns the callback id, unique within this driver."""
        raise unsupported("virConnectNetworkEventRegisterAny")

    async def connect_network_event_deregister_any(self, callback_id: int) -> None:
        raise unsupported("virConnectNetworkEventDeregisterAny")

    # -- lookup -----------------------------------------------------------

    async def network_lookup_by_uuid(self, uuid: bytes) -> NetworkRef:
        raise unsupported("virNetworkLookupByUUID")

    async def network_lookup_by_name(self, name: str) -> NetworkRef:
        raise unsupported("virNetworkLookupByName")

    # -- lifecycle --------------------------------------------------------

    async def network_create_xml(self, xml: str) -> NetworkRef:
        return await self.network_create_xml_flags(xml, 0)

    async def network_create_xml_flags(self, xml: str, flags: int) -> NetworkRef:
        raise unsupported("virNetworkCreateXMLFlags")

    async def network_define_xml(self, xml: str) -> NetworkRef:
        return await self.network_define_xml_flags(xml, 0)

    async def network_define_xml_flags(self, xml: str, flags: int) -> NetworkRef:
        raise unsupported("virNetworkDefineXMLFlags")

    async def network_undefine(self, net: NetworkRef) -> None:
        raise unsupported("virNetworkUndefine")

    async def network_update(
        self,
        net: NetworkRef,
        command: int,
        section: int,
        parent_index: int,
        xml: str,
        flags: int,
    ) -> None:
        raise unsupported("virNetworkUpdate")

    async def network_create(self, net: NetworkRef) -> None:
        raise unsupported("virNetworkCreate")

    async def network_destroy(self, net: NetworkRef) -> None:
        raise unsupported("virNetworkDestroy")

    # -- inspection -------------------------------------------------------

    async def network_get_xml_desc(self, net: NetworkRef, flags: int) -> str:
        raise unsupported("virNetworkGetXMLDesc")

    async def network_get_bridge_name(self, net: NetworkRef) -> str:
        raise unsupported("virNetworkGetBridgeName")

    async def network_get_autostart(self, net: NetworkRef) -> bool:
        raise unsupported("virNetworkGetAutostart")

    async def network_set_autostart(self, net: NetworkRef, autostart: bool) -> None:
        raise unsupported("virNetworkSetAutostart")

    async def network_is_active(self, net: NetworkRef) -> bool:
        raise unsupported("virNetworkIsActive")

    async def network_is_persistent(self, net: NetworkRef) -> bool:
        raise unsupported("virNetworkIsPersistent")

    async def network_get_dhcp_leases(
        self, net: NetworkRef, mac: str | None, flags: int
    ) -> list[DhcpLease]:
        raise unsupported("virNetworkGetDHCPLeases")

    # -- ports ------------------------------------------------------------

    async def network_list_all_ports(self, net: NetworkRef, flags: int) -> list[PortRef]:
        raise unsupported("virNetworkListAllPorts")

    async def network_port_lookup_by_uuid(self, net: NetworkRef, uuid: bytes) -> PortRef:
        raise unsupported("virNetworkPortLookupByUUID")

    async def network_port_create_xml(self, net: NetworkRef, xml: str, flags: int) -> PortRef:
        raise unsupported("virNetworkPortCreateXML")

    async def network_port_get_xml_desc(self, port: PortRef, flags: int) -> str:
        raise unsupported("virNetworkPortGetXMLDesc")

    async def network_port_set_parameters(
        self, port: PortRef, params: Sequence[TypedParam], flags: int
    ) -> None:
        raise unsupported("virNetworkPortSetParameters")

    async def network_port_get_parameters(self, port: PortRef, flags: int) -> list[TypedParam]:
        raise unsupported("virNetworkPortGetParameters")

    async def network_port_delete(self, port: PortRef, flags: int) -> None:
        raise unsupported("virNetworkPortDelete")

    # -- statistics (rpcnet's own program, not libvirt's) -----------------------

    async def network_list_stats(self, name: str | None, flags: int) -> list[NetworkStats]:
        """The counters of network ``name``, or of every network if None
        (traffic of its bridge, DHCP leases and pool, ports, dnsmasq)."""
        raise unsupported("rpcnetNetworkListStats")
