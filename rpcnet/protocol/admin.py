"""The ADMIN program (0x06900690 v1, the admin socket's): wire types and table.

libvirt's daemons serve it on ``NAME-admin-sock`` to ``virt-admin``: the
daemon's servers, their clients, limits and worker pools, logging, TLS
files and the idle timeout (``admin_protocol.x`` of libvirt 9.0). Every
procedure is answered by the admin session (``server/admin_session.py``).
Unlike REMOTE, nothing needs an open connection first (libvirtd's admin
handlers reach the daemon through the client itself), a second open is
answered like the first, there is no read-only mode and no feature
procedure; the connection still answers PINGs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from rpcnet.errors import ErrorDomain
from rpcnet.protocol.program import CallStyle, Procedure, Program
from rpcnet.protocol.wiretypes import NONNULL_STRING, OSTRING, TYPED_PARAM
from rpcnet.protocol.xdr import HYPER, UHYPER, UINT, VOID, XdrType, array, struct_type

PROGRAM = 0x06900690
VERSION = 1

SERVER_LIST_MAX = 16384
THREADPOOL_PARAMETERS_MAX = 32
CLIENT_LIST_MAX = 16384
CLIENT_INFO_PARAMETERS_MAX = 64
SERVER_CLIENT_LIMITS_MAX = 32


class Transport(IntEnum):
    """``virClientTransport``: how a client reached its server."""

    UNIX = 0
    TCP = 1
    TLS = 2


@dataclass(frozen=True, slots=True)
class ServerRef:
    """``admin_nonnull_server``."""

    name: str


@dataclass(frozen=True, slots=True)
class ClientRef:
    """``admin_nonnull_client``: its server, id, connection time (seconds
    since the epoch) and transport."""

    server: ServerRef
    id: int
    timestamp: int
    transport: int


SERVER = struct_type("admin_nonnull_server", [("name", NONNULL_STRING)], ServerRef)
CLIENT = struct_type(
    "admin_nonnull_client",
    [("server", SERVER), ("id", UHYPER), ("timestamp", HYPER), ("transport", UINT)],
    ClientRef,
)


def _params(maximum: int) -> XdrType:
    return array(TYPED_PARAM, maximum)


def _args(name: str, *fields: tuple[str, XdrType]) -> XdrType:
    return struct_type(name, list(fields))


class Proc(IntEnum):
    """``admin_procedure``: every procedure of libvirt 9.0's ADMIN program."""

    CONNECT_OPEN = 1
    CONNECT_CLOSE = 2
    CONNECT_GET_LIB_VERSION = 3
    CONNECT_LIST_SERVERS = 4
    CONNECT_LOOKUP_SERVER = 5
    SERVER_GET_THREADPOOL_PARAMETERS = 6
    SERVER_SET_THREADPOOL_PARAMETERS = 7
    SERVER_LIST_CLIENTS = 8
    SERVER_LOOKUP_CLIENT = 9
    CLIENT_GET_INFO = 10
    CLIENT_CLOSE = 11
    SERVER_GET_CLIENT_LIMITS = 12
    SERVER_SET_CLIENT_LIMITS = 13
    CONNECT_GET_LOGGING_OUTPUTS = 14
    CONNECT_GET_LOGGING_FILTERS = 15
    CONNECT_SET_LOGGING_OUTPUTS = 16
    CONNECT_SET_LOGGING_FILTERS = 17
    SERVER_UPDATE_TLS_FILES = 18
    CONNECT_SET_DAEMON_TIMEOUT = 19


def api_name(name: str) -> str:
    """The public API function of a procedure: ``SERVER_LIST_CLIENTS`` ->
    ``virAdmServerListClients``."""
    words = ("ThreadPool" if word == "THREADPOOL" else word.capitalize()
             for word in name.split("_"))
    return "virAdm" + "".join(words)


_NO_ARGS = struct_type("void_args", [])
_FLAGS = _args("admin_flags_args", ("flags", UINT))
_SERVER_FLAGS = _args("admin_server_flags_args", ("srv", SERVER), ("flags", UINT))
_CLIENT_FLAGS = _args("admin_client_flags_args", ("clnt", CLIENT), ("flags", UINT))

