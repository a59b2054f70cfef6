"""rpcnet.netxml: libvirt network XML as frozen data.

Parse, validate, fill defaults, apply ``virNetworkUpdate`` edits and format
back exactly as libvirt does. Pure functions on strings and dataclasses.
"""

from rpcnet.vocabulary import (
    ForwardMode,
    MacvtapMode,
    UpdateCommand,
    UpdateSection,
    is_macvtap,
    makes_bridge,
    routes_ip,
    uses_device_pool,
)

from .defaults import assign_defaults
from .format import format_network
from .model import (
    BandwidthDef,
    BridgeDef,
    DhcpHost,
    DhcpRange,
    DnsDef,
    DnsForwarder,
    DnsHost,
    DnsSrv,
    DnsTxt,
    DomainDef,
    ForwardDef,
    IpDef,
    LeaseDef,
    NetworkDef,
    PciAddress,
    PortgroupDef,
    RateDef,
    RouteDef,
    VirtualPortDef,
    VlanDef,
)
from .parse import parse_network
from .port import PortDef, format_port, parse_port
from .update import update_network

__all__ = [
    "BandwidthDef",
    "BridgeDef",
    "DhcpHost",
    "DhcpRange",
    "DnsDef",
    "DnsForwarder",
    "DnsHost",
    "DnsSrv",
    "DnsTxt",
    "DomainDef",
    "ForwardDef",
    "ForwardMode",
    "IpDef",
    "LeaseDef",
    "MacvtapMode",
    "NetworkDef",
    "PciAddress",
    "PortDef",
    "PortgroupDef",
    "RateDef",
    "RouteDef",
    "UpdateCommand",
    "UpdateSection",
    "VirtualPortDef",
    "VlanDef",
    "assign_defaults",
    "format_network",
    "format_port",
    "is_macvtap",
    "makes_bridge",
    "parse_network",
    "parse_port",
    "routes_ip",
    "update_network",
    "uses_device_pool",
]
