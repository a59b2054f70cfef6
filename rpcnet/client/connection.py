"""One client connection to a libvirt-protocol server.

Calls are matched to replies by serial (a dict of futures), so any number
may be in flight at once; on disconnect every pending call fails with
:class:`ConnectionClosed`. The handshake is the one libvirt 9.0 clients do:
AUTH_LIST, SUPPORTS_FEATURE(keepalive), CONNECT_OPEN, then the event and
close-callback features. Keepalive PINGs go out after ``keepalive_interval``
seconds of silence once the server said it supports them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Any, cast

from rpcnet.client import tls
from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.protocol import keepalive, remote
from rpcnet.protocol.keepalive import KeepaliveAction, KeepaliveTimer
from rpcnet.protocol.message import (
    FrameError,
    Framer,
    Message,
    MessageType,
    Status,
    frame_header,
)
from rpcnet.protocol.remote import Feature, Proc
from rpcnet.protocol.values import NetworkRef
from rpcnet.protocol.xdr import XdrError

log = logging.getLogger("rpcnet.client")

EventHandler = Callable[[int, NetworkRef, int, int], None]
_LIFECYCLE = remote.BY_NUMBER[Proc.NETWORK_EVENT_LIFECYCLE].args
_REMOTE, _VERSION = remote.PROGRAM, remote.VERSION
_CALL, _OK = int(MessageType.CALL), int(Status.OK)


class ConnectionClosed(VirError):
    """The connection to the server is gone; pending and later calls fail with it."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.SYSTEM_ERROR, ErrorDomain.RPC, detail, str1="%s", str2=detail)


class _Protocol(asyncio.Protocol):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it
        self.connection._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.connection._data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connection._lost(exc)


