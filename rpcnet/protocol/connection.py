"""One libvirt RPC connection, sans-IO: bytes and the time in, events and bytes out.

Theory of operation
-------------------
A connection object is one end of a libvirt RPC byte stream: the server's
(:class:`ServerConnection`) or the client's (:class:`ClientConnection`),
speaking one :class:`~rpcnet.protocol.program.Program` plus KEEPALIVE. It
never touches a socket, a task or a clock. Whoever drives it (the daemon's
session, the client's connection, a test) does four things:

1. ``receive_data(data, now)`` with the bytes that arrived, in any chunking;
2. ``next_event()`` until it returns None. An event is something for the
   application: a :class:`Call` to answer (server side), a :class:`Reply`
   to one of its calls or a :class:`Notification` from the server (client
   side). What the protocol answers by itself never surfaces: a PING gets
   its PONG; a call of an unknown program, version or procedure, a payload
   that does not decode, a call that needs an open connection before it is
   open and a write call on a read-only connection get their error replies;
   the authentication list and the features are answered from the program.
   A server that must not take more calls yet simply stops asking;
3. ``reply``/``reply_error`` (server), ``send_call`` (client) and
   ``send_message`` (server) queue frames; ``data_to_send()`` returns all
   that is queued in one piece, so the answers to a chunk of input go out in
   one write;
4. ``get_timer()`` says when the connection next wants ``handle_timer(now)``
   (keepalive; a refused client's grace). Input does not move it earlier,
   so a driver re-arms its timer only when the timer fires.

State: :attr:`opened` turns true when the program's open procedure succeeds
(then the server's :attr:`readonly` may turn true too); :attr:`closed`
stays None until the connection is over and then says why: the peer sent
a frame that cannot be parsed, stopped answering PINGs, was refused, or
the client's close procedure was answered. From then on input is dropped
and no event comes out; what was queued before (the reply to the close, the
error that explains an oversized call) is still in ``data_to_send()``.
Closing the byte stream is the driver's job, at once if ``closed.abort``.

Keepalive, either side: after ``interval`` seconds without input a PING
goes out, then one per interval; when ``count`` PINGs went unanswered and
another interval passed, the connection is closed (``keepalive.py``). The
server starts it when the client asks the program's keepalive feature; the
client when the server said it supports it (:meth:`start_keepalive`).

Companion programs: a server end may serve further programs beside its own
on the same connection (``companions``), as libvirtd serves QEMU's and LXC's
beside REMOTE: their calls are checked by the same rules against their own
tables, share the connection's open and read-only state, and come out as
:class:`Call` events like the others (the header says the program). A
client end calls one with ``send_call(..., program=...)``.

Events are NamedTuples: a call costs one, as it costs the framer's header.

Observers: a server end may carry a :class:`CallObserver` (metrics, a record
of every call for tests). It hears of every call the moment it is answered,
whether the connection answered it itself (an error, the handshake) or the
application did, with what was answered; without one the per-call cost is a
single ``is None`` test.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from rpcnet.errors import ErrorDomain, VirError, internal_error, rpc_error
from rpcnet.protocol import keepalive
from rpcnet.protocol.keepalive import KeepaliveAction, KeepaliveTimer
from rpcnet.protocol.message import (
    LENGTH_SIZE,
    MAX_MESSAGE,
    FrameError,
    Framer,
    Header,
    MessageType,
    Status,
    frame_header,
    reply_frame,
)
from rpcnet.protocol.program import CallStyle, Procedure, Program
from rpcnet.protocol.wiretypes import decode_error, encode_error
from rpcnet.protocol.xdr import XdrError

log = logging.getLogger("rpcnet.protocol")

T = TypeVar("T")
E = TypeVar("E")

_CALL, _REPLY, _MESSAGE = int(MessageType.CALL), int(MessageType.REPLY), int(MessageType.MESSAGE)
_CALL_WITH_FDS = int(MessageType.CALL_WITH_FDS)
_OK, _ERROR = int(Status.OK), int(Status.ERROR)
_KEEPALIVE = keepalive.PROGRAM
_EVENT, _ANSWERED_HERE = CallStyle.EVENT, CallStyle.CONNECTION
#: builds an event without the Python-level ``__new__`` of NamedTuple (half the cost)
_new_tuple = tuple.__new__
#: libvirt 9.0 sends its MESSAGE frames (events) with serial 1
_MESSAGE_SERIAL = 1
#: ``REMOTE_AUTH_NONE``: the only authentication rpcnet offers
AUTH_NONE = 0


class Call(NamedTuple):
    """A call the server application is to answer (``reply``/``reply_error``)."""

    header: Header
    procedure: Procedure
    #: the decoded argument struct, fields in wire order
    args: tuple[Any, ...]
    #: the time given to the ``receive_data`` that brought it in
    received: float


class CallObserver(Protocol):
    """Hears of every call a :class:`ServerConnection` answers."""

    def call_answered(self, header: Header, procedure: Procedure | None,
                      args: tuple[Any, ...] | None, received: float,
                      result: Any, error: VirError | None) -> None:
        """``header`` was answered with ``result`` (None for a void procedure)
        or ``error``. ``procedure`` is None for an unknown procedure, and
        ``args`` None when they were not decoded. ``received`` is the time the
        call came in; the observer reads its own clock (the same one the
        driver passes as ``now``) for when it was answered. Must not raise."""
        ...


class Reply(NamedTuple, Generic[T]):
    """The answer to one of the client's calls: ``result`` or ``error``."""

    #: what the caller gave :meth:`ClientConnection.send_call`
    token: T
    #: the decoded return struct (None for a void procedure, or on error)
    result: Any
    error: VirError | None


