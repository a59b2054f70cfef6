"""A blocking facade over :class:`RemoteDriver` for scripts.

    from rpcnet.client.blocking import connect
    with connect("network+unix:///system?socket=PATH") as conn:
        net = conn.network_lookup_by_name("default")
        print(conn.network_get_xml_desc(net, 0))

Each method of the driver interface becomes a plain function call; the
connection's event loop runs in a private background thread, so event
callbacks run on that thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from rpcnet.client.driver import RemoteDriver

T = TypeVar("T")


class BlockingDriver:
    """Calls the async driver's methods and waits for their results."""

    def __init__(self, uri: str, *, timeout: float | None = None, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rpcnet-client",
                                        daemon=True)
        self._thread.start()
        self.timeout = timeout
        try:
            self._driver: RemoteDriver = self._run(RemoteDriver.open(uri, **kwargs))
        except BaseException:
            self._stop_loop()
            raise

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._driver, name)
        if not asyncio.iscoroutinefunction(method):
            return method  # type: ignore[no-any-return]

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._run(method(*args, **kwargs))

        call.__name__ = name
        return call

    def close(self) -> None:
        try:
            self._run(self._driver.close())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> BlockingDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(uri: str, **kwargs: Any) -> BlockingDriver:
    """Open ``uri`` and return a blocking driver (same arguments as the async connect)."""
    return BlockingDriver(uri, **kwargs)
