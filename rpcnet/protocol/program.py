"""What an RPC program is to a connection: its procedure table and handshake roles.

libvirt speaks several programs over one framing: REMOTE on the daemon's
sockets, ADMIN on the admin socket, KEEPALIVE beside either. A
:class:`Program` describes one of them for
:mod:`rpcnet.protocol.connection`: the number and version in its headers,
its procedures (:class:`Procedure`, one row per procedure), which calls are
allowed before the connection is open, which procedures open and close it,
and which features it answers. The connection knows no program by name; a
second program is a second :class:`Program` value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from rpcnet.errors import ErrorCode, ErrorDomain, VirError, internal_error, rpc_error
from rpcnet.protocol.xdr import VOID, XdrType


class CallStyle(Enum):
    """How a procedure's XDR fields map onto whoever answers it."""

    #: answered by the sans-IO connection itself (authentication list, features)
    CONNECTION = "connection"
    #: answered by the daemon's session (open, close, connection properties, events)
    SESSION = "session"
    #: ``driver.method(*args)``; the result fills the single return field (if any)
    PLAIN = "plain"
    #: args end in ``need_results, flags``; the driver gets the others and
    #: ``flags`` and returns a list; the reply is ``(list or [], len(list))``
    LIST_ALL = "list_all"
    #: ``(port, nparams, flags)``: nparams is client garbage; reply ``(params, 0)``
    GET_PARAMETERS = "get_parameters"
    #: an asynchronous MESSAGE from server to client, never a call
    EVENT = "event"


#: the styles whose procedures a driver method serves (``Procedure.method``)
DRIVER_STYLES = frozenset({CallStyle.PLAIN, CallStyle.LIST_ALL, CallStyle.GET_PARAMETERS})


@dataclass(frozen=True, slots=True)
class Procedure:
    """One row of a program's table."""

    number: int
    name: str
    args: XdrType
    ret: XdrType
    #: may a read-only connection call it
    readonly: bool
    style: CallStyle
    #: the public API function it implements (``virNetworkGetXMLDesc``)
    api: str
    #: the driver method that serves it, for the driver styles
    method: str | None = None

    @property
    def ret_fields(self) -> int:
        return 0 if self.ret is VOID else 1


def _no_readonly_open(_args: tuple[Any, ...]) -> bool:
    return False


def not_open_error(_name: str = "") -> VirError:
    """The answer to a call before the connection is open."""
    return internal_error(ErrorDomain.RPC, "connection not open")


@dataclass(frozen=True, slots=True, kw_only=True)
class Program:
    """A program as a connection serves or calls it."""

    number: int
    version: int
    #: the procedures rpcnet implements, by number
    procedures: Mapping[int, Procedure]
    #: every procedure of the real program by number, those outside the table too
    names: Mapping[int, str]
    #: the procedure that opens the connection, and the one after whose reply it closes
    open: int
    close: int
    #: what may be called before the open procedure succeeded
    pre_open: frozenset[int]
    #: does this open call (decoded arguments) make the connection read-only
    opens_readonly: Callable[[tuple[Any, ...]], bool] = _no_readonly_open
    #: a second open is refused ("connection already open"), as libvirtd's
    #: REMOTE program does; its ADMIN program accepts it again
    open_once: bool = True
    #: the procedure listing the authentication types (answered by the connection)
    auth_list: int | None = None
    #: the procedure asking whether a feature is supported (answered by the connection)
    supports_feature: int | None = None
    #: features answered as supported once the connection is open
    features: frozenset[int] = frozenset()
    #: the feature that asks for keepalive: supported even before open, and
    #: asking it starts the server's PINGs
    keepalive_feature: int | None = None
    #: the public API function of a procedure name (``NETWORK_DESTROY`` -> ``virNetworkDestroy``)
    api_name: Callable[[str], str]
    #: the error domain of the public API function behind a procedure name
    api_error_domain: Callable[[str], int]
    #: the answer to a call of this procedure name before the connection is open
    not_open: Callable[[str], VirError] = not_open_error

    def unknown_call_error(self, number: int, opened: bool) -> VirError:
        """The answer to a call of a procedure outside :attr:`procedures`.

        A procedure the real program has is "not supported by the connection
        driver" (once open); an unknown number, or the number of a message
        the server sends, is an unknown procedure.
        """
        name = self.names.get(number)
        if name is None or ("EVENT" in name and "REGISTER" not in name):
            return rpc_error(f"unknown procedure: {number}")
        if not opened:
            return self.not_open(name)
        return VirError.make(ErrorCode.NO_SUPPORT, self.api_error_domain(name),
                             self.api_name(name))

    def denied_error(self, procedure: Procedure) -> VirError:
        """The answer to a write call on a read-only connection."""
        return VirError.make(ErrorCode.OPERATION_DENIED, self.api_error_domain(procedure.name),
                             f"read only access prevents {procedure.api}")
