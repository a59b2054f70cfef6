"""Network ports as libvirt 9.0's bridge driver allocates, reclaims and
releases them (``networkAllocatePort``, ``networkNotifyPort``,
``networkReleasePort``), and the bandwidth typed parameters of
``networkPortSetParameters``/``networkPortGetParameters``.

A port inherits what it does not say from its portgroup (named, or the
default one) and the network: bandwidth, vlan, trustGuestRxFilters, port
isolation and the virtualport. Its plug follows the forward mode: the
network's bridge for nat/route/open/isolated networks and bridge networks
with a bridge, a macvtap ``direct`` plug on one of the pool's devices for
private/vepa/passthrough (and bridge without a bridge), a PCI device of the
pool for hostdev. Like libvirt, the driver counts connections per network
and per device in :class:`Usage`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import uuid as uuidlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.netxml import (
    BRIDGED_MODES,
    BandwidthDef,
    NetworkDef,
    PciAddress,
    PortDef,
    PortgroupDef,
    RateDef,
    VirtualPortDef,
)
from rpcnet.netxml.netdev import missing_parameter
from rpcnet.protocol.values import ParamType, TypedParam

# (parameter, direction, rate field) in the order libvirt returns them.
BANDWIDTH_PARAMS = (
    ("inbound.average", "inbound", "average"),
    ("inbound.peak", "inbound", "peak"),
    ("inbound.floor", "inbound", "floor"),
    ("inbound.burst", "inbound", "burst"),
    ("outbound.average", "outbound", "average"),
    ("outbound.peak", "outbound", "peak"),
    ("outbound.burst", "outbound", "burst"),
)
_BY_NAME = {name: (direction, field) for name, direction, field in BANDWIDTH_PARAMS}
DIRECT_MODES = ("private", "vepa", "passthrough")
_FIRST_CLASS_ID = 3  # libvirt's bridge QoS takes class ids 0-2 itself

#: A device of a forward pool: an interface name or a PCI address.
Device = str | PciAddress
#: The virtual functions of a PF: (PCI address, netdev name or None), see
#: :meth:`rpcnet.driver.memory.MemoryDriver._virtual_functions`.
VirtualFunctions = Callable[[str], list[tuple[PciAddress, str | None]]]


def _error(code: int, detail: str) -> VirError:
    return VirError.make(code, ErrorDomain.NETWORK, detail)


@dataclass(slots=True)
class Usage:
    """What libvirt counts for a running network: its connections, those of
    each pool device, the sum of the ports' inbound floors and the QoS class
    ids in use. Counts may go below zero, as libvirt's do after an update of
    the running network (which starts them afresh) and a later port delete."""

    connections: int = 0
    devices: dict[Device, int] = field(default_factory=dict)
    floor_sum: int = 0
    class_ids: set[int] = field(default_factory=set)

    def uses(self, dev: Device) -> int:
        return self.devices.get(dev, 0)

    def device_connections(self) -> dict[str, int]:
        """Connections per interface name, as the network XML prints them."""
        return {dev: n for dev, n in self.devices.items() if isinstance(dev, str)}

    def take(self, dev: Device | None) -> None:
        self.connections += 1
        if dev is not None:
            self.devices[dev] = self.uses(dev) + 1

    def give_back(self, dev: Device | None) -> None:
        self.connections -= 1
        if dev is not None:
            self.devices[dev] = self.uses(dev) - 1

    def restart(self) -> None:
        """Counts of a network just (re)started or updated while running:
        libvirt's fresh definition starts them at zero."""
        self.connections = 0
        self.devices.clear()


# -- the pool of devices -----------------------------------------------------------


def interface_pool(net: NetworkDef, vfs: VirtualFunctions) -> NetworkDef:
    """libvirt's networkCreateInterfacePool: a network naming a ``pf`` and no
    pool gets the PF's virtual functions (their netdevs for macvtap modes,
    their PCI addresses for hostdev). Raises as libvirt when there are none."""
    fwd = net.forward
    if fwd is None or fwd.pf is None or fwd.interfaces or fwd.addresses:
        return net
    found = vfs(fwd.pf)
    if fwd.mode == "hostdev":
        pool = dataclasses.replace(fwd, addresses=tuple(addr for addr, _ in found))
    else:
        names = tuple(name for _, name in found if name is not None)
        pool = dataclasses.replace(fwd, interfaces=names)
    if not (pool.interfaces or pool.addresses):
        raise _error(ErrorCode.INTERNAL_ERROR, f"No usable Vf's present on SRIOV PF {fwd.pf}")
    return dataclasses.replace(net, forward=pool)


