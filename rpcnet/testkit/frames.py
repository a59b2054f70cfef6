"""Malformed and oversized frames, for ``Faults.bad_reply`` and ``InProcessDaemon.send_frame``.

Each ``*_reply`` builder returns a :class:`~rpcnet.testkit.faults.RawReply`:
given the genuine reply frame of the call it acts on, it makes the bytes
sent instead. What libvirt's client does with each (``virnetmessage.c``,
``virnetclient.c``) is in the docstrings; ``tests/integration/
test_testkit_faults.py`` shows it with virsh and the Python bindings.
"""

from __future__ import annotations

import struct

from rpcnet.protocol.message import HEADER_SIZE, LENGTH_SIZE, MAX_MESSAGE
from rpcnet.testkit.faults import RawReply

#: the largest length word libvirt's client accepts (header, payload and the word itself)
LIBVIRT_MAX_LENGTH = MAX_MESSAGE + LENGTH_SIZE
_LENGTH = struct.Struct(">I")
_SERIAL_AT = LENGTH_SIZE + 16


def truncated_payload_reply(keep: int | None = None) -> RawReply:
    """The reply with its payload cut to ``keep`` bytes (default: half) and a
    length word to match: a whole frame whose payload does not decode
    (libvirt: "Unable to decode message payload"; the connection lives on).
    A reply with no payload is sent unchanged."""

    def make(reply: bytes) -> bytes:
        head, payload = reply[:LENGTH_SIZE + HEADER_SIZE], reply[LENGTH_SIZE + HEADER_SIZE:]
        cut = payload[:len(payload) // 2 if keep is None else keep]
        return _LENGTH.pack(len(head) + len(cut)) + head[LENGTH_SIZE:] + cut

    return RawReply(make, "a frame with a truncated payload")


def bad_length_reply(length: int = LENGTH_SIZE + 4) -> RawReply:
    """The reply with its length word replaced; the default (8) is too short to
    hold a header (libvirt: "Unable to decode message header"; below 4: "packet
    N bytes received from server too small"), and the client closes."""

    def make(reply: bytes) -> bytes:
        return _LENGTH.pack(length) + reply[LENGTH_SIZE:]

    return RawReply(make, f"a frame with length word {length}")


def oversized_reply(length: int = LIBVIRT_MAX_LENGTH + 1) -> RawReply:
    """A length word announcing more than libvirt accepts, then the reply's
    header; the client refuses it as soon as it reads the word ("packet N
    bytes received from server too large, want 33554432") and closes."""

    def make(reply: bytes) -> bytes:
        return _LENGTH.pack(length) + reply[LENGTH_SIZE:LENGTH_SIZE + HEADER_SIZE]

    return RawReply(make, f"an oversized frame (length word {length})")


def wrong_serial_reply(offset: int = 1000) -> RawReply:
    """The genuine reply with its serial moved by ``offset``: a reply to no
    call (libvirt: "no call waiting for reply with prog ... serial ...")."""

    def make(reply: bytes) -> bytes:
        (serial,) = _LENGTH.unpack_from(reply, _SERIAL_AT)
        return (reply[:_SERIAL_AT] + _LENGTH.pack((serial + offset) & 0xFFFFFFFF)
                + reply[_SERIAL_AT + 4:])

    return RawReply(make, f"the reply with its serial moved by {offset}")


def oversized_frame(length: int = LIBVIRT_MAX_LENGTH + 1) -> bytes:
    """An unsolicited frame start announcing more than libvirt accepts (a
    length word and a zero header), for ``InProcessDaemon.send_frame``."""
    return _LENGTH.pack(length) + bytes(HEADER_SIZE)
