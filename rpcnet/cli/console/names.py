"""What completion asks the hosts for: network names and UUIDs, port UUIDs.

Network names are the union over the hosts, fetched in the background after
each command and kept for :data:`FRESH_FOR` seconds, so pressing TAB does not
wait for the network; a stale or missing list is fetched then, for at most
the caller's timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from rpcnet.cli.console.grammar import Source
from rpcnet.client.driver import RemoteDriver
from rpcnet.client.objects import Networks
from rpcnet.driver.base import ListFlags

FRESH_FOR = 10.0


@dataclass(frozen=True, slots=True)
class NetworkState:
    name: str
    uuid: str
    active: bool
    persistent: bool


_WANTED: dict[Source, Callable[[NetworkState], bool]] = {
    Source.NETWORK: lambda n: True,
    Source.NETWORK_UUID: lambda n: True,
    Source.ACTIVE_NETWORK: lambda n: n.active,
    Source.INACTIVE_NETWORK: lambda n: not n.active,
    Source.PERSISTENT_NETWORK: lambda n: n.persistent,
}


class NetworkNames:
    """The networks of a set of hosts, fetched ahead of need."""

    def __init__(self) -> None:
        self._fetch: asyncio.Task[list[NetworkState]] | None = None
        self._fetched_at = 0.0
        self._last: list[NetworkState] = []

    def refresh(self, drivers: list[RemoteDriver]) -> None:
        """Start fetching from ``drivers`` now (after a command, the old list may be wrong)."""
        self.cancel()
        self._fetch = asyncio.create_task(_fetch_all(drivers))
        self._fetched_at = time.monotonic()

    def cancel(self) -> None:
        if self._fetch is not None and not self._fetch.done():
            self._fetch.cancel()

    async def get(self, drivers: list[RemoteDriver], timeout: float) -> list[NetworkState]:
        """The networks of ``drivers``; the last list if they do not answer in time."""
        if self._fetch is None or time.monotonic() - self._fetched_at > FRESH_FOR:
            self.refresh(drivers)
        task = self._fetch
        assert task is not None
        await asyncio.wait({task}, timeout=timeout)
        if task.done() and not task.cancelled():
            self._last = task.result()
        return self._last

    @staticmethod
    def select(networks: list[NetworkState], source: Source) -> list[str]:
        """Names (or UUIDs) of the networks that ``source`` wants, without repeats."""
        wanted = _WANTED.get(source)
        if wanted is None:
            return []
        picked = (n.uuid if source is Source.NETWORK_UUID else n.name
                  for n in networks if wanted(n))
        return sorted(set(picked))


async def _fetch_all(drivers: list[RemoteDriver]) -> list[NetworkState]:
    per_host = await asyncio.gather(*(_fetch(d) for d in drivers), return_exceptions=True)
    return [n for result in per_host if isinstance(result, list) for n in result]


async def _fetch(driver: RemoteDriver) -> list[NetworkState]:
    active, inactive, persistent = await asyncio.gather(
        *(driver.connect_list_all_networks(int(flag))
          for flag in (ListFlags.ACTIVE, ListFlags.INACTIVE, ListFlags.PERSISTENT)))
    durable = {n.uuid for n in persistent}
    return [NetworkState(n.name, n.uuid_str, up, n.uuid in durable)
            for nets, up in ((active, True), (inactive, False)) for n in nets]


async def port_uuids(drivers: list[RemoteDriver], network: str, timeout: float) -> list[str]:
    """UUIDs of the ports of ``network`` (name or UUID) on any of ``drivers``."""
    try:
        per_host = await asyncio.wait_for(asyncio.gather(
            *(_ports(d, network) for d in drivers), return_exceptions=True), timeout)
    except TimeoutError:
        return []
    return sorted({u for result in per_host if isinstance(result, list) for u in result})


async def _ports(driver: RemoteDriver, network: str) -> list[str]:
    net = await Networks(driver).get(network)
    return [p.uuid_str for p in await driver.network_list_all_ports(net.ref, 0)]
