"""Byte streams a client connection runs over, and the shims that feed it.

A :class:`~rpcnet.client.connection.Connection` needs only a
:class:`ByteStream` to write to and someone to hand it what arrives
(:class:`StreamReceiver`). An asyncio stream transport (a UNIX or TCP
socket, TLS) is a byte stream as it is; :class:`StreamProtocol` feeds the
connection from it. A child process's stdin and stdout make one too
(:func:`open_process`): the shape of libvirt's ssh and ext transports, which
run ``ssh host nc -U socket`` or ``virt-ssh-helper`` and talk over its pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol, cast

log = logging.getLogger("rpcnet.client")


class ByteStream(Protocol):
    """Where a connection writes (``asyncio.Transport`` is one)."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """Close once what was written went out."""

    def abort(self) -> None:
        """Close at once, dropping what was not sent."""


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


class ProcessStream:
    """A child process as a byte stream: write to its stdin; closing ends it."""

    def __init__(self, transport: asyncio.SubprocessTransport) -> None:
        self.transport = transport

    def write(self, data: bytes) -> None:
        stdin = cast(asyncio.WriteTransport, self.transport.get_pipe_transport(0))
        stdin.write(data)

    def close(self) -> None:
        stdin = self.transport.get_pipe_transport(0)
        if stdin is not None:
            stdin.close()  # EOF: a proxy such as nc -U or virt-ssh-helper ends by itself
        self.transport.close()

    def abort(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.transport.kill()
        self.transport.close()


class _ProcessProtocol(asyncio.SubprocessProtocol):
    """A child's stdout feeding a receiver; its exit ends the stream."""

    def __init__(self, receiver: StreamReceiver) -> None:
        self.receiver = receiver

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.receiver.attach(ProcessStream(cast(asyncio.SubprocessTransport, transport)))

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        if fd == 1:
            self.receiver.feed(data if isinstance(data, bytes) else data.encode())
        else:
            log.debug("stderr of the transport command: %r", data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.receiver.stream_lost(exc)

    def process_exited(self) -> None:
        self.receiver.stream_lost(None)


async def open_process(argv: Sequence[str], receiver: StreamReceiver) -> None:
    """Run ``argv`` and connect ``receiver`` to its stdin and stdout.

    Raises OSError if the command cannot be started."""
    loop = asyncio.get_running_loop()
    await loop.subprocess_exec(lambda: _ProcessProtocol(receiver), *argv,
                               stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                               stderr=asyncio.subprocess.PIPE)
