"""``HostDriver``: the in-memory driver's semantics, made real in the kernel.

Every call is answered by :class:`~rpcnet.driver.memory.MemoryDriver` (same
answers, same errors, same on-disk config and status); its backend hooks
start, stop, update and adopt the bridge, addresses, firewall and dnsmasq of
each running network through :class:`~.network.NetworkRuntime`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rpcnet.driver.memory import MemoryDriver
from rpcnet.driver.netobj import NetObj
from rpcnet.driver.store import StateStore
from rpcnet.netxml import NetworkDef
from rpcnet.protocol.values import DhcpLease

from . import bridge, limits
from .iptables import ForwardAccept
from .netlink import Netlink
from .network import Host, NetworkRuntime, owned_bridge
from .nft import Firewall
from .reconcile import Reconciler
from .runstate import RunDir
from .tools import Tools
from .upstream import Upstream

log = logging.getLogger(__name__)


class HostDriver(MemoryDriver):
    """The ``network:///system`` driver backed by this host's kernel.

    Run it only in the network namespace it should manage. Call :meth:`load`
    before serving: it adopts networks an earlier daemon left running,
    cleans up what belongs to networks no longer running, and autostarts.
    """

    def __init__(self, state_dir: Path, tools: Tools | None = None) -> None:
        super().__init__("network", state_dir)
        limits.raise_open_files()
        tools = tools or Tools()
        self._host = Host(netlink=Netlink(), firewall=Firewall(tools), tools=tools,
                          run=RunDir(Path(state_dir) / "run"),
                          upstream=Upstream(Path(state_dir) / "upstream-servers"),
                          forward=ForwardAccept(tools))
        self._host.upstream.on_change = self._reload_upstream
        self._runtimes: dict[str, NetworkRuntime] = {}
        self._reconciler = Reconciler(self._host, self._lock, self._running, self._runtime,
                                      self._forget)

    def _runtime(self, name: str) -> NetworkRuntime:
        runtime = self._runtimes.get(name)
        if runtime is None:
            runtime = self._runtimes[name] = NetworkRuntime(self._host, name)
        return runtime

    # -- hooks of MemoryDriver ------------------------------------------------

    def _seed(self) -> NetObj:
        # The fresh "default" network is started by autostart, like libvirtd does.
        obj = super()._seed()
        obj.live = None
        return obj

    def _host_link_names(self) -> set[str]:
        return bridge.KernelLinkNames()  # asks the kernel per name, lists nothing

    async def _activate(self, netdef: NetworkDef) -> None:
        runtime = self._runtime(netdef.name)
        try:
            await runtime.start(netdef)
        except BaseException:
            self._runtimes.pop(netdef.name, None)
            raise
        log.info("network %s started on %s", netdef.name, _on(netdef))

    async def _deactivate(self, live: NetworkDef) -> None:
        runtime = self._runtimes.pop(live.name, None) or NetworkRuntime(self._host, live.name)
        if await runtime.stop(owned_bridge(live)):
            log.info("network %s stopped", live.name)

    async def _apply_update(self, old: NetworkDef, new: NetworkDef, section: int) -> None:
        await self._runtime(new.name).update(old, new)

    async def _leases(self, live: NetworkDef, mac: str | None) -> list[DhcpLease]:
        return await self._runtime(live.name).leases(live, mac)

    # -- daemon start and stop -------------------------------------------------

    async def load(self) -> None:
        # dnsmasq of the first started network reads the servers file
        await self._host.upstream.refresh()
        await super().load()
        self._host.upstream.watch()
        self._host.forward.watch()

    async def _reconcile(self) -> None:
        """Adopt running networks (see :mod:`.reconcile`): what must hold
        before serving now, the re-assertion of each network in the
        background."""
        if not await self._host.run.searchable_by_others():
            log.warning("%s is not searchable by other users: dnsmasq will keep root "
                        "privileges to read its hosts files there", self._host.run.root)
        for name in await self._reconciler.prepare(list(self._running().values())):
            log.warning("network %s: its bridge is gone; marking it stopped", name)
            await self._forget(name)
        self._reconciler.reassert_later(list(self._running().values()))

    def _running(self) -> dict[str, NetworkDef]:
        return {obj.name: obj.live for obj in self._nets if obj.live is not None}

    async def _forget(self, name: str) -> None:
        """Mark running network ``name`` stopped, removing what is left of it."""
        obj = self._nets.by_name.get(name)
        if obj is None or obj.live is None:
            return
        live = obj.live
        await self._runtime(obj.name).stop(owned_bridge(live))
        self._runtimes.pop(obj.name, None)
        await self._io(StateStore.delete_status_sync, obj.name)
        obj.live = None
        obj.ports.clear()
        if obj.config is None:
            self._nets.remove(obj)

    def _reload_upstream(self) -> None:
        for runtime in self._runtimes.values():
            runtime.reload_upstream()

    async def reload(self) -> None:
        """Re-assert every running network (bridge, addresses, routes,
        firewall rules, dnsmasq) as at a daemon start, without disturbing
        what is in place; then autostart what should run and does not."""
        async with self._lock:
            await self._reconcile()
            await self._autostart()

    async def close(self) -> None:
        """Stop supervising; networks and their dnsmasq keep running."""
        self._reconciler.cancel()
        self._host.upstream.close()
        self._host.forward.close()
        for runtime in self._runtimes.values():
            runtime.detach()
        self._host.netlink.close()


def _on(netdef: NetworkDef) -> str:
    """Where ``netdef`` runs, for the log."""
    return owned_bridge(netdef) or f"the host's interfaces (forward mode {netdef.forward_mode})"
