"""rpcnet's table in the shape of libvirt's rules, for comparing the two.

libvirt 9.0 writes one iptables rule per network and decision; rpcnet keeps
fixed rules that look packets up in sets (rpcnet/driver/host/nft_script.py).
:func:`unfolded` reads rpcnet's table from the kernel (``nft list ruleset``)
and writes every set lookup out as one rule per element, so that both come
out as the same lines when they make the same decisions. :func:`canonical`
then puts any rule's matches in one order.
"""

from __future__ import annotations

import ipaddress
import re

from tests.peers.netns import NetNamespace

_COMPONENT = r"(?:iifname|oifname|meta l4proto|th dport|ip6? [sd]addr(?: & \S+)?)"
_KEY = re.compile(rf"{_COMPONENT}(?: \. {_COMPONENT})*(?: ==)?$")
_COUNTER = re.compile(r" ?counter packets \d+ bytes \d+")
_CLAUSE = re.compile(r'(?:iifname|oifname) "[^"]+"|ip6? [sd]addr (?:!= )?\S+'
                     r"|ct state \S+|meta l4proto (?:\{ tcp, udp \}|\S+)|(?:udp|tcp|th) dport \S+")
_VERDICT = re.compile(r"(accept|reject|return|drop|masquerade(?: to \S+)?|snat ip to \S+)$")


def _table(text: str, name: str) -> str:
    start = text.find(f"table {name} {{")
    return "" if start < 0 else text[start:text.find("\n}", start)]


def _sets(table: str) -> dict[str, list[str]]:
    found = {}
    for match in re.finditer(r"set (\S+) \{(.*?)\n\t\}", table, re.S):
        elements = re.search(r"elements = \{(.*?)\}\s*$", match.group(2), re.S)
        items = elements.group(1).replace("\n", " ").split(",") if elements else []
        found[match.group(1)] = [" ".join(item.split()) for item in items if item.strip()]
    return found


def _chains(table: str) -> dict[str, list[str]]:
    found = {}
    for match in re.finditer(r"chain (\S+) \{(.*?)\n\t\}", table, re.S):
        lines = [line.strip() for line in match.group(2).splitlines()]
        found[match.group(1)] = [line for line in lines if line and not line.startswith("type ")]
    return found


def _match(component: str, value: str) -> str:
    if " & " in component:
        field, mask = component.split(" & ")
        length = bin(int(ipaddress.ip_address(mask))).count("1")
        return f"{field} {value}/{length}"
    return f"{component} {value}"


def _expand(rule: str, sets: dict[str, list[str]]) -> list[str]:
    """``rule`` once per element of the set it looks up (as is without one)."""
    lookup = re.search(r" @(\w+)", rule)
    if lookup is None:
        return [rule]
    left, right = rule[:lookup.start()], rule[lookup.end():]
    key = _KEY.search(left)
    assert key is not None, rule
    components = key.group(0).removesuffix(" ==").split(" . ")
    head = left[:key.start()]
    found = []
    for element in sets.get(lookup.group(1), []):
        values = element.split(" . ")
        matches = " ".join(_match(c, v) for c, v in zip(components, values, strict=True))
        found.append(f"{head}{matches}{right}")
    return found


def unfolded(ns: NetNamespace) -> list[str]:
    """rpcnet's table as libvirt's rules: forward decisions that let a packet
    go on ("return" to the next check) become "accept", every guarded
    bridge gets its reject rules, and NAT networks' masquerade rules carry
    the "not to the own subnet" match that rpcnet tests once before them."""
    table = _table(ns.run("nft", "list", "ruleset").stdout, "inet rpcnet")
    sets, chains = _sets(table), _chains(table)
    rules: list[str] = []
    for chain in ("forward", "to_guest", "from_guest"):
        for rule in chains.get(chain, []):
            if rule == "reject":
                side = "oifname" if chain == "to_guest" else "iifname"
                rules += [f"{side} {bridge} reject" for bridge in sets.get("guarded", [])]
            elif "@guarded" not in rule:
                rules += [re.sub(r" return$", " accept", r) for r in _expand(rule, sets)]
    same = {element.split(" . ")[0] for name, items in sets.items()
            if name.startswith("nat_same") for element in items}
    for rule in chains.get("postrouting", []):
        if "@nat_same" in rule:
            continue
        for line in _expand(rule, sets):
            line = line.replace("ip daddr { 224.0.0.0/24, 255.255.255.255 }", "ip daddr {special}")
            source = re.search(r"ip6? saddr (\S+)/", line)
            if source and source.group(1) in same and "return" not in line:
                family = "ip6" if ":" in source.group(1) else "ip"
                subnet = re.search(r"saddr (\S+)", line).group(1)  # type: ignore[union-attr]
                line = line.replace(f"saddr {subnet}", f"saddr {subnet} {family} daddr != {subnet}")
            specials = ("224.0.0.0/24", "255.255.255.255") if "{special}" in line else ("",)
            rules += [line.replace("{special}", special) for special in specials]
    return rules


def canonical(rule: str) -> str:
    """A rule's matches in a fixed order and its verdict, counters dropped;
    iptables' split of TCP and UDP rules and its order of conntrack states
    written as rpcnet writes them."""
    rule = _COUNTER.sub("", rule).strip()
    rule = re.sub(r"meta l4proto (tcp|udp) ", "meta l4proto { tcp, udp } ", rule)
    rule = rule.replace("related,established", "established,related")
    verdict = _VERDICT.search(rule)
    clauses = sorted(_CLAUSE.findall(rule))
    return " ".join(clauses) + (f" {verdict.group(1)}" if verdict else "")
