"""One client of the daemon: an asyncio adapter over a sans-IO server connection.

Theory of operation: the transport's bytes go into a
:class:`~rpcnet.protocol.connection.ServerConnection` for the REMOTE
program, which answers by itself everything the protocol decides
(keepalive, the authentication list and features, unknown programs and
procedures, undecodable payloads, calls before open, write calls on a
read-only connection, oversized frames) and hands out the calls left. A
call runs eagerly, inside ``data_received``: most driver calls (lookups,
lists, XML) never suspend, and those are answered at once without a task.
Only a call that suspends becomes a task, so up to ``max_client_requests``
such calls of one client run at once; beyond that the session stops asking
the connection for calls and stops reading from the transport until one
finishes, as libvirtd does. Every call gets exactly one reply with its
serial, an error reply if anything fails. The replies to all the calls of
one chunk of input go out in one write. The session answers open, close,
the connection's properties and event registrations itself, and hands
every other call to the driver the open chose (``dispatch.call_driver``).

Nothing here assumes a socket: any ``asyncio.Transport`` carries a session.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Protocol, cast

from rpcnet.errors import ErrorCode, ErrorDomain, VirError, internal_error, rpc_error
from rpcnet.protocol import remote
from rpcnet.protocol.connection import CLOSED_BY_CLIENT, Call, ServerConnection
from rpcnet.protocol.remote import CallStyle, Proc
from rpcnet.protocol.values import NetworkRef
from rpcnet.server.config import ServerConfig
from rpcnet.server.dispatch import call_driver
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

    def admit(self, session: Session) -> str | None:
        """Count a new client in; returns why it is refused, or None."""

    def forget(self, session: Session) -> None:
        """The client is gone."""

    def driver_for(self, key: str) -> NetworkDriver:
        """The driver a CONNECT_OPEN name selected; raises VirError."""


class Session(asyncio.Protocol):
    """The server side of one client connection."""

    def __init__(self, server: SessionServer, *, readonly_socket: bool, secure: bool = True,
                 transport_name: str = "unix") -> None:
        self.server = server
        self.config = config = server.config
        self.secure = secure
        self.transport_name = transport_name
        self.peer = "?"
        self.driver: NetworkDriver | None = None
        self.uri: str | None = None
        #: server callback id -> (event id, uuid of the network filter or None)
        self.callbacks: dict[int, tuple[int, bytes | None]] = {}
        self.close_callback = False
        self.conn = ServerConnection(
            remote.REMOTE, readonly=readonly_socket, max_message=config.max_message,
            keepalive_interval=config.keepalive_interval,
            keepalive_count=config.keepalive_count)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_event_loop()
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._reading_paused = False
        self._writing_paused = False
        self._batching = False
        self._closing = False
        self._timer: asyncio.TimerHandle | None = None

    @property
    def readonly(self) -> bool:
        return self.conn.readonly

    # -- transport callbacks ----------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        self.peer = _describe_peer(transport)
        log.info("client connected: %s%s", self.peer, " (read-only)" if self.readonly else "")
        refusal = self.server.admit(self)
        if refusal is not None:
            # Answer the client's first call with the reason, then drop it.
            log.warning("refusing client %s: %s", self.peer, refusal)
            self.conn.refuse(rpc_error(refusal), self._loop.time(), self.config.refusal_grace)
            self._arm_timer()

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data, self._loop.time())
        self._process()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        log.info("client disconnected: %s", self.peer)
        self.conn.close("connection lost")
        if self._timer is not None:
            self._timer.cancel()
        for task in self._tasks:
            task.cancel()
        self.server.forget(self)
        if self.callbacks and self.driver is not None:
            self._loop.create_task(self._drop_callbacks(self.driver, list(self.callbacks)))
            self.callbacks.clear()

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._update_reading()
        self._process()

    # -- inbound ----------------------------------------------------------

    def _process(self) -> None:
        conn = self.conn
        limit = self.config.max_client_requests
        self._batching = True  # replies collect in the connection: one write for the lot
        try:
            while not self._closing and self._in_flight < limit:
                call = conn.next_event()
                if call is None:
                    break
                self._start(call)
        finally:
            self._batching = False
            self._flush()
        if self._timer is None:
            self._arm_timer()  # keepalive starts when the client asks for it
        self._update_reading()

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None or self._closing:
            return
        busy = self._in_flight >= self.config.max_client_requests or self._writing_paused
        if busy and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()
        elif not busy and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()

    def _start(self, call: Call) -> None:
        """Run the call up to its first suspension; only then make it a task.

        A task costs a loop iteration before it starts and a callback after,
        several times what a lookup itself costs. Note for drivers: before its
        first ``await`` that suspends, a driver method runs outside any task
        (``asyncio.current_task()`` is None, so no ``asyncio.timeout`` there).
        """
        coro = self._run(call)
        try:
            awaited = coro.send(None)
        except StopIteration:
            return  # answered already
        self._in_flight += 1
        task = self._loop.create_task(_carry_on(coro, awaited))
        self._tasks.add(task)
        task.add_done_callback(self._call_done)

    def _call_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        if not self._closing:
            self._process()

    async def _run(self, call: Call) -> None:
        proc = call.procedure
        try:
            if proc.style is CallStyle.SESSION:
                result = await _SESSION_HANDLERS[proc.number](self, *call.args)
            else:
                assert self.driver is not None
                result = await call_driver(proc, self.driver, call.args)
            self.conn.reply(call, result)
        except VirError as err:
            self.conn.reply_error(call, err)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("internal failure in %s for %s", proc.name, self.peer)
            self.conn.reply_error(call, internal_error(
                ErrorDomain.RPC, f"unexpected failure in {proc.api}"))
        if not self._batching:
            self._flush()

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

    async def _register_close_callback(self) -> None:
        self.close_callback = True

    async def _unregister_close_callback(self) -> None:
        self.close_callback = False

    async def _event_register(self, event_id: int, net: NetworkRef | None) -> Any:
        if event_id != 0:
            raise internal_error(ErrorDomain.RPC, f"unsupported network event ID {event_id}")
        key = (event_id, net.uuid if net is not None else None)
        if key in self.callbacks.values():
            raise VirError.make(ErrorCode.INVALID_ARG, ErrorDomain.NONE,
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
        self._flush()

    # -- time -------------------------------------------------------------

    def _arm_timer(self) -> None:
        due = self.conn.get_timer()
        if due is not None and not self._closing:
            self._timer = self._loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._closing:
            return
        self.conn.handle_timer(self._loop.time())
        self._flush()
        self._arm_timer()

    # -- outbound ---------------------------------------------------------

    def _flush(self) -> None:
        """Write what the connection queued; close if the connection ended."""
        data = self.conn.data_to_send()
        if data:
            self._send(data)
        closed = self.conn.closed
        if closed is not None and not self._closing:
            if closed is not CLOSED_BY_CLIENT:
                log.warning("closing client %s: %s", self.peer, closed.reason)
            self.close(abort=closed.abort)

    def _send(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or self._closing:
            return
        transport.write(data)
        if transport.get_write_buffer_size() > self.config.max_client_backlog:
            log.warning("closing client %s: it does not read its replies", self.peer)
            self.close(abort=True)

    def close(self, *, abort: bool = False) -> None:
        transport = self._transport
        if transport is None or self._closing:
            return
        if not abort:
            data = self.conn.data_to_send()
            if data:
                transport.write(data)
        self._closing = True
        self.conn.close("closed by the server", abort=abort)
        if abort:
            transport.abort()
        else:
            transport.close()


#: The procedures the session answers itself (CallStyle.SESSION), by number.
_SESSION_HANDLERS: dict[int, Callable[..., Awaitable[Any]]] = {
    Proc.CONNECT_OPEN: Session._connect_open,
    Proc.CONNECT_CLOSE: Session._nothing,
    Proc.CONNECT_GET_URI: Session._get_uri,
    Proc.CONNECT_IS_SECURE: Session._is_secure,
    Proc.CONNECT_GET_LIB_VERSION: Session._lib_version,
    Proc.CONNECT_REGISTER_CLOSE_CALLBACK: Session._register_close_callback,
    Proc.CONNECT_UNREGISTER_CLOSE_CALLBACK: Session._unregister_close_callback,
    Proc.CONNECT_NETWORK_EVENT_REGISTER_ANY: Session._event_register,
    Proc.CONNECT_NETWORK_EVENT_DEREGISTER_ANY: Session._deregister_event,
}
assert set(_SESSION_HANDLERS) == {
    p.number for p in remote.PROCEDURES if p.style is CallStyle.SESSION}


def _describe_peer(transport: asyncio.BaseTransport) -> str:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family == socket.AF_UNIX:
        try:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid, uid, gid = struct.unpack("3i", creds)
            return f"unix pid={pid} uid={uid} gid={gid}"
        except OSError:
            return "unix ?"
    peer = transport.get_extra_info("peername")
    return "?" if peer is None else str(peer)


async def _carry_on(call: Coroutine[Any, Any, None], awaited: Any) -> None:
    """The rest of a call :meth:`Session._start` began: its task's body."""
    await _resume(call, awaited)


@types.coroutine
def _resume(call: Coroutine[Any, Any, None], awaited: Any) -> Generator[Any, Any, None]:
    """``yield from call``, for a coroutine that already yielded ``awaited``:
    pass that to the task, then relay what the task sends or throws."""
    while True:
        try:
            sent = yield awaited
        except GeneratorExit:
            call.close()
            raise
        except BaseException as exc:  # CancelledError included: the call sees it
            try:
                awaited = call.throw(exc)
            except StopIteration:
                return
        else:
            try:
                awaited = call.send(sent)
            except StopIteration:
                return
