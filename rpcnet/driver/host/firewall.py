"""nftables rules of one network, rendered as text for ``nft -f -``.

Everything lives in one table rpcnet owns, ``inet rpcnet``. Each network
gets its own base chains there, named after its bridge (``fwd_virbr1``,
``nat_virbr1``, ...). Base chains on the same hook are independent, and the
rules of a network only ever reject or rewrite traffic that touches its own
bridge, so adding or deleting one network's chains leaves every other
network's behaviour alone. Applying re-creates the chains (add, flush, fill)
in one transaction, so re-applying on adoption is atomic and idempotent.

The rules follow libvirt 9.0's iptables rules for the same XML.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rpcnet.netxml import IpDef, NetworkDef

TABLE = "inet rpcnet"
DEFAULT_NAT_PORTS = (1024, 65535)

_KINDS = {
    "in": "type filter hook input priority filter; policy accept;",
    "out": "type filter hook output priority filter; policy accept;",
    "fwd": "type filter hook forward priority filter; policy accept;",
    "nat": "type nat hook postrouting priority srcnat; policy accept;",
}
_PLAIN = re.compile(r"^[A-Za-z0-9_]+$")


def chain_suffix(bridge: str) -> str:
    """A chain-name-safe, collision-free suffix for ``bridge``."""
    if _PLAIN.match(bridge):
        return bridge
    digest = hashlib.sha1(bridge.encode()).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9_]', '_', bridge)}_{digest}"


def chain_names(bridge: str) -> tuple[str, ...]:
    """Every chain name the network on ``bridge`` may own."""
    suffix = chain_suffix(bridge)
    return tuple(f"{kind}_{suffix}" for kind in _KINDS)


@dataclass(frozen=True, slots=True)
class Ruleset:
    """Rules per chain kind (``in``, ``out``, ``fwd``, ``nat``); empty kinds are not created."""

    bridge: str
    rules: dict[str, list[str]]

    @property
    def empty(self) -> bool:
        return not any(self.rules.values())


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fam(ip: IpDef) -> str:
    return "ip" if ip.network.version == 4 else "ip6"


def rules_for(netdef: NetworkDef) -> Ruleset:
    """The rules libvirt would install for ``netdef`` (a network with a bridge)."""
    assert netdef.bridge is not None and netdef.bridge.name
    bridge = netdef.bridge.name
    br = _quote(bridge)
    rules: dict[str, list[str]] = {kind: [] for kind in _KINDS}
    mode = netdef.forward_mode
    if mode == "open":
        return Ruleset(bridge, rules)
    dev = netdef.forward.dev if netdef.forward is not None else None
    out_dev = f" oifname {_quote(dev)}" if dev else ""
    in_dev = f" iifname {_quote(dev)}" if dev else ""

    families = {ip.network.version for ip in netdef.ips}
    dhcp_ports = ([67] if 4 in families else []) + ([547] if 6 in families else [])
    client_ports = ([68] if 4 in families else []) + ([546] if 6 in families else [])
    rules["in"] += [f"iifname {br} {proto} dport {_set([53, *dhcp_ports])} accept"
                    for proto in ("udp", "tcp")]
    rules["out"] += [f"oifname {br} {proto} dport {_set([53, *client_ports])} accept"
                     for proto in ("udp", "tcp")]
    fwd = rules["fwd"]
    fwd.append(f"iifname {br} oifname {br} accept")
    nat_ipv6 = bool(netdef.forward and netdef.forward.nat_ipv6)
    for ip in netdef.ips if mode in ("nat", "route") else ():
        fam, subnet = _fam(ip), ip.network
        if mode == "nat" and (subnet.version == 4 or nat_ipv6):
            fwd.append(f"oifname {br}{in_dev} {fam} daddr {subnet} "
                       "ct state related,established accept")
            rules["nat"] += _masquerade(netdef, ip, out_dev)
        else:
            fwd.append(f"oifname {br}{in_dev} {fam} daddr {subnet} accept")
        fwd.append(f"iifname {br}{out_dev} {fam} saddr {subnet} accept")
    fwd += [f"oifname {br} reject", f"iifname {br} reject"]
    return Ruleset(bridge, rules)


def _set(values: Iterable[int]) -> str:
    items = sorted(set(values))
    return str(items[0]) if len(items) == 1 else "{ " + ", ".join(map(str, items)) + " }"


def _masquerade(netdef: NetworkDef, ip: IpDef, out_dev: str) -> list[str]:
    """libvirt's POSTROUTING rules: multicast and broadcast untouched, TCP and
    UDP source ports in the XML's range (1024-65535 by default). IPv6 (with
    ``<nat ipv6='yes'/>``) has no broadcast and is always masqueraded."""
    fwd = netdef.forward
    assert fwd is not None
    subnet = ip.network
    start = fwd.nat_port_start or DEFAULT_NAT_PORTS[0]
    end = fwd.nat_port_end or DEFAULT_NAT_PORTS[1]
    ports = f":{start}-{end}"
    if subnet.version == 6:
        base = f"ip6 saddr {subnet}"
        return [
            f"{base} ip6 daddr ff02::/16{out_dev} return",
            f"meta l4proto {{ tcp, udp }} {base} ip6 daddr != {subnet}{out_dev} "
            f"masquerade to {ports}",
            f"{base} ip6 daddr != {subnet}{out_dev} masquerade",
        ]
    if fwd.nat_address_start is not None:
        first = fwd.nat_address_start
        last = fwd.nat_address_end or first
        target = f"{first}-{last}" if last != first else str(first)
        to_ports, to_all = f"snat ip to {target}{ports}", f"snat ip to {target}"
    else:
        to_ports, to_all = f"masquerade to {ports}", "masquerade"
    base = f"ip saddr {subnet}"
    return [
        f"{base} ip daddr 224.0.0.0/24{out_dev} return",
        f"{base} ip daddr 255.255.255.255{out_dev} return",
        f"meta l4proto {{ tcp, udp }} {base} ip daddr != {subnet}{out_dev} {to_ports}",
        f"{base} ip daddr != {subnet}{out_dev} {to_all}",
    ]


def render_apply(ruleset: Ruleset) -> str:
    """One transaction: (re)create the network's chains with its rules and
    delete its chains that the rules do not need. ``add`` of an existing
    chain is a no-op, so this needs no knowledge of what exists."""
    lines = [f"add table {TABLE}"]
    suffix = chain_suffix(ruleset.bridge)
    for kind, spec in _KINDS.items():
        chain = f"{kind}_{suffix}"
        lines.append(f"add chain {TABLE} {chain} {{ {spec} }}")
        lines.append(f"flush chain {TABLE} {chain}")
        if ruleset.rules[kind]:
            lines += [f"add rule {TABLE} {chain} {rule}" for rule in ruleset.rules[kind]]
        else:
            lines.append(f"delete chain {TABLE} {chain}")
    return "\n".join(lines) + "\n"


def render_remove(chains: Iterable[str], *, drop_table: bool) -> str:
    """One transaction deleting ``chains`` (which must exist) and, when no
    other network has chains left, the table itself."""
    lines: list[str] = []
    for chain in chains:
        lines += [f"flush chain {TABLE} {chain}", f"delete chain {TABLE} {chain}"]
    if drop_table:
        lines.append(f"delete table {TABLE}")
    return "\n".join(lines) + ("\n" if lines else "")


def forwarding_families(netdef: NetworkDef) -> set[int]:
    """IP versions that need kernel forwarding on for ``netdef`` to work."""
    if netdef.forward_mode not in ("nat", "route", "open"):
        return set()
    return {ipaddress.ip_network(ip.network).version for ip in netdef.ips}
