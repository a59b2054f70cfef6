"""One client connection to a libvirt-protocol server: an asyncio adapter over
the sans-IO :class:`~rpcnet.protocol.connection.ClientConnection`.

Each call gets a future, which rides with the call through the sans-IO
connection as its token and comes back in its reply, so any number of calls
may be in flight; on disconnect every pending call fails with
:class:`ConnectionClosed`. The handshake is the one libvirt 9.0 clients do:
AUTH_LIST, SUPPORTS_FEATURE(keepalive), CONNECT_OPEN, then the event and
close-callback features; keepalive runs once the server said it supports it.

The connection runs over any byte stream (``streams.py``): a UNIX socket,
TLS, or a child process's pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Sequence
from typing import Any

from rpcnet.client import process, tls
from rpcnet.client.streams import ByteStream, ClosingStream, StreamEnded, StreamProtocol
from rpcnet.errors import ErrorCode, ErrorDomain, VirError, rpc_error
from rpcnet.protocol import remote
from rpcnet.protocol.connection import AUTH_NONE, ClientConnection, Notification, Reply
from rpcnet.protocol.message import MAX_MESSAGE
from rpcnet.protocol.program import Program
from rpcnet.protocol.remote import Feature, Proc
from rpcnet.protocol.values import NetworkRef
from rpcnet.protocol.xdr import XdrError

log = logging.getLogger("rpcnet.client")

EventHandler = Callable[[int, NetworkRef, int, int], None]


class ConnectionClosed(VirError):
    """The connection to the server is gone; pending and later calls fail with it."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.SYSTEM_ERROR, ErrorDomain.RPC, detail, str1="%s", str2=detail)


