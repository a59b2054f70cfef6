"""One client connection: framing, the handshake, dispatch, events, keepalive.

Theory of operation: bytes go into a :class:`Framer`; each whole message is
looked up in the REMOTE table, checked (connection open, read-only), decoded
and run. A call runs eagerly, inside ``data_received``: most driver calls
(lookups, lists, XML) never suspend, and those are answered at once without
a task. Only a call that suspends becomes a task, so up to
``max_client_requests`` such calls of one client run at once; beyond that
the session stops reading from the socket until one finishes, as libvirtd
does. Every call gets exactly one reply with its serial, an error reply if
anything fails. The replies to all the calls of one chunk of input go out in
one write. A malformed frame closes only this client. Keepalive PINGs start
once the client has asked for the keepalive feature.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, cast

from rpcnet.errors import ErrorCode, ErrorDomain, VirError, internal_error, rpc_error
from rpcnet.protocol import keepalive, remote
from rpcnet.protocol.keepalive import KeepaliveAction, KeepaliveTimer
from rpcnet.protocol.message import (
    FrameError,
    Framer,
    Header,
    Message,
    MessageType,
    Status,
    encode_frame,
    reply_frame,
)
from rpcnet.protocol.remote import CallStyle, Feature, Proc, Procedure
from rpcnet.protocol.values import NetworkRef
from rpcnet.protocol.xdr import XdrError
from rpcnet.server.dispatch import call_driver
from rpcnet.server.uri import resolve_open_name

if TYPE_CHECKING:
    from rpcnet.driver.base import NetworkDriver
    from rpcnet.server.daemon import Server

log = logging.getLogger("rpcnet.server")

LIB_VERSION = 9_000_000
_PRE_OPEN = frozenset({Proc.AUTH_LIST, Proc.CONNECT_SUPPORTS_FEATURE, Proc.CONNECT_OPEN,
                       67, 68, 69, 70})
_FEATURES_ALWAYS = frozenset({Feature.PROGRAM_KEEPALIVE, Feature.REMOTE_EVENT_CALLBACK,
                              Feature.REMOTE_CLOSE_CALLBACK})
_EVENT_HEADER = (remote.PROGRAM, remote.VERSION, Proc.NETWORK_EVENT_LIFECYCLE,
                 MessageType.MESSAGE, 1, Status.OK)  # libvirt 9.0 sends events with serial 1
_LIFECYCLE = remote.BY_NUMBER[Proc.NETWORK_EVENT_LIFECYCLE].args
_OK, _ERROR = int(Status.OK), int(Status.ERROR)
#: the session answers the calls the sans-IO connection will answer, until it is used
_SESSION_STYLES = frozenset({CallStyle.SESSION, CallStyle.CONNECTION})


class Session(asyncio.Protocol):
    """The server side of one client connection."""

    def __init__(self, server: Server, *, readonly_socket: bool, secure: bool = True,
                 transport_name: str = "unix") -> None:
        self.server = server
        self.config = server.config
        self.readonly = readonly_socket
        self.secure = secure
        self.transport_name = transport_name
        self.peer = "?"
        self.driver: NetworkDriver | None = None
        self.uri: str | None = None
        #: server callback id -> (event id, uuid of the network filter or None)
        self.callbacks: dict[int, tuple[int, bytes | None]] = {}
        self.close_callback = False
        self._framer = Framer(self.config.max_message)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_event_loop()
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._reading_paused = False
        self._writing_paused = False
        self._batching = False
        self._out: list[bytes] = []
        self._closing = False
        self._keepalive: KeepaliveTimer | None = None
        self._keepalive_handle: asyncio.TimerHandle | None = None
        self._refusal: VirError | None = None

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
            self._refusal = rpc_error(refusal)
            self._loop.call_later(self.config.refusal_grace, self.close)

    def data_received(self, data: bytes) -> None:
        if self._keepalive is not None:
            self._keepalive.received(self._loop.time())
        self._framer.feed(data)
        self._process()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        log.info("client disconnected: %s", self.peer)
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
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
        framer = self._framer
        self._batching = True  # replies collect in self._out: one write for the lot
        try:
            while not self._closing and self._in_flight < self.config.max_client_requests:
                try:
                    message = framer.next_message()
                except FrameError as exc:
                    log.warning("closing client %s: %s", self.peer, exc)
                    self._explain_oversize(framer)
                    self.close()
                    return
                if message is None:
                    break
                self._handle(message)
        finally:
            self._batching = False
            self._flush()
        self._update_reading()

    def _explain_oversize(self, framer: Framer) -> None:
        """Answer a call too large to accept with the reason, if its header is in."""
        length, header = framer.pending_length(), framer.pending_header()
        limit = self.config.max_message + 4
        if (length is not None and length > limit and header is not None
                and header.type == MessageType.CALL):
            self._send_error(header, rpc_error(
                f"packet {length} bytes received from client too large, want {limit}"))

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

    def _handle(self, message: Message) -> None:
        header = message.header
        if self._refusal is not None:
            if header.type == MessageType.CALL:
                self._send_error(header, self._refusal)
                self.close()
            return
        if header.prog == keepalive.PROGRAM:
            self._handle_keepalive(header)
            return
        if header.type != MessageType.CALL:
            if header.type == MessageType.CALL_WITH_FDS:
                # a caller waits for this reply: say why instead of ignoring it
                self._send_error(header, rpc_error("file descriptor passing is not supported"))
            else:
                log.debug("ignoring message of type %d from %s", header.type, self.peer)
            return
        if header.prog != remote.PROGRAM or header.vers != remote.VERSION:
            self._send_error(header, rpc_error(
                f"Cannot find program {header.prog} version {header.vers}"))
            return
        if header.status != Status.OK:
            self._send_error(header, rpc_error(f"Unexpected message status {header.status}"))
            return
        proc = remote.BY_NUMBER.get(header.proc)
        if proc is None or proc.style is CallStyle.EVENT:
            self._send_error(header, self._unknown_procedure(header.proc))
            return
        try:
            args = proc.args.decode(message.payload, exact=False)
        except XdrError as exc:
            log.info("bad payload for %s from %s: %s", proc.name, self.peer, exc)
            self._send_error(header, rpc_error("Unable to decode message payload"))
            return
        if self.driver is None and proc.number not in _PRE_OPEN:
            self._send_error(header, internal_error(ErrorDomain.RPC, "connection not open"))
            return
        if self.readonly and not proc.readonly:
            self._send_error(header, VirError.make(
                ErrorCode.OPERATION_DENIED, ErrorDomain.NETWORK,
                f"read only access prevents {proc.api}"))
            return
        self._start(header, proc, args)

    def _start(self, header: Header, proc: Procedure, args: tuple[Any, ...]) -> None:
        """Run the call up to its first suspension; only then make it a task.

        A task costs a loop iteration before it starts and a callback after,
        several times what a lookup itself costs. Note for drivers: before its
        first ``await`` that suspends, a driver method runs outside any task
        (``asyncio.current_task()`` is None, so no ``asyncio.timeout`` there).
        """
        call = self._run(header, proc, args)
        try:
            awaited = call.send(None)
        except StopIteration:
            return  # answered already
        self._in_flight += 1
        task = self._loop.create_task(_carry_on(call, awaited))
        self._tasks.add(task)
        task.add_done_callback(self._call_done)

    def _unknown_procedure(self, number: int) -> VirError:
        name = remote.ALL_NAMES.get(number)
        if name is None or ("EVENT" in name and "REGISTER" not in name):
            return rpc_error(f"unknown procedure: {number}")
        if self.driver is None:
            return internal_error(ErrorDomain.RPC, "connection not open")
        return VirError.make(ErrorCode.NO_SUPPORT, remote.api_error_domain(name),
                             remote.public_api_name(name))

    def _call_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        if not self._closing:
            self._process()

    async def _run(self, header: Header, proc: Procedure, args: tuple[Any, ...]) -> None:
        try:
            if proc.style in _SESSION_STYLES:
                result = await self._session_call(proc.number, args)
            else:
                assert self.driver is not None
                result = await call_driver(proc, self.driver, args)
            payload = proc.ret.encode(result)
        except VirError as err:
            self._send_error(header, err)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("internal failure in %s for %s", proc.name, self.peer)
            self._send_error(header, internal_error(
                ErrorDomain.RPC, f"unexpected failure in {proc.api}"))
            return
        self._write(reply_frame(header, _OK, payload))
        if proc.number == Proc.CONNECT_CLOSE:
            self.close()

    # -- procedures the session answers itself ------------------------------

    async def _session_call(self, number: int, args: tuple[Any, ...]) -> Any:
        return await _SESSION_HANDLERS[number](self, *args)

    async def _auth_list(self) -> Any:
        return ([0],)  # REMOTE_AUTH_NONE

    async def _feature(self, feature: int) -> Any:
        return (self._supports_feature(feature),)

    async def _connect_open(self, name: str | None, flags: int) -> None:
        self._open(name, flags)

    async def _nothing(self) -> None:
        return None  # CONNECT_CLOSE: the reply is all; the session closes after it

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
        return (await self._register_event(event_id, net),)

    def _supports_feature(self, feature: int) -> int:
        if feature == Feature.PROGRAM_KEEPALIVE:
            self._start_keepalive()
            return 1
        if self.driver is None:
            raise internal_error(ErrorDomain.RPC, "connection not open")
        if feature in _FEATURES_ALWAYS or feature == Feature.NETWORK_UPDATE_HAS_CORRECT_ORDER:
            return 1
        return 0

    def _open(self, name: str | None, flags: int) -> None:
        if self.driver is not None:
            raise internal_error(ErrorDomain.RPC, "connection already open")
        target = resolve_open_name(name, privileged=self.server.privileged)
        self.driver = self.server.driver_for(target.driver)
        self.uri = target.uri
        if flags & 1:  # VIR_CONNECT_RO
            self.readonly = True
        log.info("client %s opened %s%s", self.peer, target.uri,
                 " read-only" if self.readonly else "")

    async def _register_event(self, event_id: int, net: NetworkRef | None) -> int:
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
        return callback_id

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
        payload = _LIFECYCLE.encode((callback_id, net, event, detail))
        # Queue behind the reply of the call that caused the event, as libvirtd does.
        self._loop.call_soon(self._write, encode_frame(Header(*_EVENT_HEADER), payload))

    # -- keepalive --------------------------------------------------------

    def _handle_keepalive(self, header: Header) -> None:
        if header.type != MessageType.MESSAGE:
            return
        if header.proc == keepalive.PING:
            self._write(keepalive.PONG_FRAME)

    def _start_keepalive(self) -> None:
        if self._keepalive is not None or self.config.keepalive_interval <= 0:
            return
        self._keepalive = KeepaliveTimer(self.config.keepalive_interval,
                                         self.config.keepalive_count, self._loop.time())
        self._arm_keepalive()

    def _arm_keepalive(self) -> None:
        assert self._keepalive is not None
        self._keepalive_handle = self._loop.call_at(self._keepalive.deadline(),
                                                    self._keepalive_tick)

    def _keepalive_tick(self) -> None:
        if self._closing or self._keepalive is None:
            return
        action = self._keepalive.poll(self._loop.time())
        if action is KeepaliveAction.DEAD:
            log.warning("closing client %s: keepalive timeout", self.peer)
            self.close(abort=True)
            return
        if action is KeepaliveAction.SEND_PING:
            self._write(keepalive.PING_FRAME)
        self._arm_keepalive()

    # -- outbound ---------------------------------------------------------

    def _send_error(self, header: Header, err: VirError) -> None:
        self._write(reply_frame(header, _ERROR, remote.encode_error(err)))

    def _write(self, frame: bytes) -> None:
        if self._batching:
            self._out.append(frame)
        else:
            self._send(frame)

    def _flush(self) -> None:
        out = self._out
        if out:
            self._out = []
            self._send(out[0] if len(out) == 1 else b"".join(out))

    def _send(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or self._closing:
            return
        transport.write(data)
        if transport.get_write_buffer_size() > self.config.max_client_backlog:
            log.warning("closing client %s: it does not read its replies", self.peer)
            self.close(abort=True)

    def close(self, *, abort: bool = False) -> None:
        if self._transport is None or self._closing:
            return
        if not abort:
            self._flush()
        self._closing = True
        if abort:
            self._transport.abort()
        else:
            self._transport.close()


#: The procedures the session answers itself (CallStyle.SESSION), by number.
_SESSION_HANDLERS: dict[int, Callable[..., Awaitable[Any]]] = {
    Proc.AUTH_LIST: Session._auth_list,
    Proc.CONNECT_SUPPORTS_FEATURE: Session._feature,
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
    p.number for p in remote.PROCEDURES if p.style in _SESSION_STYLES}


def _describe_peer(transport: asyncio.Transport) -> str:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family == socket.AF_UNIX:
        try:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid, uid, gid = struct.unpack("3i", creds)
            return f"unix pid={pid} uid={uid} gid={gid}"
        except OSError:
            return "unix ?"
    peer = transport.get_extra_info("peername")
    return str(peer)


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
