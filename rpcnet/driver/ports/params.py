"""The bandwidth typed parameters of ``networkPortSetParameters`` and
``networkPortGetParameters``."""

from __future__ import annotations

from collections.abc import Sequence

from rpcnet.errors import ErrorCode, network_error
from rpcnet.netxml import BandwidthDef, PortDef, RateDef
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
            raise network_error(
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
