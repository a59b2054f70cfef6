"""The XDR building blocks libvirt's programs share, and the error struct.

Strings, uuids, typed parameters (``remote_typed_param`` and
``admin_typed_param`` are the same on the wire), the network and domain
handles of ``remote_protocol.x``, and ``remote_error``
(``virNetMessageError`` of ``virnetprotocol.x``): the payload of every error
reply, whatever the program. A connection needs only the latter; a
program's table builds on the former.
"""

from __future__ import annotations

from xdrlib3 import Packer, Unpacker

from rpcnet.errors import VirError
from rpcnet.protocol.message import STRING_MAX
from rpcnet.protocol.values import DomainRef, NetworkRef, ParamType, TypedParam
from rpcnet.protocol.xdr import (
    DOUBLE,
    HYPER,
    INT,
    UHYPER,
    UINT,
    XdrError,
    XdrType,
    fixed_opaque,
    memoized,
    optional,
    string,
    struct_type,
)

NONNULL_STRING = string(STRING_MAX)
OSTRING = optional(NONNULL_STRING)
UUID = fixed_opaque(16)

# Network handles recur in every reply: each one is encoded once.
NET = memoized(
    struct_type("remote_nonnull_network", [("name", NONNULL_STRING), ("uuid", UUID)], NetworkRef)
)
ONET = optional(NET)
DOM = struct_type(
    "remote_nonnull_domain", [("name", NONNULL_STRING), ("uuid", UUID), ("id", INT)], DomainRef
)

_PARAM_VALUE: dict[int, XdrType] = {
    ParamType.INT: INT,
    ParamType.UINT: UINT,
    ParamType.LLONG: HYPER,
    ParamType.ULLONG: UHYPER,
    ParamType.DOUBLE: DOUBLE,
    ParamType.BOOLEAN: INT,
    ParamType.STRING: NONNULL_STRING,
}
_PARAM_PACK = {k: t.pack for k, t in _PARAM_VALUE.items()}
_PARAM_UNPACK = {k: t.unpack for k, t in _PARAM_VALUE.items()}
_FIELD = string(80)  # VIR_TYPED_PARAM_FIELD_LENGTH


def _pack_typed_param(p: Packer, v: TypedParam) -> None:
    pack_value = _PARAM_PACK.get(v.type)
    if pack_value is None:
        raise XdrError(f"unknown typed parameter type {v.type}")
    _FIELD.pack(p, v.field)
    p.pack_int(v.type)
    pack_value(p, int(v.value) if v.type == ParamType.BOOLEAN else v.value)


def _unpack_typed_param(u: Unpacker) -> TypedParam:
    field = _FIELD.unpack(u)
    kind = u.unpack_int()
    unpack_value = _PARAM_UNPACK.get(kind)
    if unpack_value is None:
        raise XdrError(f"unknown typed parameter type {kind}")
    value = unpack_value(u)
    return TypedParam(field, kind, bool(value) if kind == ParamType.BOOLEAN else value)


TYPED_PARAM = XdrType("typed_param", _pack_typed_param, _unpack_typed_param, 12)


ERROR = struct_type(
    "remote_error",
    [
        ("code", INT),
        ("domain", INT),
        ("message", OSTRING),
        ("level", INT),
        ("dom", optional(DOM)),
        ("str1", OSTRING),
        ("str2", OSTRING),
        ("str3", OSTRING),
        ("int1", INT),
        ("int2", INT),
        ("net", ONET),
    ],
)


def encode_error(err: VirError) -> bytes:
    """The ``remote_error`` payload of an error reply."""
    return ERROR.encode(
        (err.code, err.domain, err.message, err.level, None, err.str1, err.str2, err.str3,
         err.int1, err.int2, None)
    )


def decode_error(payload: bytes) -> VirError:
    """Decode a ``remote_error`` payload back into a :class:`VirError`."""
    code, domain, message, level, _dom, str1, str2, str3, int1, int2, _net = ERROR.decode(payload)
    return VirError(
        code, domain, message if message is not None else "unknown error", level=level,
        str1=str1, str2=str2, str3=str3, int1=int1, int2=int2,
    )
