"""The test kit's daemon: rpcnetd's server whose sessions can be told to misbehave.

:class:`KitServer` is :class:`~rpcnet.server.daemon.Server` with two
additions: its sessions are :class:`FaultSession`, and its call observers
include the kit's :class:`~rpcnet.testkit.record.CallLog`. A
:class:`FaultSession` is a :class:`~rpcnet.server.session.Session` that asks
the daemon's :class:`~rpcnet.testkit.faults.FaultPlan` about each call
before running it; with no fault installed that is one empty-list test per
call, and rpcnetd itself (which never builds these classes) pays nothing.
Everything here runs on the daemon's event loop.
"""

from __future__ import annotations

import array
import asyncio
import fcntl
import itertools
import logging
import termios
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rpcnet.driver.base import NetworkDriver
from rpcnet.errors import ErrorDomain, VirError, internal_error
from rpcnet.protocol.connection import Call
from rpcnet.protocol.program import CallStyle
from rpcnet.protocol.remote import Proc
from rpcnet.protocol.values import NetworkRef
from rpcnet.server.config import ServerConfig
from rpcnet.server.daemon import Server
from rpcnet.server.session import Session
from rpcnet.testkit.connection import FaultConnection
from rpcnet.testkit.faults import (
    CutReply,
    Delay,
    ErrorReply,
    Fault,
    FaultPlan,
    HangUp,
    KeepaliveSilence,
    RawReply,
    StopReading,
)
from rpcnet.testkit.record import CallLog

log = logging.getLogger("rpcnet.testkit")


class KitServer(Server):
    """rpcnetd's server with fault-capable sessions and the call log installed."""

    def __init__(self, config: ServerConfig, drivers: Mapping[str, NetworkDriver],
                 plan: FaultPlan, calls: CallLog, ids: itertools.count[int]) -> None:
        super().__init__(config, drivers)
        self.plan = plan
        self.calls = calls
        self.ids = ids
        #: the live connections, by the kit's number
        self.clients: dict[int, FaultSession] = {}
        self.call_observers.append(calls.observer_for)

    def session_factory(self, *, readonly: bool) -> Callable[[], Session]:
        return lambda: FaultSession(self, readonly_socket=readonly)

    def faults_changed(self) -> None:
        """Faults were installed or cleared: every connection re-reads its state."""
        for session in list(self.clients.values()):
            session.apply_connection_faults()


class FaultSession(Session):
    """A REMOTE session that consults the daemon's fault plan for every call."""

    connection_type = FaultConnection
    conn: FaultConnection

    def __init__(self, server: KitServer, *, readonly_socket: bool) -> None:
        super().__init__(server, readonly_socket=readonly_socket)
        self.kit = server
        #: the kit's number for this connection
        self.id = next(server.ids)
        #: serial -> what a fault did to that call, for the call log
        self.notes: dict[int, str] = {}
        self._reading_stopped = False
        #: calls held by a StopReading fault, released when it is cleared
        self._held: list[tuple[Fault, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._loop.time()

    # -- the client comes and goes ------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if not self._closing:
            self.kit.clients[self.id] = self
            self.apply_connection_faults()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.kit.clients.pop(self.id, None)

    # -- connection faults -------------------------------------------------

    def apply_connection_faults(self) -> None:
        plan = self.kit.plan
        if self._closing:
            return
        self.conn.silence_keepalive(plan.holds(self.id, KeepaliveSilence), self._loop.time())
        self._reading_stopped = plan.holds(self.id, StopReading)
        for fault, release in self._held:
            if fault.cleared and not release.done():
                release.set_result(None)
        self._held = [(f, r) for f, r in self._held if not r.done()]
        self._update_reading()
        if self._timer is None:
            self._arm_timer()

    def _update_reading(self) -> None:
        if not (self._reading_stopped or self._held):
            super()._update_reading()
            return
        transport = self._transport
        if transport is not None and not self._closing and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()

    # -- calls ------------------------------------------------------------

    def answer(self, call: Call) -> Awaitable[Any]:
        if call.procedure.style is CallStyle.CONNECTION:
            return self._handshake(call)
        return super().answer(call)

    async def _handshake(self, call: Call) -> Any:
        return self.conn.handshake_result(call.procedure, call.args)

    async def _run(self, call: Call) -> None:
        faults = self.kit.plan.for_call(self.id, call.header[2])
        if not faults:
            await super()._run(call)
        else:
            await self._run_with(call, faults)

    async def _run_with(self, call: Call, faults: list[Fault]) -> None:
        note = "; ".join(fault.describe() for fault in faults)
        self.notes[call.header[4]] = note
        log.info("fault on %s (serial %d) of connection %d: %s", call.procedure.name,
                 call.header[4], self.id, note)
        try:
            await self._act(call, faults, note)
        except asyncio.CancelledError:  # the client left while the call was delayed or held
            if self.notes.pop(call.header[4], None) is not None:
                self.kit.calls.unanswered(self, call, f"{note}; the client left first")
            raise

    async def _act(self, call: Call, faults: list[Fault], note: str) -> None:
        delay = sum(f.action.seconds for f in faults if isinstance(f.action, Delay))
        if delay:
            await asyncio.sleep(delay)
        deciding = faults[-1] if not isinstance(faults[-1].action, Delay) else None
        action = deciding.action if deciding is not None else None
        if isinstance(action, ErrorReply):
            self.conn.reply_error(call, action.error)
            self._flush_now()
        elif isinstance(action, HangUp):
            self.notes.pop(call.header[4], None)
            self.kit.calls.unanswered(self, call, note)
            self.close()
        elif isinstance(action, CutReply):
            self._send(self._reply_frame(call, await self._answer_of(call))[:action.after_bytes])
            self.close()
        elif isinstance(action, RawReply):
            self._send(action.make(self._reply_frame(call, await self._answer_of(call))))
        elif isinstance(action, StopReading):
            assert deciding is not None
            release = self._loop.create_future()
            self._held.append((deciding, release))
            self._update_reading()
            await release
            await super()._run(call)
        else:
            await super()._run(call)

    def _flush_now(self) -> None:
        if not self._batching:
            self._flush()

    async def _answer_of(self, call: Call) -> Any:
        """What the call would be answered with: its result, or a VirError."""
        try:
            return await self.answer(call)
        except VirError as err:
            return err
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("internal failure in %s", call.procedure.name)
            return internal_error(ErrorDomain.RPC, f"unexpected failure in {call.procedure.api}")

    def _reply_frame(self, call: Call, answer: Any) -> bytes:
        """Send what is queued, then queue ``answer`` and take back its frame."""
        self._flush()
        if isinstance(answer, VirError):
            self.conn.reply_error(call, answer)
        else:
            self.conn.reply(call, answer)
        return self.conn.data_to_send()

    def unread_bytes(self) -> int:
        """Bytes waiting in the socket's receive queue (FIONREAD)."""
        transport = self._transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None:
            return 0
        buf = array.array("i", [0])
        fcntl.ioctl(sock.fileno(), termios.FIONREAD, buf)
        return buf[0]

    # -- what the kit sends on its own ---------------------------------------

    def send_event(self, callback_id: int, net: NetworkRef, event: int, detail: int) -> None:
        """A network lifecycle event, as the daemon sends it (serial 1, MESSAGE)."""
        self.conn.send_message(Proc.NETWORK_EVENT_LIFECYCLE, (callback_id, net, event, detail))
        self._flush()

    def send_raw(self, data: bytes) -> None:
        """Bytes as they are, after what is queued."""
        self._flush()
        self._send(data)
