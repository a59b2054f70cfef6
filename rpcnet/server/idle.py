"""The idle exit (``--timeout``): a daemon with no client for that many
seconds exits, as libvirt's daemons do under socket activation. Connected
clients hold it off; running networks do not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class IdleTimer:
    """Calls ``expire`` once ``timeout`` seconds have passed with nothing
    busy. A timeout of 0 disables it; :meth:`update` is told whenever the
    daemon gains or loses its last client."""

    def __init__(self, expire: Callable[[], None], timeout: float = 0.0) -> None:
        self._expire = expire
        self.timeout = timeout
        self._busy = True  # until the daemon serves
        self._handle: asyncio.TimerHandle | None = None

    def set_timeout(self, seconds: float) -> None:
        """Change the timeout; a running countdown starts again with it."""
        self.timeout = seconds
        self._disarm()
        self._arm()

    def update(self, *, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self._disarm()
            self._arm()

    def cancel(self) -> None:
        self._busy = True
        self._disarm()

    def _arm(self) -> None:
        if not self._busy and self.timeout > 0:
            self._handle = asyncio.get_running_loop().call_later(self.timeout, self._fire)

    def _disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._expire()
