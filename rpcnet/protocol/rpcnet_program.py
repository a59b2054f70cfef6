"""rpcnet's own program (0x7270636e, ASCII "rpcn", version 1): what libvirt
has no procedure for.

It is never added to libvirt's REMOTE program, whose numbers belong to
libvirt. It rides on a REMOTE connection as a companion program
(``ServerConnection(companions=...)``), as libvirtd serves its QEMU and LXC
programs beside REMOTE on one socket: a call needs the connection opened by
REMOTE's CONNECT_OPEN and is answered by the driver that open chose. Its
number is outside every program of libvirt 9.0 (REMOTE 0x20008086, QEMU
0x20008087, LXC 0x00068000, ADMIN 0x06900690, KEEPALIVE 0x6b656570, and
the lock and log daemons' programs). A libvirtd answers a call
of it "Cannot find program 1919968110 version 1" and keeps the connection,
so a client may ask any host and tell rpcnetd from libvirtd by the answer.
"""

from __future__ import annotations

from rpcnet.errors import ErrorDomain
from rpcnet.protocol.program import CallStyle, Procedure, Program
from rpcnet.protocol.values import DnsmasqState, LinkCounters, NetworkStats
from rpcnet.protocol.wiretypes import NONNULL_STRING, OSTRING
from rpcnet.protocol.xdr import BOOL, UHYPER, UINT, XdrType, array, optional, struct_type

PROGRAM = 0x7270636E
VERSION = 1
NETWORK_STATS_MAX = 16384

LINK = struct_type("rpcnet_link_counters", [
    ("rx_bytes", UHYPER), ("tx_bytes", UHYPER), ("rx_packets", UHYPER),
    ("tx_packets", UHYPER), ("rx_dropped", UHYPER), ("tx_dropped", UHYPER)], LinkCounters)
DNSMASQ = struct_type("rpcnet_dnsmasq_state", [("up", BOOL), ("restarts", UINT)], DnsmasqState)
NETWORK_STATS = struct_type("rpcnet_network_stats", [
    ("name", NONNULL_STRING), ("active", BOOL), ("bridge", OSTRING), ("link", optional(LINK)),
    ("leases", UINT), ("pool_size", UHYPER), ("ports", UINT), ("dnsmasq", optional(DNSMASQ))],
    NetworkStats)


class Proc:
    """Procedure numbers."""

    NETWORK_LIST_STATS = 1


def api_name(name: str) -> str:
    """What a procedure is called in messages: ``NETWORK_LIST_STATS`` ->
    ``rpcnetNetworkListStats`` (no libvirt API has these names)."""
    return "rpcnet" + "".join(word.capitalize() for word in name.split("_"))


def _proc(number: int, name: str, args: XdrType, ret: XdrType, method: str) -> Procedure:
    return Procedure(number, name, args, ret, True, CallStyle.PLAIN, api_name(name), method)


PROCEDURES: tuple[Procedure, ...] = (
    # the counters of one network (name) or of all of them (name NULL); flags must be 0
    _proc(Proc.NETWORK_LIST_STATS, "NETWORK_LIST_STATS",
          struct_type("rpcnet_network_list_stats_args", [("name", OSTRING), ("flags", UINT)]),
          struct_type("rpcnet_network_list_stats_ret",
                      [("stats", array(NETWORK_STATS, NETWORK_STATS_MAX))]),
          "network_list_stats"),
)

#: The program as a companion of REMOTE. It has no open or close of its own
#: (REMOTE's open it), so those are numbers of no procedure.
RPCNET = Program(
    number=PROGRAM,
    version=VERSION,
    procedures={p.number: p for p in PROCEDURES},
    names={p.number: p.name for p in PROCEDURES},
    open=0,
    close=0,
    pre_open=frozenset(),
    api_name=api_name,
    api_error_domain=lambda _name: ErrorDomain.NETWORK,
)
