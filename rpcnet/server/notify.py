"""Telling the service manager how the daemon is doing (sd_notify(3)),
without libsystemd: one datagram per notice to ``$NOTIFY_SOCKET`` (a path,
or an abstract socket when it starts with ``@``).

``READY=1`` once the daemon serves, ``RELOADING=1`` then ``READY=1`` around
a SIGHUP reload, ``STOPPING=1`` when it begins to exit. A notice that
cannot be sent is dropped (and logged at debug level): the daemon's work
never depends on it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import MutableMapping

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    """Sends notices to one address; with None, sends nothing."""

    def __init__(self, address: str | None) -> None:
        self.address = _socket_address(address) if address else None
        self._sock: socket.socket | None = None
        if self.address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str] | None = None) -> Notifier:
        """The service manager's socket, taken out of ``environ`` (default:
        this process's) so that no child sends notices in our name."""
        environ = os.environ if environ is None else environ
        return cls(environ.pop("NOTIFY_SOCKET", None))

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` fields as one notice; whether it went out."""
        if self._sock is None or self.address is None:
            return False
        try:
            self._sock.sendto("\n".join(fields).encode() + b"\n", self.address)
        except OSError as exc:
            log.debug("cannot notify %r: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match the reload
        return self.send("RELOADING=1",
                         f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


def _socket_address(address: str) -> str | None:
    if address.startswith("@"):
        return "\0" + address[1:]
    if address.startswith("/"):
        return address
    log.warning("ignoring NOTIFY_SOCKET %r: neither a path nor an abstract socket", address)
    return None
