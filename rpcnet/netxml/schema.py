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

from rpcnet.errors import ErrorCode, ErrorDomain, VirError

SCHEMA_PATH = Path("/usr/share/libvirt/schemas/network.rng")

# element -> (allowed attributes, allowed child elements)
_ALLOWED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "network": (
        frozenset(),
        frozenset({"name", "uuid", "forward", "bridge", "mtu", "mac", "domain", "dns", "ip"}),
    ),
    "name": (frozenset(), frozenset()),
    "uuid": (frozenset(), frozenset()),
    "forward": (frozenset({"mode", "dev"}), frozenset({"interface", "nat"})),
    "interface": (frozenset({"dev"}), frozenset()),
    "nat": (frozenset(), frozenset({"address", "port"})),
    "address": (frozenset({"start", "end"}), frozenset()),
    "port": (frozenset({"start", "end"}), frozenset()),
    "bridge": (frozenset({"name", "stp", "delay"}), frozenset()),
    "mtu": (frozenset({"size"}), frozenset()),
    "mac": (frozenset({"address"}), frozenset()),
    "domain": (frozenset({"name", "localOnly"}), frozenset()),
    "dns": (frozenset({"enable"}), frozenset({"forwarder", "txt", "srv", "host"})),
    "forwarder": (frozenset({"addr", "domain"}), frozenset()),
    "txt": (frozenset({"name", "value"}), frozenset()),
    "srv": (
        frozenset({"service", "protocol", "domain", "target", "port", "priority", "weight"}),
        frozenset(),
    ),
    "hostname": (frozenset(), frozenset()),
    "ip": (frozenset({"address", "netmask", "prefix", "family"}), frozenset({"dhcp"})),
    "dhcp": (frozenset(), frozenset({"range", "host"})),
    "range": (frozenset({"start", "end"}), frozenset()),
}
_Rule = tuple[frozenset[str], frozenset[str]]
_DNS_HOST: _Rule = (frozenset({"ip"}), frozenset({"hostname"}))
_DHCP_HOST: _Rule = (frozenset({"mac", "id", "name", "ip"}), frozenset())


def schema_error(lines: list[str]) -> VirError:
    detail = f"Unable to validate doc against {SCHEMA_PATH}\n" + "".join(f"{x}\n" for x in lines)
    return VirError.make(ErrorCode.XML_INVALID_SCHEMA, ErrorDomain.XML, detail)


@functools.cache
def _relaxng() -> etree.RelaxNG | None:
    try:
        return etree.RelaxNG(etree.parse(str(SCHEMA_PATH)))
    except (OSError, etree.LxmlError):
        return None


def validate_schema(root: etree._Element, *, use_system_schema: bool = True) -> None:
    """Raise XML_INVALID_SCHEMA (domain XML) if ``root`` fails validation."""
    rng = _relaxng() if use_system_schema else None
    if rng is not None:
        if not rng.validate(root):
            raise schema_error([entry.message for entry in rng.error_log])
        return
    problem = _first_problem(root)
    if problem is not None:
        raise schema_error(problem)


def _rules(elem: etree._Element) -> tuple[frozenset[str], frozenset[str]] | None:
    if elem.tag == "host":
        parent = elem.getparent()
        return _DNS_HOST if parent is not None and parent.tag == "dns" else _DHCP_HOST
    return _ALLOWED.get(str(elem.tag))


def _first_problem(root: etree._Element) -> list[str] | None:
    if root.find("name") is None:
        return [
            "Expecting an element name, got nothing",
            "Invalid sequence in interleave",
            "Element network failed to validate content",
        ]
    for elem in root.iter():
        if not isinstance(elem.tag, str):
            continue
        rules = _rules(elem)
        assert rules is not None  # the parent's check below ran first
        attrs, kids = rules
        trail = _trail(elem)
        for name in map(str, elem.attrib):
            if name not in attrs:
                return [f"Invalid attribute {name} for element {elem.tag}", *trail]
        for child in elem:
            if isinstance(child.tag, str) and child.tag not in kids:
                if elem is root:
                    return [f"Element network has extra content: {child.tag}"]
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
