"""``VIR_NETWORK_DEFINE_VALIDATE``: schema validation of network XML.

libvirt validates against its RelaxNG schema; when that schema is installed
we use it through lxml (the same libxml2 code, so the same messages).
Without it, a built-in table of the elements and attributes rpcnet models
refuses anything else, with messages of the same shape.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lxml import etree

from rpcnet.errors import ErrorCode, VirError, xml_domain_error

SCHEMA_DIR = Path("/usr/share/libvirt/schemas")
SCHEMA_PATH = SCHEMA_DIR / "network.rng"

# element -> (allowed attributes, allowed child elements)
_Rule = tuple[frozenset[str], frozenset[str]]
_ALLOWED: dict[str, _Rule] = {
    "network": (
        frozenset({"ipv6", "trustGuestRxFilters", "connections"}),
        frozenset(
            {"name", "uuid", "metadata", "forward", "bridge", "mtu", "mac", "domain", "dns", "ip"}
            | {"portgroup", "route", "bandwidth", "vlan", "port", "virtualport"}
        ),
    ),
    "route": (
        frozenset({"family", "address", "netmask", "prefix", "gateway", "metric"}),
        frozenset(),
    ),
    "portgroup": (
        frozenset({"name", "default", "trustGuestRxFilters"}),
        frozenset({"vlan", "bandwidth", "virtualport"}),
    ),
    "virtualport": (frozenset({"type"}), frozenset({"parameters"})),
    "parameters": (
        frozenset(
            {"managerid", "typeid", "typeidversion", "instanceid", "profileid", "interfaceid"}
        ),
        frozenset(),
    ),
    "vlan": (frozenset({"trunk"}), frozenset({"tag"})),
    "tag": (frozenset({"id", "nativeMode"}), frozenset()),
    "bandwidth": (frozenset({"classID"}), frozenset({"inbound", "outbound"})),
    "inbound": (frozenset({"average", "peak", "burst", "floor"}), frozenset()),
    "outbound": (frozenset({"average", "peak", "burst"}), frozenset()),
    "name": (frozenset(), frozenset()),
    "uuid": (frozenset(), frozenset()),
    "forward": (
        frozenset({"mode", "dev", "managed"}),
        frozenset({"interface", "nat", "address", "pf", "driver"}),
    ),
    "interface": (frozenset({"dev", "connections"}), frozenset()),
    "pf": (frozenset({"dev"}), frozenset()),
    "driver": (frozenset({"name"}), frozenset()),
    "nat": (frozenset({"ipv6"}), frozenset({"address", "port"})),
    "port": (frozenset({"start", "end", "isolated"}), frozenset()),
    "bridge": (
        frozenset({"name", "stp", "delay", "zone", "macTableManager"}),
        frozenset(),
    ),
    "mtu": (frozenset({"size"}), frozenset()),
    "mac": (frozenset({"address"}), frozenset()),
    "domain": (frozenset({"name", "localOnly"}), frozenset()),
    "dns": (
        frozenset({"enable", "forwardPlainNames"}),
        frozenset({"forwarder", "txt", "srv", "host"}),
    ),
    "forwarder": (frozenset({"addr", "domain"}), frozenset()),
    "txt": (frozenset({"name", "value"}), frozenset()),
    "srv": (
        frozenset({"service", "protocol", "domain", "target", "port", "priority", "weight"}),
        frozenset(),
    ),
    "hostname": (frozenset(), frozenset()),
    "ip": (
        frozenset({"address", "netmask", "prefix", "family", "localPtr"}),
        frozenset({"dhcp", "tftp"}),
    ),
    "tftp": (frozenset({"root"}), frozenset()),
    "dhcp": (frozenset(), frozenset({"range", "host", "bootp"})),
    "range": (frozenset({"start", "end"}), frozenset({"lease"})),
    "lease": (frozenset({"expiry", "unit"}), frozenset()),
    "bootp": (frozenset({"file", "server"}), frozenset()),
}
# <address> is a NAT range under <nat>, a PCI device under <forward>
_NAT_ADDRESS: _Rule = (frozenset({"start", "end"}), frozenset())
_PCI_ADDRESS: _Rule = (
    frozenset({"type", "domain", "bus", "slot", "function", "multifunction", "connections"}),
    frozenset(),
)
_DNS_HOST: _Rule = (frozenset({"ip"}), frozenset({"hostname"}))
_DHCP_HOST: _Rule = (frozenset({"mac", "id", "name", "ip"}), frozenset({"lease"}))


_PORT_ALLOWED: dict[str, _Rule] = {
    "networkport": (
        frozenset(),
        frozenset(
            {"uuid", "owner", "group", "mac", "bandwidth", "rxfilters", "plug"}
            | {"virtualport", "vlan", "port"}
        ),
    ),
    "uuid": (frozenset(), frozenset()),
    "owner": (frozenset(), frozenset({"name", "uuid"})),
    "name": (frozenset(), frozenset()),
    "group": (frozenset(), frozenset()),
    "mac": (frozenset({"address"}), frozenset()),
    "bandwidth": (frozenset({"classID"}), frozenset({"inbound", "outbound"})),
    "inbound": (frozenset({"average", "peak", "burst", "floor"}), frozenset()),
    "outbound": (frozenset({"average", "peak", "burst"}), frozenset()),
    "virtualport": _ALLOWED["virtualport"],
    "parameters": _ALLOWED["parameters"],
    "vlan": _ALLOWED["vlan"],
    "tag": _ALLOWED["tag"],
    "port": (frozenset({"isolated"}), frozenset()),
    "rxfilters": (frozenset({"trustGuest"}), frozenset()),
    "plug": (
        frozenset({"type", "bridge", "macTableManager", "dev", "mode", "managed"}),
        frozenset({"driver", "address"}),
    ),
    "driver": (frozenset({"name"}), frozenset()),
    "address": (frozenset({"domain", "bus", "slot", "function"}), frozenset()),
}
_TABLES = {"network": _ALLOWED, "networkport": _PORT_ALLOWED}


def schema_error(lines: list[str], schema: str = "network") -> VirError:
    path = SCHEMA_DIR / f"{schema}.rng"
    detail = f"Unable to validate doc against {path}\n" + "".join(f"{x}\n" for x in lines)
    return xml_domain_error(ErrorCode.XML_INVALID_SCHEMA, detail)


@functools.cache
def _relaxng(schema: str) -> etree.RelaxNG | None:
    try:
        return etree.RelaxNG(etree.parse(str(SCHEMA_DIR / f"{schema}.rng")))
    except (OSError, etree.LxmlError):
        return None


def validate_schema(
    root: etree._Element, *, schema: str = "network", use_system_schema: bool = True
) -> None:
    """Raise XML_INVALID_SCHEMA (domain XML) if ``root`` fails validation
    against libvirt's ``schema`` ('network' or 'networkport')."""
    rng = _relaxng(schema) if use_system_schema else None
    if rng is not None:
        if not rng.validate(root):
            raise schema_error([entry.message for entry in rng.error_log], schema)
        return
    problem = _first_problem(root, _TABLES[schema])
    if problem is not None:
        raise schema_error(problem, schema)


