"""The rpcnet client: the NetworkDriver interface on a remote host.

    async with rpcnet.client.connect("network+unix:///system?socket=PATH") as conn:
        net = await conn.network_lookup_by_name("default")
        print(await conn.network_get_xml_desc(net, 0))

``conn`` is a :class:`RemoteDriver`, so code written against a driver runs
unchanged against a remote host. :class:`Networks`, :class:`Network` and
:class:`Port` are a friendlier layer over any driver, local or remote.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from rpcnet.client.connection import ConnectionClosed
from rpcnet.client.driver import LifecycleEventRecord, ReconnectPolicy, RemoteDriver
from rpcnet.client.objects import Network, NetworkEvent, Networks, Port
from rpcnet.client.uri import RemoteUri


class _Connect:
    """``await connect(...)`` or ``async with connect(...) as conn``."""

    def __init__(self, uri: str, kwargs: dict[str, Any]) -> None:
        self._uri = uri
        self._kwargs = kwargs
        self._driver: RemoteDriver | None = None

    def __await__(self) -> Generator[Any, None, RemoteDriver]:
        return RemoteDriver.open(self._uri, **self._kwargs).__await__()

    async def __aenter__(self) -> RemoteDriver:
        self._driver = await RemoteDriver.open(self._uri, **self._kwargs)
        return self._driver

    async def __aexit__(self, *exc: object) -> None:
        if self._driver is not None:
            await self._driver.close()


def connect(uri: str, *, readonly: bool = False, keepalive_interval: float | None = None,
            keepalive_count: int | None = None,
            reconnect: ReconnectPolicy | bool | None = None,
            identity: Mapping[str, str | int] | None = None) -> _Connect:
    """Open a connection to ``uri`` (libvirt URI syntax).

    Raises :class:`rpcnet.errors.VirError` if the server cannot be reached or
    refuses the URI. ``keepalive_interval``/``keepalive_count`` default to the
    URI parameters of the same names, else 5 and 5; interval 0 disables. A
    server silent for ``interval * (count + 1)`` seconds is declared dead: the
    connection closes and pending calls fail with :class:`ConnectionClosed`.
    ``reconnect=True`` (or a :class:`ReconnectPolicy`) redials with backoff
    after a drop and registers event callbacks again. ``identity`` (keys of
    ``virConnectSetIdentity``: ``user-name``, ``unix-user-id``,
    ``process-id``, ...) speaks for someone else, as libvirt's QEMU driver
    does for a guest's owner.
    """
    return _Connect(uri, {"readonly": readonly, "keepalive_interval": keepalive_interval,
                          "keepalive_count": keepalive_count, "reconnect": reconnect,
                          "identity": identity})


__all__ = [
    "ConnectionClosed", "LifecycleEventRecord", "Network", "NetworkEvent", "Networks", "Port",
    "ReconnectPolicy", "RemoteDriver", "RemoteUri", "connect",
]
