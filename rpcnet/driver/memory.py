"""The in-memory network driver: libvirt's semantics without a kernel.

It is the reference for what every backend must answer. A network object
holds up to two definitions, as libvirt's ``virNetworkObj`` does:

* ``config``: the persistent definition (None for a transient network);
* ``live``: the running definition (None when inactive).

``define`` of a running network replaces ``config`` only; the next start
applies it. Lookups are plain dict look-ups by name or raw uuid and never
format XML; formatted XML is cached per definition object.

Mutations hold one asyncio.Lock, so a check and the change it guards never
have an ``await`` between them unguarded. With a state directory every
change is written to disk (see :mod:`rpcnet.driver.store`) before it becomes
visible in memory, so a crash never shows a state that was not saved.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import uuid as uuidlib
from collections.abc import Callable, Sequence
from pathlib import Path

from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.netxml import (
    BRIDGED_MODES,
    NetworkDef,
    PciAddress,
    PortDef,
    assign_defaults,
    format_network,
    format_port,
    parse_network,
    parse_port,
    update_network,
)
from rpcnet.protocol.values import DhcpLease, NetworkRef, PortRef, TypedParam

from . import checks
from . import ports as portlib
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
from .flavor import Flavor, get_flavor
from .netobj import NetObj, NetTable
from .store import Snapshot, StateStore

log = logging.getLogger(__name__)

_ALL_LIST_FLAGS = int(ListFlags.INACTIVE | ListFlags.ACTIVE) | 0x3C
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{1,2}(:[0-9A-Fa-f]{1,2}){5}$")
_INVALID_MAC = 44  # VIR_ERR_INVALID_MAC


def _net_error(code: int, detail: str) -> VirError:
    """An error raised by libvirt's shared network code (domain NETWORK)."""
    return VirError.make(code, ErrorDomain.NETWORK, detail)