def _rules(elem: etree._Element, table: dict[str, _Rule]) -> _Rule | None:
    parent = elem.getparent()
    parent_tag = parent.tag if parent is not None else None
    if elem.tag == "host" and table is _ALLOWED:
        return _DNS_HOST if parent_tag == "dns" else _DHCP_HOST
    if elem.tag == "address" and table is _ALLOWED:
        return _NAT_ADDRESS if parent_tag == "nat" else _PCI_ADDRESS
    return table.get(str(elem.tag))


def _first_problem(root: etree._Element, table: dict[str, _Rule]) -> list[str] | None:
    required = "name" if table is _ALLOWED else "uuid"
    if root.find(required) is None:
        return [
            f"Expecting an element {required}, got nothing",
            "Invalid sequence in interleave",
            f"Element {root.tag} failed to validate content",
        ]
    for elem in root.iter():
        if not isinstance(elem.tag, str) or any(a.tag == "metadata" for a in elem.iterancestors()):
            continue
        if elem.tag == "metadata":  # any content, libvirt's schema allows it
            continue
        rules = _rules(elem, table)
        assert rules is not None  # the parent's check below ran first
        attrs, kids = rules
        trail = _trail(elem)
        for name in map(str, elem.attrib):
            if name not in attrs:
                return [f"Invalid attribute {name} for element {elem.tag}", *trail]
        for child in elem:
            if isinstance(child.tag, str) and child.tag not in kids:
                if elem is root:
                    return [f"Element {root.tag} has extra content: {child.tag}"]
                return [f"Element {elem.tag} has extra content: {child.tag}", *trail]
    return None


def _trail(elem: etree._Element) -> list[str]:
    """The 'Extra element X in interleave' chain libxml2 prints on the way up."""
    lines = []
    node = elem
    while node.getparent() is not None:
        parent = node.getparent()
        assert parent is not None
        lines += [
            f"Extra element {node.tag} in interleave",
            f"Element {parent.tag} failed to validate content",
        ]
        node = parent
    return lines