_PCI_RE = re.compile(r"^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$")


def sysfs_virtual_functions(
    pf: str, sysfs: Path = Path("/sys")
) -> list[tuple[PciAddress, str | None]]:
    """The ``virtfnN`` links of ``/sys/class/net/PF/device`` in order, each
    with the first netdev of that function (None when no driver binds one)."""
    device = sysfs / "class" / "net" / pf / "device"
    try:
        links = [p for p in device.iterdir() if p.name.startswith("virtfn")]
    except OSError:
        return []
    found: list[tuple[PciAddress, str | None]] = []
    for link in sorted(links, key=lambda p: int(p.name[6:] or 0)):
        match = _PCI_RE.match(os.path.basename(os.readlink(link)))
        if match is None:
            continue
        domain, bus, slot, function = (int(part, 16) for part in match.groups())
        addr = PciAddress(domain=domain, bus=bus, slot=slot, function=function)
        try:
            names = sorted(os.listdir(link / "net"))
        except OSError:
            names = []
        found.append((addr, names[0] if names else None))
    return found


def recount(net: NetworkDef, ports: Iterable[PortDef]) -> Usage:
    """The counts of a running network found with its ports at daemon start
    (libvirt notifies each port again)."""
    usage = Usage()
    for port in ports:
        if port.plug_type == "direct":
            dev: Device | None = port.plug_dev
        elif port.plug_type == "hostdev-pci":
            dev = port.plug_address
        else:
            dev = None
        commit(port, dev, usage)
    return usage


# -- allocation ----------------------------------------------------------------------


def _portgroup(net: NetworkDef, name: str | None) -> PortgroupDef | None:
    """virPortGroupFindByName: the named group, or the default one without a name."""
    for group in net.portgroups:
        if (group.name == name) if name is not None else group.default:
            return group
    return None


def merge_virtualports(*profiles: VirtualPortDef | None) -> VirtualPortDef | None:
    """libvirt's virNetDevVPortProfileMerge3 (port, network, portgroup): each
    later profile fills in what the earlier left unset; a different value
    for something already set is an error."""
    if all(p is None or p.type is None for p in profiles):
        return None
    first, *rest = profiles
    result = first or VirtualPortDef()
    for mods in rest:
        if mods is not None:
            result = _merge(result, mods)
    return result


_FOR_TYPE = {
    "managerid": ("802.1Qbg", None),
    "typeid": ("802.1Qbg", None),
    "typeidversion": ("802.1Qbg", None),
    "instanceid": ("802.1Qbg", None),
    "interfaceid": ("openvswitch", None),
    "profileid": ("openvswitch", "802.1Qbh", None),
}
_MISMATCH = {
    "managerid": "managerids ({} and {})",
    "typeid": "typeids ({} and {})",
    "typeidversion": "typeidversions ({} and {})",
    "instanceid": "instanceids ('{}' and '{}')",
    "interfaceid": "interfaceids ('{}' and '{}')",
    "profileid": "profileids ('{}' and '{}')",
}


def _merge(orig: VirtualPortDef, mods: VirtualPortDef) -> VirtualPortDef:
    kind = orig.type
    if mods.type is not None:
        if kind is not None and kind != mods.type:
            raise _merge_error(f"types ({kind} and {mods.type})")
        kind = mods.type
    changes: dict[str, object] = {"type": kind}
    for name, types in _FOR_TYPE.items():
        new = getattr(mods, name)
        if new is None or kind not in types:
            continue
        old = getattr(orig, name)
        if old is not None and old != new:
            raise _merge_error(_MISMATCH[name].format(old, new))
        changes[name] = new
    return dataclasses.replace(orig, **changes)  # type: ignore[arg-type]


def _merge_error(what: str) -> VirError:
    detail = f"attempt to merge virtualports with mismatched {what}"
    return VirError.make(ErrorCode.XML_ERROR, ErrorDomain.NET, detail)


