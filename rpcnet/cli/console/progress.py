"""Progress of a fan-out on stderr: ``12/50 hosts done, 1 failed``.

Shown only when stderr is a terminal, and only once the fan-out has taken
:data:`DELAY` seconds (a quick one leaves no trace); then one line rewritten
in place every :data:`INTERVAL` seconds, erased when the fan-out ends, so
nothing of it reaches a pipe or a log and the table that follows starts on
a clean line. An error printed meanwhile goes above it (:meth:`Progress.clear`
before, :meth:`Progress.draw` after).
"""

from __future__ import annotations

import asyncio
from typing import TextIO

DELAY = 0.5
INTERVAL = 0.1
_ERASE = "\r\x1b[K"


class Progress:
    """Hosts done out of ``total`` and failures so far, on ``stream``."""

    def __init__(self, total: int, stream: TextIO, *, delay: float = DELAY) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream
        self._timer: asyncio.TimerHandle | None = None
        self._showing = False  # past the delay: drawn on every tick
        self._drawn: str | None = None
        if stream.isatty():
            self._timer = asyncio.get_running_loop().call_later(delay, self._tick)

    @property
    def line(self) -> str:
        return f"{self.done}/{self.total} hosts done, {self.failed} failed"

    def host_done(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok

    def _tick(self) -> None:
        self._showing = True
        if self._drawn != self.line:
            self.draw()
        self._timer = asyncio.get_running_loop().call_later(INTERVAL, self._tick)

    def draw(self) -> None:
        if self._showing:
            self._drawn = self.line
            self.stream.write(f"{_ERASE}{self._drawn}")
            self.stream.flush()

    def clear(self) -> None:
        """Erase the line (before other output goes to stderr)."""
        if self._drawn is not None:
            self.stream.write(_ERASE)
            self.stream.flush()
            self._drawn = None

    def stop(self) -> None:
        """The fan-out is over: erase the line for good."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._showing = False
        self.clear()
