"""One network's statistics from what the service knows and what its backend read."""

from __future__ import annotations

from rpcnet.netxml import NetworkDef
from rpcnet.protocol.values import NetworkStats

from .backend import RuntimeStats
from .netobj import NetObj

_NOTHING_RUNS = RuntimeStats()


def pool_size(netdef: NetworkDef) -> int:
    """How many addresses DHCP may hand out: those of the ranges, and the
    static hosts' outside them."""
    total = 0
    for ip in netdef.ips:
        ranges = [(int(r.start), int(r.end)) for r in ip.dhcp_ranges]
        total += sum(end - start + 1 for start, end in ranges if end >= start)
        total += sum(1 for host in ip.dhcp_hosts if host.ip is not None and not any(
            start <= int(host.ip) <= end for start, end in ranges))
    return total


def network_stats(obj: NetObj, runtime: RuntimeStats | None) -> NetworkStats:
    """``obj``'s statistics; ``runtime`` is what the backend read of it
    (None: nothing, e.g. it is not running)."""
    netdef = obj.current
    read = runtime or _NOTHING_RUNS
    bridge = netdef.bridge.name if netdef.bridge is not None and netdef.bridge.name else None
    pool = obj.pool
    if pool is None or pool[0] is not netdef:
        pool = obj.pool = (netdef, pool_size(netdef))
    active = obj.active
    return NetworkStats(name=obj.name, active=active, bridge=bridge, link=read.link,
                        leases=read.leases, pool_size=pool[1],
                        ports=len(obj.ports) if active else 0, dnsmasq=read.dnsmasq)
