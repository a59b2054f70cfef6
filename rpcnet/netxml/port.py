"""``<networkport>`` XML: parse and format, as libvirt 9.0's bridge driver
reads and prints it (messages checked against ``virNetworkPortCreateXML``)."""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

from lxml import etree

from rpcnet.errors import ErrorCode, network_error
from rpcnet.vocabulary import MacvtapMode

from ._errors import bad_attr_value, bad_root
from .elements import normalize_mac
from .format import element, pci_address_attrs, text_element, yes_no
from .model import BandwidthDef, PciAddress, VirtualPortDef, VlanDef
from .netdev import (
    bandwidth_class_id,
    format_bandwidth,
    format_virtualport,
    format_vlan,
    parse_bandwidth,
    parse_virtualport,
    parse_vlan,
)
from .parse import DRIVER_NAMES, MAC_TABLE_MANAGERS, parse_pci_address
from .schema import validate_schema
from .xmlutil import attr, parse_xml, text_of
from .xmlutil import yes_no as read_yes_no

URL = "(networkport_definition)"
PLUG_TYPES = ("none", "network", "bridge", "direct", "hostdev-pci")


@dataclass(frozen=True, slots=True, kw_only=True)
class PortDef:
    """A network port. The ``plug_*`` fields are those of ``plug_type``:
    ``plug_bridge``/``plug_mac_table_manager`` for 'network' and 'bridge',
    ``plug_dev``/``plug_mode`` for 'direct' (macvtap), ``plug_managed``,
    ``plug_driver`` and ``plug_address`` for 'hostdev-pci'."""

    uuid: uuidlib.UUID
    owner_name: str
    owner_uuid: uuidlib.UUID
    mac: str
    group: str | None = None
    virtualport: VirtualPortDef | None = None
    bandwidth: BandwidthDef | None = None
    class_id: int | None = None
    vlan: VlanDef | None = None
    isolated: bool | None = None
    trust_guest_rx_filters: bool | None = None
    plug_type: str | None = None
    plug_bridge: str | None = None
    plug_mac_table_manager: str | None = None
    plug_dev: str | None = None
    plug_mode: MacvtapMode | None = None
    plug_managed: bool | None = None
    plug_driver: str | None = None
    plug_address: PciAddress | None = None


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
        raise network_error(ErrorCode.INTERNAL_ERROR, "network port has no owner name")
    owner_uuid = _uuid(
        text_of(owner.find("uuid")) if owner is not None else None, "network port has no owner UUID"
    )
    group = text_of(root.find("group")) or None
    vport_elem = root.find("virtualport")
    virtualport = None
    if vport_elem is not None:
        virtualport = parse_virtualport(vport_elem, require_type=False)
    mac_elem = root.find("mac")
    mac_text = attr(mac_elem, "address") if mac_elem is not None else None
    if mac_text is None:
        raise network_error(ErrorCode.INTERNAL_ERROR, "network port has no mac")
    mac = normalize_mac(mac_text)
    if mac is None:
        raise network_error(ErrorCode.INTERNAL_ERROR, f"Unable to parse MAC '{mac_text}'")
    bw_elem = root.find("bandwidth")
    bandwidth = class_id = None
    if bw_elem is not None:
        class_id = bandwidth_class_id(bw_elem, allowed=True)
        bandwidth = parse_bandwidth(bw_elem, allow_floor=True, allow_class_id=True)
    vlan_elem = root.find("vlan")
    vlan = parse_vlan(vlan_elem) if vlan_elem is not None else None
    port_elem = root.find("port")
    isolated = read_yes_no(port_elem, "isolated") if port_elem is not None else None
    rx = root.find("rxfilters")
    trust = read_yes_no(rx, "trustGuest") if rx is not None else None
    port = PortDef(
        uuid=port_uuid,
        owner_name=owner_name,
        owner_uuid=owner_uuid,
        mac=mac,
        group=group,
        virtualport=virtualport,
        bandwidth=bandwidth,
        class_id=class_id or None,
        vlan=vlan,
        isolated=isolated,
        trust_guest_rx_filters=trust,
    )
    return dataclasses.replace(port, **_plug(root.find("plug")))


