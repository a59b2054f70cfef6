"""The network service: libvirt's network semantics, composed of a policy,
a backend and a store.

* :class:`~rpcnet.driver.policy.Policy` says which libvirt driver it
  answers as (``network:///system``'s bridge driver or ``test:///default``);
* :class:`~rpcnet.driver.backend.Backend` makes a running network real
  (:class:`~rpcnet.driver.backend.NullBackend`: in memory only;
  :class:`~rpcnet.driver.host.backend.HostBackend`: this host's kernel);
* :class:`~rpcnet.driver.store.Store` keeps the state (on disk, or not).

A network object holds up to two definitions, as libvirt's ``virNetworkObj``
does: ``config``, the persistent definition (None for a transient network),
and ``live``, the running definition (None when inactive). ``define`` of a
running network replaces ``config`` only; the next start applies it.
Lookups are plain dict look-ups by name or raw uuid and never format XML;
formatted XML is cached per definition object.

Mutations hold one asyncio.Lock, so a check and the change it guards never
have an ``await`` between them unguarded. Every change is saved to the
store and made real by the backend before it becomes visible in memory, so
a crash never shows a state that was not saved.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import re
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from rpcnet.errors import ErrorCode, VirError, network_error
from rpcnet.netxml import (
    NetworkDef,
    PortDef,
    UpdateSection,
    format_network,
    format_port,
    parse_network,
    parse_port,
    update_network,
)
from rpcnet.protocol.values import DhcpLease, NetworkRef, NetworkStats, PortRef, TypedParam

from . import definitions, stats
from .backend import Backend, NullBackend
from .base import (
    DefineFlags,
    LifecycleCallback,
    LifecycleEvent,
    ListFlags,
    NetworkDriver,
    PortCreateFlags,
    UpdateFlags,
    XmlFlags,
)
from .events import EventRegistry
from .lifecycle import Lifecycle
from .netobj import NetObj, NetTable
from .policy import Policy, get_policy
from .ports import allocate as portlib
from .ports.params import bandwidth_from_parameters, get_parameters
from .ports.qos import update_bandwidth
from .store import DiskStore, NullStore, Store

_ALL_LIST_FLAGS = int(ListFlags.INACTIVE | ListFlags.ACTIVE) | 0x3C
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{1,2}(:[0-9A-Fa-f]{1,2}){5}$")

_Slot = TypeVar("_Slot", bound=Callable[..., Awaitable[Any]])


def _ports_and_leases(method: _Slot) -> _Slot:
    """The one guard for the slots ``test:///default`` leaves empty (ports and
    DHCP leases): under a policy without them the slot answers as the empty
    :class:`NetworkDriver` slot does."""
    empty = getattr(NetworkDriver, method.__name__)

    @functools.wraps(method)
    async def guarded(self: NetworkService, *args: Any) -> Any:
        if not self.policy.has_ports_and_leases:
            return await empty(self, *args)
        return await method(self, *args)

    return cast(_Slot, guarded)


class NetworkService(NetworkDriver):
    """A complete network driver: ``policy`` (a :class:`Policy` or its name,
    ``"network"`` or ``"test"``), ``backend`` (default: none) and ``store``
    (default: nothing saved). Call :meth:`load` (or use :meth:`open`)
    before serving: it reads the store, or seeds a fresh state, adopts what
    still runs and autostarts."""

    def __init__(
        self,
        policy: Policy | str = "network",
        *,
        backend: Backend | None = None,
        store: Store | None = None,
    ) -> None:
        self.policy = get_policy(policy)
        self._backend: Backend = backend if backend is not None else NullBackend()
        self._store: Store = store if store is not None else NullStore()
        self._events = EventRegistry()
        self._nets = NetTable()
        self._lock = asyncio.Lock()
        self._life = Lifecycle(self._backend, self._store, self._nets)
        self._loaded = False
        self._vanishing: set[asyncio.Task[None]] = set()
        self._backend.on_vanished(self._on_vanished)

    @classmethod
    async def open(
        cls,
        policy: Policy | str = "network",
        *,
        backend: Backend | None = None,
        store: Store | None = None,
    ) -> NetworkService:
        """Construct and :meth:`load` a service."""
        service = cls(policy, backend=backend, store=store)
        await service.load()
        return service

    # -- errors and handles -------------------------------------------------

    def _no_name(self, name: str) -> VirError:
        return self.policy.error(ErrorCode.NO_NETWORK, f"no network with matching name '{name}'")

    def _no_uuid(self, uuid: bytes, name: str | None = None) -> VirError:
        detail = f"no network with matching uuid '{uuidlib.UUID(bytes=uuid)}'"
        return self.policy.error(
            ErrorCode.NO_NETWORK, detail if name is None else f"{detail} ({name})"
        )

    def _resolve(self, ref: NetworkRef, *, by_uuid: bool = False) -> NetObj:
        """The object a handle names: by name on the test driver (except for
        the is-active/is-persistent calls), by uuid on the bridge driver."""
        if self.policy.handles_by_name and not by_uuid:
            obj = self._nets.by_name.get(ref.name)
            if obj is None:
                raise self._no_name(ref.name)
            return obj
        obj = self._nets.by_uuid.get(ref.uuid)
        if obj is None:
            raise self._no_uuid(ref.uuid, None if self.policy.handles_by_name else ref.name)
        return obj

    @staticmethod
    def _require_active(obj: NetObj) -> NetworkDef:
        if obj.live is None:
            raise network_error(ErrorCode.OPERATION_INVALID, f"network '{obj.name}' is not active")
        return obj.live

    # -- connection -----------------------------------------------------------

    async def connect_get_type(self) -> str:
        return self.policy.type_name

    async def close(self) -> None:
        """Stop the backend's supervision; what runs keeps running."""
        await self._backend.close()

    def _on_vanished(self, name: str, live: NetworkDef) -> None:
        """The backend found running network ``name`` gone: forget it, under
        the lock, unless it was stopped or started again meanwhile."""
        task = asyncio.get_running_loop().create_task(self._forget_vanished(name, live))
        self._vanishing.add(task)
        task.add_done_callback(self._vanishing.discard)

    async def _forget_vanished(self, name: str, live: NetworkDef) -> None:
        async with self._lock:
            obj = self._nets.by_name.get(name)
            if obj is not None and obj.live is live:
                await self._life.mark_stopped(obj)

    async def reload(self) -> None:
        """Re-assert every running network as at a daemon start, without
        disturbing what is in place; then autostart what should run and does not."""
        async with self._lock:
            await self._life.reconcile()
            await self._life.autostart(self._runnable)

    # -- listing --------------------------------------------------------------

    def _names(self, active: bool, maxnames: int, api: str) -> list[str]:
        if maxnames < 0:
            raise network_error(
                ErrorCode.INVALID_ARG, f"maxnames in {api} must be greater than or equal to 0"
            )
        names = [obj.name for obj in self._nets if obj.active == active]
        return names[:maxnames]

    async def connect_num_of_networks(self) -> int:
        return sum(1 for obj in self._nets if obj.active)

    async def connect_list_networks(self, maxnames: int) -> list[str]:
        return self._names(True, maxnames, "virConnectListNetworks")

    async def connect_num_of_defined_networks(self) -> int:
        return sum(1 for obj in self._nets if not obj.active)

    async def connect_list_defined_networks(self, maxnames: int) -> list[str]:
        return self._names(False, maxnames, "virConnectListDefinedNetworks")

    async def connect_list_all_networks(self, flags: int) -> list[NetworkRef]:
        self.policy.check_flags(flags, _ALL_LIST_FLAGS, "ConnectListAllNetworks")
        return self._nets.refs(flags)

    # -- events ---------------------------------------------------------------

    async def connect_network_event_register_any(
        self, event_id: int, net: NetworkRef | None, callback: LifecycleCallback
    ) -> int:
        return self._events.register(event_id, net, callback)

    async def connect_network_event_deregister_any(self, callback_id: int) -> None:
        self._events.deregister(callback_id)

    def _emit(self, obj: NetObj, event: LifecycleEvent) -> None:
        self._events.emit(obj.ref, int(event), 0)

    # -- lookup -----------------------------------------------------------------

    async def network_lookup_by_uuid(self, uuid: bytes) -> NetworkRef:
        obj = self._nets.by_uuid.get(uuid)
        if obj is None:
            raise self._no_uuid(uuid)
        return obj.ref

    async def network_lookup_by_name(self, name: str) -> NetworkRef:
        obj = self._nets.by_name.get(name)
        if obj is None:
            raise self._no_name(name)
        return obj.ref

    # -- definitions ----------------------------------------------------------

    def _fill(self, parsed: NetworkDef, links: set[str]) -> NetworkDef:
        return definitions.fill(
            self.policy, self._nets, parsed, links=links, is_vf=self._backend.is_virtual_function
        )

    def _runnable(self, obj: NetObj | None, netdef: NetworkDef) -> NetworkDef:
        return definitions.running_form(
            self.policy, self._nets, obj, netdef, self._backend.virtual_functions
        )

    async def network_define_xml_flags(self, xml: str, flags: int) -> NetworkRef:
        self.policy.check_flags(flags, DefineFlags.VALIDATE, "DefineXMLFlags")
        parsed = parse_network(xml, validate=bool(flags & DefineFlags.VALIDATE))
        links = await self._backend.link_names()
        async with self._lock:
            netdef = self._fill(parsed, links)
            obj = definitions.existing_for(self._nets, netdef, check_live=False)
            await self._store.write_config(netdef.name, NetObj.format(netdef))
            if obj is None:
                obj = self._nets.add(netdef)
            obj.config = netdef
            if obj.live is None:
                obj.stale = None
            self._emit(obj, LifecycleEvent.DEFINED)
            return obj.ref

    async def network_create_xml_flags(self, xml: str, flags: int) -> NetworkRef:
        self.policy.check_flags(flags, DefineFlags.VALIDATE, "CreateXMLFlags")
        parsed = parse_network(xml, validate=bool(flags & DefineFlags.VALIDATE))
        links = await self._backend.link_names()
        async with self._lock:
            netdef = self._fill(parsed, links)
            obj = definitions.existing_for(self._nets, netdef, check_live=True)
            live = self._runnable(obj, netdef)
            await self._life.start(live, NetObj.format(live))
            if obj is None:
                obj = self._nets.add(live)
            self._life.mark_running(obj, live)
            self._emit(obj, LifecycleEvent.STARTED)
            return obj.ref

    async def network_create(self, net: NetworkRef) -> None:
        async with self._lock:
            obj = self._resolve(net)
            if obj.live is not None:
                raise self.policy.already_running(obj.name)
            assert obj.config is not None  # an inactive network is persistent
            netdef = self._runnable(obj, obj.stale or obj.config)
            await self._life.start(netdef, obj.xml(netdef))
            self._life.mark_running(obj, netdef)
            obj.stale = None
            self._emit(obj, LifecycleEvent.STARTED)

    async def network_destroy(self, net: NetworkRef) -> None:
        async with self._lock:
            obj = self._resolve(net)
            self.policy.check_destroy(obj.name, active=obj.active)
            live = obj.live
            if live is not None:
                await self._backend.deactivate(live)
            await self._life.mark_stopped(obj)
            if self.policy.keeps_ran_definition and live is not obj.config:
                obj.stale = live  # test:///default keeps running what it ran
            self._emit(obj, LifecycleEvent.STOPPED)

    async def network_undefine(self, net: NetworkRef) -> None:
        async with self._lock:
            obj = self._resolve(net)
            self.policy.check_undefine(
                obj.name, persistent=obj.config is not None, active=obj.active
            )
            await self._store.delete_config(obj.name)
            obj.autostart = False
            obj.config = None
            self._emit(obj, LifecycleEvent.UNDEFINED)
            if obj.live is None:
                self._nets.remove(obj)

    async def network_update(
        self,
        net: NetworkRef,
        command: int,
        section: int,
        parent_index: int,
        xml: str,
        flags: int,
    ) -> None:
        both = UpdateFlags.AFFECT_LIVE | UpdateFlags.AFFECT_CONFIG
        self.policy.check_flags(flags, both, "Update")
        async with self._lock:
            obj = self._resolve(net)
            if not flags & both:
                flags |= UpdateFlags.AFFECT_LIVE if obj.active else UpdateFlags.AFFECT_CONFIG
            if flags & UpdateFlags.AFFECT_LIVE and obj.live is None:
                raise network_error(ErrorCode.OPERATION_INVALID, "network is not running")
            if flags & UpdateFlags.AFFECT_CONFIG and obj.config is None:
                raise network_error(
                    ErrorCode.OPERATION_INVALID,
                    "cannot change persistent config of a transient network",
                )
            new_live = new_config = None
            if flags & UpdateFlags.AFFECT_LIVE and obj.live is not None:
                new_live = update_network(
                    obj.live, command, section, parent_index, xml, live=True
                )
            if flags & UpdateFlags.AFFECT_CONFIG and obj.config is not None:
                new_config = update_network(obj.config, command, section, parent_index, xml)
            if new_config is not None and obj.stale is not None and obj.live is None:
                # libvirt replaces an inactive network's obj->def, keeping newDef
                obj.stale = new_config
            elif new_config is not None:
                await self._store.write_config(obj.name, obj.xml(new_config))
                obj.config = new_config
            if new_live is not None and obj.live is not None:
                await self._backend.apply_update(obj.live, new_live, UpdateSection(section))
                await self._store.write_status(obj.name, obj.xml(new_live))
                obj.live = new_live
                # libvirt's updated definition is a parsed copy: its counts start at 0
                obj.usage.restart()

    # -- inspection -------------------------------------------------------------

    async def network_get_xml_desc(self, net: NetworkRef, flags: int) -> str:
        self.policy.check_flags(flags, self.policy.xml_flags, "GetXMLDesc")
        obj = self._resolve(net)
        inactive = bool(flags & XmlFlags.INACTIVE)
        netdef = obj.config if inactive and obj.config is not None else obj.current
        fwd = netdef.forward
        if inactive and fwd is not None and fwd.pf is not None and fwd.interfaces:
            return format_network(netdef, inactive=True)  # the PF's pool is left out
        usage = obj.usage
        if inactive or netdef is not obj.live or not (usage.connections > 0 or usage.devices):
            return obj.xml(netdef)
        return format_network(
            netdef,
            connections=max(usage.connections, 0),
            device_connections={k: v for k, v in usage.device_connections().items() if v > 0},
        )

    async def network_get_bridge_name(self, net: NetworkRef) -> str:
        obj = self._resolve(net)
        bridge = obj.current.bridge
        if bridge is None or not bridge.name:
            raise self.policy.error(
                ErrorCode.INTERNAL_ERROR, f"network '{obj.name}' does not have a bridge name."
            )
        return bridge.name

    async def network_get_autostart(self, net: NetworkRef) -> bool:
        return self._resolve(net).autostart

    async def network_set_autostart(self, net: NetworkRef, autostart: bool) -> None:
        async with self._lock:
            obj = self._resolve(net)
            self.policy.check_set_autostart(persistent=obj.config is not None)
            autostart = bool(autostart)
            if obj.autostart != autostart and obj.config is not None:
                await self._store.set_autostart(obj.name, autostart)
            obj.autostart = autostart

    async def network_is_active(self, net: NetworkRef) -> bool:
        return self._resolve(net, by_uuid=True).active

    async def network_is_persistent(self, net: NetworkRef) -> bool:
        return self._resolve(net, by_uuid=True).config is not None

    @_ports_and_leases
    async def network_get_dhcp_leases(
        self, net: NetworkRef, mac: str | None, flags: int
    ) -> list[DhcpLease]:
        self.policy.check_flags(flags, 0, "GetDHCPLeases")
        if mac is not None and not _MAC_RE.match(mac):
            raise network_error(ErrorCode.INVALID_MAC, mac)
        obj = self._resolve(net)
        return [] if obj.live is None else await self._backend.leases(obj.live, mac)

    # -- ports ------------------------------------------------------------------

    def _port(self, ref: PortRef) -> tuple[NetObj, PortDef]:
        obj = self._resolve(ref.network)
        return obj, self._port_of(obj, ref.uuid)

    def _port_of(self, obj: NetObj, uuid: bytes) -> PortDef:
        port = obj.ports.get(uuid)
        if port is None:
            raise network_error(
                ErrorCode.NO_NETWORK_PORT,
                f"Network port with UUID {uuidlib.UUID(bytes=uuid)} does not exist",
            )
        self._require_active(obj)
        return port

    @_ports_and_leases
    async def network_list_all_ports(self, net: NetworkRef, flags: int) -> list[PortRef]:
        self.policy.check_flags(flags, 0, "ListAllPorts")
        obj = self._resolve(net)
        self._require_active(obj)
        return [PortRef(obj.ref, uuid) for uuid in obj.ports]

    @_ports_and_leases
    async def network_port_lookup_by_uuid(self, net: NetworkRef, uuid: bytes) -> PortRef:
        obj = self._resolve(net)
        self._port_of(obj, uuid)
        return PortRef(obj.ref, uuid)

    @_ports_and_leases
    async def network_port_create_xml(self, net: NetworkRef, xml: str, flags: int) -> PortRef:
        allowed = PortCreateFlags.RECLAIM | PortCreateFlags.VALIDATE
        self.policy.check_flags(flags, allowed, "PortCreateXML")
        async with self._lock:
            obj = self._resolve(net)
            port = parse_port(xml, validate=bool(flags & PortCreateFlags.VALIDATE))
            live = self._require_active(obj)
            reclaim = bool(flags & PortCreateFlags.RECLAIM)
            vfs = self._backend.virtual_functions
            if port.plug_type in (None, "none"):
                if reclaim:
                    raise network_error(
                        ErrorCode.INVALID_ARG, "Port reclaim requested but plug type is none"
                    )
                port, dev = portlib.allocate(live, port, obj.usage, vfs)
            elif not reclaim:
                raise network_error(
                    ErrorCode.INVALID_ARG, "Port reclaim not requested but plug type is not none"
                )
            else:
                dev = portlib.reclaim(live, port, obj.usage, vfs)
            if port.uuid.bytes in obj.ports:
                raise network_error(
                    ErrorCode.NETWORK_PORT_EXIST,
                    f"Network port with UUID {port.uuid} already exists",
                )
            await self._store.write_port(obj.name, str(port.uuid), format_port(port))
            obj.ports[port.uuid.bytes] = port
            portlib.commit(port, dev, obj.usage)
            return PortRef(obj.ref, port.uuid.bytes)

    @_ports_and_leases
    async def network_port_get_xml_desc(self, port: PortRef, flags: int) -> str:
        self.policy.check_flags(flags, 0, "PortGetXMLDesc")
        return format_port(self._port(port)[1])

    @_ports_and_leases
    async def network_port_delete(self, port: PortRef, flags: int) -> None:
        self.policy.check_flags(flags, 0, "PortDelete")
        async with self._lock:
            obj, portdef = self._port(port)
            assert obj.live is not None
            portlib.release(obj.live, portdef, obj.usage)
            await self._store.delete_port(obj.name, str(portdef.uuid))
            del obj.ports[port.uuid]

    @_ports_and_leases
    async def network_port_set_parameters(
        self, port: PortRef, params: Sequence[TypedParam], flags: int
    ) -> None:
        self.policy.check_flags(flags, 0, "PortSetParameters")
        async with self._lock:
            obj, portdef = self._port(port)
            bandwidth = bandwidth_from_parameters(params)
            assert obj.live is not None
            usage = dataclasses.replace(obj.usage, class_ids=set(obj.usage.class_ids))
            new = update_bandwidth(obj.live, portdef, bandwidth, usage)
            await self._store.write_port(obj.name, str(new.uuid), format_port(new))
            obj.ports[port.uuid] = new
            obj.usage = usage

    @_ports_and_leases
    async def network_port_get_parameters(self, port: PortRef, flags: int) -> list[TypedParam]:
        self.policy.check_flags(flags, 0, "PortGetParameters")
        return get_parameters(self._port(port)[1])

    # -- statistics ---------------------------------------------------------------

    async def network_list_stats(self, name: str | None, flags: int) -> list[NetworkStats]:
        """Counters of ``name`` (or of all networks), read now; without the
        lock, so that a scrape never waits for a network's start."""
        self.policy.check_flags(flags, 0, "ListStats")
        if name is None:
            objs = list(self._nets)
        elif (obj := self._nets.by_name.get(name)) is not None:
            objs = [obj]
        else:
            raise self._no_name(name)
        running = {obj.name: obj.live for obj in objs if obj.live is not None}
        read = await self._backend.stats(running) if running else {}
        return [stats.network_stats(obj, read.get(obj.name) if obj.active else None)
                for obj in objs]

    # -- state: fresh, saved, loaded ---------------------------------------------

    async def load(self, *, adopt: bool = True) -> None:
        """Read the store (or seed a fresh state: libvirt's network
        ``default``), adopt what still runs and start the autostart networks
        that do not run. Corrupt saved files are logged and skipped. Call
        once, before serving.

        With ``adopt=False`` only what is saved is read: nothing is seeded,
        reconciled or started (for a tool that edits a daemon's state while
        the daemon is down, such as ``rpcnetd import-libvirt``)."""
        if self._loaded:
            return
        async with self._lock:
            snap = await self._store.load()
            if snap is not None:
                self._life.restore(snap)
            if adopt:
                if snap is None:
                    await self._seed()
                else:
                    await self._life.reconcile()
                await self._life.autostart(self._runnable)
            self._loaded = True

    async def _seed(self) -> None:
        """The state a fresh libvirt starts with: network ``default``, which
        test:///default runs from the start and the bridge driver autostarts."""
        policy = self.policy
        netdef = self._fill(parse_network(policy.default_xml), await self._backend.link_names())
        obj = self._nets.add(netdef)
        obj.config = netdef
        obj.autostart = policy.default_autostart
        await self._store.write_config(obj.name, obj.xml(netdef))
        await self._store.set_autostart(obj.name, obj.autostart)
        if policy.starts_default_itself:
            live = self._runnable(obj, netdef)
            await self._life.start(live, obj.xml(live))
            self._life.mark_running(obj, live)


async def open_memory(
    policy: Policy | str = "network", state_dir: Path | None = None
) -> NetworkService:
    """The in-memory driver: a loaded service with no backend, saved under
    ``state_dir`` when one is given."""
    store = DiskStore(state_dir) if state_dir is not None else None
    return await NetworkService.open(policy, store=store)

