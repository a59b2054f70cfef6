"""One network's kernel state: start with rollback, stop, adopt, update.

Start creates, in order: the run directory record, the bridge, its
addresses, the firewall chains, dnsmasq. Each step registers its undo on an
AsyncExitStack as it succeeds, so a failure anywhere leaves nothing behind.
Stop undoes the same steps from what exists, so it also cleans up a network
that is half gone (or was half built when a previous daemon died).

Networks in the external forward modes (bridge, private, vepa, passthrough,
hostdev) use what the host already has: like libvirt, starting one creates
nothing but its record, and stopping it never touches the host's bridge or
interfaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from rpcnet.driver.store import write_if_changed
from rpcnet.errors import ErrorCode, network_error
from rpcnet.netxml import ForwardMode, NetworkDef, makes_bridge
from rpcnet.protocol.values import DhcpLease

from . import address, bridge, dnsmasq_conf, firewall, leases, route, sysctl
from .dnsmasq import Dnsmasq
from .dnsmasq_conf import Paths
from .iptables import ForwardAccept
from .netlink import Netlink
from .nft import Firewall
from .runstate import Record, RunDir
from .tools import Tools
from .upstream import Upstream

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Host:
    """What every network's runtime shares."""

    netlink: Netlink
    firewall: Firewall
    tools: Tools
    run: RunDir
    upstream: Upstream
    forward: ForwardAccept

    async def forward_if_needed(self, *, recheck: bool = False) -> None:
        """Have iptables' FORWARD chains let rpcnet's bridges through while
        any network has rules (see :mod:`.iptables`); ``recheck`` looks at
        the chains even if that did not change."""
        await self.forward.need(self.firewall.has_rules(), recheck=recheck)


def owned_bridge(netdef: NetworkDef) -> str | None:
    """The bridge rpcnetd creates and deletes for ``netdef``; None in the
    other modes, whose bridge (if any) belongs to the host."""
    if not makes_bridge(netdef.forward_mode):
        return None
    return bridge_of(netdef)


def bridge_of(netdef: NetworkDef) -> str:
    if netdef.bridge is None or not netdef.bridge.name:
        raise network_error(
            ErrorCode.INTERNAL_ERROR, f"network '{netdef.name}' does not have a bridge name.")
    return netdef.bridge.name


def _interfaces(netdef: NetworkDef) -> set[address.Interface]:
    return {ipaddress.ip_interface(f"{ip.address}/{ip.effective_prefix}") for ip in netdef.ips}


def bridge_group(netdef: NetworkDef) -> int:
    """The device group of the bridge: rpcnet's, except in open mode (no
    firewall rules at all, as with libvirt)."""
    return 0 if netdef.forward_mode is ForwardMode.OPEN else bridge.GROUP


def firewall_rules(netdef: NetworkDef) -> firewall.NetworkRules:
    """The firewall elements of ``netdef``, a network with its own bridge."""
    return firewall.rules_for(netdef, dns_guard=dnsmasq_conf.binds_interfaces(netdef))


def _check_startable(netdef: NetworkDef) -> None:
    """Refuse, before anything is created, what the host backend cannot do
    (the in-memory driver has already made libvirt's own checks)."""
    if netdef.bandwidth is not None and (makes_bridge(netdef.forward_mode)
                                         or netdef.forward_mode is ForwardMode.BRIDGE):
        # libvirt's tc setup on the bridge (htb, sfq, u32 policing) for
        # network-wide QoS is not implemented: refuse rather than run unlimited
        raise network_error(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"<bandwidth> of network '{netdef.name}' is not supported by the host backend")