_SIGNATURES: dict[Proc, tuple[XdrType, XdrType]] = {
    Proc.CONNECT_OPEN: (_FLAGS, VOID),
    Proc.CONNECT_CLOSE: (_NO_ARGS, VOID),
    Proc.CONNECT_GET_LIB_VERSION: (
        _NO_ARGS, _args("admin_connect_get_lib_version_ret", ("lib_ver", UHYPER))),
    Proc.CONNECT_LIST_SERVERS: (
        _args("admin_connect_list_servers_args", ("need_results", UINT), ("flags", UINT)),
        _args("admin_connect_list_servers_ret",
              ("servers", array(SERVER, SERVER_LIST_MAX)), ("ret", UINT))),
    Proc.CONNECT_LOOKUP_SERVER: (
        _args("admin_connect_lookup_server_args", ("name", NONNULL_STRING), ("flags", UINT)),
        _args("admin_connect_lookup_server_ret", ("srv", SERVER))),
    Proc.SERVER_GET_THREADPOOL_PARAMETERS: (
        _SERVER_FLAGS,
        _args("admin_server_get_threadpool_parameters_ret",
              ("params", _params(THREADPOOL_PARAMETERS_MAX)))),
    Proc.SERVER_SET_THREADPOOL_PARAMETERS: (
        _args("admin_server_set_threadpool_parameters_args", ("srv", SERVER),
              ("params", _params(THREADPOOL_PARAMETERS_MAX)), ("flags", UINT)),
        VOID),
    Proc.SERVER_LIST_CLIENTS: (
        _args("admin_server_list_clients_args", ("srv", SERVER), ("need_results", UINT),
              ("flags", UINT)),
        _args("admin_server_list_clients_ret",
              ("clients", array(CLIENT, CLIENT_LIST_MAX)), ("ret", UINT))),
    Proc.SERVER_LOOKUP_CLIENT: (
        _args("admin_server_lookup_client_args", ("srv", SERVER), ("id", UHYPER),
              ("flags", UINT)),
        _args("admin_server_lookup_client_ret", ("clnt", CLIENT))),
    Proc.CLIENT_GET_INFO: (
        _CLIENT_FLAGS,
        _args("admin_client_get_info_ret", ("params", _params(CLIENT_INFO_PARAMETERS_MAX)))),
    Proc.CLIENT_CLOSE: (_CLIENT_FLAGS, VOID),
    Proc.SERVER_GET_CLIENT_LIMITS: (
        _SERVER_FLAGS,
        _args("admin_server_get_client_limits_ret",
              ("params", _params(SERVER_CLIENT_LIMITS_MAX)))),
    Proc.SERVER_SET_CLIENT_LIMITS: (
        _args("admin_server_set_client_limits_args", ("srv", SERVER),
              ("params", _params(SERVER_CLIENT_LIMITS_MAX)), ("flags", UINT)),
        VOID),
    Proc.CONNECT_GET_LOGGING_OUTPUTS: (
        _FLAGS,
        _args("admin_connect_get_logging_outputs_ret", ("outputs", NONNULL_STRING),
              ("noutputs", UINT))),
    Proc.CONNECT_GET_LOGGING_FILTERS: (
        _FLAGS,
        _args("admin_connect_get_logging_filters_ret", ("filters", OSTRING),
              ("nfilters", UINT))),
    Proc.CONNECT_SET_LOGGING_OUTPUTS: (
        _args("admin_connect_set_logging_outputs_args", ("outputs", OSTRING), ("flags", UINT)),
        VOID),
    Proc.CONNECT_SET_LOGGING_FILTERS: (
        _args("admin_connect_set_logging_filters_args", ("filters", OSTRING), ("flags", UINT)),
        VOID),
    Proc.SERVER_UPDATE_TLS_FILES: (_SERVER_FLAGS, VOID),
    Proc.CONNECT_SET_DAEMON_TIMEOUT: (
        _args("admin_connect_set_daemon_timeout_args", ("timeout", UINT), ("flags", UINT)),
        VOID),
}

#: every procedure, answered by the admin session; none is refused to a
#: read-only connection (the admin program has none)
PROCEDURES: tuple[Procedure, ...] = tuple(
    Procedure(int(proc), proc.name, args, ret, True, CallStyle.SESSION, api_name(proc.name))
    for proc, (args, ret) in _SIGNATURES.items()
)
BY_NUMBER: dict[int, Procedure] = {p.number: p for p in PROCEDURES}

#: The ADMIN program as a connection serves or calls it.
ADMIN = Program(
    number=PROGRAM,
    version=VERSION,
    procedures=BY_NUMBER,
    names={int(proc): proc.name for proc in Proc},
    open=Proc.CONNECT_OPEN,
    close=Proc.CONNECT_CLOSE,
    pre_open=frozenset(BY_NUMBER),
    open_once=False,  # libvirtd's admin server answers a second open like the first
    api_name=api_name,
    api_error_domain=lambda name: ErrorDomain.ADMIN,
)
