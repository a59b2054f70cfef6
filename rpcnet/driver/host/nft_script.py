"""``nft -f`` scripts for rpcnet's table: the fixed chains around the sets.

Theory of operation: the table ``inet rpcnet`` has the same chains whatever
runs. Base chains ``forward``, ``input``, ``output`` (filter) and
``postrouting`` (NAT) and the regular chains ``to_guest`` / ``from_guest``:

    forward:     iifname . oifname @intra accept
                 oifname @guarded jump to_guest
                 iifname @guarded jump from_guest
    to_guest:    one "return" rule per set kind of chain to_guest, then reject
    from_guest:  the same for from_guest
    input:       the dnsmasq guard (see dnsmasq_conf), then the DNS/DHCP accepts
    output:      DNS/DHCP accepts towards guests
    postrouting: the NAT kinds' rules, skips before translations

Every script re-declares the sets in use and refills the fixed chains (a
handful of rules), then adds or deletes one network's elements, all in one
transaction: atomic, idempotent, and the same size at any number of
networks. Nothing is read back: a deletion first adds what it deletes
(adding an existing element is a no-op), so it works whether or not the
element is there. Sets whose kind no network uses any more are deleted, and
with the last network the table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from .firewall import (
    DNS_ADDRS,
    DNS_LISTEN,
    FIXED,
    FROM_GUEST,
    GUARDED,
    INTRA,
    POSTROUTING,
    SERVICES_IN,
    SERVICES_OUT,
    TABLE,
    TO_GUEST,
    NetworkRules,
    SetKind,
    kinds_in_use,
)

Element = tuple[SetKind, str]

_BASE = {
    "forward": "type filter hook forward priority filter; policy accept;",
    "input": "type filter hook input priority filter; policy accept;",
    "output": "type filter hook output priority filter; policy accept;",
    POSTROUTING: "type nat hook postrouting priority srcnat; policy accept;",
}
_FIXED_RULES = {
    "forward": [
        f"iifname . oifname @{INTRA.name} accept",
        f"oifname @{GUARDED.name} jump {TO_GUEST}",
        f"iifname @{GUARDED.name} jump {FROM_GUEST}",
    ],
    "input": [
        # dnsmasq bound with bind-interfaces answers whatever reaches its
        # address; libvirt's bind-dynamic answers only its interfaces
        f'meta l4proto {{ tcp, udp }} th dport {{ 53, 69 }} iifname != "lo" '
        f"ip daddr @{DNS_ADDRS.name} ip daddr . iifname != @{DNS_LISTEN.name} drop",
        f"iifname . meta l4proto . th dport @{SERVICES_IN.name} accept",
    ],
    "output": [f"oifname . meta l4proto . th dport @{SERVICES_OUT.name} accept"],
}
_CHAINS = ("forward", TO_GUEST, FROM_GUEST, "input", "output", POSTROUTING)
_LAST = {TO_GUEST: ["reject"], FROM_GUEST: ["reject"]}


def _rules(chain: str, kinds: Iterable[SetKind]) -> list[str]:
    mine = sorted(kind for kind in kinds if kind.chain == chain)
    found = list(_FIXED_RULES.get(chain, ()))
    for kind in mine:
        found += [rule.replace("@@", f"@{kind.name}") for rule in kind.rules]
    return found + _LAST.get(chain, [])


def _skeleton(declared: Iterable[SetKind], used: Collection[SetKind]) -> list[str]:
    """Declare ``declared`` sets and the chains, and refill the chains with
    the rules of the ``used`` kinds."""
    lines = [f"add table {TABLE}"]
    lines += [f"add set {TABLE} {kind.name} {{ type {kind.type}; }}"
              for kind in sorted(declared, key=lambda k: k.name)]
    for chain in _CHAINS:
        spec = _BASE.get(chain)
        lines.append(f"add chain {TABLE} {chain}" + (f" {{ {spec} }}" if spec else ""))
    for chain in _CHAINS:
        lines.append(f"flush chain {TABLE} {chain}")
        lines += [f"add rule {TABLE} {chain} {rule}" for rule in _rules(chain, used)]
    return lines


def _elements(verb: str, elements: Iterable[Element]) -> list[str]:
    """One ``add|delete element`` command per set."""
    per_set: dict[str, list[str]] = defaultdict(list)
    for kind, element in elements:
        per_set[kind.name].append(element)
    return [f"{verb} element {TABLE} {name} {{ {', '.join(sorted(items))} }}"
            for name, items in sorted(per_set.items())]


def _script(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def drop_table() -> str:
    """Delete the table, whether or not it exists."""
    return _script([f"add table {TABLE}", f"delete table {TABLE}"])


def change(used: Collection[SetKind], add: Iterable[Element] = (),
           remove: Iterable[Element] = ()) -> str:
    """The transaction that adds elements ``add``, deletes ``remove`` and
    leaves the table as the networks using the set kinds ``used`` need it
    (no table at all when none does)."""
    if not used:
        return drop_table()
    used = set(used) | set(FIXED)
    remove = list(remove)
    gone = {kind for kind, _ in remove} - used  # deleting the set deletes its elements
    kept = [(kind, element) for kind, element in remove if kind in used]
    lines = _skeleton(used | gone, used)
    lines += _elements("add", [*add, *kept])
    lines += _elements("delete", kept)
    lines += [f"delete set {TABLE} {kind.name}" for kind in sorted(gone, key=lambda k: k.name)]
    return _script(lines)


def replace_table(networks: Collection[NetworkRules]) -> str:
    """One transaction replacing whatever the table holds by ``networks``'
    rules (a daemon start or reload): anything left behind goes with it."""
    if not networks:
        return drop_table()
    used = kinds_in_use(networks)
    lines = [f"add table {TABLE}", f"delete table {TABLE}", *_skeleton(used, used)]
    lines += _elements("add", (element for rules in networks for element in rules.elements))
    return _script(lines)
