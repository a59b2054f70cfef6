"""Checking a typed parameter list as libvirt's ``virTypedParamsValidate`` does.

The calls that take typed parameters (an identity, the admin program's
limits and worker pool) accept only known names, each with one type and at
most once. libvirt checks a list sorted by name against the sorted allowed
names in one merge, so which error a list with several faults gets depends
on that order; :func:`validate` walks the same way and raises the same
error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rpcnet.errors import ErrorCode, general_error
from rpcnet.protocol.values import ParamType, TypedParam

#: ``virTypedParameterType`` names, as libvirt's messages spell them
TYPE_NAMES = {ParamType.INT: "int", ParamType.UINT: "uint", ParamType.LLONG: "llong",
              ParamType.ULLONG: "ullong", ParamType.DOUBLE: "double",
              ParamType.BOOLEAN: "boolean", ParamType.STRING: "string"}


def _key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")  # strcmp's order


def validate(params: Sequence[TypedParam], allowed: Mapping[str, int]) -> None:
    """Raise libvirt's error unless every parameter has an ``allowed`` name,
    that name's type and appears once."""
    given = sorted(params, key=lambda p: _key(p.field))
    keys = sorted(allowed, key=_key)
    i = j = 0
    last: str | None = None
    while i < len(given) and j < len(keys):
        param = given[i]
        if param.field != keys[j]:
            j += 1
            continue
        if param.field == last:
            raise general_error(ErrorCode.INVALID_ARG,
                                f"parameter '{param.field}' occurs multiple times")
        wanted = allowed[keys[j]]
        if param.type != wanted:
            raise general_error(
                ErrorCode.INVALID_ARG,
                f"invalid type '{TYPE_NAMES.get(param.type, 'unknown')}' for parameter "
                f"'{param.field}', expected '{TYPE_NAMES[wanted]}'")
        last = param.field
        i += 1
    if j == len(keys) and i != len(given):
        raise general_error(ErrorCode.ARGUMENT_UNSUPPORTED,
                            f"parameter '{given[i].field}' not supported")


def first(params: Sequence[TypedParam], name: str) -> TypedParam | None:
    """The first parameter called ``name`` (``virTypedParamsGet``)."""
    return next((p for p in params if p.field == name), None)

