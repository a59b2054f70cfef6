"""One client of the daemon: the REMOTE program's calls answered.

The asyncio side (eager calls, tasks, backpressure, one write per chunk,
timers) is :class:`~rpcnet.server.rpcprotocol.RpcProtocol`'s, the protocol's
decisions (keepalive, the authentication list and features, unknown
programs and procedures, undecodable payloads, calls before open, write
calls on a read-only connection, oversized frames) are the sans-IO
:class:`~rpcnet.protocol.connection.ServerConnection`'s. What is left here is
what a REMOTE call means: the session answers open, close, the connection's
properties and event registrations itself, and hands every other call to
the driver the open chose (``dispatch.call_driver``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from rpcnet.errors import ErrorCode, ErrorDomain, VirError, general_error, internal_error, rpc_error
from rpcnet.protocol import remote
from rpcnet.protocol.connection import KEEPALIVE_TIMEOUT, Call, ServerConnection
from rpcnet.protocol.remote import CallStyle, Proc
from rpcnet.protocol.rpcnet_program import RPCNET
from rpcnet.protocol.values import NetworkRef, TypedParam
from rpcnet.server.config import ServerConfig
from rpcnet.server.counters import DaemonCounters
from rpcnet.server.dispatch import call_driver
from rpcnet.server.identity import Identity
from rpcnet.server.observers import ObserverFactory, observer_for
from rpcnet.server.rpcprotocol import RpcProtocol
from rpcnet.server.uri import resolve_open_name

if TYPE_CHECKING:
    from rpcnet.driver.base import NetworkDriver

log = logging.getLogger("rpcnet.server")

LIB_VERSION = 9_000_000


class SessionServer(Protocol):
    """What a session needs from the daemon that accepted it."""

    config: ServerConfig
    #: the daemon runs as root (``network:///system``, not ``/session``)
    privileged: bool
    #: what watches each client's calls (metrics, the test kit's record)
    call_observers: list[ObserverFactory]
    #: what the daemon counts besides calls (events, keepalive drops, ...)
    counters: DaemonCounters

    def admit(self, session: Session) -> str | None:
        """Count a new client in; returns why it is refused, or None."""

    def forget(self, session: Session) -> None:
        """The client is gone."""

    def driver_for(self, key: str) -> NetworkDriver:
        """The driver a CONNECT_OPEN name selected; raises VirError."""


class Session(RpcProtocol):
    """The server side of one client connection of the REMOTE program (and
    of rpcnet's own program beside it, whose calls go to the driver too)."""

    #: the sans-IO connection a session drives (the test kit's adds faults)
    connection_type: ClassVar[type[ServerConnection]] = ServerConnection

    def __init__(self, server: SessionServer, *, readonly_socket: bool, secure: bool = True,
                 transport_name: str = "unix") -> None:
        config = server.config
        super().__init__(
            self.connection_type(remote.REMOTE, readonly=readonly_socket,
                             max_message=config.max_message,
                             keepalive_interval=config.keepalive_interval,
                             keepalive_count=config.keepalive_count, companions=(RPCNET,)),
            max_requests=config.max_client_requests, max_backlog=config.max_client_backlog)
        self.server = server
        self.config = config
        self.secure = secure
        self.transport_name = transport_name
        self.driver: NetworkDriver | None = None
        self.uri: str | None = None
        #: server callback id -> (event id, uuid of the network filter or None)
        self.callbacks: dict[int, tuple[int, bytes | None]] = {}
        self.close_callback = False

    @property
    def readonly(self) -> bool:
        return self.conn.readonly

    # -- the client comes and goes ------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        log.info("client connected: %s%s", self.peer, " (read-only)" if self.readonly else "")
        self.server.counters.connected(self.transport_name)
        if self.server.call_observers:
            self.conn.observer = observer_for(self, self.server.call_observers)
        refusal = self.server.admit(self)
        if refusal is not None:
            # Answer the client's first call with the reason, then drop it.
            log.warning("refusing client %s: %s", self.peer, refusal)
            self.conn.refuse(rpc_error(refusal), self._loop.time(), self.config.refusal_grace)
            self._arm_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        log.info("client disconnected: %s", self.peer)
        if self.conn.closed is KEEPALIVE_TIMEOUT:
            self.server.counters.keepalive_drops += 1
        self.server.forget(self)
        if self.callbacks and self.driver is not None:
            self._loop.create_task(self._drop_callbacks(self.driver, list(self.callbacks)))
            self.callbacks.clear()

    # -- calls ------------------------------------------------------------

    def answer(self, call: Call) -> Awaitable[Any]:
        proc = call.procedure
        if proc.style is CallStyle.SESSION:
            return _SESSION_HANDLERS[proc.number](self, *call.args)
        assert self.driver is not None
        return call_driver(proc, self.driver, call.args)

    # -- procedures the session answers itself ------------------------------

    async def _connect_open(self, name: str | None, flags: int) -> None:
        target = resolve_open_name(name, privileged=self.server.privileged)
        self.driver = self.server.driver_for(target.driver)
        self.uri = target.uri
        readonly = self.readonly or remote.REMOTE.opens_readonly((name, flags))
        log.info("client %s opened %s%s", self.peer, target.uri, " read-only" if readonly else "")

    async def _nothing(self) -> None:
        return None  # CONNECT_CLOSE: the reply is all; the connection closes after it

    async def _get_uri(self) -> Any:
        return (self.uri,)

    async def _is_secure(self) -> Any:
        return (1 if self.secure else 0,)

    async def _lib_version(self) -> Any:
        return (LIB_VERSION,)

    async def _set_identity(self, params: list[TypedParam], _flags: int) -> None:
        # libvirtd takes it on any open connection, read-only too, and
        # ignores the flags
        identity = Identity.from_parameters(params)
        log.info("client %s set its identity: %s", self.peer, identity.describe() or "(none)")
        self.set_identity(identity)

    async def _register_close_callback(self) -> None:
        self.close_callback = True

    async def _unregister_close_callback(self) -> None:
        self.close_callback = False

    async def _event_register(self, event_id: int, net: NetworkRef | None) -> Any:
        if event_id != 0:
            raise internal_error(ErrorDomain.RPC, f"unsupported network event ID {event_id}")
        key = (event_id, net.uuid if net is not None else None)
        if key in self.callbacks.values():
            raise general_error(ErrorCode.INVALID_ARG,
                                "event callback already tracked")
        assert self.driver is not None
        callback_id = await self.driver.connect_network_event_register_any(
            event_id, net, self._on_lifecycle)
        self.callbacks[callback_id] = key
        return (callback_id,)

    async def _deregister_event(self, callback_id: int) -> None:
        if callback_id not in self.callbacks:
            raise internal_error(ErrorDomain.RPC,
                                 f"network event callback {callback_id} not registered")
        assert self.driver is not None
        await self.driver.connect_network_event_deregister_any(callback_id)
        self.callbacks.pop(callback_id, None)

    @staticmethod
    async def _drop_callbacks(driver: NetworkDriver, callback_ids: list[int]) -> None:
        for callback_id in callback_ids:
            try:
                await driver.connect_network_event_deregister_any(callback_id)
            except VirError as err:
                log.debug("dropping callback %d: %s", callback_id, err)

    def _on_lifecycle(self, callback_id: int, net: NetworkRef, event: int, detail: int) -> None:
        if self._closing:
            return
        # Queue behind the reply of the call that caused the event, as libvirtd does.
        self._loop.call_soon(self._send_event, (callback_id, net, event, detail))

    def _send_event(self, args: tuple[int, NetworkRef, int, int]) -> None:
        if self._closing:
            return
        self.conn.send_message(Proc.NETWORK_EVENT_LIFECYCLE, args)
        self.server.counters.events_delivered += 1
        self._flush()


#: The procedures the session answers itself (CallStyle.SESSION), by number.
_SESSION_HANDLERS: dict[int, Callable[..., Awaitable[Any]]] = {
    Proc.CONNECT_OPEN: Session._connect_open,
    Proc.CONNECT_CLOSE: Session._nothing,
    Proc.CONNECT_GET_URI: Session._get_uri,
    Proc.CONNECT_IS_SECURE: Session._is_secure,
    Proc.CONNECT_GET_LIB_VERSION: Session._lib_version,
    Proc.CONNECT_SET_IDENTITY: Session._set_identity,
    Proc.CONNECT_REGISTER_CLOSE_CALLBACK: Session._register_close_callback,
    Proc.CONNECT_UNREGISTER_CLOSE_CALLBACK: Session._unregister_close_callback,
    Proc.CONNECT_NETWORK_EVENT_REGISTER_ANY: Session._event_register,
    Proc.CONNECT_NETWORK_EVENT_DEREGISTER_ANY: Session._deregister_event,
}
assert set(_SESSION_HANDLERS) == {
    p.number for p in remote.PROCEDURES if p.style is CallStyle.SESSION}
