"""QoS floors: a network's inbound bandwidth shared by its ports' floors,
and the QoS class each port with a floor takes (``networkCheckBandwidth``,
``networkUpdatePortBandwidth``)."""

from __future__ import annotations

import dataclasses

from rpcnet.errors import ErrorCode, network_error
from rpcnet.netxml import BandwidthDef, NetworkDef, PortDef, makes_bridge

from .usage import Usage

_FIRST_CLASS_ID = 3  # libvirt's bridge QoS takes class ids 0-2 itself


def floor_of(bandwidth: BandwidthDef | None) -> int:
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
    floor = floor_of(bandwidth)
    if floor and not makes_bridge(net.forward_mode):
        raise network_error(
            ErrorCode.OPERATION_UNSUPPORTED,
            f"Invalid use of 'floor' on interface with MAC address {mac} - 'floor' is only "
            "supported for interface type 'network' with forward type 'nat', 'route', "
            "'open' or none",
        )
    net_in = net.bandwidth.inbound if net.bandwidth is not None else None
    if floor and net_in is None:
        raise network_error(
            ErrorCode.OPERATION_UNSUPPORTED,
            f"Invalid use of 'floor' on interface with MAC address {mac} - "
            f"network '{net.name}' has no inbound QoS set",
        )
    if net_in is None or not (floor or floor_of(old)):
        return False
    total = usage.floor_sum - floor_of(old) + floor
    limit, what = (net_in.peak, "peak") if net_in.peak else (net_in.average or 0, "average")
    if total > limit:
        bridge = net.bridge.name if net.bridge is not None else None
        raise network_error(
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
    old_floor, new_floor = floor_of(port.bandwidth), floor_of(bandwidth)
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

