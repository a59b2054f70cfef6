"""One asyncio event loop on a background thread, shared by the kit's daemons.

A test (synchronous, or asynchronous on a loop of its own) hosts its
daemons here, so clients in other processes (virsh, the Python bindings)
and the test's own code can talk to them while the test thread blocks.
The loop is asyncio's own, not uvloop: its clock is ``time.monotonic`` at
full resolution, which the call log's times rely on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_shared: LoopThread | None = None
_shared_lock = threading.Lock()


class LoopThread:
    """An event loop running forever on a daemon thread."""

    def __init__(self, name: str = "rpcnet-testkit") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run ``coro`` on the loop and wait for its result (or exception)."""
        self._not_on_loop()
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = 30.0) -> T:
        """Call ``fn(*args)`` on the loop and wait for its result (or exception);
        called from the loop's own thread, it runs at once."""
        if threading.get_ident() == self.thread.ident:
            return fn(*args)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(timeout)

    def _not_on_loop(self) -> None:
        if threading.get_ident() == self.thread.ident:
            raise RuntimeError("cannot wait for the kit's loop from the loop itself")


def shared_loop() -> LoopThread:
    """The process's kit loop, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.thread.is_alive():
            _shared = LoopThread()
        return _shared
