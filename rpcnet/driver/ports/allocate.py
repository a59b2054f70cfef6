"""Network ports as libvirt 9.0's bridge driver allocates, reclaims and
releases them (``networkAllocatePort``, ``networkNotifyPort``,
``networkReleasePort``).

A port inherits what it does not say from its portgroup (named, or the
default one) and the network: bandwidth, vlan, trustGuestRxFilters, port
isolation and the virtualport. Its plug follows the forward mode: the
network's bridge for nat/route/open/isolated networks and bridge networks
with a bridge, a macvtap ``direct`` plug on one of the pool's devices for
private/vepa/passthrough (and bridge without a bridge), a PCI device of the
pool for hostdev.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from rpcnet.errors import ErrorCode, VirError, network_error
from rpcnet.netxml import (
    ForwardMode,
    MacvtapMode,
    NetworkDef,
    PortDef,
    PortgroupDef,
    VirtualPortDef,
    makes_bridge,
)

from .pool import VirtualFunctions, interface_pool
from .qos import floor_of, plug_bandwidth
from .usage import Device, Usage
from .virtualport import complete_virtualport, merge_virtualports, virtualport_refused


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



def _portgroup(net: NetworkDef, name: str | None) -> PortgroupDef | None:
    """virPortGroupFindByName: the named group, or the default one without a name."""
    for group in net.portgroups:
        if (group.name == name) if name is not None else group.default:
            return group
    return None



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
    if makes_bridge(mode):
        port = dataclasses.replace(
            port, plug_type="network", plug_bridge=bridge, plug_mac_table_manager=manager
        )
        if vport is not None:
            raise virtualport_refused(vport, net, "IP forwarding")
    elif mode is ForwardMode.HOSTDEV:
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
            raise virtualport_refused(vport, net, "an SR-IOV Virtual Function via PCI passthrough")
    elif mode is ForwardMode.BRIDGE and bridge is not None:
        port = dataclasses.replace(
            port, plug_type="bridge", plug_bridge=bridge, plug_mac_table_manager=manager
        )
        if vport is not None and vport.type != "openvswitch":
            raise virtualport_refused(vport, net, "a bridge device")
    else:
        assert net.forward is not None
        macvtap = MacvtapMode(net.forward.mode)
        port = dataclasses.replace(port, plug_type="direct", plug_mode=macvtap)
        if vport is not None and vport.type not in ("802.1Qbg", "802.1Qbh"):
            raise virtualport_refused(vport, net, "a macvtap device")
        if not net.forward.interfaces and not net.forward.addresses and net.forward.pf is None:
            raise network_error(
                ErrorCode.INTERNAL_ERROR,
                f"network '{net.name}' uses a direct mode, but has no forward dev "
                "and no interface pool",
            )
        pool = interface_pool(net, vfs).forward
        assert pool is not None
        devs = pool.interfaces
        if _needs_exclusive_device(net, vport):
            dev = next((d for d in devs if usage.uses(d) == 0), None)
        elif devs:
            dev = min(devs, key=usage.uses)  # the first of the least used
        if dev is None:
            raise _exclusive(net)
        port = dataclasses.replace(port, plug_dev=str(dev))
    port = plug_bandwidth(net, port, usage)
    return dataclasses.replace(port, virtualport=complete_virtualport(port.virtualport)), dev


def _needs_exclusive_device(net: NetworkDef, vport: VirtualPortDef | None) -> bool:
    """A passthrough port, or a private one with an 802.1Qbh profile, takes
    a device of the pool no other port uses."""
    mode = net.forward_mode
    return mode is ForwardMode.PASSTHROUGH or (
        mode is ForwardMode.PRIVATE and vport is not None and vport.type == "802.1Qbh"
    )


def _exclusive(net: NetworkDef) -> VirError:
    return network_error(
        ErrorCode.INTERNAL_ERROR,
        f"network '{net.name}' requires exclusive access to interfaces, but none are available",
    )


def commit(port: PortDef, dev: Device | None, usage: Usage) -> None:
    """Count a port that is now part of the network."""
    usage.take(dev)
    if port.class_id is not None:
        usage.class_ids.add(port.class_id)
        usage.floor_sum += floor_of(port.bandwidth)


def reclaim(net: NetworkDef, port: PortDef, usage: Usage, vfs: VirtualFunctions) -> Device | None:
    """libvirt's networkNotifyPort for a port created with RECLAIM: its plug
    must fit the network. Returns the pool device it uses."""
    fwd = net.forward
    if port.plug_type in ("network", "bridge"):
        if net.bridge is None or not net.bridge.name:
            raise network_error(
                ErrorCode.INTERNAL_ERROR,
                "Unexpectedly got a network port without a network bridge",
            )
        return None
    pool = interface_pool(net, vfs).forward
    if port.plug_type == "direct":
        dev = port.plug_dev
        if pool is None or dev not in pool.interfaces:
            # libvirt prints the port's uuid bytes here, unreadably; rpcnet the uuid
            raise network_error(
                ErrorCode.INTERNAL_ERROR,
                f"network '{net.name}' doesn't have dev='{dev}' in use by network port "
                f"'{port.uuid}'",
            )
        if _needs_exclusive_device(net, port.virtualport) and usage.uses(dev) > 0:
            raise network_error(
                ErrorCode.INTERNAL_ERROR,
                f"network '{net.name}' claims dev='{dev}' is already in use by a different port",
            )
        return dev
    addr = port.plug_address
    assert addr is not None
    if pool is None or addr not in pool.addresses:
        raise network_error(
            ErrorCode.INTERNAL_ERROR,
            f"network '{net.name}' doesn't have PCI device {addr} in use by network port",
        )
    if usage.uses(addr) > 0 and fwd is not None and fwd.mode is ForwardMode.HOSTDEV:
        raise network_error(
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
        usage.floor_sum -= floor_of(port.bandwidth)
    usage.give_back(dev)


def _device_in_use(net: NetworkDef, port: PortDef) -> Device:
    fwd = net.forward
    direct = port.plug_type == "direct"
    if fwd is None or not (fwd.interfaces or fwd.addresses):
        kind = "direct" if direct else "hostdev"
        raise network_error(
            ErrorCode.INTERNAL_ERROR,
            f"network '{net.name}' uses a {kind} mode, but has no forward dev "
            "and no interface pool",
        )
    dev = port.plug_dev if direct else port.plug_address
    if dev is None or dev not in (fwd.interfaces if direct else fwd.addresses):
        what = f"dev='{dev}'" if direct else f"PCI device {dev}"
        raise network_error(
            ErrorCode.INTERNAL_ERROR, f"network '{net.name}' doesn't have {what} in use by domain"
        )
    return dev

