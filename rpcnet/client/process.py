"""A child process as a byte stream, the way libvirt runs its ssh transport.

The child's stdin and stdout are one end of a socket pair; the other end is
an ordinary asyncio socket transport feeding the connection. The child's
stderr is read all along and its last KiB kept, so that when the stream
ends, the error says what the child said (``ssh: connect to host ...``,
``Host key verification failed.``, ``nc: ...: No such file or directory``)
in libvirt's words: ``End of file while reading data: <stderr>: Input/output
error`` when the child closed its end, ``Cannot recv data: <stderr>:
Connection reset by peer`` when it died before reading what was sent.

The child is never left behind: closing gives it :data:`EXIT_GRACE` seconds
to end by itself (ssh does, once the far side saw the end of its input),
then SIGTERM, then SIGKILL; aborting (a dead stream, a keepalive timeout)
sends SIGTERM at once. ``wait_closed`` returns once it is reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
from collections.abc import Mapping, Sequence
from typing import cast

from rpcnet.client.streams import StreamEnded, StreamReceiver

log = logging.getLogger("rpcnet.client")

#: How much of the child's stderr is kept for error messages (libvirt reads 1 KiB).
STDERR_KEEP = 1024
#: Seconds a closed child gets to end by itself, and then after SIGTERM.
EXIT_GRACE = 2.0
#: Seconds to wait, after the stream ended, for the child's last words on stderr.
STDERR_GRACE = 1.0


class ProcessStream:
    """The byte stream to a child process (``write``/``close``/``abort``,
    and :meth:`wait_closed` once the child is gone)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.transport: asyncio.Transport | None = None
        self._stderr = bytearray()
        self._stderr_done = asyncio.get_running_loop().create_task(self._read_stderr())
        self._reaper: asyncio.Task[None] | None = None

    # -- ByteStream ---------------------------------------------------------------
    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self._reap()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
        self._signal(signal.SIGTERM)
        self._reap()

    def _signal(self, sig: signal.Signals) -> None:
        # not Popen.send_signal: its poll() would reap the child behind the back
        # of asyncio's child watcher, which then warns of an unknown child
        if self.process.returncode is None:  # alive, or a zombie not reaped yet
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, sig)

    async def wait_closed(self) -> None:
        """Return once the child has exited (and was reaped)."""
        await asyncio.shield(self._reap())

    # -- the child --------------------------------------------------------------------
    @property
    def stderr_text(self) -> str:
        """What the child wrote on stderr (its last KiB), trailing space removed."""
        return self._stderr.decode(errors="replace").rstrip()

    async def _read_stderr(self) -> None:
        reader = self.process.stderr
        assert reader is not None
        while chunk := await reader.read(4096):
            self._stderr += chunk
            del self._stderr[:-STDERR_KEEP]

    async def last_words(self) -> str:
        """The child's stderr once it closed it (or :data:`STDERR_GRACE` passed)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._stderr_done), STDERR_GRACE)
        return self.stderr_text

    def _reap(self) -> asyncio.Task[None]:
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._end())
        return self._reaper

    async def _end(self) -> None:
        """Wait for the child; after :data:`EXIT_GRACE` seconds SIGTERM it, then SIGKILL."""
        process = self.process
        for last_resort in (signal.SIGTERM, signal.SIGKILL, None):
            try:
                await asyncio.wait_for(process.wait(), EXIT_GRACE)
                return
            except TimeoutError:
                if last_resort is None:
                    log.warning("process %s did not end after SIGKILL", process.pid)
                    return
                self._signal(last_resort)


class _Feeder(asyncio.Protocol):
    """Our end of the socket pair, feeding the receiver; when it ends, the
    receiver hears how, with the child's stderr."""

    def __init__(self, receiver: StreamReceiver, stream: ProcessStream) -> None:
        self.receiver = receiver
        self.stream = stream
        self._ending: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.stream.transport = cast(asyncio.Transport, transport)
        self.receiver.attach(self.stream)

    def data_received(self, data: bytes) -> None:
        self.receiver.feed(data)

    def eof_received(self) -> bool | None:
        return False  # close our end too

    def connection_lost(self, exc: Exception | None) -> None:
        self._ending = asyncio.get_running_loop().create_task(self._report(exc))

    async def _report(self, exc: Exception | None) -> None:
        said = await self.stream.last_words()
        if exc is None:
            what, code = "End of file while reading data", errno.EIO
        elif isinstance(exc, BrokenPipeError):
            what, code = "Cannot write data", errno.EPIPE
        else:
            what = "Cannot recv data"
            code = exc.errno if isinstance(exc, OSError) and exc.errno else errno.EIO
        detail = f"{what}: {said}" if said else what
        self.receiver.stream_lost(StreamEnded(f"{detail}: {os.strerror(code)}"))


async def open_process(argv: Sequence[str], receiver: StreamReceiver, *,
                       env: Mapping[str, str] | None = None) -> ProcessStream:
    """Run ``argv`` with its stdin and stdout connected to ``receiver``.

    Raises OSError if the command cannot be started."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=asyncio.subprocess.PIPE,
            env=dict(env) if env is not None else None)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    stream = ProcessStream(process)
    try:
        await loop.create_unix_connection(lambda: _Feeder(receiver, stream), sock=ours)
    except BaseException:
        stream.abort()
        raise
    return stream
