"""The XDR building blocks libvirt's programs share, and the error struct.

Strings, uuids and the network and domain handles of ``remote_protocol.x``,
and ``remote_error`` (``virNetMessageError`` of ``virnetprotocol.x``): the
payload of every error reply, whatever the program. A connection needs only
the latter; a program's table builds on the former.
"""

from __future__ import annotations

from rpcnet.errors import VirError
from rpcnet.protocol.message import STRING_MAX
from rpcnet.protocol.values import DomainRef, NetworkRef
from rpcnet.protocol.xdr import INT, fixed_opaque, memoized, optional, string, struct_type

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
