"""A relay in front of a daemon's UNIX socket that keeps what the daemon says.

A real client is pointed at :attr:`Recorder.path`; every byte goes on to the
daemon's socket and back unchanged, and each whole frame the daemon sends
is kept in :attr:`Recorder.frames`. Two daemons' answers to the same client
run can then be compared byte for byte (:func:`replies`).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from rpcnet.protocol import keepalive
from rpcnet.protocol.message import Framer, MessageType, encode_frame

_REPLY = int(MessageType.REPLY)


class Recorder:
    """Relays the connections made to :attr:`path` to ``target``."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.dir = Path(tempfile.mkdtemp(prefix="rpcnet-rec-"))
        self.path = str(self.dir / "sock")
        #: every frame the daemon sent, in order, across all connections
        self.frames: list[bytes] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(8)
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.target)
            self._spawn(self._pump, client, server, None)
            self._spawn(self._pump, server, client, Framer())

    def _pump(self, source: socket.socket, sink: socket.socket, framer: Framer | None) -> None:
        """Relay ``source`` to ``sink``, keeping its frames if given a ``framer``."""
        try:
            while data := source.recv(65536):
                if framer is not None:  # before the client can see it and be done
                    self._keep(framer, data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _keep(self, framer: Framer, data: bytes) -> None:
        framer.feed(data)
        while (frame := framer.next_frame()) is not None:
            with self._lock:
                self.frames.append(encode_frame(*frame))

    def close(self) -> None:
        self._listener.close()
        Path(self.path).unlink(missing_ok=True)
        self.dir.rmdir()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def replies(frames: list[bytes]) -> list[bytes]:
    """The reply frames among ``frames`` (no keepalive, no events)."""
    kept = []
    for frame in frames:
        program, _version, _proc, kind = struct.unpack(">IIii", frame[4:20])
        if program != keepalive.PROGRAM and kind == _REPLY:
            kept.append(frame)
    return kept