def _complete(vport: VirtualPortDef | None) -> VirtualPortDef | None:
    """virNetDevVPortProfileCheckComplete with generation: a missing
    instanceid (802.1Qbg) or interfaceid (openvswitch) is made up; other
    missing parameters are errors."""
    if vport is None or vport.type is None:
        return vport
    problem = missing_parameter(vport)
    if problem is not None:
        raise problem
    if vport.type == "802.1Qbg" and vport.instanceid is None:
        vport = dataclasses.replace(vport, instanceid=uuidlib.uuid4())
    if vport.type == "openvswitch" and vport.interfaceid is None:
        vport = dataclasses.replace(vport, interfaceid=uuidlib.uuid4())
    return vport


def _vport_refused(vport: VirtualPortDef, net: NetworkDef, which: str) -> VirError:
    return _error(
        ErrorCode.CONFIG_UNSUPPORTED,
        f"<virtualport type='{vport.type or 'none'}'> not supported for network "
        f"'{net.name}' which uses {which}",
    )


def allocate(
    net: NetworkDef, port: PortDef, usage: Usage, vfs: VirtualFunctions
) -> tuple[PortDef, Device | None]:
    """Fill in a new port of the running network ``net``: what it inherits
    and its plug. Returns the port and the pool device it took (None for a
    bridged network); ``usage`` is not changed, see :func:`commit`."""
    group = _portgroup(net, port.group)
    changes: dict[str, object] = {}
    if port.bandwidth is None and group is not None and group.bandwidth is not None:
        changes["bandwidth"] = group.bandwidth
    if port.vlan is None:
        changes["vlan"] = group.vlan if group is not None and group.vlan else net.vlan
    if port.trust_guest_rx_filters is None:
        if group is not None and group.trust_guest_rx_filters is not None:
            changes["trust_guest_rx_filters"] = group.trust_guest_rx_filters
        else:
            changes["trust_guest_rx_filters"] = net.trust_guest_rx_filters
    if port.isolated is None:
        changes["isolated"] = net.port_isolated
    vport = merge_virtualports(
        port.virtualport, net.virtualport, group.virtualport if group is not None else None
    )
    if vport is not None:
        changes["virtualport"] = vport
    port = dataclasses.replace(port, **changes)  # type: ignore[arg-type]
    vport = port.virtualport
    mode = net.forward_mode
    dev: Device | None = None
    bridge = net.bridge.name if net.bridge is not None else None
    manager = net.bridge.mac_table_manager if net.bridge is not None else None
    if mode in BRIDGED_MODES:
        port = dataclasses.replace(
            port, plug_type="network", plug_bridge=bridge, plug_mac_table_manager=manager
        )
        if vport is not None:
            raise _vport_refused(vport, net, "IP forwarding")
    elif mode == "hostdev":
        pool = interface_pool(net, vfs).forward
        assert pool is not None
        dev = next((a for a in pool.addresses if usage.uses(a) == 0), None)
        if dev is None:
            raise _exclusive(net)
        port = dataclasses.replace(
            port,
            plug_type="hostdev-pci",
            plug_address=dev,
            plug_driver=pool.driver,
            plug_managed=pool.managed,
        )
        if vport is not None and vport.type not in ("802.1Qbg", "802.1Qbh"):
            raise _vport_refused(vport, net, "an SR-IOV Virtual Function via PCI passthrough")
    elif mode == "bridge" and bridge is not None:
        port = dataclasses.replace(
            port, plug_type="bridge", plug_bridge=bridge, plug_mac_table_manager=manager
        )
        if vport is not None and vport.type != "openvswitch":
            raise _vport_refused(vport, net, "a bridge device")
    else:
        assert net.forward is not None
        port = dataclasses.replace(port, plug_type="direct", plug_mode=net.forward.mode)
        if vport is not None and vport.type not in ("802.1Qbg", "802.1Qbh"):
            raise _vport_refused(vport, net, "a macvtap device")
        if not net.forward.interfaces and not net.forward.addresses and net.forward.pf is None:
            raise _error(
                ErrorCode.INTERNAL_ERROR,
                f"network '{net.name}' uses a direct mode, but has no forward dev "
                "and no interface pool",
            )
        pool = interface_pool(net, vfs).forward
        assert pool is not None
        devs = pool.interfaces
        if mode == "passthrough" or (
            mode == "private" and vport is not None and vport.type == "802.1Qbh"
        ):
            dev = next((d for d in devs if usage.uses(d) == 0), None)
        elif devs:
            dev = min(devs, key=usage.uses)  # the first of the least used
        if dev is None:
            raise _exclusive(net)
        port = dataclasses.replace(port, plug_dev=str(dev))
    port = plug_bandwidth(net, port, usage)
    return dataclasses.replace(port, virtualport=_complete(port.virtualport)), dev


