"""What the host backend reads for the statistics of its running networks:
its bridges' kernel counters (one netlink link dump, whatever the number of
networks), the leases in dnsmasq's lease files and each dnsmasq's state.
Read when asked (a scrape, ``net-stats``), never on a timer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rpcnet.driver.backend import RuntimeStats
from rpcnet.netxml import NetworkDef
from rpcnet.protocol.values import DnsmasqState, LinkCounters

from . import dnsmasq_conf, leases
from .netlink import Netlink
from .network import NetworkRuntime, owned_bridge

_COUNTERS = ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_dropped", "tx_dropped")


async def link_counters(netlink: Netlink, names: set[str]) -> dict[str, LinkCounters]:
    """The counters of the links ``names`` that exist, by name."""
    if not names:
        return {}

    def dump(ipr: Any) -> dict[str, LinkCounters]:
        found = {}
        for msg in ipr.get_links():
            name = msg.get("ifname")
            stats = msg.get_attr("IFLA_STATS64") if name in names else None
            if stats is not None:
                found[name] = LinkCounters(*(int(stats[key]) for key in _COUNTERS))
        return found

    return await netlink.call("Unable to read link statistics", dump)


def leases_in_use(path: Path, live: NetworkDef, now: float) -> int:
    """Leases of dnsmasq's lease file ``path`` that have not expired (as
    virNetworkGetDHCPLeases counts them; 0 expiry is infinite)."""
    try:
        text = path.read_text()
    except OSError:
        return 0
    return sum(1 for lease in leases.parse(text, live)
               if lease.expirytime == 0 or lease.expirytime >= now)


async def read(netlink: Netlink, runtimes: Mapping[str, NetworkRuntime],
               running: Mapping[str, NetworkDef]) -> dict[str, RuntimeStats]:
    """The runtime statistics of ``running`` (by name); leases and dnsmasq's
    state of those with a runtime (every network the backend started or
    adopted)."""
    bridges = {name: owned_bridge(live) for name, live in running.items()}
    counters = await link_counters(netlink, {b for b in bridges.values() if b})
    served = {name: live for name, live in running.items()
              if bridges[name] and dnsmasq_conf.needed(live)}

    def from_files() -> dict[str, tuple[int, DnsmasqState | None]]:
        now = time.time()
        found: dict[str, tuple[int, DnsmasqState | None]] = {}
        for name, live in served.items():
            runtime = runtimes.get(name)
            if runtime is not None:
                found[name] = (leases_in_use(runtime.paths.leases, live, now), DnsmasqState(
                    up=runtime.dnsmasq.alive(), restarts=runtime.dnsmasq.restarts))
        return found

    files = await asyncio.to_thread(from_files) if served else {}
    result = {}
    for name in running:
        bridge = bridges[name]
        in_use, state = files.get(name, (0, None))
        result[name] = RuntimeStats(link=counters.get(bridge) if bridge else None,
                                    leases=in_use, dnsmasq=state)
    return result
