"""rpcnet.netxml: libvirt network XML as frozen data.

Parse, validate, fill defaults, apply ``virNetworkUpdate`` edits and format
back exactly as libvirt does. Pure functions on strings and dataclasses.
"""

from .defaults import assign_defaults
from .format import format_network
from .model import (
    BRIDGED_MODES,
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
    "BRIDGED_MODES",
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
    "IpDef",
    "LeaseDef",
    "NetworkDef",
    "PciAddress",
    "PortDef",
    "PortgroupDef",
    "RateDef",
    "RouteDef",
    "VirtualPortDef",
    "VlanDef",
    "assign_defaults",
    "format_network",
    "format_port",
    "parse_network",
    "parse_port",
    "update_network",
]
