"""rpcnet.cli: the command-line programs (``rpcnetd``, ``rpcnet``, ...) and
the one thing they share, running on uvloop when it is installed.

Nothing is imported here at module level: every program's start (the ssh
helper's on each connection) pays for this package."""

from __future__ import annotations

# ``typing`` itself would cost the ssh helper's start ~8 ms; mypy takes any
# name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Coroutine
    from typing import Any, TypeVar

    T = TypeVar("T")


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """``coro`` run to its end on a new event loop: uvloop's when it is
    installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        import asyncio

        return asyncio.run(coro)
    return uvloop.run(coro)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's when it is installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        import asyncio

        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
