"""``<networkport>`` XML: parse and format, as libvirt 9.0's bridge driver
reads and prints it (messages checked against ``virNetworkPortCreateXML``)."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass

from lxml import etree

from rpcnet.errors import ErrorCode, VirError

from ._errors import (
    NONE_DOMAIN,
    bad_attr_value,
    bad_root,
    config_unsupported,
    detail_error,
    internal,
    xml_error,
)
from .elements import normalize_mac
from .format import element, text_element, yes_no
from .model import BandwidthDef, RateDef
from .schema import validate_schema
from .xmlutil import attr, parse_uint, parse_xml, text_of
from .xmlutil import yes_no as read_yes_no

URL = "(networkport_definition)"
PLUG_TYPES = ("none", "network", "bridge", "direct", "hostdev-pci")
RATE_FIELDS = ("average", "peak", "floor", "burst")  # libvirt's print order


@dataclass(frozen=True, slots=True, kw_only=True)
class PortDef:
    uuid: uuidlib.UUID
    owner_name: str
    owner_uuid: uuidlib.UUID
    mac: str
    group: str | None = None
    bandwidth: BandwidthDef | None = None
    trust_guest_rx_filters: bool | None = None
    plug_type: str | None = None
    plug_bridge: str | None = None
    plug_mac_table_manager: str | None = None


def parse_port(xml: str, *, validate: bool = False) -> PortDef:
    """Parse a ``<networkport>`` document; raises :class:`VirError` as libvirt
    (e.g. INTERNAL_ERROR "network port has no uuid")."""
    root = parse_xml(xml, URL)
    if root.tag != "networkport":
        raise bad_root("networkport", str(root.tag))
    if validate:
        validate_schema(root, schema="networkport")
    port_uuid = _uuid(text_of(root.find("uuid")), "network port has no uuid")
    owner = root.find("owner")
    owner_name = text_of(owner.find("name")) if owner is not None else None
    if not owner_name:
        raise internal("network port has no owner name")
    owner_uuid = _uuid(
        text_of(owner.find("uuid")) if owner is not None else None, "network port has no owner UUID"
    )
    mac_elem = root.find("mac")
    mac_text = attr(mac_elem, "address") if mac_elem is not None else None
    if mac_text is None:
        raise internal("network port has no mac")
    mac = normalize_mac(mac_text)
    if mac is None:
        raise internal(f"Unable to parse MAC '{mac_text}'")
    rx = root.find("rxfilters")
    bandwidth = root.find("bandwidth")
    plug_type, plug_bridge, plug_mtm = _plug(root.find("plug"))
    return PortDef(
        uuid=port_uuid,
        owner_name=owner_name,
        owner_uuid=owner_uuid,
        mac=mac,
        group=text_of(root.find("group")) or None,
        bandwidth=parse_bandwidth(bandwidth) if bandwidth is not None else None,
        trust_guest_rx_filters=read_yes_no(rx, "trustGuest") if rx is not None else None,
        plug_type=plug_type,
        plug_bridge=plug_bridge,
        plug_mac_table_manager=plug_mtm,
    )


def _uuid(text: str | None, missing: str) -> uuidlib.UUID:
    if text is None:
        raise internal(missing)
    try:
        return uuidlib.UUID(text.strip())
    except ValueError:
        raise internal(f"Unable to parse UUID '{text}'") from None


def parse_bandwidth(elem: etree._Element) -> BandwidthDef:
    rates = {}
    for direction in ("inbound", "outbound"):
        rate = elem.find(direction)
        if rate is not None:
            rates[direction] = _rate(rate, direction)
    return BandwidthDef(**rates)


def _rate(elem: etree._Element, direction: str) -> RateDef:
    values: dict[str, int | None] = {}
    for field in RATE_FIELDS:
        text = attr(elem, field)
        value = parse_uint(text)
        if text is not None and value is None:
            raise VirError.make(
                ErrorCode.CONFIG_UNSUPPORTED,
                NONE_DOMAIN,
                f"could not convert bandwidth {field} value '{text}'",
            )
        values[field] = value
    if values["floor"] is not None and direction != "inbound":
        raise VirError.make(
            ErrorCode.CONFIG_UNSUPPORTED,
            NONE_DOMAIN,
            "'floor' attribute allowed only in <inbound> element",
        )
    if values["average"] is None and values["floor"] is None:
        raise detail_error("Missing mandatory average or floor attributes", NONE_DOMAIN)
    return RateDef(**values)


def _plug(elem: etree._Element | None) -> tuple[str | None, str | None, str | None]:
    if elem is None:
        return None, None, None
    plug_type = attr(elem, "type") or "none"
    if plug_type not in PLUG_TYPES:
        raise bad_attr_value("type", "plug", plug_type)
    if plug_type in ("direct", "hostdev-pci"):
        raise config_unsupported(f"network port plug type '{plug_type}' is not supported")
    if plug_type == "none":
        return plug_type, None, None
    bridge = attr(elem, "bridge")
    if not bridge:
        raise xml_error("Missing network port bridge name")
    manager = attr(elem, "macTableManager")
    if manager not in (None, "kernel", "libvirt"):
        raise bad_attr_value("macTableManager", "plug", str(manager))
    return plug_type, bridge, manager


def format_port(port: PortDef) -> str:
    """The ``<networkport>`` XML libvirt prints for ``port``, newline-terminated."""
    lines = [text_element(1, "uuid", str(port.uuid))]
    lines += element(
        1,
        "owner",
        body=[
            text_element(2, "name", port.owner_name),
            text_element(2, "uuid", str(port.owner_uuid)),
        ],
    )
    if port.group is not None:
        lines.append(text_element(1, "group", port.group))
    lines += element(1, "mac", [("address", port.mac)])
    if port.bandwidth is not None and (port.bandwidth.inbound or port.bandwidth.outbound):
        body: list[str] = []
        for direction in ("inbound", "outbound"):
            rate: RateDef | None = getattr(port.bandwidth, direction)
            if rate is not None:
                body += element(2, direction, [(f, getattr(rate, f)) for f in RATE_FIELDS])
        lines += element(1, "bandwidth", body=body)
    if port.trust_guest_rx_filters is not None:
        lines += element(1, "rxfilters", [("trustGuest", yes_no(port.trust_guest_rx_filters))])
    if port.plug_type is not None and port.plug_type != "none":
        lines += element(
            1,
            "plug",
            [
                ("type", port.plug_type),
                ("bridge", port.plug_bridge),
                ("macTableManager", port.plug_mac_table_manager),
            ],
        )
    return "\n".join(["<networkport>", *lines, "</networkport>", ""])
