"""The test kit's sans-IO server connection: keepalive that can fall silent,
and the handshake calls handed out so that faults can reach them.

Only the kit's daemon uses it (``FaultSession.connection_type``); rpcnetd's
sessions drive the plain :class:`~rpcnet.protocol.connection.ServerConnection`
and pay nothing for it.
"""

from __future__ import annotations

from typing import Any

from rpcnet.protocol.connection import Call, ServerConnection
from rpcnet.protocol.keepalive import KeepaliveTimer
from rpcnet.protocol.message import Header
from rpcnet.protocol.program import Procedure


class FaultConnection(ServerConnection):
    """A :class:`ServerConnection` with two differences.

    The calls the connection answers itself (the authentication list and
    features) come out as :class:`Call` events too, so the session can
    delay or fail them like any call; it answers them with
    :meth:`handshake_result`, the plain connection's own code.

    :meth:`silence_keepalive` makes the connection neither answer PINGs nor
    send its own (and so never drop the client for silence) until it is
    turned off, when the keepalive clock starts again from then.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keepalive_silent = False
        self._silenced: KeepaliveTimer | None = None
        self._surfaced: Call | None = None

    def silence_keepalive(self, silent: bool, now: float) -> None:
        if silent == self.keepalive_silent:
            return
        self.keepalive_silent = silent
        if silent:
            self._silenced, self._keepalive = self._keepalive, None
            return
        timer, self._silenced = self._silenced, None
        if timer is not None and self.closed is None:
            timer.received(now)
            self._keepalive = timer

    def start_keepalive(self, interval: float, count: int, now: float) -> None:
        if not self.keepalive_silent:
            super().start_keepalive(interval, count, now)
        elif self._silenced is None and interval > 0 and self.closed is None:
            self._silenced = KeepaliveTimer(interval, count, now)

    def _keepalive_message(self, header: Header) -> None:
        if not self.keepalive_silent:
            super()._keepalive_message(header)

    def _answer_handshake(self, header: Header, proc: Procedure, args: tuple[Any, ...]) -> None:
        self._surfaced = Call(header, proc, args, self._now)

    def _receive_frame(self, header: Header, payload: bytes) -> Call | None:
        event = super()._receive_frame(header, payload)
        if event is None and self._surfaced is not None:
            event, self._surfaced = self._surfaced, None
        return event
