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
from rpcnet.protocol.values import DhcpLease, NetworkRef

from . import bridge, firewall
from .netlink import Netlink
from .network import Host, NetworkRuntime, owned_bridge
from .nft import Nft
from .runstate import RunDir
from .tools import Tools

log = logging.getLogger(__name__)


class HostDriver(MemoryDriver):
    """The ``network:///system`` driver backed by this host's kernel.

    Run it only in the network namespace it should manage. Call :meth:`load`
    before serving: it adopts networks an earlier daemon left running,
    cleans up what belongs to networks no longer running, and autostarts.
    """

    def __init__(self, state_dir: Path, tools: Tools | None = None) -> None:
        super().__init__("network", state_dir)
        self._host = Host(netlink=Netlink(), nft=Nft(tools or Tools()), tools=tools or Tools(),
                          run=RunDir(Path(state_dir) / "run"))
        self._runtimes: dict[str, NetworkRuntime] = {}
        self._links: set[str] = set()

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
        return self._links

    async def _refresh_links(self) -> None:
        self._links = await bridge.link_names(self._host.netlink)

    async def network_define_xml_flags(self, xml: str, flags: int) -> NetworkRef:
        await self._refresh_links()
        return await super().network_define_xml_flags(xml, flags)

    async def network_create_xml_flags(self, xml: str, flags: int) -> NetworkRef:
        await self._refresh_links()
        return await super().network_create_xml_flags(xml, flags)

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

    async def _reconcile(self) -> None:
        """Adopt running networks; tear down what no running network owns."""
        await self._refresh_links()
        if not await self._host.run.searchable_by_others():
            log.warning("%s is not searchable by other users: dnsmasq will keep root "
                        "privileges to read its hosts files there", self._host.run.root)
        for obj in list(self._nets):
            if obj.live is None:
                continue
            try:
                adopted = await self._runtime(obj.name).adopt(obj.live)
            except Exception as exc:
                log.error("network %s: cannot adopt it: %s", obj.name, exc)
                continue  # keep it marked running; destroy still cleans it up
            if adopted:
                log.info("network %s: adopted running %s", obj.name, _on(obj.live))
            else:
                log.warning("network %s: its bridge is gone; marking it stopped", obj.name)
                await self._forget_live(obj)
        running = {obj.name for obj in self._nets if obj.live is not None}
        for record in await self._host.run.records():
            if record.network not in running:
                log.info("network %s: removing leftovers (bridge %s)",
                         record.network, record.bridge)
                await NetworkRuntime(self._host, record.network).stop(record.bridge)
        await self._remove_stray_chains()

    async def _forget_live(self, obj: NetObj) -> None:
        live = obj.live
        assert live is not None
        await self._runtime(obj.name).stop(owned_bridge(live))
        self._runtimes.pop(obj.name, None)
        await self._io(StateStore.delete_status_sync, obj.name)
        obj.live = None
        obj.ports.clear()
        if obj.config is None:
            self._nets.remove(obj)

    async def _remove_stray_chains(self) -> None:
        wanted: set[str] = set()
        for obj in self._nets:
            bridge_name = owned_bridge(obj.live) if obj.live is not None else None
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

    async def reload(self) -> None:
        """Re-assert every running network (bridge, addresses, routes,
        firewall rules, dnsmasq) as at a daemon start, without disturbing
        what is in place; then autostart what should run and does not."""
        async with self._lock:
            await self._reconcile()
            await self._autostart()

    async def close(self) -> None:
        """Stop supervising; networks and their dnsmasq keep running."""
        for runtime in self._runtimes.values():
            runtime.detach()
        self._host.netlink.close()


def _on(netdef: NetworkDef) -> str:
    """Where ``netdef`` runs, for the log."""
    return owned_bridge(netdef) or f"the host's interfaces (forward mode {netdef.forward_mode})"
