"""The KEEPALIVE program and a deterministic keepalive timer (time is an input).

Either side may PING; the receiver answers PONG at once. Any frame received
counts as a sign of life. After ``interval`` seconds of silence a PING goes
out, then one more each ``interval`` while the silence lasts; once ``count``
PINGs went unanswered and another interval passed, the peer is dead
(libvirtd: PINGs at 5, 10, 15, 20, 25 s, closed at 30 s).
"""

from __future__ import annotations

from enum import Enum

from rpcnet.protocol.message import Header, MessageType, Status, encode_frame

PROGRAM = 0x6B656570  # "keep"
VERSION = 1
PING = 1
PONG = 2

PING_FRAME = encode_frame(Header(PROGRAM, VERSION, PING, MessageType.MESSAGE, 0, Status.OK))
PONG_FRAME = encode_frame(Header(PROGRAM, VERSION, PONG, MessageType.MESSAGE, 0, Status.OK))


class KeepaliveAction(Enum):
    NONE = "none"
    SEND_PING = "ping"
    DEAD = "dead"


class KeepaliveTimer:
    """Decides when to PING and when the peer is dead; owns no clock."""

    __slots__ = ("_count", "_interval", "_last_seen", "_unanswered")

    def __init__(self, interval: float, count: int, now: float) -> None:
        if interval <= 0:
            raise ValueError("keepalive interval must be positive")
        self._interval = interval
        self._count = max(count, 0)
        self._last_seen = now
        self._unanswered = 0

    @property
    def interval(self) -> float:
        return self._interval

    def received(self, now: float) -> None:
        """Any frame arrived from the peer."""
        self._last_seen = now
        self._unanswered = 0

    def deadline(self) -> float:
        """When :meth:`poll` next has something to do."""
        return self._last_seen + self._interval * (self._unanswered + 1)

    def poll(self, now: float) -> KeepaliveAction:
        if now < self.deadline():
            return KeepaliveAction.NONE
        if self._unanswered >= self._count:
            return KeepaliveAction.DEAD
        self._unanswered += 1
        return KeepaliveAction.SEND_PING
