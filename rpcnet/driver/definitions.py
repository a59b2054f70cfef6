"""What a network service does to a parsed definition before it keeps or
runs it: libvirt's define-time defaults and checks, the uniqueness rules of
``virNetworkObjAssignDef``, and the form a definition runs in.

Pure functions of the policy, the table of networks and what the backend
reported (link names, virtual functions); they raise and change nothing.
"""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
from collections.abc import Callable

from rpcnet.errors import ErrorCode, ErrorDomain, internal_error, network_error
from rpcnet.netxml import ForwardMode, NetworkDef, PciAddress, assign_defaults, makes_bridge

from . import checks
from .netobj import NetObj, NetTable
from .policy import Policy
from .ports.pool import VirtualFunctions, interface_pool


def fill(
    policy: Policy,
    nets: NetTable,
    netdef: NetworkDef,
    *,
    links: set[str],
    is_vf: Callable[[PciAddress], bool],
) -> NetworkDef:
    """What the driver adds to a parsed definition before it is used: a
    uuid; on the bridge driver also a free ``virbrN`` (not one of ``links``)
    and a MAC, after refusing a bridge another network names."""
    if not policy.fill_defaults:
        if netdef.uuid is None:
            return dataclasses.replace(netdef, uuid=uuidlib.uuid4())
        return netdef
    others = nets.bridges(excluding=netdef.name)
    if makes_bridge(netdef.forward_mode):
        name = netdef.bridge.name if netdef.bridge is not None else None
        if name and "%d" not in name and name in others:
            raise network_error(ErrorCode.INTERNAL_ERROR, f"bridge name '{name}' already in use.")
    netdef = assign_defaults(netdef, used_bridges=others | links)
    checks.check_network(netdef, is_vf=is_vf)
    return netdef


def existing_for(nets: NetTable, netdef: NetworkDef, *, check_live: bool) -> NetObj | None:
    """libvirt's virNetworkObjAssignDef checks: the object ``netdef``
    replaces, None for a new one; raises on a name/uuid conflict."""
    assert netdef.uuid is not None
    obj = nets.by_uuid.get(netdef.uuid.bytes)
    if obj is not None:
        if obj.name != netdef.name:
            raise network_error(
                ErrorCode.OPERATION_FAILED,
                f"network '{obj.name}' is already defined with uuid {obj.uuid}",
            )
        if check_live and obj.active:
            raise network_error(
                ErrorCode.OPERATION_INVALID, f"network is already active as '{obj.name}'"
            )
        return obj
    other = nets.by_name.get(netdef.name)
    if other is not None:
        raise network_error(
            ErrorCode.OPERATION_FAILED,
            f"network '{netdef.name}' already exists with uuid {other.uuid}",
        )
    return None


def running_form(
    policy: Policy,
    nets: NetTable,
    obj: NetObj | None,
    netdef: NetworkDef,
    vfs: VirtualFunctions,
) -> NetworkDef:
    """The definition ``netdef`` runs as: libvirt's bridge driver refuses
    a subnet another running network uses, and gives a network that names
    a PF the pool of its virtual functions."""
    if not policy.fill_defaults:
        return netdef
    _check_subnets(nets, obj, netdef)
    if not makes_bridge(netdef.forward_mode):
        return interface_pool(netdef, vfs)
    zone = netdef.bridge.zone if netdef.bridge is not None else None
    if zone is not None:
        # libvirt puts the bridge in a firewalld zone; rpcnet never runs with firewalld
        raise internal_error(
            ErrorDomain.NONE,
            f"zone {zone} requested for network {netdef.name} but firewalld is not active",
        )
    return _with_masquerade_ports(netdef)


def _check_subnets(nets: NetTable, obj: NetObj | None, netdef: NetworkDef) -> None:
    """Refuse to start a network whose subnet another running one uses
    (libvirt finds it as a route on that network's bridge)."""
    for other in nets:
        if other is obj or other.live is None:
            continue
        for ip in netdef.ips:
            for theirs in other.live.ips:
                if ip.overlaps(theirs):
                    bridge = other.live.bridge.name if other.live.bridge else None
                    raise network_error(
                        ErrorCode.INTERNAL_ERROR,
                        f"Network is already in use by interface {bridge or other.name}",
                    )


def _with_masquerade_ports(netdef: NetworkDef) -> NetworkDef:
    """libvirt writes the source port range it masquerades to, 1024-65535,
    into a running NAT network that sets none, once it adds a masquerade
    rule: for an IPv4 address, or an IPv6 one with ``<nat ipv6='yes'/>``."""
    fwd = netdef.forward
    if fwd is None or fwd.mode is not ForwardMode.NAT or fwd.nat_port_start is not None:
        return netdef
    if not any(ip.family == "ipv4" or fwd.nat_ipv6 for ip in netdef.ips):
        return netdef
    ports = dataclasses.replace(fwd, nat_port_start=1024, nat_port_end=65535)
    return dataclasses.replace(netdef, forward=ports)
