"""A second program for the connection: a tiny table of libvirt's ADMIN program.

Three procedures of ``admin_protocol.x`` (program 0x06900690, the admin
socket's): open, close and the daemon's library version; the others are known
by name only. It shows the seam a second program plugs into (issue 10 brings
the real one): a :class:`Program` value, and no change to the connection.
"""

from __future__ import annotations

from rpcnet.protocol.program import CallStyle, Procedure, Program
from rpcnet.protocol.xdr import UHYPER, UINT, VOID, XdrType, struct_type

PROGRAM = 0x06900690
#: VIR_FROM_ADMIN
DOMAIN_ADMIN = 62
NAMES = {1: "CONNECT_OPEN", 2: "CONNECT_CLOSE", 3: "CONNECT_GET_LIB_VERSION",
         4: "CONNECT_LIST_SERVERS", 5: "CONNECT_LOOKUP_SERVER"}

NO_ARGS = struct_type("void_args", [])


def api_name(name: str) -> str:
    return "virAdm" + "".join(word.capitalize() for word in name.split("_"))


def _procedure(number: int, args: XdrType, ret: XdrType) -> Procedure:
    name = NAMES[number]
    return Procedure(number, name, args, ret, True, CallStyle.SESSION, api_name(name))


ADMIN = Program(
    number=PROGRAM,
    version=1,
    procedures={
        1: _procedure(1, struct_type("admin_connect_open_args", [("flags", UINT)]), VOID),
        2: _procedure(2, NO_ARGS, VOID),
        3: _procedure(3, NO_ARGS,
                      struct_type("admin_connect_get_lib_version_ret", [("lib_ver", UHYPER)])),
    },
    names=NAMES,
    open=1,
    close=2,
    pre_open=frozenset({1}),
    open_once=False,  # libvirtd's admin server answers a second open like the first
    api_name=api_name,
    api_error_domain=lambda name: DOMAIN_ADMIN,
)
