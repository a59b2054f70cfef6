"""A child process as a byte stream, the way libvirt runs its ssh transport.

The child's stdin and stdout are one end of a socket pair; the other end is
an ordinary asyncio socket transport feeding the connection. The child's
stderr is read all along and its last KiB kept, so that when the stream
ends, the error says what the child said (``ssh: connect to host ...``,
``Host key verification failed.``, ``nc: ...: No such file or directory``)
in libvirt's words: ``End of file while reading data: <stderr>: Input/output
error`` when the child closed its end, ``Cannot recv data: <stderr>:
Connection reset by peer`` when it died before reading what was sent.

The child is started with :mod:`subprocess` (vfork) and watched through a
pidfd: no fork of this process, no watcher thread per child, and nobody else
reaps it. It is never left behind: closing gives it :data:`EXIT_GRACE` seconds
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
import subprocess
from collections.abc import Sequence
from typing import cast

from rpcnet.client.streams import StreamEnded, StreamReceiver

log = logging.getLogger("rpcnet.client")

#: How much of the child's stderr is kept for error messages (libvirt reads 1 KiB).
STDERR_KEEP = 1024
#: Seconds a closed child gets to end by itself, and then after SIGTERM.
EXIT_GRACE = 2.0
#: Seconds to wait, after the stream ended, for the child's last words on stderr.
STDERR_GRACE = 1.0


class _Child:
    """A started child: its exit seen through a pidfd (no child watcher, no
    thread; reaped here and nowhere else) and its stderr read as it comes."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = self.loop.create_future()
        self.stderr_closed: asyncio.Future[None] = self.loop.create_future()
        self.stderr = bytearray()
        assert popen.stderr is not None
        self._stderr_fd = popen.stderr.fileno()
        os.set_blocking(self._stderr_fd, False)
        self.loop.add_reader(self._stderr_fd, self._read_stderr)
        try:
            self._pidfd: int | None = os.pidfd_open(popen.pid)
        except (AttributeError, OSError):  # not Linux 5.3+: a thread waits instead
            self._pidfd = None
            waiting = self.loop.run_in_executor(None, popen.wait)
            waiting.add_done_callback(lambda done: self._set_exited(done.result()))
        else:
            self.loop.add_reader(self._pidfd, self._reap)

    def _read_stderr(self) -> None:
        try:
            chunk = os.read(self._stderr_fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self.stderr += chunk
            del self.stderr[:-STDERR_KEEP]
            return
        self.loop.remove_reader(self._stderr_fd)
        assert self.popen.stderr is not None
        self.popen.stderr.close()
        if not self.stderr_closed.done():
            self.stderr_closed.set_result(None)

    def _reap(self) -> None:
        assert self._pidfd is not None
        self.loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = None
        self._set_exited(self.popen.wait())  # it has exited: no wait

    def _set_exited(self, code: int) -> None:
        if not self.exited.done():
            self.exited.set_result(code)

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` unless the child was reaped (so its pid is no one else's)."""
        if self.popen.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, sig)


class ProcessStream:
    """The byte stream to a child process (``write``/``close``/``abort``,
    and :meth:`wait_closed` once the child is gone)."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.child = _Child(popen)
        self.transport: asyncio.Transport | None = None
        self._reaper: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.child.popen.pid

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
        self.child.signal(signal.SIGTERM)
        self._reap()

    async def wait_closed(self) -> None:
        """Return once the child has exited (and was reaped)."""
        await asyncio.shield(self._reap())

    # -- the child --------------------------------------------------------------------
    @property
    def stderr_text(self) -> str:
        """What the child wrote on stderr (its last KiB), trailing space removed."""
        return self.child.stderr.decode(errors="replace").rstrip()

    async def last_words(self) -> str:
        """The child's stderr once it closed it (or :data:`STDERR_GRACE` passed)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.child.stderr_closed), STDERR_GRACE)
        return self.stderr_text

    def _reap(self) -> asyncio.Task[None]:
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._end())
        return self._reaper

    async def _end(self) -> None:
        """Wait for the child; after :data:`EXIT_GRACE` seconds SIGTERM it, then SIGKILL."""
        for last_resort in (signal.SIGTERM, signal.SIGKILL, None):
            try:
                await asyncio.wait_for(asyncio.shield(self.child.exited), EXIT_GRACE)
                return
            except TimeoutError:
                if last_resort is None:
                    log.warning("process %s did not end after SIGKILL", self.pid)
                    return
                self.child.signal(last_resort)


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


async def open_process(argv: Sequence[str], receiver: StreamReceiver) -> ProcessStream:
    """Run ``argv`` with its stdin and stdout connected to ``receiver``.

    Raises OSError if the command cannot be started."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # subprocess (vfork), not the loop's subprocess_exec: uvloop forks the
        # whole process, 5-10 ms a child, which a fan-out to many hosts pays
        popen = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=theirs.fileno(),
                                 stderr=subprocess.PIPE)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    stream = ProcessStream(popen)
    try:
        await loop.create_unix_connection(lambda: _Feeder(receiver, stream), sock=ours)
    except BaseException:
        stream.abort()
        raise
    return stream