def _exclusive(net: NetworkDef) -> VirError:
    return _error(
        ErrorCode.INTERNAL_ERROR,
        f"network '{net.name}' requires exclusive access to interfaces, but none are available",
    )


def commit(port: PortDef, dev: Device | None, usage: Usage) -> None:
    """Count a port that is now part of the network."""
    usage.take(dev)
    if port.class_id is not None:
        usage.class_ids.add(port.class_id)
        usage.floor_sum += _floor(port.bandwidth)


def reclaim(net: NetworkDef, port: PortDef, usage: Usage, vfs: VirtualFunctions) -> Device | None:
    """libvirt's networkNotifyPort for a port created with RECLAIM: its plug
    must fit the network. Returns the pool device it uses."""
    fwd = net.forward
    if port.plug_type in ("network", "bridge"):
        if net.bridge is None or not net.bridge.name:
            raise _error(
                ErrorCode.INTERNAL_ERROR,
                "Unexpectedly got a network port without a network bridge",
            )
        return None
    pool = interface_pool(net, vfs).forward
    if port.plug_type == "direct":
        dev = port.plug_dev
        if pool is None or dev not in pool.interfaces:
            # libvirt prints the port's uuid bytes here, unreadably; rpcnet the uuid
            raise _error(
                ErrorCode.INTERNAL_ERROR,
                f"network '{net.name}' doesn't have dev='{dev}' in use by network port "
                f"'{port.uuid}'",
            )
        vport = port.virtualport
        exclusive = net.forward_mode == "passthrough" or (
            net.forward_mode == "private" and vport is not None and vport.type == "802.1Qbh"
        )
        if exclusive and usage.uses(dev) > 0:
            raise _error(
                ErrorCode.INTERNAL_ERROR,
                f"network '{net.name}' claims dev='{dev}' is already in use by a different port",
            )
        return dev
    addr = port.plug_address
    assert addr is not None
    if pool is None or addr not in pool.addresses:
        raise _error(
            ErrorCode.INTERNAL_ERROR,
            f"network '{net.name}' doesn't have PCI device {addr} in use by network port",
        )
    if usage.uses(addr) > 0 and fwd is not None and fwd.mode == "hostdev":
        raise _error(
            ErrorCode.INTERNAL_ERROR,
            f"network '{net.name}' claims the PCI device at domain={addr.domain} "
            f"bus={addr.bus} slot={addr.slot} function={addr.function} is already in use "
            "by a different network port",
        )
    return addr


def release(net: NetworkDef, port: PortDef, usage: Usage) -> None:
    """libvirt's networkReleasePort: give back the port's device and QoS."""
    dev: Device | None = None
    if port.plug_type in ("direct", "hostdev-pci"):
        dev = _device_in_use(net, port)
    elif port.class_id is not None:
        usage.class_ids.discard(port.class_id)
        usage.floor_sum -= _floor(port.bandwidth)
    usage.give_back(dev)


def _device_in_use(net: NetworkDef, port: PortDef) -> Device:
    fwd = net.forward
    direct = port.plug_type == "direct"
    if fwd is None or not (fwd.interfaces or fwd.addresses):
        kind = "direct" if direct else "hostdev"
        raise _error(
            ErrorCode.INTERNAL_ERROR,
            f"network '{net.name}' uses a {kind} mode, but has no forward dev "
            "and no interface pool",
        )
    dev = port.plug_dev if direct else port.plug_address
    if dev is None or dev not in (fwd.interfaces if direct else fwd.addresses):
        what = f"dev='{dev}'" if direct else f"PCI device {dev}"
        raise _error(
            ErrorCode.INTERNAL_ERROR, f"network '{net.name}' doesn't have {what} in use by domain"
        )
    return dev


# -- bandwidth ---------------------------------------------------------------------


def _floor(bandwidth: BandwidthDef | None) -> int:
    inbound = bandwidth.inbound if bandwidth is not None else None
    return (inbound.floor or 0) if inbound is not None else 0


