"""rpcnet.netxml: libvirt network XML as frozen data.

Parse, validate, fill defaults, apply ``virNetworkUpdate`` edits and format
back exactly as libvirt does. Pure functions on strings and dataclasses.
"""

from .defaults import assign_defaults
from .format import format_network
from .model import (
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
    NetworkDef,
)
from .parse import parse_network
from .update import update_network

__all__ = [
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
    "NetworkDef",
    "assign_defaults",
    "format_network",
    "parse_network",
    "update_network",
]