def _uuid(text: str | None, missing: str) -> uuidlib.UUID:
    if text is None:
        raise network_error(ErrorCode.INTERNAL_ERROR, missing)
    try:
        return uuidlib.UUID(text.strip())
    except ValueError:
        raise network_error(ErrorCode.INTERNAL_ERROR, f"Unable to parse UUID '{text}'") from None


def _plug(elem: etree._Element | None) -> dict[str, Any]:
    if elem is None:
        return {}
    plug_type = attr(elem, "type") or "none"
    if plug_type not in PLUG_TYPES:
        raise bad_attr_value("type", "plug", plug_type)
    if plug_type in ("network", "bridge"):
        bridge = attr(elem, "bridge")
        if bridge is None:
            raise network_error(ErrorCode.XML_ERROR, "Missing network port bridge name")
        manager = attr(elem, "macTableManager")
        if manager is not None and manager not in MAC_TABLE_MANAGERS:
            raise network_error(
                ErrorCode.XML_ERROR, f"Invalid macTableManager setting '{manager}' in network port"
            )
        return {"plug_type": plug_type, "plug_bridge": bridge, "plug_mac_table_manager": manager}
    if plug_type == "direct":
        dev = attr(elem, "dev")
        if dev is None:
            raise network_error(ErrorCode.XML_ERROR, "Missing network port link device name")
        mode = attr(elem, "mode")
        macvtap = MacvtapMode.lookup(mode) if mode is not None else MacvtapMode.VEPA
        if macvtap is None:
            raise network_error(
                ErrorCode.XML_ERROR, f"Invalid mode setting '{mode}' in network port"
            )
        return {"plug_type": plug_type, "plug_dev": dev, "plug_mode": macvtap}
    if plug_type == "hostdev-pci":
        managed = read_yes_no(elem, "managed")
        driver_elem = elem.find("driver")
        driver = attr(driver_elem, "name") if driver_elem is not None else None
        if driver is not None and driver not in DRIVER_NAMES:
            raise network_error(ErrorCode.XML_ERROR, "Missing network port driver name")
        address = elem.find("address")
        if address is None:
            raise network_error(ErrorCode.XML_ERROR, "Missing network port PCI address")
        return {
            "plug_type": plug_type,
            "plug_managed": managed,
            "plug_driver": driver,
            "plug_address": parse_pci_address(address),
        }
    return {"plug_type": plug_type}


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
    lines += format_virtualport(1, port.virtualport)
    lines += format_bandwidth(1, port.bandwidth, port.class_id)
    lines += format_vlan(1, port.vlan)
    if port.isolated is not None:
        lines += element(1, "port", [("isolated", yes_no(port.isolated))])
    if port.trust_guest_rx_filters is not None:
        lines += element(1, "rxfilters", [("trustGuest", yes_no(port.trust_guest_rx_filters))])
    lines += _format_plug(port)
    return "\n".join(["<networkport>", *lines, "</networkport>", ""])


def _format_plug(port: PortDef) -> list[str]:
    kind = port.plug_type
    if kind in (None, "none"):
        return []
    if kind == "direct":
        attrs = [("type", kind), ("dev", port.plug_dev), ("mode", port.plug_mode)]
        return element(1, "plug", attrs)
    if kind == "hostdev-pci":
        body: list[str] = []
        if port.plug_driver is not None:
            body += element(2, "driver", [("name", port.plug_driver)])
        if port.plug_address is not None:
            body += element(2, "address", pci_address_attrs(port.plug_address, with_type=False))
        return element(1, "plug", [("type", kind), ("managed", yes_no(port.plug_managed))], body)
    bridged = [
        ("type", kind),
        ("bridge", port.plug_bridge),
        ("macTableManager", port.plug_mac_table_manager),
    ]
    return element(1, "plug", bridged)
