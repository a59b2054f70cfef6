"""The one place that talks to pyroute2: a netlink socket on its own thread.

pyroute2's calls are blocking syscalls, and its synchronous ``IPRoute``
keeps per-thread state, so every call runs on a single dedicated worker
thread that owns the socket. The event loop only awaits the results.
:mod:`.bridge` and :mod:`.address` build on :meth:`Netlink.call`; nothing
else imports pyroute2. It is imported on that thread at the first call
(a tenth of a second that a restarted daemon need not wait for before it
answers).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from rpcnet.errors import ErrorCode, network_error

__all__ = ["Netlink", "is_missing", "is_netlink_error"]

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
            from pyroute2 import IPRoute  # type: ignore[import-untyped]

            self._ipr = IPRoute()
        return self._ipr

    async def call(self, what: str, func: Callable[[Any], T]) -> T:
        """Run ``func(ipr)`` on the netlink thread; a netlink error becomes a
        VirError saying ``what`` failed (``"Unable to create bridge br0"``)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: func(self._socket()))
        except Exception as exc:
            if is_netlink_error(exc):
                code = exc.code if isinstance(exc.code, int) else errno.EIO  # type: ignore[attr-defined]
                raise network_error(ErrorCode.SYSTEM_ERROR, f"{what}: {os.strerror(code)}") from exc
            if isinstance(exc, OSError):
                raise network_error(
                    ErrorCode.SYSTEM_ERROR, f"{what}: {exc.strerror or exc}") from exc
            raise

    def close(self) -> None:
        def shut() -> None:
            if self._ipr is not None:
                self._ipr.close()
                self._ipr = None

        self._pool.submit(shut).result()
        self._pool.shutdown(wait=True)


def is_netlink_error(exc: BaseException) -> bool:
    """Whether ``exc`` is pyroute2's error for a netlink request the kernel
    refused (only raised once pyroute2 is loaded)."""
    exceptions = sys.modules.get("pyroute2.netlink.exceptions")
    return exceptions is not None and isinstance(exc, exceptions.NetlinkError)


def is_missing(exc: BaseException) -> bool:
    """Whether a failed call failed because the object was not there."""
    cause = exc.__cause__
    return (cause is not None and is_netlink_error(cause)
            and cause.code in (errno.ENODEV, errno.ENOENT, errno.EADDRNOTAVAIL))  # type: ignore[attr-defined]
