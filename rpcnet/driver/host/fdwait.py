"""Waiting on the event loop for a file descriptor to become readable."""

from __future__ import annotations

import asyncio


async def readable(fd: int) -> None:
    """Return once ``fd`` is readable (an inotify event, a pidfd's exit)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