class Notification(NamedTuple):
    """A MESSAGE the server sent on its own (an event)."""

    procedure: Procedure
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Closed:
    """Why a connection is over."""

    reason: str
    #: cut the byte stream at once (the peer is gone or misbehaves); else
    #: send what is queued first
    abort: bool = False


#: the end of a connection whose client called the program's close procedure
CLOSED_BY_CLIENT = Closed("closed by the client")
#: the end of a connection whose peer stopped answering PINGs
KEEPALIVE_TIMEOUT = Closed("connection closed due to keepalive timeout", abort=True)


class LocalProtocolError(Exception):
    """The application misused the connection (e.g. called a procedure the
    program does not have); nothing was sent."""


class RpcConnection(Generic[E]):
    """What both ends share: framing in, frames out, keepalive, the state;
    ``E`` is the kind of event the end hands out."""

    def __init__(self, program: Program, *, max_message: int = MAX_MESSAGE) -> None:
        self.program = program
        self.opened = False
        self.closed: Closed | None = None
        self._max_message = max_message
        self._framer = Framer(max_message)
        self._out: list[bytes] = []
        self._now = 0.0
        self._keepalive: KeepaliveTimer | None = None

    # -- input ------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the peer; any arrival is a sign of life for keepalive."""
        if self.closed is not None:
            return
        self._now = now
        if self._keepalive is not None:
            self._keepalive.received(now)
        self._framer.feed(data)

    def next_event(self) -> E | None:
        """The next event, or None when more input is needed (or after the end)."""
        framer = self._framer
        while self.closed is None:
            try:
                frame = framer.next_frame()
            except FrameError as exc:
                self._bad_frame(exc)
                return None
            if frame is None:
                return None
            header, payload = frame
            event = self._receive_frame(header, payload)
            if event is not None:
                return event
        return None

    def _receive_frame(self, header: Header, payload: bytes) -> E | None:
        """Act on one frame; an event for the application, or None if handled."""
        raise NotImplementedError

    def _bad_frame(self, exc: FrameError) -> None:
        """The peer sent a frame that cannot be parsed: end the connection."""
        raise NotImplementedError

    # -- output -----------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything queued for the peer so far, in one piece (b"" if nothing)."""
        out = self._out
        if not out:
            return b""
        data = b"".join(out)  # one frame: the frame itself, no copy
        out.clear()
        return data

    # -- time -------------------------------------------------------------

    def start_keepalive(self, interval: float, count: int, now: float) -> None:
        """PING after ``interval`` s of silence; close after ``count`` unanswered.

        Nothing happens if it runs already or ``interval`` is not positive."""
        if self._keepalive is None and interval > 0 and self.closed is None:
            self._keepalive = KeepaliveTimer(interval, count, now)

    @property
    def keepalive_active(self) -> bool:
        return self._keepalive is not None

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` is next due (None: no timer wanted)."""
        if self.closed is not None or self._keepalive is None:
            return None
        return self._keepalive.deadline()

    def handle_timer(self, now: float) -> None:
        """The time is ``now``: send a PING or close for silence, as due."""
        if self.closed is not None or self._keepalive is None:
            return
        self._now = now
        action = self._keepalive.poll(now)
        if action is KeepaliveAction.SEND_PING:
            self._out.append(keepalive.PING_FRAME)
        elif action is KeepaliveAction.DEAD:
            self._close(KEEPALIVE_TIMEOUT)

    # -- the end ----------------------------------------------------------

    def close(self, reason: str, *, abort: bool = False) -> None:
        """The byte stream is gone or is being closed: take nothing more in."""
        self._close(Closed(reason, abort=abort))

    def _close(self, closed: Closed) -> None:
        if self.closed is None:
            self.closed = closed
            self._keepalive = None

    # -- shared by both ends ----------------------------------------------

    def _keepalive_message(self, header: Header) -> None:
        """A frame of the KEEPALIVE program: answer a PING (the arrival itself
        already counted as a sign of life)."""
        if header[3] == _MESSAGE and header[2] == keepalive.PING:
            self._out.append(keepalive.PONG_FRAME)


class ServerConnection(RpcConnection[Call]):
    """The server's end: calls come in, replies and messages go out."""

    def __init__(self, program: Program, *, readonly: bool = False,
                 max_message: int = MAX_MESSAGE, keepalive_interval: float = 0.0,
                 keepalive_count: int = 0, auth_types: tuple[int, ...] = (AUTH_NONE,),
                 companions: Sequence[Program] = ()) -> None:
        super().__init__(program, max_message=max_message)
        #: write calls are denied (a read-only socket, or opened read-only)
        self.readonly = readonly
        self._keepalive_settings = (keepalive_interval, keepalive_count)
        self._auth_types = list(auth_types)
        self._refusal: VirError | None = None
        self._refusal_deadline = float("inf")
        self._procedures = program.procedures
        self._prog, self._vers = program.number, program.version
        # compared by identity: a companion's procedure may have the same number
        self._open_proc = program.procedures.get(program.open)
        self._close_proc = program.procedures.get(program.close)
        self._companions = {(p.number, p.version): p for p in companions}
        if any(p.style is _ANSWERED_HERE for c in companions for p in c.procedures.values()):
            raise ValueError("a companion program's calls are answered by the application")
        #: told of every answered call (None: nobody listens)
        self.observer: CallObserver | None = None

    # -- input ------------------------------------------------------------

    def _receive_frame(self, header: Header, payload: bytes) -> Call | None:
        """Check one frame in libvirtd's order; answer it here or hand it out."""
        if self._refusal is not None:
            if header[3] == _CALL:
                self._answered_here(header, None, None, None, self._refusal)
                self._close(Closed(f"refused: {self._refusal.message}"))
            return None
        prog = header[0]
        if prog == _KEEPALIVE:
            self._keepalive_message(header)
            return None
        if header[3] != _CALL:
            if header[3] == _CALL_WITH_FDS:
                # a caller waits for this reply: say why instead of ignoring it
                self._answered_here(header, None, None, None,
                                    rpc_error("file descriptor passing is not supported"))
            return None  # REPLY, MESSAGE, STREAM... from a client: ignored, as libvirtd does
        program = self.program
        if prog != self._prog or header[1] != self._vers:
            companion = self._companions.get((prog, header[1]))
            if companion is None:
                self._answered_here(header, None, None, None,
                                    rpc_error(f"Cannot find program {prog} version {header[1]}"))
                return None
            program = companion
        if header[5] != _OK:
            self._answered_here(header, None, None, None,
                                rpc_error(f"Unexpected message status {header[5]}"))
            return None
        proc = program.procedures.get(header[2])
        if proc is None or proc.style is _EVENT:
            self._answered_here(header, None, None, None,
                                program.unknown_call_error(header[2], self.opened))
            return None
        try:
            args = proc.args.decode(payload, exact=False)
        except XdrError as exc:
            log.info("bad payload for %s: %s", proc.name, exc)
            self._answered_here(header, proc, None, None,
                                rpc_error("Unable to decode message payload"))
            return None
        if not self.opened and proc.number not in program.pre_open:
            self._answered_here(header, proc, args, None, program.not_open(proc.name))
        elif self.readonly and not proc.readonly:
            self._answered_here(header, proc, args, None, program.denied_error(proc))
        elif proc.style is _ANSWERED_HERE:
            self._answer_handshake(header, proc, args)
        elif proc is self._open_proc and self.opened and program.open_once:
            self._answered_here(header, proc, args, None,
                                internal_error(ErrorDomain.RPC, "connection already open"))
        else:
            return _new_tuple(Call, (header, proc, args, self._now))
        return None

    def _bad_frame(self, exc: FrameError) -> None:
        """Close; but first answer a call too large to accept with the reason,
        if its header is in."""
        framer = self._framer
        length, header = framer.pending_length(), framer.pending_header()
        limit = self._max_message + LENGTH_SIZE
        if (length is not None and length > limit and header is not None
                and header.type == _CALL):
            self._answered_here(header, None, None, None, rpc_error(
                f"packet {length} bytes received from client too large, want {limit}"))
        self._close(Closed(str(exc)))

    # -- the calls the connection answers itself ----------------------------

    def _answer_handshake(self, header: Header, proc: Procedure, args: tuple[Any, ...]) -> None:
        try:
            result = self.handshake_result(proc, args)
        except VirError as err:
            self._answered_here(header, proc, args, None, err)
        else:
            self._answered_here(header, proc, args, result, None)

    def handshake_result(self, proc: Procedure, args: tuple[Any, ...]) -> Any:
        """The return struct of a call the connection answers itself
        (``CallStyle.CONNECTION``); raises VirError to answer with an error.
        Asking the keepalive feature starts keepalive."""
        program = self.program
        if proc.number == program.auth_list:
            return (self._auth_types,)
        if proc.number == program.supports_feature:
            (feature,) = args
            if feature == program.keepalive_feature:
                self.start_keepalive(*self._keepalive_settings, self._now)
                return (1,)
            if not self.opened:
                raise program.not_open(proc.name)
            return (1 if feature in program.features else 0,)
        raise AssertionError(f"{proc.name} is not answered by the connection")

    # -- answers ----------------------------------------------------------

    def reply(self, call: Call, result: Any) -> None:
        """Answer ``call`` with its return struct (None for a void procedure).

        Raises :class:`~rpcnet.protocol.xdr.XdrError` if ``result`` does not
        encode; then nothing was queued. Answering the program's open
        procedure opens the connection, its close procedure closes it."""
        header, proc, args, received = call
        payload = proc.ret.encode(result)
        if self.closed is not None:
            return
        self._out.append(reply_frame(header, _OK, payload))
        if self.observer is not None:
            self.observer.call_answered(header, proc, args, received, result, None)
        if proc is self._open_proc:
            self.opened = True
            if self.program.opens_readonly(args):
                self.readonly = True
        elif proc is self._close_proc:
            self._close(CLOSED_BY_CLIENT)

    def _answered_here(self, header: Header, proc: Procedure | None,
                       args: tuple[Any, ...] | None, result: Any, err: VirError | None) -> None:
        """Answer a call the connection decides itself: ``result`` of ``proc``,
        or ``err``."""
        if self.closed is not None:
            return
        if err is None:
            assert proc is not None
            self._out.append(reply_frame(header, _OK, proc.ret.encode(result)))
        else:
            self._error(header, err)
        if self.observer is not None:
            self.observer.call_answered(header, proc, args, self._now, result, err)

    def reply_error(self, call: Call, err: VirError) -> None:
        """Answer ``call`` with an error."""
        if self.closed is not None:
            return
        self._error(call.header, err)
        if self.observer is not None:
            self.observer.call_answered(call.header, call.procedure, call.args, call.received,
                                        None, err)

    def _error(self, header: Header, err: VirError) -> None:
        # callers checked that the connection is not closed
        self._out.append(reply_frame(header, _ERROR, encode_error(err)))

    def send_message(self, number: int, args: tuple[Any, ...]) -> None:
        """Queue a MESSAGE (an event) of procedure ``number`` to the client."""
        if self.closed is not None:
            return
        proc = self._procedures[number]
        payload = proc.args.encode(args)
        self._out.append(frame_header(self._prog, self._vers, number, _MESSAGE, _MESSAGE_SERIAL,
                                      _OK, len(payload)) + payload)

    # -- refusal ----------------------------------------------------------

    def refuse(self, err: VirError, now: float, grace: float) -> None:
        """Turn this client away: its first call is answered with ``err``, then
        the connection closes; so does it after ``grace`` seconds anyway."""
        self._refusal = err
        self._refusal_deadline = now + grace

    def get_timer(self) -> float | None:
        if self._refusal is not None and self.closed is None:
            return self._refusal_deadline
        return super().get_timer()

    def handle_timer(self, now: float) -> None:
        if self._refusal is not None and now >= self._refusal_deadline:
            self._close(Closed(f"refused: {self._refusal.message}"))
        super().handle_timer(now)


class ClientConnection(RpcConnection[Reply[T] | Notification], Generic[T]):
    """The client's end: calls go out, replies and messages come in.

    Each call carries a token of the caller's (a future, say) that comes back
    in its :class:`Reply`; calls are matched to replies by serial, so any
    number may be in flight and replies may come in any order.
    """

    def __init__(self, program: Program, *, max_message: int = MAX_MESSAGE) -> None:
        super().__init__(program, max_message=max_message)
        self._serial = 0
        self._pending: dict[int, tuple[Procedure, T]] = {}
        self._procedures = program.procedures
        self._prog, self._vers = program.number, program.version
        self._open_proc = program.procedures.get(program.open)

    def send_call(self, number: int, args: tuple[Any, ...], token: T,
                  program: Program | None = None) -> int:
        """Queue a call of procedure ``number`` of the connection's program
        (or of the companion ``program`` the server serves beside it);
        returns its serial.

        Raises :class:`LocalProtocolError` if the program has no such
        procedure or the connection is closed, and
        :class:`~rpcnet.protocol.xdr.XdrError` if ``args`` do not encode;
        either way nothing was queued."""
        if self.closed is not None:
            raise LocalProtocolError(f"connection closed: {self.closed.reason}")
        if program is None:
            procedures, prog, vers = self._procedures, self._prog, self._vers
        else:
            procedures, prog, vers = program.procedures, program.number, program.version
        proc = procedures.get(number)
        if proc is None or proc.style is _EVENT:
            raise LocalProtocolError(f"procedure {number} is not a call of this program")
        payload = proc.args.encode(args)
        serial = self._serial
        self._serial = (serial + 1) & 0xFFFFFFFF
        self._pending[serial] = (proc, token)
        self._out.append(frame_header(prog, vers, number, _CALL, serial, _OK,
                                      len(payload)) + payload)
        return serial

    @property
    def in_flight(self) -> int:
        """Calls sent and not yet answered."""
        return len(self._pending)

    def fail_pending(self) -> list[T]:
        """Forget every unanswered call; returns their tokens (to fail them)."""
        pending, self._pending = self._pending, {}
        return [token for _proc, token in pending.values()]

    # -- input ------------------------------------------------------------

    def _receive_frame(self, header: Header, payload: bytes) -> Reply[T] | Notification | None:
        if header[3] == _REPLY and header[0] != _KEEPALIVE:
            entry = self._pending.pop(header[4], None)
            if entry is None:
                self._close(Closed(f"reply with unknown serial {header[4]}", abort=True))
                return None
            return self._reply(header, payload, *entry)
        if header[0] == _KEEPALIVE:
            self._keepalive_message(header)
        elif header[3] == _MESSAGE and header[0] == self._prog:
            return self._notification(header, payload)
        return None

    def _bad_frame(self, exc: FrameError) -> None:
        self._close(Closed(f"protocol error from server: {exc}", abort=True))

    def _reply(self, header: Header, payload: bytes, proc: Procedure, token: T) -> Reply[T]:
        try:
            if header[5] == _OK:
                result = proc.ret.decode(payload)
                if proc is self._open_proc:
                    self.opened = True
                return _new_tuple(Reply, (token, result, None))
            return _new_tuple(Reply, (token, None, decode_error(payload)))
        except XdrError as exc:
            error = rpc_error(f"cannot decode reply to {proc.name}: {exc}")
            return _new_tuple(Reply, (token, None, error))

    def _notification(self, header: Header, payload: bytes) -> Notification | None:
        proc = self._procedures.get(header[2])
        if proc is None or proc.style is not _EVENT:
            return None
        try:
            return Notification(proc, proc.args.decode(payload))
        except XdrError as exc:
            log.warning("undecodable %s message: %s", proc.name, exc)
            return None
