"""The one place that talks to pyroute2: a netlink socket on its own thread.

pyroute2's calls are blocking syscalls, and its synchronous ``IPRoute``
keeps per-thread state, so every call runs on a single dedicated worker
thread that owns the socket. The event loop only awaits the results.
:mod:`.bridge` and :mod:`.address` build on :meth:`Netlink.call`; nothing
else imports pyroute2.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pyroute2 import IPRoute  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from .errors import system_error

__all__ = ["Netlink", "NetlinkError", "is_missing"]

T = TypeVar("T")

# pyroute2 logs every netlink message at DEBUG; rpcnetd -v should not.
logging.getLogger("pyroute2").setLevel(logging.WARNING)


class Netlink:
    """A netlink route socket in the daemon's network namespace."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlink")
        self._ipr: Any = None

    def _socket(self) -> Any:
        if self._ipr is None:
            self._ipr = IPRoute()
        return self._ipr

    async def call(self, what: str, func: Callable[[Any], T]) -> T:
        """Run ``func(ipr)`` on the netlink thread; a netlink error becomes a
        VirError saying ``what`` failed (``"Unable to create bridge br0"``)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: func(self._socket()))
        except NetlinkError as exc:
            code = exc.code if isinstance(exc.code, int) else errno.EIO
            raise system_error(f"{what}: {os.strerror(code)}") from exc
        except OSError as exc:
            raise system_error(f"{what}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        def shut() -> None:
            if self._ipr is not None:
                self._ipr.close()
                self._ipr = None

        self._pool.submit(shut).result()
        self._pool.shutdown(wait=True)


def is_missing(exc: BaseException) -> bool:
    """Whether a failed call failed because the object was not there."""
    cause = exc.__cause__
    return isinstance(cause, NetlinkError) and cause.code in (errno.ENODEV, errno.ENOENT,
                                                               errno.EADDRNOTAVAIL)
