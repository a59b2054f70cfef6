"""``HostBackend``: a network service's networks made real in this host's
kernel (bridge, addresses, routes, nftables, dnsmasq), one
:class:`~.network.NetworkRuntime` per running network.

The service (:class:`~rpcnet.driver.service.NetworkService`) gives the
answers, errors and on-disk config and status; this backend only starts,
stops, updates and adopts what it is told runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from rpcnet.driver import sysfs
from rpcnet.driver.backend import RuntimeStats
from rpcnet.driver.service import NetworkService
from rpcnet.driver.store import DiskStore
from rpcnet.netxml import NetworkDef, PciAddress, UpdateSection
from rpcnet.protocol.values import DhcpLease

from . import bridge, firewall, stats
from .netlink import Netlink
from .network import Host, NetworkRuntime, owned_bridge
from .nft import Nft
from .runstate import RunDir
from .tools import Tools

log = logging.getLogger(__name__)


class HostBackend:
    """The :class:`~rpcnet.driver.backend.Backend` of ``--driver host``.

    Run it only in the network namespace it should manage. Its run
    directory (``run_dir``) records what it started, so a later daemon
    adopts what runs and cleans up what no running network owns.
    """

    def __init__(self, run_dir: Path, tools: Tools | None = None) -> None:
        tools = tools or Tools()
        self._host = Host(netlink=Netlink(), nft=Nft(tools), tools=tools, run=RunDir(run_dir))
        self._runtimes: dict[str, NetworkRuntime] = {}

    def _runtime(self, name: str) -> NetworkRuntime:
        runtime = self._runtimes.get(name)
        if runtime is None:
            runtime = self._runtimes[name] = NetworkRuntime(self._host, name)
        return runtime

    async def activate(self, netdef: NetworkDef) -> None:
        runtime = self._runtime(netdef.name)
        try:
            await runtime.start(netdef)
        except BaseException:
            self._runtimes.pop(netdef.name, None)
            raise
        log.info("network %s started on %s", netdef.name, _on(netdef))

    async def deactivate(self, live: NetworkDef) -> None:
        runtime = self._runtimes.pop(live.name, None) or NetworkRuntime(self._host, live.name)
        if await runtime.stop(owned_bridge(live)):
            log.info("network %s stopped", live.name)

    async def apply_update(self, old: NetworkDef, new: NetworkDef, section: UpdateSection) -> None:
        await self._runtime(new.name).update(old, new)

    async def leases(self, live: NetworkDef, mac: str | None) -> list[DhcpLease]:
        return await self._runtime(live.name).leases(live, mac)

    async def link_names(self) -> set[str]:
        return await bridge.link_names(self._host.netlink)

    async def stats(self, running: Mapping[str, NetworkDef]) -> Mapping[str, RuntimeStats]:
        return await stats.read(self._host.netlink, self._runtimes, running)

    def virtual_functions(self, pf: str) -> list[tuple[PciAddress, str | None]]:
        return sysfs.virtual_functions(pf)

    def is_virtual_function(self, addr: PciAddress) -> bool:
        return sysfs.is_virtual_function(addr)

    # -- daemon start, reload and stop -------------------------------------------

    async def reconcile(self, running: Mapping[str, NetworkDef]) -> set[str]:
        """Adopt the running networks; tear down what no running network owns."""
        if not await self._host.run.searchable_by_others():
            log.warning("%s is not searchable by other users: dnsmasq will keep root "
                        "privileges to read its hosts files there", self._host.run.root)
        gone: set[str] = set()
        for name, live in running.items():
            try:
                adopted = await self._runtime(name).adopt(live)
            except Exception as exc:
                log.error("network %s: cannot adopt it: %s", name, exc)
                continue  # keep it marked running; destroy still cleans it up
            if adopted:
                log.info("network %s: adopted running %s", name, _on(live))
            else:
                log.warning("network %s: its bridge is gone; marking it stopped", name)
                await self._runtime(name).stop(owned_bridge(live))
                self._runtimes.pop(name, None)
                gone.add(name)
        for record in await self._host.run.records():
            if record.network not in running or record.network in gone:
                log.info("network %s: removing leftovers (bridge %s)",
                         record.network, record.bridge)
                await NetworkRuntime(self._host, record.network).stop(record.bridge)
        await self._remove_stray_chains([live for name, live in running.items()
                                         if name not in gone])
        return gone

    async def _remove_stray_chains(self, running: list[NetworkDef]) -> None:
        wanted: set[str] = set()
        for live in running:
            bridge_name = owned_bridge(live)
            if bridge_name:
                wanted.update(firewall.chain_names(bridge_name))
        try:
            existing = await self._host.nft.chains()
            stray = existing - wanted
            if stray:
                log.info("removing stray firewall chains %s", ", ".join(sorted(stray)))
                await self._host.nft.remove(stray, existing)
        except Exception as exc:
            log.error("cannot clean up firewall chains: %s", exc)

    async def close(self) -> None:
        """Stop supervising; networks and their dnsmasq keep running."""
        for runtime in self._runtimes.values():
            runtime.detach()
        self._host.netlink.close()


async def open_host(state_dir: Path, tools: Tools | None = None) -> NetworkService:
    """The ``network:///system`` service of ``--driver host``: libvirt's bridge
    driver semantics, state under ``state_dir``, networks in this host's
    kernel. Loaded: what an earlier daemon left running is adopted."""
    state_dir = Path(state_dir)
    backend = HostBackend(state_dir / "run", tools)
    return await NetworkService.open("network", backend=backend, store=DiskStore(state_dir))


def _on(netdef: NetworkDef) -> str:
    """Where ``netdef`` runs, for the log."""
    return owned_bridge(netdef) or f"the host's interfaces (forward mode {netdef.forward_mode})"
