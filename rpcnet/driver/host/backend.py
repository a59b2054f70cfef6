"""``HostBackend``: a network service's networks made real in this host's
kernel (bridge, addresses, routes, nftables, dnsmasq), one
:class:`~.network.NetworkRuntime` per running network.

The service (:class:`~rpcnet.driver.service.NetworkService`) gives the
answers, errors and on-disk config and status; this backend only starts,
stops, updates and adopts what it is told runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from rpcnet.driver import sysfs
from rpcnet.driver.backend import RuntimeStats
from rpcnet.driver.service import NetworkService
from rpcnet.driver.store import DiskStore
from rpcnet.netxml import NetworkDef, PciAddress, UpdateSection
from rpcnet.protocol.values import DhcpLease

from . import bridge, limits, stats
from .iptables import ForwardAccept
from .netlink import Netlink
from .network import Host, NetworkRuntime, owned_bridge
from .nft import Firewall
from .reconcile import Reconciler
from .runstate import RunDir
from .tools import Tools
from .upstream import Upstream

log = logging.getLogger(__name__)


class HostBackend:
    """The :class:`~rpcnet.driver.backend.Backend` of ``--driver host``.

    Run it only in the network namespace it should manage. Its run
    directory (``state_dir/run``) records what it started, so a later
    daemon adopts what runs and cleans up what no running network owns.

    Besides the service's calls, one thing acts on its own: the
    re-assertion of the running networks after a daemon start or reload,
    in the background (see :mod:`.reconcile`). The backend's own lock keeps
    it and the service's calls apart; the networks the backend runs are
    its own record (:attr:`running`), kept by the calls that change them.
    """

    def __init__(self, state_dir: Path, tools: Tools | None = None) -> None:
        limits.raise_open_files()
        tools = tools or Tools()
        self._host = Host(netlink=Netlink(), firewall=Firewall(tools), tools=tools,
                          run=RunDir(state_dir / "run"),
                          upstream=Upstream(state_dir / "upstream-servers"),
                          forward=ForwardAccept(tools))
        self._host.upstream.on_change = self._reload_upstream
        self._runtimes: dict[str, NetworkRuntime] = {}
        #: what runs, by name: the definition each network runs as
        self.running: dict[str, NetworkDef] = {}
        self._lock = asyncio.Lock()
        self._vanished: Callable[[str, NetworkDef], None] = lambda name, live: None
        self._reconciler = Reconciler(self._host, self._lock, lambda: self.running,
                                      self._runtime, self._gone)
        self._watching = False

    def _runtime(self, name: str) -> NetworkRuntime:
        runtime = self._runtimes.get(name)
        if runtime is None:
            runtime = self._runtimes[name] = NetworkRuntime(self._host, name)
        return runtime

    async def _start_watching(self) -> None:
        """Before the first network starts or is adopted: the upstream
        servers file (every dnsmasq reads it), and the watchers of
        resolv.conf and of iptables' tables."""
        if self._watching:
            return
        self._watching = True
        await self._host.upstream.refresh()
        self._host.upstream.watch()
        self._host.forward.watch()

    def on_vanished(self, report: Callable[[str, NetworkDef], None]) -> None:
        self._vanished = report

    async def activate(self, netdef: NetworkDef) -> None:
        await self._start_watching()
        async with self._lock:
            runtime = self._runtime(netdef.name)
            try:
                await runtime.start(netdef)
            except BaseException:
                self._runtimes.pop(netdef.name, None)
                raise
            self.running[netdef.name] = netdef
        log.info("network %s started on %s", netdef.name, _on(netdef))

    async def deactivate(self, live: NetworkDef) -> None:
        async with self._lock:
            stopped = await self._stop(live)
        if stopped:
            log.info("network %s stopped", live.name)

    async def apply_update(self, old: NetworkDef, new: NetworkDef, section: UpdateSection) -> None:
        async with self._lock:
            await self._runtime(new.name).update(old, new)
            self.running[new.name] = new

    async def leases(self, live: NetworkDef, mac: str | None) -> list[DhcpLease]:
        return await self._runtime(live.name).leases(live, mac)

    async def link_names(self) -> set[str]:
        return bridge.KernelLinkNames()  # asks the kernel per name, lists nothing

    async def stats(self, running: Mapping[str, NetworkDef]) -> Mapping[str, RuntimeStats]:
        return await stats.read(self._host.netlink, self._runtimes, running)

    def virtual_functions(self, pf: str) -> list[tuple[PciAddress, str | None]]:
        return sysfs.virtual_functions(pf)

    def is_virtual_function(self, addr: PciAddress) -> bool:
        return sysfs.is_virtual_function(addr)

    # -- daemon start, reload and stop -------------------------------------------

    async def reconcile(self, running: Mapping[str, NetworkDef]) -> set[str]:
        """Adopt the running networks (see :mod:`.reconcile`): what must hold
        before serving now (networks whose bridge is gone are returned,
        leftovers removed), the re-assertion of each network in the background."""
        await self._start_watching()
        if not await self._host.run.searchable_by_others():
            log.warning("%s is not searchable by other users: dnsmasq will keep root "
                        "privileges to read its hosts files there", self._host.run.root)
        async with self._lock:
            gone = set(await self._reconciler.prepare(list(running.values())))
            for name in gone:
                log.warning("network %s: its bridge is gone; marking it stopped", name)
                await self._stop(running[name])
            self.running = {name: live for name, live in running.items() if name not in gone}
        self._reconciler.reassert_later(list(self.running.values()))
        return gone

    async def _stop(self, live: NetworkDef) -> bool:
        """Stop ``live`` and forget it, also when it is half gone (a vanished
        bridge); True when all of it went. Under the backend's lock."""
        self.running.pop(live.name, None)
        runtime = self._runtimes.pop(live.name, None) or NetworkRuntime(self._host, live.name)
        return await runtime.stop(owned_bridge(live))

    async def _gone(self, name: str) -> None:
        """The background re-assertion found ``name``'s bridge gone (it runs
        under the backend's lock): clean up, and tell the service."""
        live = self.running.get(name)
        if live is None:
            return
        await self._stop(live)
        self._vanished(name, live)

    def _reload_upstream(self) -> None:
        for runtime in self._runtimes.values():
            runtime.reload_upstream()

    async def close(self) -> None:
        """Stop supervising; networks and their dnsmasq keep running."""
        self._reconciler.cancel()
        self._host.upstream.close()
        self._host.forward.close()
        for runtime in self._runtimes.values():
            runtime.detach()
        self._host.netlink.close()


async def open_host(state_dir: Path, tools: Tools | None = None) -> NetworkService:
    """The ``network:///system`` service of ``--driver host``: libvirt's bridge
    driver semantics, state under ``state_dir``, networks in this host's
    kernel. Loaded: what an earlier daemon left running is adopted."""
    state_dir = Path(state_dir)
    backend = HostBackend(state_dir, tools)
    return await NetworkService.open("network", backend=backend, store=DiskStore(state_dir))


def _on(netdef: NetworkDef) -> str:
    """Where ``netdef`` runs, for the log."""
    return owned_bridge(netdef) or f"the host's interfaces (forward mode {netdef.forward_mode})"