class Connection:
    """A connected, serial-matched RPC channel (no URI or driver semantics) of
    ``program`` (REMOTE unless told)."""

    def __init__(self, *, keepalive_interval: float = 5.0, keepalive_count: int = 5,
                 max_message: int | None = None, program: Program = remote.REMOTE) -> None:
        self._conn: ClientConnection[asyncio.Future[Any]] = ClientConnection(
            program, max_message=max_message or MAX_MESSAGE)
        self._stream: ByteStream | None = None
        self._loop = asyncio.get_running_loop()
        self._closed: ConnectionClosed | None = None
        self._closed_waiter: asyncio.Future[None] = self._loop.create_future()
        self._keepalive_interval = keepalive_interval
        self._keepalive_count = keepalive_count
        self._timer: asyncio.TimerHandle | None = None
        self.event_handler: EventHandler | None = None
        self.features: dict[int, bool] = {}

    # -- setup ------------------------------------------------------------

    @classmethod
    async def open_unix(cls, path: str, **kwargs: Any) -> Connection:
        conn = cls(**kwargs)
        try:
            await conn._loop.create_unix_connection(lambda: StreamProtocol(conn), path)
        except OSError as exc:
            raise rpc_error(f"Failed to connect socket to '{path}': {exc.strerror or exc}",
                            ErrorCode.SYSTEM_ERROR) from None
        return conn

    @classmethod
    async def open_tls(cls, host: str, port: int, context: ssl.SSLContext,
                       **kwargs: Any) -> Connection:
        """Dial libvirt's TLS transport (handshake, then the 0x01 confirmation byte)."""
        conn = cls(**kwargs)
        transport, rest = await tls.connect(host, port, context)
        protocol = StreamProtocol(conn)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if rest:
            conn.feed(rest)
        return conn

    @classmethod
    async def open_process(cls, argv: Sequence[str], **kwargs: Any) -> Connection:
        """Talk over the stdin and stdout of ``argv`` (``nc -U SOCKET``, an ssh
        command running ``virt-ssh-helper`` ...)."""
        conn = cls(**kwargs)
        try:
            await process.open_process(argv, conn)
        except OSError as exc:
            raise rpc_error(f"Cannot run '{argv[0]}': {exc.strerror or exc}",
                            ErrorCode.SYSTEM_ERROR) from None
        return conn

    async def handshake(self, name: str | None, *, readonly: bool = False) -> None:
        """REMOTE's: authenticate (none), negotiate keepalive, open ``name``,
        probe features."""
        (auth_types,) = await self.call(Proc.AUTH_LIST, ())
        if AUTH_NONE not in auth_types:
            raise rpc_error(f"server requires authentication types {auth_types}, "
                            "rpcnet supports only 'none'", ErrorCode.AUTH_UNAVAILABLE)
        self.features[Feature.PROGRAM_KEEPALIVE] = await self.supports(Feature.PROGRAM_KEEPALIVE)
        await self.call(Proc.CONNECT_OPEN, (name, remote.CONNECT_RO if readonly else 0))
        for feature in (Feature.REMOTE_EVENT_CALLBACK, Feature.REMOTE_CLOSE_CALLBACK):
            self.features[feature] = await self.supports(feature)
        if self.features[Feature.PROGRAM_KEEPALIVE] and self._closed is None:
            self._conn.start_keepalive(self._keepalive_interval, self._keepalive_count,
                                       self._loop.time())
            self._arm_timer()

    async def supports(self, feature: int) -> bool:
        (supported,) = await self.call(Proc.CONNECT_SUPPORTS_FEATURE, (feature,))
        return bool(supported)

    # -- calls ------------------------------------------------------------

    def call(self, number: int, args: tuple[Any, ...],
             program: Program | None = None) -> asyncio.Future[Any]:
        """Send a call (of a companion ``program`` of the server's, if given);
        the future resolves to the decoded return tuple (or None)."""
        future: asyncio.Future[Any] = self._loop.create_future()
        if self._closed is not None:
            future.set_exception(self._closed)
            return future
        try:
            self._conn.send_call(number, args, future, program)
        except XdrError as exc:
            future.set_exception(rpc_error(str(exc), ErrorCode.INVALID_ARG))
            return future
        assert self._stream is not None
        self._stream.write(self._conn.data_to_send())
        return future

    # -- the byte stream (streams.StreamReceiver) -----------------------------

    def attach(self, stream: ByteStream) -> None:
        self._stream = stream

    def feed(self, data: bytes) -> None:
        conn = self._conn
        conn.receive_data(data, self._loop.time())
        while (event := conn.next_event()) is not None:
            if isinstance(event, Reply):
                future = event.token
                if future.done():
                    continue  # the caller gave up on it
                if event.error is None:
                    future.set_result(event.result)
                else:
                    future.set_exception(event.error)
            else:
                self._notify(event)
        self._flush()

    def stream_lost(self, exc: Exception | None) -> None:
        if self._closed is not None:
            return  # we ended it (close, abort, keepalive) and said why already
        if isinstance(exc, StreamEnded):
            detail = str(exc)
        elif exc is None:
            detail = "End of file while reading data: server closed the connection"
        else:
            detail = f"connection lost: {exc}"
        self._mark_closed(detail)
        if self._stream is not None:
            self._stream.abort()

    def _notify(self, event: Notification) -> None:
        if event.procedure.number != Proc.NETWORK_EVENT_LIFECYCLE or self.event_handler is None:
            return
        try:
            self.event_handler(*event.args)
        except Exception:
            log.exception("network event handler failed")

    def _flush(self) -> None:
        """Write what the connection queued (PONGs, PINGs); fail if it ended."""
        conn = self._conn
        data = conn.data_to_send()
        if data and self._stream is not None:
            self._stream.write(data)
        if conn.closed is not None and self._closed is None:
            self._fail(conn.closed.reason)

    # -- keepalive --------------------------------------------------------

    def _arm_timer(self) -> None:
        due = self._conn.get_timer()
        if due is not None:
            self._timer = self._loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._closed is not None:
            return
        self._conn.handle_timer(self._loop.time())
        self._flush()
        self._arm_timer()

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
        if self._stream is not None:
            self._stream.abort()

    def _mark_closed(self, detail: str) -> None:
        if self._closed is not None:
            return
        self._closed = ConnectionClosed(detail)
        self._conn.close(detail)
        if self._timer is not None:
            self._timer.cancel()
        for future in self._conn.fail_pending():
            if not future.done():
                future.set_exception(self._closed)
        if not self._closed_waiter.done():
            self._closed_waiter.set_result(None)

    async def abort(self) -> None:
        """Drop the byte stream at once, calling nothing (a handshake that failed
        or timed out); return once it is gone (its ssh process reaped)."""
        await self._drop_stream(at_once=True)

    async def close(self) -> None:
        """Call the program's close procedure (best effort) and drop the byte stream."""
        if self._closed is None:
            with contextlib.suppress(VirError, asyncio.TimeoutError):
                await asyncio.wait_for(self.call(self._conn.program.close, ()), 5)
        await self._drop_stream(at_once=False)

    async def _drop_stream(self, *, at_once: bool) -> None:
        self._mark_closed("connection closed by the client")
        stream = self._stream
        if stream is None:
            return
        if at_once:
            stream.abort()
        else:
            stream.close()
        if isinstance(stream, ClosingStream):
            await stream.wait_closed()
