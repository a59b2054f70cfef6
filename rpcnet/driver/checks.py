"""What libvirt 9.0's bridge driver checks of a definition before it
defines or creates it (``networkValidate``), beyond the XML parser's own
checks: which parts each forward mode may have, the device pool, DHCP on one
address per family, vlan use and portgroups."""

from __future__ import annotations

from collections.abc import Callable

from rpcnet.errors import ErrorCode, VirError, network_error
from rpcnet.netxml import ForwardMode, NetworkDef, PciAddress, makes_bridge


def _unsupported(detail: str) -> VirError:
    return network_error(ErrorCode.CONFIG_UNSUPPORTED, detail)


def check_network(net: NetworkDef, *, is_vf: Callable[[PciAddress], bool]) -> None:
    """Raise libvirt's CONFIG_UNSUPPORTED error for the first thing the
    bridge driver refuses in ``net``."""
    mode = net.forward_mode
    mode_name = mode or "none"
    fwd = net.forward
    bridge = net.bridge.name if net.bridge is not None else None
    where = f"in network {net.name} with forward mode='{mode_name}'"
    if makes_bridge(mode):
        bandwidth_allowed = True
    else:
        bandwidth_allowed = mode == ForwardMode.BRIDGE and bridge is not None
        dns = net.dns
        for present, what in (
            (net.mac is not None, "<mac>"),
            (bool(net.ips), "<ip>"),
            (dns is not None and bool(dns.txts or dns.hosts or dns.srvs), "<dns>"),
            (net.domain is not None, "<domain>"),
        ):
            if present:
                raise _unsupported(f"Unsupported {what} element {where}")
    if net.bandwidth is not None and not bandwidth_allowed:
        raise _unsupported(f"Unsupported network-wide <bandwidth> element {where}")
    if fwd is not None:
        _check_pool(net, mode_name, is_vf)
    _check_one_dhcp_per_family(net)
    _check_portgroups(net, mode_name, bandwidth_allowed)


def _check_pool(net: NetworkDef, mode: str, is_vf: Callable[[PciAddress], bool]) -> None:
    fwd = net.forward
    assert fwd is not None
    # the pool in libvirt's order: PCI devices, then interfaces added by an update
    for addr in fwd.addresses:
        if mode != ForwardMode.HOSTDEV:
            raise _unsupported(
                f"network '{net.name}' has forward mode '{mode}'  but lists a device by PCI "
                "address in the device pool. This is only supported for networks with "
                "forward mode 'hostdev'"
            )
        if not is_vf(addr):
            raise _unsupported(
                f"device '{addr.sysfs_path}' in network '{net.name}' is not an SR-IOV "
                "Virtual Function"
            )
    for dev in fwd.interfaces:
        if mode == ForwardMode.HOSTDEV:
            raise _unsupported(
                f"hostdev network '{net.name}' lists '{dev}' in the device pool, but hostdev "
                "networks require all devices to be listed by PCI address, not network "
                "device name"
            )
    kinds = (fwd.pf is not None) + bool(fwd.interfaces) + bool(fwd.addresses)
    if kinds > 1:
        raise _unsupported(
            f"<address>, <interface>, and <pf> elements of <forward> in network {net.name} "
            "are mutually exclusive"
        )


def _check_one_dhcp_per_family(net: NetworkDef) -> None:
    """The bridge driver serves DHCP on one address per family."""
    for family, label in (("ipv4", "IPv4"), ("ipv6", "IPv6")):
        if sum(1 for ip in net.ips if ip.family == family and ip.has_dhcp) > 1:
            raise _unsupported(
                f"Multiple {label} dhcp sections found -- dhcp is supported only for a "
                f"single {label} address on each network"
            )


def _check_portgroups(net: NetworkDef, mode: str, bandwidth_allowed: bool) -> None:
    """vlan tags only where libvirt 9.0 can set them (hostdev and passthrough
    pools, Open vSwitch bridges), one default portgroup, unique names,
    portgroup bandwidth only where the network may have some."""
    vport_type = net.virtualport.type if net.virtualport is not None else None
    vlan_allowed = mode in (ForwardMode.HOSTDEV, ForwardMode.PASSTHROUGH) or (
        mode == ForwardMode.BRIDGE and vport_type == "openvswitch"
    )
    vlan_used = net.vlan is not None
    bad_vlan = False
    default = None
    for index, group in enumerate(net.portgroups):
        if vlan_used or group.vlan is not None:
            if group.virtualport is not None:
                if mode != ForwardMode.BRIDGE or group.virtualport.type != "openvswitch":
                    bad_vlan = True
            elif not vlan_allowed:
                bad_vlan = True
        if group.default:
            if default is not None:
                raise _unsupported(
                    f"network '{net.name}' has multiple default <portgroup> elements "
                    f"({default} and {group.name}), but only one default is allowed"
                )
            default = group.name
        if any(other.name == group.name for other in net.portgroups[index + 1 :]):
            raise _unsupported(
                f"multiple <portgroup> elements with the same name ({group.name}) "
                f"in network '{net.name}'"
            )
        if group.bandwidth is not None and not bandwidth_allowed:
            raise _unsupported(
                f"Unsupported <bandwidth> element in network '{net.name}' in portgroup "
                f"'{group.name}' with forward mode='{mode}'"
            )
    if bad_vlan or (vlan_used and not vlan_allowed and default is None):
        raise _unsupported(
            f"<vlan> element specified for network {net.name}, whose type doesn't support "
            "vlan configuration"
        )
    if mode == ForwardMode.HOSTDEV:
        for group in net.portgroups:
            if group.bandwidth is not None:
                raise _unsupported(
                    f"unsupported <bandwidth> element in <portgroup name='{group.name}'> of "
                    f"network '{net.name}' with forward mode='hostdev'"
                )