class Connection:
    """A connected, serial-matched RPC channel (no URI or driver semantics)."""

    def __init__(self, *, keepalive_interval: float = 5.0, keepalive_count: int = 5,
                 max_message: int | None = None) -> None:
        self._framer = Framer(max_message) if max_message else Framer()
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._serial = 0
        self._pending: dict[int, tuple[remote.Procedure, asyncio.Future[Any]]] = {}
        self._closed: ConnectionClosed | None = None
        self._closed_waiter: asyncio.Future[None] = self._loop.create_future()
        self._keepalive_interval = keepalive_interval
        self._keepalive_count = keepalive_count
        self._keepalive: KeepaliveTimer | None = None
        self._keepalive_handle: asyncio.TimerHandle | None = None
        self.event_handler: EventHandler | None = None
        self.features: dict[int, bool] = {}

    # -- setup ------------------------------------------------------------

    @classmethod
    async def open_unix(cls, path: str, **kwargs: Any) -> Connection:
        conn = cls(**kwargs)
        try:
            await conn._loop.create_unix_connection(lambda: _Protocol(conn), path)
        except OSError as exc:
            raise VirError.make(
                ErrorCode.SYSTEM_ERROR, ErrorDomain.RPC,
                f"Failed to connect socket to '{path}': {exc.strerror or exc}") from None
        return conn

    @classmethod
    async def open_tls(cls, host: str, port: int, context: ssl.SSLContext,
                       **kwargs: Any) -> Connection:
        """Dial libvirt's TLS transport (handshake, then the 0x01 confirmation byte)."""
        conn = cls(**kwargs)
        transport, rest = await tls.connect(host, port, context)
        protocol = _Protocol(conn)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if rest:
            conn._data_received(rest)
        return conn

    async def handshake(self, name: str | None, *, readonly: bool = False) -> None:
        """Authenticate (none), negotiate keepalive, open ``name``, probe features."""
        (auth_types,) = await self.call(Proc.AUTH_LIST, ())
        if 0 not in auth_types:
            raise VirError.make(ErrorCode.AUTH_UNAVAILABLE, ErrorDomain.RPC,
                                f"server requires authentication types {auth_types}, "
                                "rpcnet supports only 'none'")
        self.features[Feature.PROGRAM_KEEPALIVE] = await self.supports(Feature.PROGRAM_KEEPALIVE)
        await self.call(Proc.CONNECT_OPEN, (name, 1 if readonly else 0))
        for feature in (Feature.REMOTE_EVENT_CALLBACK, Feature.REMOTE_CLOSE_CALLBACK):
            self.features[feature] = await self.supports(feature)
        if self.features[Feature.PROGRAM_KEEPALIVE] and self._keepalive_interval > 0:
            self._keepalive = KeepaliveTimer(self._keepalive_interval, self._keepalive_count,
                                             self._loop.time())
            self._arm_keepalive()

    async def supports(self, feature: int) -> bool:
        (supported,) = await self.call(Proc.CONNECT_SUPPORTS_FEATURE, (feature,))
        return bool(supported)

    # -- calls ------------------------------------------------------------

    def call(self, number: int, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        """Send a call; the future resolves to the decoded return tuple (or None)."""
        future: asyncio.Future[Any] = self._loop.create_future()
        if self._closed is not None:
            future.set_exception(self._closed)
            return future
        proc = remote.BY_NUMBER[number]
        try:
            payload = proc.args.encode(args)
        except XdrError as exc:
            future.set_exception(VirError.make(ErrorCode.INVALID_ARG, ErrorDomain.RPC, str(exc)))
            return future
        serial = self._serial
        self._serial = (serial + 1) & 0xFFFFFFFF
        self._pending[serial] = (proc, future)
        assert self._transport is not None
        self._transport.write(
            frame_header(_REMOTE, _VERSION, number, _CALL, serial, _OK, len(payload)) + payload)
        return future

    # -- inbound ----------------------------------------------------------

    def _data_received(self, data: bytes) -> None:
        if self._keepalive is not None:
            self._keepalive.received(self._loop.time())
        framer = self._framer
        framer.feed(data)
        while True:
            try:
                message = framer.next_message()
            except FrameError as exc:
                self._fail(f"protocol error from server: {exc}")
                return
            if message is None:
                return
            self._handle(message)

    def _handle(self, message: Message) -> None:
        header = message.header
        if header.prog == keepalive.PROGRAM:
            if header.proc == keepalive.PING and self._transport is not None:
                self._transport.write(keepalive.PONG_FRAME)
            return
        if header.type == MessageType.REPLY:
            self._handle_reply(message)
        elif header.type == MessageType.MESSAGE and header.proc == Proc.NETWORK_EVENT_LIFECYCLE:
            self._handle_event(message.payload)

    def _handle_reply(self, message: Message) -> None:
        header = message.header
        entry = self._pending.pop(header.serial, None)
        if entry is None:
            self._fail(f"reply with unknown serial {header.serial}")
            return
        proc, future = entry
        if future.done():
            return
        try:
            if header.status == Status.OK:
                future.set_result(proc.ret.decode(message.payload))
            else:
                future.set_exception(remote.decode_error(message.payload))
        except XdrError as exc:
            future.set_exception(VirError.make(
                ErrorCode.RPC, ErrorDomain.RPC, f"cannot decode reply to {proc.name}: {exc}"))

    def _handle_event(self, payload: bytes) -> None:
        try:
            callback_id, net, event, detail = _LIFECYCLE.decode(payload)
        except XdrError as exc:
            log.warning("undecodable lifecycle event: %s", exc)
            return
        if self.event_handler is not None:
            try:
                self.event_handler(callback_id, net, event, detail)
            except Exception:
                log.exception("network event handler failed")

    # -- keepalive --------------------------------------------------------

    def _arm_keepalive(self) -> None:
        assert self._keepalive is not None
        self._keepalive_handle = self._loop.call_at(self._keepalive.deadline(),
                                                    self._keepalive_tick)

    def _keepalive_tick(self) -> None:
        if self._keepalive is None or self._closed is not None:
            return
        action = self._keepalive.poll(self._loop.time())
        if action is KeepaliveAction.DEAD:
            self._fail("connection closed due to keepalive timeout")
            return
        if action is KeepaliveAction.SEND_PING and self._transport is not None:
            self._transport.write(keepalive.PING_FRAME)
        self._arm_keepalive()

    # -- teardown ---------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def wait_closed(self) -> ConnectionClosed:
        await asyncio.shield(self._closed_waiter)
        assert self._closed is not None
        return self._closed

    def _fail(self, detail: str) -> None:
        log.warning("%s", detail)
        self._mark_closed(detail)
        if self._transport is not None:
            self._transport.abort()

    def _lost(self, exc: Exception | None) -> None:
        self._mark_closed("End of file while reading data: server closed the connection"
                          if exc is None else f"connection lost: {exc}")

    def _mark_closed(self, detail: str) -> None:
        if self._closed is not None:
            return
        self._closed = ConnectionClosed(detail)
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
        pending, self._pending = self._pending, {}
        for _proc, future in pending.values():
            if not future.done():
                future.set_exception(self._closed)
        if not self._closed_waiter.done():
            self._closed_waiter.set_result(None)

    async def close(self) -> None:
        """Send CONNECT_CLOSE (best effort) and drop the transport."""
        if self._closed is None:
            with contextlib.suppress(VirError, asyncio.TimeoutError):
                await asyncio.wait_for(self.call(Proc.CONNECT_CLOSE, ()), 5)
        self._mark_closed("connection closed by the client")
        if self._transport is not None:
            self._transport.close()