def check_floor(
    net: NetworkDef,
    mac: str,
    bandwidth: BandwidthDef | None,
    usage: Usage,
    old: BandwidthDef | None = None,
) -> bool:
    """libvirt's networkCheckBandwidth: may a port with ``bandwidth`` (that
    had ``old``) plug into ``net``? True when a QoS class is needed, False
    when the network has no QoS to share; raises when it would overcommit."""
    floor = _floor(bandwidth)
    if floor and net.forward_mode not in BRIDGED_MODES:
        raise _error(
            ErrorCode.OPERATION_UNSUPPORTED,
            f"Invalid use of 'floor' on interface with MAC address {mac} - 'floor' is only "
            "supported for interface type 'network' with forward type 'nat', 'route', "
            "'open' or none",
        )
    net_in = net.bandwidth.inbound if net.bandwidth is not None else None
    if floor and net_in is None:
        raise _error(
            ErrorCode.OPERATION_UNSUPPORTED,
            f"Invalid use of 'floor' on interface with MAC address {mac} - "
            f"network '{net.name}' has no inbound QoS set",
        )
    if net_in is None or not (floor or _floor(old)):
        return False
    total = usage.floor_sum - _floor(old) + floor
    limit, what = (net_in.peak, "peak") if net_in.peak else (net_in.average or 0, "average")
    if total > limit:
        bridge = net.bridge.name if net.bridge is not None else None
        raise _error(
            ErrorCode.OPERATION_INVALID,
            f"Cannot plug '{mac}' interface into '{bridge}' because new combined inbound "
            f"floor={total} would overcommit {what}={limit} on network '{net.name}'",
        )
    return True


def plug_bandwidth(net: NetworkDef, port: PortDef, usage: Usage) -> PortDef:
    """A port that needs a QoS class gets the lowest free one."""
    if not check_floor(net, port.mac, port.bandwidth, usage):
        return port
    return dataclasses.replace(port, class_id=_free_class_id(usage))


def _free_class_id(usage: Usage) -> int:
    class_id = _FIRST_CLASS_ID
    while class_id in usage.class_ids:
        class_id += 1
    return class_id


def update_bandwidth(
    net: NetworkDef, port: PortDef, bandwidth: BandwidthDef | None, usage: Usage
) -> PortDef:
    """networkUpdatePortBandwidth for set-parameters: re-check the floor and
    take, keep or give back the port's QoS class."""
    old_floor, new_floor = _floor(port.bandwidth), _floor(bandwidth)
    new = dataclasses.replace(port, bandwidth=bandwidth)
    if old_floor == new_floor:
        return new
    if not check_floor(net, port.mac, bandwidth, usage, port.bandwidth):
        return new
    usage.floor_sum += new_floor - old_floor
    if old_floor and new_floor:
        return new
    if new_floor:
        class_id = _free_class_id(usage)
        usage.class_ids.add(class_id)
        return dataclasses.replace(new, class_id=class_id)
    if port.class_id is not None:
        usage.class_ids.discard(port.class_id)
    return dataclasses.replace(new, class_id=None)


def get_parameters(port: PortDef) -> list[TypedParam]:
    """The bandwidth parameters of each direction the port has (0 where a
    field is unset), as libvirtd 9.0 returns them; none without bandwidth."""
    params = []
    for name, direction, field_name in BANDWIDTH_PARAMS:
        rate = getattr(port.bandwidth, direction) if port.bandwidth is not None else None
        if rate is not None:
            params.append(TypedParam(name, ParamType.UINT, getattr(rate, field_name) or 0))
    return params


def bandwidth_from_parameters(params: Sequence[TypedParam]) -> BandwidthDef | None:
    """The bandwidth a set-parameters call asks for.

    As in libvirt, it replaces the port's whole bandwidth: fields not sent
    become unset, a direction without ``average`` (or inbound ``floor``) is
    dropped, and unknown field names are ignored.
    """
    values: dict[str, dict[str, int | None]] = {"inbound": {}, "outbound": {}}
    for param in params:
        where = _BY_NAME.get(param.field)
        if where is None:
            continue
        value = param.value
        if param.type != ParamType.UINT or isinstance(value, bool) or not isinstance(value, int):
            raise _error(
                ErrorCode.INVALID_ARG,
                f"invalid type for parameter '{param.field}', expected 'uint'",
            )
        values[where[0]][where[1]] = value or None
    inbound = values["inbound"]
    outbound = values["outbound"]
    in_rate = RateDef(**inbound) if inbound.get("average") or inbound.get("floor") else None
    out_rate = RateDef(**outbound) if outbound.get("average") else None
    if in_rate is None and out_rate is None:
        return None
    return BandwidthDef(inbound=in_rate, outbound=out_rate)