class MemoryDriver(NetworkDriver):
    """A complete network driver kept in memory, optionally saved to disk.

    ``flavor`` picks the libvirt driver to imitate: ``"network"`` (the bridge
    driver of ``network:///system``) or ``"test"`` (``test:///default``).
    Without ``state_dir`` the driver is ready at once, holding the flavor's
    fresh state. With one, call :meth:`load` (or use :meth:`open`) before
    serving: it reads the saved state, or seeds a fresh one.
    """

    def __init__(self, flavor: Flavor | str = "network", state_dir: Path | None = None) -> None:
        self.flavor = get_flavor(flavor)
        self._store = StateStore(Path(state_dir)) if state_dir is not None else None
        self._events = EventRegistry()
        self._nets = NetTable()
        self._lock = asyncio.Lock()
        self._loaded = False
        if self._store is None:
            self._seed()
            self._loaded = True

    @classmethod
    async def open(
        cls, flavor: Flavor | str = "network", state_dir: Path | None = None
    ) -> MemoryDriver:
        """Construct and :meth:`load` a driver."""
        driver = cls(flavor, state_dir)
        await driver.load()
        return driver

    # -- errors -------------------------------------------------------------

    def _error(self, code: int, detail: str) -> VirError:
        return VirError.make(code, self.flavor.domain, detail)

    def _check_flags(self, flags: int, allowed: int, func: str) -> None:
        unknown = int(flags) & ~int(allowed)  # ~ of an IntFlag keeps only its own bits
        if unknown:
            raise VirError.invalid_flags(self.flavor.domain, unknown, self.flavor.func(func))

    def _no_name(self, name: str) -> VirError:
        return self._error(ErrorCode.NO_NETWORK, f"no network with matching name '{name}'")

    def _no_uuid(self, uuid: bytes, name: str | None = None) -> VirError:
        detail = f"no network with matching uuid '{uuidlib.UUID(bytes=uuid)}'"
        return self._error(ErrorCode.NO_NETWORK, detail if name is None else f"{detail} ({name})")

    def _resolve(self, ref: NetworkRef, *, by_uuid: bool = False) -> NetObj:
        """The object a handle names: by name on the test driver (except for
        the is-active/is-persistent calls), by uuid on the bridge driver."""
        if self.flavor.handles_by_name and not by_uuid:
            obj = self._nets.by_name.get(ref.name)
            if obj is None:
                raise self._no_name(ref.name)
            return obj
        obj = self._nets.by_uuid.get(ref.uuid)
        if obj is None:
            raise self._no_uuid(ref.uuid, None if self.flavor.handles_by_name else ref.name)
        return obj

    def _require_active(self, obj: NetObj) -> NetworkDef:
        if obj.live is None:
            raise _net_error(ErrorCode.OPERATION_INVALID, f"network '{obj.name}' is not active")
        return obj.live

    # -- connection ---------------------------------------------------------

    async def connect_get_type(self) -> str:
        return self.flavor.type_name

    # -- listing --------------------------------------------------------------

    def _names(self, active: bool, maxnames: int, api: str) -> list[str]:
        if maxnames < 0:
            raise _net_error(
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
        self._check_flags(flags, _ALL_LIST_FLAGS, "ConnectListAllNetworks")
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

    def _fill(self, netdef: NetworkDef) -> NetworkDef:
        """What the driver adds to a parsed definition before it is used."""
        if not self.flavor.fill_defaults:
            if netdef.uuid is None:
                return dataclasses.replace(netdef, uuid=uuidlib.uuid4())
            return netdef
        others = self._nets.bridges(excluding=netdef.name)
        if netdef.forward_mode in BRIDGED_MODES:
            name = netdef.bridge.name if netdef.bridge is not None else None
            if name and "%d" not in name and name in others:
                raise _net_error(ErrorCode.INTERNAL_ERROR, f"bridge name '{name}' already in use.")
        netdef = assign_defaults(netdef, used_bridges=others | self._host_link_names())
        checks.check_network(netdef, is_vf=self._is_virtual_function)
        return netdef

    def _existing_for(self, netdef: NetworkDef, *, check_live: bool) -> NetObj | None:
        """libvirt's virNetworkObjAssignDef checks: the object ``netdef``
        replaces, None for a new one; raises on a name/uuid conflict."""
        assert netdef.uuid is not None
        obj = self._nets.by_uuid.get(netdef.uuid.bytes)
        if obj is not None:
            if obj.name != netdef.name:
                raise _net_error(
                    ErrorCode.OPERATION_FAILED,
                    f"network '{obj.name}' is already defined with uuid {obj.uuid}",
                )
            if check_live and obj.active:
                raise _net_error(
                    ErrorCode.OPERATION_INVALID, f"network is already active as '{obj.name}'"
                )
            return obj
        other = self._nets.by_name.get(netdef.name)
        if other is not None:
            raise _net_error(
                ErrorCode.OPERATION_FAILED,
                f"network '{netdef.name}' already exists with uuid {other.uuid}",
            )
        return None

    def _prepare(self, obj: NetObj | None, netdef: NetworkDef) -> NetworkDef:
        """The definition ``netdef`` runs as: libvirt's bridge driver refuses
        a subnet another running network uses, and gives a network that names
        a PF the pool of its virtual functions."""
        if not self.flavor.fill_defaults:
            return netdef
        self._check_start(obj, netdef)
        if netdef.forward_mode not in BRIDGED_MODES:
            return portlib.interface_pool(netdef, self._virtual_functions)
        zone = netdef.bridge.zone if netdef.bridge is not None else None
        if zone is not None:
            # libvirt puts the bridge in a firewalld zone; rpcnet never runs with firewalld
            raise VirError.make(
                ErrorCode.INTERNAL_ERROR,
                ErrorDomain.NONE,
                f"zone {zone} requested for network {netdef.name} but firewalld is not active",
            )
        return _with_masquerade_ports(netdef)

    def _check_start(self, obj: NetObj | None, netdef: NetworkDef) -> None:
        """Refuse to start a network whose subnet another running one uses
        (libvirt finds it as a route on that network's bridge)."""
        for other in self._nets:
            if other is obj or other.live is None:
                continue
            for ip in netdef.ips:
                for theirs in other.live.ips:
                    if ip.overlaps(theirs):
                        bridge = other.live.bridge.name if other.live.bridge else None
                        raise _net_error(
                            ErrorCode.INTERNAL_ERROR,
                            f"Network is already in use by interface {bridge or other.name}",
                        )

    async def network_define_xml_flags(self, xml: str, flags: int) -> NetworkRef:
        self._check_flags(flags, DefineFlags.VALIDATE, "DefineXMLFlags")
        parsed = parse_network(xml, validate=bool(flags & DefineFlags.VALIDATE))
        async with self._lock:
            netdef = self._fill(parsed)
            obj = self._existing_for(netdef, check_live=False)
            await self._io(StateStore.write_config_sync, netdef.name, NetObj.format(netdef))
            if obj is None:
                obj = self._nets.add(netdef)
            obj.config = netdef
            if obj.live is None:
                obj.stale = None
            self._emit(obj, LifecycleEvent.DEFINED)
            return obj.ref

    async def network_create_xml_flags(self, xml: str, flags: int) -> NetworkRef:
        self._check_flags(flags, DefineFlags.VALIDATE, "CreateXMLFlags")
        parsed = parse_network(xml, validate=bool(flags & DefineFlags.VALIDATE))
        async with self._lock:
            netdef = self._fill(parsed)
            obj = self._existing_for(netdef, check_live=True)
            live = self._prepare(obj, netdef)
            await self._start(live, NetObj.format(live))
            if obj is None:
                obj = self._nets.add(live)
            obj.live = live
            obj.usage = portlib.Usage()
            self._emit(obj, LifecycleEvent.STARTED)
            return obj.ref

    async def network_create(self, net: NetworkRef) -> None:
        async with self._lock:
            obj = self._resolve(net)
            if obj.live is not None:
                if self.flavor.strict_lifecycle:
                    raise _net_error(ErrorCode.OPERATION_INVALID, "network is already active")
                raise self._error(
                    ErrorCode.OPERATION_INVALID, f"Network '{obj.name}' is already running"
                )
            assert obj.config is not None  # an inactive network is persistent
            netdef = self._prepare(obj, obj.stale or obj.config)
            await self._start(netdef, obj.xml(netdef))
            obj.live, obj.stale = netdef, None
            obj.usage = portlib.Usage()
            self._emit(obj, LifecycleEvent.STARTED)

    async def network_destroy(self, net: NetworkRef) -> None:
        async with self._lock:
            obj = self._resolve(net)
            if obj.live is None and self.flavor.strict_lifecycle:
                raise _net_error(ErrorCode.OPERATION_INVALID, f"network '{obj.name}' is not active")
            if obj.live is not None:
                await self._deactivate(obj.live)
            await self._io(StateStore.delete_status_sync, obj.name)
            live, obj.live = obj.live, None
            obj.ports.clear()
            if not self.flavor.strict_lifecycle and live is not obj.config:
                # test:///default keeps running what it ran (see NetObj.stale)
                obj.stale = live
            self._emit(obj, LifecycleEvent.STOPPED)
            if obj.config is None:
                self._nets.remove(obj)

    async def network_undefine(self, net: NetworkRef) -> None:
        async with self._lock:
            obj = self._resolve(net)
            if self.flavor.strict_lifecycle:
                if obj.config is None:
                    raise _net_error(
                        ErrorCode.OPERATION_INVALID, "can't undefine transient network"
                    )
            elif obj.live is not None:
                raise self._error(
                    ErrorCode.OPERATION_INVALID, f"Network '{obj.name}' is still running"
                )
            await self._io(StateStore.delete_config_sync, obj.name)
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
        self._check_flags(flags, both, "Update")
        async with self._lock:
            obj = self._resolve(net)
            if not flags & both:
                flags |= UpdateFlags.AFFECT_LIVE if obj.active else UpdateFlags.AFFECT_CONFIG
            if flags & UpdateFlags.AFFECT_LIVE and obj.live is None:
                raise _net_error(ErrorCode.OPERATION_INVALID, "network is not running")
            if flags & UpdateFlags.AFFECT_CONFIG and obj.config is None:
                raise _net_error(
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
                await self._io(StateStore.write_config_sync, obj.name, obj.xml(new_config))
                obj.config = new_config
            if new_live is not None and obj.live is not None:
                await self._apply_update(obj.live, new_live, section)
                await self._io(StateStore.write_status_sync, obj.name, obj.xml(new_live))
                obj.live = new_live
                # libvirt's updated definition is a parsed copy: its counts start at 0
                obj.usage.restart()

    # -- inspection -------------------------------------------------------------

    async def network_get_xml_desc(self, net: NetworkRef, flags: int) -> str:
        self._check_flags(flags, self.flavor.xml_flags, "GetXMLDesc")
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
            raise self._error(
                ErrorCode.INTERNAL_ERROR, f"network '{obj.name}' does not have a bridge name."
            )
        return bridge.name

    async def network_get_autostart(self, net: NetworkRef) -> bool:
        return self._resolve(net).autostart

    async def network_set_autostart(self, net: NetworkRef, autostart: bool) -> None:
        async with self._lock:
            obj = self._resolve(net)
            if obj.config is None and self.flavor.strict_lifecycle:
                raise _net_error(
                    ErrorCode.OPERATION_INVALID, "cannot set autostart for transient network"
                )
            autostart = bool(autostart)
            if obj.autostart != autostart and obj.config is not None:
                await self._io(StateStore.set_autostart_sync, obj.name, autostart)
            obj.autostart = autostart

    async def network_is_active(self, net: NetworkRef) -> bool:
        return self._resolve(net, by_uuid=True).active

    async def network_is_persistent(self, net: NetworkRef) -> bool:
        return self._resolve(net, by_uuid=True).config is not None

    async def network_get_dhcp_leases(
        self, net: NetworkRef, mac: str | None, flags: int
    ) -> list[DhcpLease]:
        if not self.flavor.has_ports_and_leases:
            return await super().network_get_dhcp_leases(net, mac, flags)
        self._check_flags(flags, 0, "GetDHCPLeases")
        if mac is not None and not _MAC_RE.match(mac):
            raise VirError(
                _INVALID_MAC,
                ErrorDomain.NETWORK,
                f"invalid MAC address: {mac}",
                str1="invalid MAC address: %s",
                str2=mac,
            )
        obj = self._resolve(net)
        return [] if obj.live is None else await self._leases(obj.live, mac)

    # -- ports ------------------------------------------------------------------

    def _port(self, ref: PortRef) -> tuple[NetObj, PortDef]:
        obj = self._resolve(ref.network)
        return obj, self._port_of(obj, ref.uuid)

    def _port_of(self, obj: NetObj, uuid: bytes) -> PortDef:
        port = obj.ports.get(uuid)
        if port is None:
            raise _net_error(
                ErrorCode.NO_NETWORK_PORT,
                f"Network port with UUID {uuidlib.UUID(bytes=uuid)} does not exist",
            )
        self._require_active(obj)
        return port

    async def network_list_all_ports(self, net: NetworkRef, flags: int) -> list[PortRef]:
        if not self.flavor.has_ports_and_leases:
            return await super().network_list_all_ports(net, flags)
        self._check_flags(flags, 0, "ListAllPorts")
        obj = self._resolve(net)
        self._require_active(obj)
        return [PortRef(obj.ref, uuid) for uuid in obj.ports]

    async def network_port_lookup_by_uuid(self, net: NetworkRef, uuid: bytes) -> PortRef:
        if not self.flavor.has_ports_and_leases:
            return await super().network_port_lookup_by_uuid(net, uuid)
        obj = self._resolve(net)
        self._port_of(obj, uuid)
        return PortRef(obj.ref, uuid)

    async def network_port_create_xml(self, net: NetworkRef, xml: str, flags: int) -> PortRef:
        if not self.flavor.has_ports_and_leases:
            return await super().network_port_create_xml(net, xml, flags)
        allowed = PortCreateFlags.RECLAIM | PortCreateFlags.VALIDATE
        self._check_flags(flags, allowed, "PortCreateXML")
        async with self._lock:
            obj = self._resolve(net)
            port = parse_port(xml, validate=bool(flags & PortCreateFlags.VALIDATE))
            live = self._require_active(obj)
            reclaim = bool(flags & PortCreateFlags.RECLAIM)
            vfs = self._virtual_functions
            if port.plug_type in (None, "none"):
                if reclaim:
                    raise _net_error(
                        ErrorCode.INVALID_ARG, "Port reclaim requested but plug type is none"
                    )
                port, dev = portlib.allocate(live, port, obj.usage, vfs)
            elif not reclaim:
                raise _net_error(
                    ErrorCode.INVALID_ARG, "Port reclaim not requested but plug type is not none"
                )
            else:
                dev = portlib.reclaim(live, port, obj.usage, vfs)
            if port.uuid.bytes in obj.ports:
                raise _net_error(
                    ErrorCode.NETWORK_PORT_EXIST,
                    f"Network port with UUID {port.uuid} already exists",
                )
            await self._io(StateStore.write_port_sync, obj.name, str(port.uuid), format_port(port))
            obj.ports[port.uuid.bytes] = port
            portlib.commit(port, dev, obj.usage)
            return PortRef(obj.ref, port.uuid.bytes)

    async def network_port_get_xml_desc(self, port: PortRef, flags: int) -> str:
        if not self.flavor.has_ports_and_leases:
            return await super().network_port_get_xml_desc(port, flags)
        self._check_flags(flags, 0, "PortGetXMLDesc")
        return format_port(self._port(port)[1])

    async def network_port_delete(self, port: PortRef, flags: int) -> None:
        if not self.flavor.has_ports_and_leases:
            return await super().network_port_delete(port, flags)
        self._check_flags(flags, 0, "PortDelete")
        async with self._lock:
            obj, portdef = self._port(port)
            assert obj.live is not None
            portlib.release(obj.live, portdef, obj.usage)
            await self._io(StateStore.delete_port_sync, obj.name, str(portdef.uuid))
            del obj.ports[port.uuid]

    async def network_port_set_parameters(
        self, port: PortRef, params: Sequence[TypedParam], flags: int
    ) -> None:
        if not self.flavor.has_ports_and_leases:
            return await super().network_port_set_parameters(port, params, flags)
        self._check_flags(flags, 0, "PortSetParameters")
        async with self._lock:
            obj, portdef = self._port(port)
            bandwidth = portlib.bandwidth_from_parameters(params)
            assert obj.live is not None
            usage = dataclasses.replace(obj.usage, class_ids=set(obj.usage.class_ids))
            new = portlib.update_bandwidth(obj.live, portdef, bandwidth, usage)
            await self._io(StateStore.write_port_sync, obj.name, str(new.uuid), format_port(new))
            obj.ports[port.uuid] = new
            obj.usage = usage

    async def network_port_get_parameters(self, port: PortRef, flags: int) -> list[TypedParam]:
        if not self.flavor.has_ports_and_leases:
            return await super().network_port_get_parameters(port, flags)
        self._check_flags(flags, 0, "PortGetParameters")
        return portlib.get_parameters(self._port(port)[1])

    # -- backend hooks: no-ops in memory, the host driver's kernel work ------------

    async def _activate(self, netdef: NetworkDef) -> None:
        """Make ``netdef`` run; on failure leave nothing behind and raise VirError."""

    async def _deactivate(self, live: NetworkDef) -> None:
        """Stop the running ``live`` definition, also when it is half gone."""

    async def _apply_update(self, old: NetworkDef, new: NetworkDef, section: int) -> None:
        """Apply a network_update of ``section`` to the running network."""

    async def _leases(self, live: NetworkDef, mac: str | None) -> list[DhcpLease]:
        """DHCP leases of the running ``live`` network, only ``mac``'s if given."""
        return []  # no DHCP server runs in memory

    async def _reconcile(self) -> None:
        """After restoring saved state, before autostart: adopt what still runs."""

    def _host_link_names(self) -> set[str]:
        """Interface names a new ``virbrN`` must not take besides other networks'."""
        return set()

    def _is_virtual_function(self, addr: PciAddress) -> bool:
        """Whether the host's PCI device ``addr`` is an SR-IOV virtual function
        (libvirt's bridge driver reads sysfs for a hostdev network's pool)."""
        return checks.is_virtual_function(addr)

    def _virtual_functions(self, pf: str) -> list[tuple[PciAddress, str | None]]:
        """The virtual functions of the SR-IOV physical function ``pf``, with
        their netdev names where they have one, from sysfs as libvirt reads them."""
        return portlib.sysfs_virtual_functions(pf)

    async def _start(self, netdef: NetworkDef, xml: str) -> None:
        """Activate ``netdef`` and save its status; undo the activation if saving fails."""
        await self._activate(netdef)
        try:
            await self._io(StateStore.write_status_sync, netdef.name, xml)
        except BaseException:
            await self._deactivate(netdef)
            raise

    # -- state: fresh, saved, loaded ---------------------------------------------

    async def _io(self, func: Callable[..., None], *args: str | bool) -> None:
        """Run one StateStore write (a no-op without a state directory)."""
        store = self._store
        if store is not None:
            await store.run(lambda: func(store, *args))

    def _seed(self) -> NetObj:
        """The state a fresh libvirt starts with: network ``default``."""
        netdef = self._fill(parse_network(self.flavor.default_xml))
        obj = self._nets.add(netdef)
        obj.config = netdef
        obj.live = self._prepare(obj, netdef)
        obj.autostart = self.flavor.default_autostart
        return obj

    async def load(self) -> None:
        """Read the state directory (or seed a fresh one) and start the
        autostart networks that are not running. Corrupt files are logged
        and skipped. Call once, before serving."""
        store = self._store
        if self._loaded or store is None:
            return
        async with self._lock:
            fresh = await store.run(store.is_fresh)
            await store.run(store.init_sync)
            if fresh:
                obj = self._seed()
                assert obj.config is not None
                await self._io(StateStore.write_config_sync, obj.name, obj.xml(obj.config))
                await self._io(StateStore.set_autostart_sync, obj.name, obj.autostart)
                if obj.live is not None:
                    await self._io(StateStore.write_status_sync, obj.name, obj.xml(obj.live))
            else:
                self._restore(await store.run(store.load_sync))
                await self._reconcile()
            await self._autostart()
            self._loaded = True

    def _restore(self, snap: Snapshot) -> None:
        for name, text in snap.configs.items():
            netdef = _parse_saved(text, name, "config")
            if netdef is not None and self._nets.can_add(netdef):
                obj = self._nets.add(netdef)
                obj.config = netdef
                obj.autostart = name in snap.autostart
        for name, text in snap.status.items():
            self._restore_live(name, text, snap.ports.get(name, {}))

    def _restore_live(self, name: str, text: str, ports: dict[str, str]) -> None:
        netdef = _parse_saved(text, name, "status")
        if netdef is None:
            return
        obj = self._nets.by_name.get(name)
        if obj is None:
            if not self._nets.can_add(netdef):
                log.error("status of network %s clashes with another network; ignored", name)
                return
            obj = self._nets.add(netdef)
        elif netdef.uuid != obj.uuid:
            log.error("status of network %s has another uuid; ignored", name)
            return
        obj.live = netdef
        obj.ports = _parse_ports(ports, name)
        obj.usage = portlib.recount(netdef, obj.ports.values())

    async def _autostart(self) -> None:
        for obj in list(self._nets):
            if obj.config is None or not obj.autostart or obj.live is not None:
                continue
            try:
                live = self._prepare(obj, obj.config)
                await self._start(live, obj.xml(live))
            except VirError as exc:
                log.error("cannot autostart network %s: %s", obj.name, exc.message)
                continue
            obj.live = live
            obj.usage = portlib.Usage()


def _with_masquerade_ports(netdef: NetworkDef) -> NetworkDef:
    """libvirt writes the source port range it masquerades to, 1024-65535,
    into a running NAT network that sets none, once it adds a masquerade
    rule: for an IPv4 address, or an IPv6 one with ``<nat ipv6='yes'/>``."""
    fwd = netdef.forward
    if fwd is None or fwd.mode != "nat" or fwd.nat_port_start is not None:
        return netdef
    if not any(ip.family == "ipv4" or fwd.nat_ipv6 for ip in netdef.ips):
        return netdef
    ports = dataclasses.replace(fwd, nat_port_start=1024, nat_port_end=65535)
    return dataclasses.replace(netdef, forward=ports)


def _parse_saved(text: str, name: str, kind: str) -> NetworkDef | None:
    try:
        netdef = parse_network(text)
    except VirError as exc:
        log.error("skipping corrupt %s file of network %s: %s", kind, name, exc.message)
        return None
    if netdef.name != name or netdef.uuid is None:
        log.error("skipping %s file of network %s: wrong name or no uuid", kind, name)
        return None
    return netdef


def _parse_ports(texts: dict[str, str], network: str) -> dict[bytes, PortDef]:
    found: dict[bytes, PortDef] = {}
    for stem, text in texts.items():
        try:
            port = parse_port(text)
        except VirError as exc:
            log.error("skipping corrupt port %s of network %s: %s", stem, network, exc.message)
            continue
        found[port.uuid.bytes] = port
    return found
