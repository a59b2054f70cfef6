"""The sub-elements networks, portgroups and network ports share:
``<vlan>``, ``<bandwidth>`` and ``<virtualport>``, read and printed as
libvirt 9.0 does (its netdev_vlan, netdev_bandwidth and
netdev_vport_profile code, including the error domains those report in).
"""

from __future__ import annotations

import uuid as uuidlib

from lxml import etree

from rpcnet.errors import (
    ErrorCode,
    VirError,
    general_error,
    netdev_error,
    xml_domain_error,
)

from ._errors import bad_attr_value
from .model import BandwidthDef, RateDef, VirtualPortDef, VlanDef
from .xmlutil import attr, children, element, parse_uint, parse_uuid, strtoul, uint_attr

RATE_FIELDS = ("average", "peak", "floor", "burst")  # libvirt's print order
VPORT_TYPES = ("802.1Qbg", "802.1Qbh", "openvswitch", "midonet")
PROFILEID_MAX = 39  # characters; libvirt's buffer holds 40 with the NUL

# Parameters a virtualport type may not carry (libvirt's CheckNoExtras), in
# the order libvirt looks for them; midonet is not checked at all.
_EXTRAS = {
    "802.1Qbg": ("profileid", "interfaceid"),
    "802.1Qbh": ("managerid", "typeid", "typeidversion", "instanceid", "interfaceid"),
    "openvswitch": ("managerid", "typeid", "typeidversion", "instanceid"),
}
# Parameters printed for each type (None: no type); in print order.
_PRINTED = {
    None: ("managerid", "typeid", "typeidversion", "instanceid", "interfaceid", "profileid"),
    "802.1Qbg": ("managerid", "typeid", "typeidversion", "instanceid"),
    "802.1Qbh": ("profileid",),
    "openvswitch": ("interfaceid", "profileid"),
    "midonet": ("interfaceid",),
}
# Parameters an allocated port's virtualport must have (CheckComplete);
# instanceid and interfaceid are generated where missing instead.
REQUIRED = {
    "802.1Qbg": ("managerid", "typeid", "typeidversion"),
    "802.1Qbh": ("profileid",),
    "midonet": ("interfaceid",),
}


# -- <vlan> -------------------------------------------------------------------


def parse_vlan(elem: etree._Element) -> VlanDef:
    tags: list[int] = []
    native_mode = native_tag = None
    for tag in children(elem, "tag"):
        if attr(tag, "id") is None:
            raise xml_domain_error(
                ErrorCode.XML_ERROR, "Missing required attribute 'id' in element 'tag'"
            )
        number = uint_attr(tag, "id")
        assert number is not None
        if number > 4095:
            raise general_error(
                ErrorCode.XML_ERROR, f"vlan tag id {number} too large (maximum 4095)"
            )
        mode = attr(tag, "nativeMode")
        if mode is not None:
            if mode not in ("tagged", "untagged"):
                raise bad_attr_value("nativeMode", "tag", mode)
            if native_mode is not None:
                raise general_error(ErrorCode.XML_ERROR, "duplicate native vlan setting")
            native_mode, native_tag = mode, number
        tags.append(number)
    trunk_text = attr(elem, "trunk")
    if len(tags) > 1:
        if trunk_text not in (None, "yes"):
            raise general_error(
                ErrorCode.XML_ERROR,
                f"invalid \"trunk='{trunk_text}'\" in <vlan> - trunk='yes' is required "
                "for more than one vlan tag",
            )
        trunk = True
    elif tags:
        if trunk_text not in (None, "yes", "no"):
            raise general_error(
                ErrorCode.XML_ERROR,
                f"invalid \"trunk='{trunk_text}'\" in <vlan> - must be yes or no",
            )
        trunk = trunk_text == "yes"
        if trunk_text == "no" and native_mode is not None:
            raise general_error(
                ErrorCode.XML_ERROR,
                "invalid configuration in <vlan> - \"trunk='no'\" is not allowed "
                "with a native vlan id",
            )
    else:
        raise general_error(
            ErrorCode.XML_ERROR,
            "missing tag id - each <vlan> must have at least one <tag id='n'/> subelement",
        )
    return VlanDef(tags=tuple(tags), trunk=trunk, native_mode=native_mode, native_tag=native_tag)


def format_vlan(indent: int, vlan: VlanDef | None) -> list[str]:
    if vlan is None:
        return []
    tags: list[str] = []
    for tag in vlan.tags:
        native = vlan.native_mode if tag == vlan.native_tag else None
        tags += element(indent + 1, "tag", [("id", tag), ("nativeMode", native)])
    return element(indent, "vlan", [("trunk", "yes" if vlan.trunk else None)], tags)


# -- <bandwidth> --------------------------------------------------------------


def bandwidth_class_id(elem: etree._Element, *, allowed: bool) -> int | None:
    """The ``classID`` of a ``<bandwidth>``: only a port's may have one."""
    text = attr(elem, "classID")
    if text is None:
        return None
    if not allowed:
        raise general_error(
            ErrorCode.XML_DETAIL,
            "classID attribute not supported on <bandwidth> in this usage context",
        )
    class_id = strtoul(text)
    if class_id is None:
        raise general_error(ErrorCode.INTERNAL_ERROR, f"Unable to parse class id '{text}'")
    return class_id


