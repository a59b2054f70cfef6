"""Byte streams a client connection runs over, and the shims that feed it.

A :class:`~rpcnet.client.connection.Connection` needs only a
:class:`ByteStream` to write to and someone to hand it what arrives
(:class:`StreamReceiver`). An asyncio stream transport (a UNIX or TCP
socket, TLS) is a byte stream as it is; :class:`StreamProtocol` feeds the
connection from it. A child process makes one too (``process.py``: libvirt's
ssh transport, ``ssh host sh -c '...virt-ssh-helper...'``), and so does an
SSH channel (``libssh.py``). A stream that can say how it ended in libvirt's
words passes :class:`StreamEnded` to ``stream_lost``; one that ends with
some work still to do (a child to reap) is a :class:`ClosingStream`.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, cast, runtime_checkable


class ByteStream(Protocol):
    """Where a connection writes (``asyncio.Transport`` is one)."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """Close once what was written went out."""

    def abort(self) -> None:
        """Close at once, dropping what was not sent."""


@runtime_checkable
class ClosingStream(ByteStream, Protocol):
    """A byte stream whose end takes a while (a child process to reap)."""

    async def wait_closed(self) -> None: ...


class StreamEnded(Exception):
    """How a byte stream ended, in libvirt's words (the connection's error)."""


class StreamReceiver(Protocol):
    """What a shim feeds: the client connection."""

    def attach(self, stream: ByteStream) -> None: ...

    def feed(self, data: bytes) -> None: ...

    def stream_lost(self, exc: Exception | None) -> None: ...


class StreamProtocol(asyncio.Protocol):
    """An asyncio stream transport (socket, TLS) feeding a receiver."""

    def __init__(self, receiver: StreamReceiver) -> None:
        self.receiver = receiver

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it
        self.receiver.attach(cast(asyncio.Transport, transport))

    def data_received(self, data: bytes) -> None:
        self.receiver.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.receiver.stream_lost(exc)
