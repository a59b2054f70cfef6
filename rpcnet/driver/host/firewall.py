"""What one network puts into rpcnet's nftables table: elements of named sets.

libvirt 9.0 gives each network rules in shared iptables chains (its
LIBVIRT_FWX/FWI/FWO, LIBVIRT_PRT, LIBVIRT_INP/OUT chains), so a packet walks
a rule per network and every change edits those chains. Here the rules are
fixed and the networks are data: each rule looks its packet up in a named
set (a hash lookup, however many networks run), and a network owns only
elements of those sets. :mod:`.nft_script` renders the table around them.

A set's :class:`SetKind` names the set, its element type and the rule that
uses it. Kinds keyed by an address exist per address family and prefix
length, because the rule masks the packet's address to the subnet before the
lookup (``oifname . ip daddr & 255.255.255.0 @to_ct4_24``); kinds of NAT
also carry the port range and SNAT addresses of their statement. So a
network with a new prefix length or NAT port range brings a set and a rule
with it, and a start or destroy stays a transaction of the same size.

The decisions are libvirt's, for the same XML (checked against libvirtd in
tests/host/test_vs_libvirtd.py):

- forward: traffic between two ports of one bridge is accepted; traffic to
  a guest bridge goes on when it is addressed to one of the network's
  subnets (in NAT mode only as part of a connection a guest opened), traffic
  from it when it comes from one of them, both through the forward ``dev``
  only when the XML names one; everything else to or from the bridge is
  rejected.
- postrouting: a NAT network's subnets are masqueraded (or SNATed to the
  XML's addresses) to destinations outside the subnet, except multicast and
  broadcast, TCP and UDP to the XML's port range (1024-65535 by default).
- input/output: DNS and DHCP between host and guests are accepted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from rpcnet.netxml import ForwardMode, IpDef, NetworkDef, routes_ip

TABLE = "inet rpcnet"
DEFAULT_NAT_PORTS = (1024, 65535)
#: chains holding the rules of the set kinds, in the order :mod:`.nft_script` lists them
TO_GUEST, FROM_GUEST, POSTROUTING = "to_guest", "from_guest", "postrouting"


@dataclass(frozen=True, slots=True, order=True)
class SetKind:
    """A named set and the rules (in ``chain``, at ``rank``) that use it."""

    chain: str
    rank: int
    name: str
    type: str
    rules: tuple[str, ...]


# Sets every table has; their rules are part of the fixed chains (nft_script).
INTRA = SetKind("forward", 0, "intra", "ifname . ifname", ())
GUARDED = SetKind("forward", 0, "guarded", "ifname", ())
SERVICES_IN = SetKind("input", 0, "svc_in", "ifname . inet_proto . inet_service", ())
SERVICES_OUT = SetKind("output", 0, "svc_out", "ifname . inet_proto . inet_service", ())
DNS_ADDRS = SetKind("input", 0, "dns_addr4", "ipv4_addr", ())
DNS_LISTEN = SetKind("input", 0, "dns_listen4", "ipv4_addr . ifname", ())
FIXED = (INTRA, GUARDED, SERVICES_IN, SERVICES_OUT, DNS_ADDRS, DNS_LISTEN)


@dataclass(frozen=True, slots=True)
class NetworkRules:
    """The elements one network owns: (set kind, element) pairs."""

    bridge: str
    elements: frozenset[tuple[SetKind, str]]

    @property
    def empty(self) -> bool:
        return not self.elements

    @property
    def kinds(self) -> frozenset[SetKind]:
        return frozenset(kind for kind, _ in self.elements)


def quote(name: str) -> str:
    """An interface name as an nft string."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Subnet:
    """The names and matches nft needs for one ``<ip>``'s subnet."""

    def __init__(self, ip: IpDef) -> None:
        net = ip.network
        self.v4 = net.version == 4
        self.version = net.version
        self.prefix = net.prefixlen
        self.net = str(net.network_address)
        self.proto = "ip" if self.v4 else "ip6"
        self.mask = str(net.netmask)
        self.addr_type = "ipv4_addr" if self.v4 else "ipv6_addr"

    def masked(self, field: str) -> str:
        """``ip daddr & 255.255.255.0``"""
        return f"{self.proto} {field} & {self.mask}"

    def suffix(self) -> str:
        return f"{self.version}_{self.prefix}"


def _guest_check(sub: _Subnet, *, to_guest: bool, related_only: bool = False,
                 via_dev: bool = False) -> SetKind:
    """The lookup that lets traffic to (or from) a guest subnet go on, keyed
    by the bridge, the forward dev when the XML names one, and the guest's
    masked address."""
    if to_guest:
        chain, name, field, ifaces = TO_GUEST, "to_ct" if related_only else "to_any", "daddr", \
            ["oifname", "iifname"]
    else:
        chain, name, field, ifaces = FROM_GUEST, "from", "saddr", ["iifname", "oifname"]
    if not via_dev:
        ifaces = ifaces[:1]
    ct = "ct state related,established " if related_only else ""
    key = " . ".join([*ifaces, sub.masked(field)])
    return SetKind(chain, 0, f"{name}{sub.version}{'d' if via_dev else ''}_{sub.prefix}",
                   " . ".join(["ifname"] * len(ifaces) + [sub.addr_type]),
                   (f"{ct}{key} @@ return",))


