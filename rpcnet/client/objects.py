"""A friendly layer over any :class:`NetworkDriver`, local or remote.

    hv = Networks(driver)                 # a RemoteDriver, a NetworkService, ...
    net = await hv.define(xml)
    await net.start()
    print(await net.xml(), await net.leases())
    async for event in hv.events():
        print(event.network.name, event.event)

Objects hold a driver and a handle and nothing else: every property that can
change (active, autostart, XML) is a call, so an object never shows stale
state. Errors are the driver's :class:`rpcnet.errors.VirError`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from uuid import UUID

from rpcnet.driver.base import (
    EventId,
    LifecycleEvent,
    ListFlags,
    NetworkDriver,
    UpdateCommand,
    UpdateFlags,
    UpdateSection,
    XmlFlags,
)
from rpcnet.errors import VirError
from rpcnet.protocol.values import DhcpLease, NetworkRef, PortRef, TypedParam


@dataclass(frozen=True, slots=True)
class NetworkEvent:
    """One lifecycle event: ``event`` is a :class:`LifecycleEvent` value."""

    network: Network
    event: int
    detail: int

    @property
    def name(self) -> str:
        """``Defined``, ``Undefined``, ``Started``, ``Stopped`` (virsh's words)."""
        try:
            return LifecycleEvent(self.event).name.capitalize()
        except ValueError:
            return "unknown"


def _uuid_bytes(uuid: str | bytes | UUID) -> bytes:
    if isinstance(uuid, bytes):
        return uuid
    return (uuid if isinstance(uuid, UUID) else UUID(uuid)).bytes


class Networks:
    """The networks of one driver (one host)."""

    def __init__(self, driver: NetworkDriver) -> None:
        self.driver = driver

    def wrap(self, ref: NetworkRef) -> Network:
        return Network(self.driver, ref)

    async def all(self, flags: int = 0) -> list[Network]:
        """Networks matching ``flags`` (:class:`ListFlags`; 0: all)."""
        return [self.wrap(ref) for ref in await self.driver.connect_list_all_networks(flags)]

    async def active(self) -> list[Network]:
        return await self.all(ListFlags.ACTIVE)

    async def lookup(self, name: str) -> Network:
        """By name; raises ``VirError`` (NO_NETWORK) if there is none."""
        return self.wrap(await self.driver.network_lookup_by_name(name))

    async def lookup_by_uuid(self, uuid: str | bytes | UUID) -> Network:
        return self.wrap(await self.driver.network_lookup_by_uuid(_uuid_bytes(uuid)))

    async def get(self, name_or_uuid: str) -> Network:
        """By UUID if the string is one, else by name (virsh's rule)."""
        if len(name_or_uuid) == 36:
            with contextlib.suppress(VirError, ValueError):
                return await self.lookup_by_uuid(name_or_uuid)
        return await self.lookup(name_or_uuid)

    async def define(self, xml: str, *, validate: bool = False) -> Network:
        """Define (or redefine) a persistent network from ``xml``."""
        return self.wrap(await self.driver.network_define_xml_flags(xml, int(validate)))

    async def create(self, xml: str, *, validate: bool = False) -> Network:
        """Create and start a transient network from ``xml``."""
        return self.wrap(await self.driver.network_create_xml_flags(xml, int(validate)))

    async def on_event(self, callback: Callable[[NetworkEvent], None],
                       network: Network | None = None) -> int:
        """Call ``callback`` for each lifecycle event; returns an id for :meth:`off_event`."""
        def relay(_cid: int, ref: NetworkRef, event: int, detail: int) -> None:
            callback(NetworkEvent(self.wrap(ref), event, detail))

        return await self.driver.connect_network_event_register_any(
            EventId.LIFECYCLE, network.ref if network else None, relay)

    async def off_event(self, callback_id: int) -> None:
        await self.driver.connect_network_event_deregister_any(callback_id)

    async def events(self, network: Network | None = None
                     ) -> AsyncGenerator[NetworkEvent, None]:
        """Lifecycle events (of ``network`` or all networks) as they happen.

        On a remote driver the stream follows its reconnects and ends as the
        driver's ``lifecycle_events`` does; on a local one it runs until the
        consumer stops iterating."""
        remote_events = getattr(self.driver, "lifecycle_events", None)
        if remote_events is not None:
            async for record in remote_events(network.ref if network else None):
                yield NetworkEvent(self.wrap(record.network), record.event, record.detail)
            return
        queue: asyncio.Queue[NetworkEvent] = asyncio.Queue()
        callback_id = await self.on_event(queue.put_nowait, network)
        try:
            while True:
                yield await queue.get()
        finally:
            with contextlib.suppress(VirError):
                await self.off_event(callback_id)


class Network:
    """One network of a driver; compares equal by driver and UUID."""

    __slots__ = ("driver", "ref")

    def __init__(self, driver: NetworkDriver, ref: NetworkRef) -> None:
        self.driver = driver
        self.ref = ref

    def __repr__(self) -> str:
        return f"<Network {self.name} {self.uuid}>"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Network) and other.driver is self.driver
                and other.ref.uuid == self.ref.uuid)

    def __hash__(self) -> int:
        return hash(self.ref.uuid)

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def uuid(self) -> str:
        return self.ref.uuid_str

    # -- lifecycle --------------------------------------------------------

    async def start(self) -> None:
        await self.driver.network_create(self.ref)

    async def destroy(self) -> None:
        await self.driver.network_destroy(self.ref)

    async def undefine(self) -> None:
        await self.driver.network_undefine(self.ref)

    # -- state ------------------------------------------------------------

    async def xml(self, *, inactive: bool = False) -> str:
        """The XML description (``inactive``: the persistent config)."""
        return await self.driver.network_get_xml_desc(
            self.ref, XmlFlags.INACTIVE if inactive else 0)

    async def is_active(self) -> bool:
        return bool(await self.driver.network_is_active(self.ref))

    async def is_persistent(self) -> bool:
        return bool(await self.driver.network_is_persistent(self.ref))

    async def bridge(self) -> str:
        return await self.driver.network_get_bridge_name(self.ref)

    async def autostart(self) -> bool:
        return bool(await self.driver.network_get_autostart(self.ref))

    async def set_autostart(self, enabled: bool = True) -> None:
        await self.driver.network_set_autostart(self.ref, enabled)

    async def leases(self, mac: str | None = None) -> list[DhcpLease]:
        """DHCP leases handed out on this network (of ``mac`` only, if given)."""
        return await self.driver.network_get_dhcp_leases(self.ref, mac, 0)

    async def update(self, command: UpdateCommand | int, section: UpdateSection | int,
                     xml: str, *, parent_index: int = -1,
                     flags: UpdateFlags | int = 0) -> None:
        """``virNetworkUpdate``: e.g. ``update(UpdateCommand.ADD_LAST,
        UpdateSection.IP_DHCP_HOST, "<host .../>", flags=UpdateFlags.AFFECT_LIVE)``."""
        await self.driver.network_update(self.ref, int(command), int(section), parent_index,
                                         xml, int(flags))

    # -- ports ------------------------------------------------------------

    async def ports(self) -> list[Port]:
        return [Port(self, ref) for ref in await self.driver.network_list_all_ports(self.ref, 0)]

    async def port(self, uuid: str | bytes | UUID) -> Port:
        return Port(self, await self.driver.network_port_lookup_by_uuid(self.ref,
                                                                       _uuid_bytes(uuid)))

    async def create_port(self, xml: str, flags: int = 0) -> Port:
        return Port(self, await self.driver.network_port_create_xml(self.ref, xml, flags))


class Port:
    """One port of a network."""

    __slots__ = ("network", "ref")

    def __init__(self, network: Network, ref: PortRef) -> None:
        self.network = network
        self.ref = ref

    def __repr__(self) -> str:
        return f"<Port {self.uuid} of {self.network.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Port) and other.network == self.network \
            and other.ref.uuid == self.ref.uuid

    def __hash__(self) -> int:
        return hash(self.ref.uuid)

    @property
    def uuid(self) -> str:
        return self.ref.uuid_str

    async def xml(self) -> str:
        return await self.network.driver.network_port_get_xml_desc(self.ref, 0)

    async def delete(self) -> None:
        await self.network.driver.network_port_delete(self.ref, 0)

    async def parameters(self) -> list[TypedParam]:
        return await self.network.driver.network_port_get_parameters(self.ref, 0)

    async def set_parameters(self, params: list[TypedParam]) -> None:
        await self.network.driver.network_port_set_parameters(self.ref, params, 0)
