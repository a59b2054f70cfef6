"""The asyncio side of one client connection, for any program.

Theory of operation: the transport's bytes go into a sans-IO
:class:`~rpcnet.protocol.connection.ServerConnection`, which answers by
itself everything the protocol decides and hands out the calls left; a
subclass says how to answer one (:meth:`RpcProtocol.answer`). A call runs
eagerly, inside ``data_received``: most calls (lookups, lists, XML) never
suspend, and those are answered at once without a task. Only a call that
suspends becomes a task, so up to ``max_requests`` such calls of one client
run at once; beyond that the protocol asks the connection for no more calls
and stops reading from the transport until one finishes, as libvirtd does.
Every call gets exactly one reply with its serial, an error reply if
anything fails. The replies to all the calls of one chunk of input go out in
one write. One timer serves the connection's keepalive and grace deadlines.

Nothing here assumes a socket: any ``asyncio.Transport`` carries it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import types
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, cast

from rpcnet.errors import ErrorDomain, VirError, internal_error
from rpcnet.protocol.connection import CLOSED_BY_CLIENT, Call, ServerConnection
from rpcnet.server.identity import Identity, Peer, peer_of

log = logging.getLogger("rpcnet.server")


class RpcProtocol(asyncio.Protocol):
    """Serves one client over one transport; subclasses answer its calls."""

    def __init__(self, conn: ServerConnection, *, max_requests: int, max_backlog: int) -> None:
        self.conn = conn
        #: for log lines: the peer, and its identity once the client set one
        self.peer = "?"
        #: what the transport says of the client (None until connected)
        self.peer_info: Peer | None = None
        self._identity: Identity | None = None
        #: its id among the clients of its server (admin program), and when
        #: it connected (seconds since the epoch)
        self.client_id = 0
        self.connected_at = int(time.time())
        #: suspended calls of this client that may run at once
        self.max_requests = max_requests
        #: bytes queued towards a client that does not read before it is dropped
        self.max_backlog = max_backlog
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_event_loop()
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._reading_paused = False
        self._writing_paused = False
        self._batching = False
        self._closing = False
        self._timer: asyncio.TimerHandle | None = None
        #: seconds a client the server closed gets to close its own end
        self.linger = 2.0
        self._linger: asyncio.TimerHandle | None = None

    def answer(self, call: Call) -> Awaitable[Any]:
        """The return struct of ``call`` (raise VirError to answer with an error)."""
        raise NotImplementedError

    # -- transport callbacks ----------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it
        self._transport = cast(asyncio.Transport, transport)
        self.peer_info = peer_of(transport)
        self.peer = self.peer_info.description

    @property
    def identity(self) -> Identity:
        """Who the client is (libvirt's identity): what it set with
        CONNECT_SET_IDENTITY, else what its transport says (made on first use)."""
        if self._identity is None:
            self._identity = self.peer_info.identity() if self.peer_info else Identity()
        return self._identity

    def set_identity(self, identity: Identity) -> None:
        """The client speaks for someone else from now on (libvirt's QEMU
        driver forwards a guest owner's identity); log lines say so."""
        self._identity = identity
        base = self.peer_info.description if self.peer_info is not None else "?"
        self.peer = f"{base} [{identity.describe()}]" if identity.params else base

    def data_received(self, data: bytes) -> None:
        # time.monotonic, not the loop's clock: uvloop's steps by milliseconds
        # (cached per iteration), and a call's latency is measured from this
        # (call observers). Timers run on the loop's clock, which never runs
        # ahead of it, so a deadline is only ever met late by that step.
        self.conn.receive_data(data, time.monotonic())
        self._process()

    def eof_received(self) -> bool | None:
        return None  # asyncio closes the transport: our side ends too

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.conn.close("connection lost")
        if self._timer is not None:
            self._timer.cancel()
        if self._linger is not None:
            self._linger.cancel()
        for task in self._tasks:
            task.cancel()

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
        limit = self.max_requests
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
        busy = self._in_flight >= self.max_requests or self._writing_paused
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
        try:
            self.conn.reply(call, await self.answer(call))
        except VirError as err:
            self.conn.reply_error(call, err)
        except asyncio.CancelledError:
            raise
        except Exception:
            proc = call.procedure
            log.exception("internal failure in %s for %s", proc.name, self.peer)
            self.conn.reply_error(call, internal_error(
                ErrorDomain.RPC, f"unexpected failure in {proc.api}"))
        if not self._batching:
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
            if closed is CLOSED_BY_CLIENT or closed.abort:
                self.close(abort=closed.abort)
                return
            log.warning("closing client %s: %s", self.peer, closed.reason)
            self._close_gently()

    def _close_gently(self) -> None:
        """Send what is queued (the reason, for a refused client) and end our
        side only, then wait a while for the client to end its own: a client
        that still writes gets no reset, which would kill one that does not
        ignore SIGPIPE (virt-admin) before it can print the reason."""
        transport = self._transport
        if transport is None or not transport.can_write_eof():
            self.close()
            return
        data = self.conn.data_to_send()
        if data:
            transport.write(data)
        self._closing = True
        transport.write_eof()
        if self._reading_paused:
            transport.resume_reading()  # to see the client's end
        self._linger = self._loop.call_later(self.linger, transport.abort)

    def _send(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or self._closing:
            return
        transport.write(data)
        if transport.get_write_buffer_size() > self.max_backlog:
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


async def _carry_on(call: Coroutine[Any, Any, None], awaited: Any) -> None:
    """The rest of a call :meth:`RpcProtocol._start` began: its task's body."""
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
