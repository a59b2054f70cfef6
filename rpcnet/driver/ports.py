"""Network ports: plug allocation and bandwidth typed parameters, as the
libvirt 9.0 bridge driver does them (``networkAllocatePort``,
``networkPortSetParameters``, ``networkPortGetParameters``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.netxml import BandwidthDef, NetworkDef, PortDef, RateDef
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
_BRIDGED_MODES = (None, "nat", "route", "open")


def _error(code: int, detail: str) -> VirError:
    return VirError.make(code, ErrorDomain.NETWORK, detail)


def allocate(net: NetworkDef, port: PortDef) -> PortDef:
    """Fill the ``<plug>`` of a new port of the running network ``net``."""
    check_floor(net, port.mac, port.bandwidth)
    bridge = net.bridge.name if net.bridge is not None else None
    if net.forward_mode in _BRIDGED_MODES:
        plug = "network"
    elif net.forward_mode == "bridge" and bridge is not None:
        plug = "bridge"
    else:
        raise _error(
            ErrorCode.INTERNAL_ERROR,
            f"network '{net.name}' uses a direct mode, but has no forward dev "
            "and no interface pool",
        )
    return dataclasses.replace(port, plug_type=plug, plug_bridge=bridge)


def check_floor(net: NetworkDef, mac: str, bandwidth: BandwidthDef | None) -> None:
    """A port ``floor`` needs network-wide inbound QoS, which rpcnet's network
    model never has, so any floor is refused as libvirt refuses it then."""
    inbound = bandwidth.inbound if bandwidth is not None else None
    if inbound is None or not inbound.floor:
        return
    if net.forward_mode not in _BRIDGED_MODES:
        detail = (
            f"Invalid use of 'floor' on interface with MAC address {mac} - 'floor' is only "
            "supported for interface type 'network' with forward type 'nat', 'route', "
            "'open' or none"
        )
    else:
        detail = (
            f"Invalid use of 'floor' on interface with MAC address {mac} - "
            f"network '{net.name}' has no inbound QoS set"
        )
    raise _error(ErrorCode.OPERATION_UNSUPPORTED, detail)


def get_parameters(port: PortDef) -> list[TypedParam]:
    """The bandwidth parameters of each direction the port has (0 where a
    field is unset), as libvirtd 9.0 returns them; none without bandwidth."""
    params = []
    for name, direction, field in BANDWIDTH_PARAMS:
        rate = getattr(port.bandwidth, direction) if port.bandwidth is not None else None
        if rate is not None:
            params.append(TypedParam(name, ParamType.UINT, getattr(rate, field) or 0))
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