def parse_bandwidth(
    elem: etree._Element, *, allow_floor: bool, allow_class_id: bool = False
) -> BandwidthDef | None:
    """``<bandwidth>``; None when it names neither direction. ``allow_floor``
    is False for networks and portgroups (a floor is a port's own)."""
    bandwidth_class_id(elem, allowed=allow_class_id)  # for its errors
    for direction in ("inbound", "outbound"):
        if len(children(elem, direction)) > 1:
            raise general_error(
                ErrorCode.XML_DETAIL, f"Only one child <{direction}> element allowed"
            )
    rates: dict[str, RateDef] = {}
    for direction in ("inbound", "outbound"):
        rate_elem = elem.find(direction)
        if rate_elem is None:
            continue
        rate = _parse_rate(rate_elem)
        if rate.floor and direction == "inbound" and not allow_floor:
            raise general_error(
                ErrorCode.CONFIG_UNSUPPORTED, "floor attribute is not supported for this config"
            )
        if rate.floor is not None and direction == "outbound":
            raise general_error(
                ErrorCode.CONFIG_UNSUPPORTED, "'floor' attribute allowed only in <inbound> element"
            )
        rates[direction] = rate
    return BandwidthDef(**rates) if rates else None


def _parse_rate(elem: etree._Element) -> RateDef:
    values: dict[str, int | None] = {}
    for field in RATE_FIELDS:
        text = attr(elem, field)
        value = parse_uint(text)
        if text is not None and value is None:
            raise general_error(
                ErrorCode.CONFIG_UNSUPPORTED, f"could not convert bandwidth {field} value '{text}'"
            )
        values[field] = value
    if values["average"] is None and values["floor"] is None:
        raise general_error(ErrorCode.XML_DETAIL, "Missing mandatory average or floor attributes")
    return RateDef(**values)


def format_bandwidth(
    indent: int, bandwidth: BandwidthDef | None, class_id: int | None = None
) -> list[str]:
    """libvirt prints a direction only when its average or floor is set."""
    if bandwidth is None:
        return []
    rates: list[str] = []
    for direction in ("inbound", "outbound"):
        rate = getattr(bandwidth, direction)
        if rate is not None and (rate.average or rate.floor):
            values = [(f, getattr(rate, f) or None) for f in RATE_FIELDS]
            rates += element(indent + 1, direction, values)
    return element(indent, "bandwidth", [("classID", class_id or None)], rates)


# -- <virtualport> ------------------------------------------------------------


def parse_virtualport(elem: etree._Element, *, require_type: bool) -> VirtualPortDef:
    """``<virtualport>``; a network's must name its type, a portgroup's or a
    port's need not."""
    vtype = attr(elem, "type")
    if vtype is not None and vtype not in VPORT_TYPES:
        raise general_error(ErrorCode.CONFIG_UNSUPPORTED, f"unknown virtualport type {vtype}")
    if vtype is None and require_type:
        raise general_error(ErrorCode.XML_ERROR, "missing required virtualport type")
    params = elem.find("parameters")

    def param(name: str) -> str | None:
        return attr(params, name) if params is not None else None

    numbers: dict[str, int | None] = {}
    for name, limit, word in (
        ("managerid", 0xFF, "of"),
        ("typeid", 0xFFFFFF, "for"),
        ("typeidversion", 0xFF, "of"),
    ):
        text = param(name)
        if text is None:
            numbers[name] = None
            continue
        value = strtoul(text, base=0)
        if value is None:
            raise general_error(ErrorCode.XML_ERROR, f"cannot parse value of {name} parameter")
        if value > limit:
            raise general_error(ErrorCode.XML_ERROR, f"value {word} {name} out of range")
        numbers[name] = value
    uuids: dict[str, uuidlib.UUID | None] = {}
    for name in ("instanceid", "profileid", "interfaceid"):
        text = param(name)
        if name == "profileid":
            if text is not None and len(text.encode()) > PROFILEID_MAX:
                raise general_error(ErrorCode.XML_ERROR, "profileid parameter too long")
            continue
        parsed = parse_uuid(text) if text is not None else None
        if text is not None and parsed is None:
            raise general_error(ErrorCode.XML_ERROR, f"cannot parse {name} parameter as a uuid")
        uuids[name] = parsed
    vport = VirtualPortDef(
        type=vtype,
        managerid=numbers["managerid"],
        typeid=numbers["typeid"],
        typeidversion=numbers["typeidversion"],
        instanceid=uuids["instanceid"],
        interfaceid=uuids["interfaceid"],
        profileid=param("profileid") or None,
    )
    for name in _EXTRAS.get(vtype or "", ()):
        if getattr(vport, name) is not None:
            raise netdev_error(
                ErrorCode.XML_ERROR, f"extra {name} unsupported in <virtualport type='{vtype}'>"
            )
    return vport


def format_virtualport(indent: int, vport: VirtualPortDef | None) -> list[str]:
    if vport is None:
        return []
    shown = [(name, getattr(vport, name)) for name in _PRINTED[vport.type]]
    type_attr = [("type", vport.type)]
    if not vport.has_parameters:
        return element(indent, "virtualport", type_attr) if vport.type is not None else []
    # libvirt prints the profileid unescaped; rpcnet refuses markup in it.
    params = element(indent + 1, "parameters", shown)
    return element(indent, "virtualport", type_attr, params)


def missing_parameter(vport: VirtualPortDef) -> VirError | None:
    """libvirt's check of an allocated port's virtualport: the error for the
    first required parameter it lacks, or None."""
    for name in REQUIRED.get(vport.type or "", ()):
        if getattr(vport, name) is None:
            return netdev_error(
                ErrorCode.XML_ERROR, f"missing {name} in <virtualport type='{vport.type}'>"
            )
    return None
