"""Daemon start and reload (SIGHUP) at any number of networks.

Theory of operation, in two phases so that a restarted rpcnetd answers
calls at once and re-asserts 1,000 networks within seconds:

1. :meth:`Reconciler.prepare`, before the daemon serves: networks whose
   bridge is gone are reported, for the driver to mark stopped (one
   ``if_nametoindex`` per network: listing every link through netlink costs
   half a second at 1,000), and the upstream servers file is brought up to
   date. Run directories of networks that no longer run (a crash mid-start
   or mid-destroy) are torn down. The kernel keeps forwarding throughout,
   with the rules it has.
2. :meth:`Reconciler.reassert_later`, in the background. First, under the
   driver's lock and so before any call that changes a network: the
   firewall table is replaced by the running networks' rules in one nft
   transaction and iptables' FORWARD chains are checked (see
   :mod:`.iptables`). Then links and addresses are listed once, and each
   running network's bridge, addresses, routes, switches and dnsmasq are
   re-asserted from those lists, a few networks at a time under the lock,
   so that calls interleave with the work and a network changed meanwhile
   is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from rpcnet.netxml import NetworkDef

from . import address, bridge
from .network import Host, NetworkRuntime, firewall_rules, owned_bridge

log = logging.getLogger(__name__)

#: networks re-asserted per turn of the driver's lock
CHUNK = 25


class Reconciler:
    """Adoption and re-assertion of the running networks for one driver.

    ``running()`` gives the definitions running now by name; ``runtime(name)``
    a running network's runtime; ``gone(name)`` marks a network whose bridge
    vanished as stopped (awaited under ``lock``, the driver's)."""

    def __init__(self, host: Host, lock: asyncio.Lock,
                 running: Callable[[], dict[str, NetworkDef]],
                 runtime: Callable[[str], NetworkRuntime],
                 gone: Callable[[str], Awaitable[None]]) -> None:
        self._host = host
        self._lock = lock
        self._running = running
        self._runtime = runtime
        self._gone = gone
        self._task: asyncio.Task[None] | None = None

    async def prepare(self, running: Sequence[NetworkDef]) -> list[str]:
        """Phase 1: returns the names of the ``running`` networks whose
        bridge is gone."""
        vanished = [netdef.name for netdef in running
                    if (name := owned_bridge(netdef)) and not bridge.exists(name)]
        await self._remove_leftovers({netdef.name for netdef in running})
        await self._host.upstream.refresh()
        return vanished

    def reassert_later(self, running: Sequence[NetworkDef]) -> None:
        """Phase 2 as a task (replacing one still under way)."""
        self.cancel()
        self._task = asyncio.get_running_loop().create_task(
            self._reassert(list(running)), name="reassert")

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _reassert(self, running: list[NetworkDef]) -> None:
        started = time.monotonic()
        async with self._lock:
            await self._host.firewall.replace_all([firewall_rules(netdef) for netdef
                                                   in self._running().values()
                                                   if owned_bridge(netdef)])
            await self._host.forward_if_needed(recheck=True)
        links = await bridge.all_links(self._host.netlink)
        addrs = await address.all_by_link(self._host.netlink)
        done = 0
        for first in range(0, len(running), CHUNK):
            async with self._lock:
                now = self._running()
                for netdef in running[first:first + CHUNK]:
                    if now.get(netdef.name) is netdef:  # not destroyed or restarted meanwhile
                        done += await self._one(netdef, links, addrs)
            await asyncio.sleep(0)  # let waiting calls have the lock
        log.info("re-asserted %d running networks in %.2f s", done,
                 time.monotonic() - started)

    async def _one(self, netdef: NetworkDef, links: dict[str, bridge.LinkInfo],
                   addrs: dict[int, set[address.Interface]]) -> int:
        name = owned_bridge(netdef)
        link = links.get(name) if name else None
        present = addrs.get(link.index, set()) if link is not None else set()
        try:
            if not await self._runtime(netdef.name).reassert(netdef, link, present):
                log.warning("network %s: its bridge is gone; marking it stopped", netdef.name)
                await self._gone(netdef.name)
                return 0
        except Exception as exc:
            log.error("network %s: cannot adopt it: %s", netdef.name, exc)
            return 0  # keep it marked running; destroy still cleans it up
        log.info("network %s: adopted running %s", netdef.name,
                 name or f"network on the host's interfaces (forward mode {netdef.forward_mode})")
        return 1

    async def _remove_leftovers(self, running: set[str]) -> None:
        """Tear down what run directories record for networks not ``running``."""
        for record in await self._host.run.records():
            if record.network in running:
                continue
            log.info("network %s: removing leftovers (bridge %s)", record.network, record.bridge)
            await NetworkRuntime(self._host, record.network).stop(record.bridge)