def _nat_skip(sub: _Subnet) -> list[SetKind]:
    """Returns before any NAT: multicast and broadcast, and traffic that
    stays inside the subnet (libvirt's ``! -d subnet``)."""
    special = "ip daddr { 224.0.0.0/24, 255.255.255.255 }" if sub.v4 else "ip6 daddr ff02::/16"
    return [
        SetKind(POSTROUTING, 0, f"nat_src{sub.suffix()}", sub.addr_type,
                (f"{sub.masked('saddr')} @@ {special} return",)),
        SetKind(POSTROUTING, 1, f"nat_same{sub.suffix()}", f"{sub.addr_type} . {sub.addr_type}",
                (f"{sub.masked('saddr')} . {sub.masked('daddr')} @@ return",)),
    ]


def _nat_target(netdef: NetworkDef, sub: _Subnet, via_dev: bool) -> SetKind:
    """The masquerade (or SNAT) rules of the subnet's NAT parameters."""
    fwd = netdef.forward
    assert fwd is not None
    start = fwd.nat_port_start or DEFAULT_NAT_PORTS[0]
    end = fwd.nat_port_end or DEFAULT_NAT_PORTS[1]
    ports = f":{start}-{end}"
    if sub.v4 and fwd.nat_address_start is not None:
        first, last = fwd.nat_address_start, fwd.nat_address_end or fwd.nat_address_start
        target = f"{first}-{last}" if last != first else str(first)
        name = f"snat4_{sub.prefix}_{_label(first)}_{_label(last)}_{start}_{end}"
        with_ports, without = f"snat ip to {target}{ports}", f"snat ip to {target}"
    else:
        name = f"masq{sub.suffix()}_{start}_{end}"
        with_ports, without = f"masquerade to {ports}", "masquerade"
    key, elem_type = sub.masked("saddr"), sub.addr_type
    if via_dev:
        name, key, elem_type = f"{name}_dev", f"{key} . oifname", f"{elem_type} . ifname"
    return SetKind(POSTROUTING, 2, name, elem_type,
                   (f"meta l4proto {{ tcp, udp }} {key} @@ {with_ports}", f"{key} @@ {without}"))


def _label(addr: ipaddress.IPv4Address) -> str:
    """An address as part of a set name (``192_0_2_5``)."""
    return str(addr).replace(".", "_")


def _services(bridge: str, families: set[int]) -> set[tuple[SetKind, str]]:
    """libvirt's INPUT/OUTPUT accepts: DNS and DHCP(v6) to the host, DNS
    and DHCP(v6) client ports to the guests."""
    server = [53] + ([67] if 4 in families else []) + ([547] if 6 in families else [])
    client = [53] + ([68] if 4 in families else []) + ([546] if 6 in families else [])
    br = quote(bridge)
    found = set()
    for proto in ("udp", "tcp"):
        found |= {(SERVICES_IN, f"{br} . {proto} . {port}") for port in server}
        found |= {(SERVICES_OUT, f"{br} . {proto} . {port}") for port in client}
    return found


def rules_for(netdef: NetworkDef, *, dns_guard: bool = False) -> NetworkRules:
    """The elements libvirt's rules amount to for ``netdef`` (a network with
    a bridge). ``dns_guard``: its dnsmasq binds the bridge's IPv4 addresses
    (bind-interfaces), so DNS and TFTP to them must arrive on the bridge."""
    assert netdef.bridge is not None and netdef.bridge.name
    bridge = netdef.bridge.name
    mode = netdef.forward_mode
    if mode is ForwardMode.OPEN:
        return NetworkRules(bridge, frozenset())
    br = quote(bridge)
    dev = netdef.forward.dev if netdef.forward is not None else None
    found: set[tuple[SetKind, str]] = {(INTRA, f"{br} . {br}"), (GUARDED, br)}
    found |= _services(bridge, {ip.network.version for ip in netdef.ips})
    nat_ipv6 = bool(netdef.forward and netdef.forward.nat_ipv6)
    for ip in netdef.ips if mode in (ForwardMode.NAT, ForwardMode.ROUTE) else ():
        sub = _Subnet(ip)
        key = f"{br} . {quote(dev)} . {sub.net}" if dev else f"{br} . {sub.net}"
        nat = mode is ForwardMode.NAT and (sub.v4 or nat_ipv6)
        found.add((_guest_check(sub, to_guest=True, related_only=nat, via_dev=bool(dev)), key))
        found.add((_guest_check(sub, to_guest=False, via_dev=bool(dev)), key))
        if nat:
            src, same = _nat_skip(sub)
            found |= {(src, sub.net), (same, f"{sub.net} . {sub.net}")}
            target = _nat_target(netdef, sub, bool(dev))
            found.add((target, f"{sub.net} . {quote(dev)}" if dev else sub.net))
    if dns_guard:
        for ip in netdef.ips_of("ipv4"):
            found |= {(DNS_ADDRS, str(ip.address)), (DNS_LISTEN, f"{ip.address} . {br}")}
    return NetworkRules(bridge, frozenset(found))


def kinds_in_use(networks: Iterable[NetworkRules]) -> set[SetKind]:
    """Every set kind the table needs for ``networks`` (the fixed ones too)."""
    used = set(FIXED)
    for rules in networks:
        used |= rules.kinds
    return used


def forwarding_families(netdef: NetworkDef) -> set[int]:
    """IP versions that need kernel forwarding on for ``netdef`` to work."""
    if not routes_ip(netdef.forward_mode):
        return set()
    return {ip.network.version for ip in netdef.ips}