class NetworkRuntime:
    """The kernel side of one running network."""

    def __init__(self, host: Host, name: str) -> None:
        self._host = host
        self.name = name
        self.paths = Paths.under(host.run.dir(name), host.upstream.path)
        self.dnsmasq = Dnsmasq(host.tools, self.paths, name)
        # a dnsmasq restarted by its supervisor has a new pid: record it
        self.dnsmasq.on_launch = self._record
        self._bridge: str | None = None
        #: whether its dnsmasq forwards to the host's resolvers (the servers file)
        self.forwards_upstream = False

    # -- start -------------------------------------------------------------

    async def start(self, netdef: NetworkDef) -> None:
        """Make ``netdef`` run; on any failure undo every step and raise VirError."""
        _check_startable(netdef)
        if owned_bridge(netdef) is None:
            await self._host.run.write(Record(network=netdef.name, bridge=None))
            return
        name = bridge_of(netdef)
        if dnsmasq_conf.needed(netdef):
            self._host.tools.find("dnsmasq")
        self._host.tools.find("nft")
        await self._check_subnets(netdef)
        async with contextlib.AsyncExitStack() as undo:
            await self._host.run.write(Record(network=netdef.name, bridge=name))
            undo.push_async_callback(self._host.run.remove, self.name)
            index = await bridge.create(self._host.netlink, bridge.BridgeSpec(
                name=name, mac=netdef.mac, stp=netdef.bridge.stp if netdef.bridge else True,
                delay=netdef.bridge.delay if netdef.bridge else 0, mtu=netdef.mtu,
                vlan_filtering=bool(netdef.bridge and
                                    netdef.bridge.mac_table_manager == "libvirt"),
                group=bridge_group(netdef)))
            undo.push_async_callback(bridge.delete, self._host.netlink, name)
            # Up first, then the addresses: their routes come with them, so
            # every dnsmasq in the namespace (each listens to address and
            # route changes) wakes once per start, not twice.
            await self._ipv6_switches(netdef)
            await bridge.set_up(self._host.netlink, name)
            await self._addresses(netdef, index, set())
            await self._routes(netdef, index)
            # Firewall and dnsmasq do not depend on each other: start both at once.
            failures = [result for result in await asyncio.gather(
                self._start_firewall(netdef, undo), self._start_dnsmasq(netdef, undo),
                return_exceptions=True) if isinstance(result, BaseException)]
            if failures:
                raise failures[0]
            await self.write_record(netdef)
            undo.pop_all()

    async def write_record(self, netdef: NetworkDef) -> None:
        """Record, atomically, everything that now runs for ``netdef``."""
        self._bridge = owned_bridge(netdef)
        self.forwards_upstream = dnsmasq_conf.needed(netdef) and dnsmasq_conf.uses_upstream(netdef)
        await self._record()

    def reload_upstream(self) -> None:
        """Have dnsmasq re-read the servers file, if it uses it."""
        if self.forwards_upstream:
            self.dnsmasq.reload()

    async def _record(self) -> None:
        if self._bridge is None:
            return
        await self._host.run.write(Record(network=self.name, bridge=self._bridge,
                                          dnsmasq_pid=self.dnsmasq.pid))

    async def _start_firewall(self, netdef: NetworkDef, undo: contextlib.AsyncExitStack) -> None:
        # Undo registered first: the rules are ours whether or not nft got to them.
        undo.push_async_callback(self._host.forward_if_needed)
        undo.push_async_callback(self._host.firewall.remove, bridge_of(netdef))
        await self._host.firewall.apply(firewall_rules(netdef))
        await self._host.forward_if_needed()
        await sysctl.enable_forwarding(firewall.forwarding_families(netdef))

    async def _start_dnsmasq(self, netdef: NetworkDef, undo: contextlib.AsyncExitStack) -> None:
        if not dnsmasq_conf.needed(netdef):
            return
        self.dnsmasq.interface = bridge_of(netdef)
        await self._write_dnsmasq_files(netdef)
        undo.push_async_callback(self.dnsmasq.stop)
        await self.dnsmasq.start()
        self.dnsmasq.watch()

    async def _check_subnets(self, netdef: NetworkDef) -> None:
        """libvirt's check: the host must not route one of the IPv4 subnets yet."""
        for ip in netdef.ips_of("ipv4"):
            assert isinstance(ip.network, ipaddress.IPv4Network)
            user = await address.route_collision(self._host.netlink, ip.network)
            if user is not None:
                raise network_error(
                    ErrorCode.INTERNAL_ERROR, f"Network is already in use by interface {user}")

    async def _ipv6_switches(self, netdef: NetworkDef) -> None:
        await sysctl.configure_ipv6(bridge_of(netdef), bool(netdef.ips_of("ipv6")))

    async def _addresses(self, netdef: NetworkDef, index: int,
                         present: set[address.Interface]) -> None:
        """Add the addresses ``netdef`` wants that are not ``present``."""
        name = bridge_of(netdef)
        for addr in sorted(_interfaces(netdef) - present, key=str):
            await address.add(self._host.netlink, index, name, addr)

    async def _routes(self, netdef: NetworkDef, index: int) -> None:
        for static in netdef.routes:
            if not route.has_destination(static):
                log.warning("network %s: skipping route to %s/%s: not a contiguous netmask",
                            netdef.name, static.address, static.netmask)
                continue
            await route.add(self._host.netlink, index, bridge_of(netdef), static)

    async def _write_dnsmasq_files(self, netdef: NetworkDef) -> set[Path]:
        """Write dnsmasq's files; returns those whose content changed."""
        # dnsmasq reads its hosts files only after dropping root; behind a
        # private directory it could not, so there it keeps root.
        keep_root = not await self._host.run.searchable_by_others()
        files = {
            self.paths.conf: dnsmasq_conf.conf(netdef, self.paths, keep_root=keep_root),
            self.paths.hostsfile: dnsmasq_conf.hostsfile(netdef),
            self.paths.addnhosts: dnsmasq_conf.addnhosts(netdef),
        }

        def write() -> set[Path]:
            changed = set()
            for path, text in files.items():
                if write_if_changed(path, text):
                    path.chmod(0o644)
                    changed.add(path)
            return changed

        return await asyncio.to_thread(write)

    # -- stop ----------------------------------------------------------------

    async def stop(self, bridge_name: str | None) -> bool:
        """Remove everything of the network that exists; True when all went.

        Every step runs even if another one failed; the run directory (and
        with it the record of what to clean up) is kept until all succeeded."""
        steps: dict[str, Awaitable[object]] = {"stop dnsmasq": self.dnsmasq.stop()}
        if bridge_name:
            steps["remove firewall rules"] = self._host.firewall.remove(bridge_name)
            steps["delete bridge"] = bridge.delete(self._host.netlink, bridge_name)
        # Independent steps, run at once: deleting a bridge alone waits tens of
        # milliseconds for the kernel.
        results = await asyncio.gather(*steps.values(), return_exceptions=True)
        await self._host.forward_if_needed()
        ok = True
        for what, result in zip(steps, results, strict=True):
            if isinstance(result, BaseException):
                ok = False
                log.error("network %s: cannot %s: %s", self.name, what, result)
        if ok:
            await self._host.run.remove(self.name)
        return ok

    # -- adopt and update ------------------------------------------------------

    async def reassert(self, netdef: NetworkDef, link: bridge.LinkInfo | None,
                       present: set[address.Interface]) -> bool:
        """Take over ``netdef``, left running by an earlier daemon or running
        now, without disturbing it: re-add only what is missing. ``link`` is
        its bridge and ``present`` the addresses on it, from one listing for
        all networks; the firewall is re-asserted for all networks at once
        by the caller. False when its bridge is gone, i.e. the network is
        not running any more."""
        if owned_bridge(netdef) is None:
            await self._host.run.write(Record(network=netdef.name, bridge=None))
            return True
        name = bridge_of(netdef)
        if link is None or link.kind != "bridge":
            return False
        self._bridge = name
        await self._ipv6_switches(netdef)
        await self._addresses(netdef, link.index, present)
        if link.group != bridge_group(netdef):
            await bridge.set_group(self._host.netlink, name, bridge_group(netdef))
        if not link.up:
            await bridge.set_up(self._host.netlink, name)
        await self._routes(netdef, link.index)
        await sysctl.enable_forwarding(firewall.forwarding_families(netdef))
        if dnsmasq_conf.needed(netdef):
            self.dnsmasq.interface = name
            changed = await self._write_dnsmasq_files(netdef)
            if self.dnsmasq.pid is None and not await self.dnsmasq.adopt():
                log.warning("network %s: dnsmasq was not running; starting it", self.name)
            await self._refresh_dnsmasq(changed)
        else:
            await self.dnsmasq.stop()
        await self.write_record(netdef)
        return True

    async def update(self, old: NetworkDef, new: NetworkDef) -> None:
        """Bring the running network from ``old`` to ``new`` (a network_update):
        hosts files are re-read on SIGHUP; other dnsmasq changes restart only
        dnsmasq; firewall changes are one transaction."""
        if _interfaces(old) != _interfaces(new) or bridge_of(old) != bridge_of(new):
            raise network_error(
                ErrorCode.OPERATION_UNSUPPORTED,
                "changing addresses or the bridge of a running network needs a restart")
        if firewall_rules(old) != firewall_rules(new):
            await self._host.firewall.apply(firewall_rules(new))
        if not dnsmasq_conf.needed(new):
            await self.dnsmasq.stop()
        else:
            await self._refresh_dnsmasq(await self._write_dnsmasq_files(new))
        await self.write_record(new)

    async def _refresh_dnsmasq(self, changed: set[Path]) -> None:
        """Make the running dnsmasq use its rewritten files ``changed``: a
        SIGHUP when only the hosts files changed, else a restart."""
        if self.dnsmasq.pid is None or not changed <= {self.paths.hostsfile,
                                                       self.paths.addnhosts}:
            await self.dnsmasq.stop()
            await self.dnsmasq.start()
        elif changed:
            self.dnsmasq.reload()
        self.dnsmasq.watch()
        await self._record()

    async def leases(self, netdef: NetworkDef, mac: str | None) -> list[DhcpLease]:
        try:
            text = await asyncio.to_thread(self.paths.leases.read_text)
        except OSError:
            return []
        return leases.parse(text, netdef, mac)

    def detach(self) -> None:
        """Stop supervising (daemon shutdown): the network keeps running."""
        self.dnsmasq.unwatch()
