"""Message framing and the RPC header (sans-IO).

A frame on the wire is a 4-byte big-endian length (counting itself), a
24-byte header and the XDR payload. :class:`Framer` takes bytes in any
chunking and hands out whole messages; :func:`encode_frame` does the
reverse. Neither touches a socket.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import NamedTuple

#: Largest header + payload libvirt 9.0 accepts (VIR_NET_MESSAGE_MAX, 32 MiB).
MAX_MESSAGE = 33554432
LENGTH_SIZE = 4
HEADER_SIZE = 24
#: Largest payload libvirt's string type allows (VIR_NET_MESSAGE_STRING_MAX).
STRING_MAX = 4194304

_LENGTH = struct.Struct(">I")
_FRAME_HEAD = struct.Struct(">IIIiiIi")  # length word + header
_REPLY = 1  # MessageType.REPLY, as a plain int for the hot path


class MessageType(IntEnum):
    CALL = 0
    REPLY = 1
    MESSAGE = 2
    STREAM = 3
    CALL_WITH_FDS = 4
    REPLY_WITH_FDS = 5
    STREAM_HOLE = 6


class Status(IntEnum):
    OK = 0
    ERROR = 1
    CONTINUE = 2


class Header(NamedTuple):
    """``virNetMessageHeader``."""

    prog: int
    vers: int
    proc: int
    type: int
    serial: int
    status: int


class Message(NamedTuple):
    header: Header
    payload: bytes


class FrameError(Exception):
    """The peer sent a frame that cannot be parsed; the connection must close."""


class Framer:
    """Splits a byte stream into messages.

    ``feed()`` bytes as they arrive, then call ``next_message()`` until it
    returns ``None`` (more data needed). A length word outside
    ``[28, max_message + 4]`` raises :class:`FrameError` as soon as its four
    bytes are seen, before anything of that frame is buffered further.
    """

    __slots__ = ("_buffer", "_max_length", "_pos")

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buffer = bytearray()
        self._pos = 0
        self._max_length = max_message + LENGTH_SIZE

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as messages."""
        return len(self._buffer) - self._pos

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos == len(self._buffer):
            self._buffer.clear()
            self._pos = 0
        self._buffer += data

    def pending_length(self) -> int | None:
        """The length word of the frame being received, once it is known."""
        if self.buffered < LENGTH_SIZE:
            return None
        return int(_LENGTH.unpack_from(self._buffer, self._pos)[0])

    def pending_header(self) -> Header | None:
        """The header of the frame being received, once its bytes are in
        (even if its length word is out of range)."""
        if self.buffered < LENGTH_SIZE + HEADER_SIZE:
            return None
        return Header(*_FRAME_HEAD.unpack_from(self._buffer, self._pos)[1:])

    def next_message(self) -> Message | None:
        frame = self.next_frame()
        return None if frame is None else Message(*frame)

    def next_frame(self) -> tuple[Header, bytes] | None:
        """:meth:`next_message` as a plain ``(header, payload)`` pair (the hot path)."""
        buffer, pos = self._buffer, self._pos
        available = len(buffer) - pos
        if available < LENGTH_SIZE:
            return None
        (length,) = _LENGTH.unpack_from(buffer, pos)
        if length < LENGTH_SIZE + HEADER_SIZE or length > self._max_length:
            raise FrameError(f"frame length {length} out of range")
        if available < length:
            return None
        _, prog, vers, proc, mtype, serial, status = _FRAME_HEAD.unpack_from(buffer, pos)
        payload = bytes(buffer[pos + LENGTH_SIZE + HEADER_SIZE : pos + length])
        pos += length
        if pos == len(buffer):
            buffer.clear()
            pos = 0
        elif pos > 65536:
            del buffer[:pos]
            pos = 0
        self._pos = pos
        return Header(prog, vers, proc, mtype, serial, status), payload


def encode_frame(header: Header, payload: bytes = b"") -> bytes:
    """One whole frame: length word, header and payload."""
    length = LENGTH_SIZE + HEADER_SIZE + len(payload)
    return _FRAME_HEAD.pack(length, *header) + payload


def reply_frame(call: Header, status: int, payload: bytes) -> bytes:
    """The whole REPLY frame to ``call``: packed straight from the call's header
    fields, without building a reply :class:`Header` first."""
    return _FRAME_HEAD.pack(LENGTH_SIZE + HEADER_SIZE + len(payload), call[0], call[1], call[2],
                            _REPLY, call[4], status) + payload


def frame_header(
    prog: int, vers: int, proc: int, mtype: int, serial: int, status: int, payload_len: int
) -> bytes:
    """Just the length word and header of a frame whose payload follows."""
    return _FRAME_HEAD.pack(
        LENGTH_SIZE + HEADER_SIZE + payload_len, prog, vers, proc, mtype, serial, status
    )
