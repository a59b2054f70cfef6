"""Frozen data model of a libvirt network definition.

Addresses are :mod:`ipaddress` objects; everything else is plain text or
numbers as libvirt prints it. Derive changed copies with
:func:`dataclasses.replace`; nothing here is ever mutated.
"""

from __future__ import annotations

import functools
import ipaddress
import uuid as uuidlib
from dataclasses import dataclass, field

from rpcnet.vocabulary import ForwardMode

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeDef:
    """``<bridge>``; ``mac_table_manager`` is 'kernel', 'libvirt' or None."""

    name: str | None = None
    stp: bool = True
    delay: int = 0
    zone: str | None = None
    mac_table_manager: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class PciAddress:
    """A PCI device in a hostdev network's pool (``<address type='pci'>``)."""

    domain: int = 0
    bus: int = 0
    slot: int = 0
    function: int = 0

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.slot:02x}.{self.function:x}"

    @property
    def sysfs_path(self) -> str:
        return f"/sys/bus/pci/devices/{self}"


@dataclass(frozen=True, slots=True, kw_only=True)
class VirtualPortDef:
    """``<virtualport>``: ``type`` is '802.1Qbg', '802.1Qbh', 'openvswitch',
    'midonet' or None; the parameters are None when not given."""

    type: str | None = None
    managerid: int | None = None
    typeid: int | None = None
    typeidversion: int | None = None
    instanceid: uuidlib.UUID | None = None
    interfaceid: uuidlib.UUID | None = None
    profileid: str | None = None

    @property
    def has_parameters(self) -> bool:
        return any(
            value is not None
            for value in (
                self.managerid,
                self.typeid,
                self.typeidversion,
                self.instanceid,
                self.interfaceid,
                self.profileid,
            )
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardDef:
    """``<forward>``; ``interfaces`` are the ``<interface dev>`` names, the
    first of which libvirt also prints as the ``dev`` attribute (unless the
    network names a ``pf``). A pool holds interfaces or PCI ``addresses``
    (hostdev), or comes from the virtual functions of ``pf``.

    ``managed`` is printed for hostdev networks only; ``driver`` is 'kvm',
    'vfio' or None.
    """

    mode: ForwardMode = ForwardMode.NAT
    interfaces: tuple[str, ...] = ()
    addresses: tuple[PciAddress, ...] = ()
    pf: str | None = None
    managed: bool = False
    driver: str | None = None
    nat_address_start: ipaddress.IPv4Address | None = None
    nat_address_end: ipaddress.IPv4Address | None = None
    nat_port_start: int | None = None
    nat_port_end: int | None = None
    # ``<nat ipv6='yes|no'/>``: masquerade IPv6 too; None when absent.
    nat_ipv6: bool | None = None

    @property
    def dev(self) -> str | None:
        if not self.interfaces or self.pf is not None or self.addresses:
            return None
        return self.interfaces[0]

    @property
    def has_nat(self) -> bool:
        return self.nat_address_start is not None or self.nat_port_start is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainDef:
    name: str
    local_only: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsForwarder:
    addr: IPAddress | None = None
    domain: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsTxt:
    name: str
    value: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsSrv:
    """``<srv>``; ``service`` and ``protocol`` are None only in the partial
    record of a net-update delete, which matches any."""

    service: str | None
    protocol: str | None
    domain: str | None = None
    target: str | None = None
    port: int | None = None
    priority: int | None = None
    weight: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsHost:
    ip: IPAddress
    hostnames: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsDef:
    """``<dns>``; ``enable`` and ``forward_plain_names`` are None when absent."""

    enable: bool | None = None
    forward_plain_names: bool | None = None
    forwarders: tuple[DnsForwarder, ...] = ()
    txts: tuple[DnsTxt, ...] = ()
    srvs: tuple[DnsSrv, ...] = ()
    hosts: tuple[DnsHost, ...] = ()

    @property
    def is_empty(self) -> bool:
        return (
            self.enable is None
            and self.forward_plain_names is None
            and not (self.forwarders or self.txts or self.srvs or self.hosts)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseDef:
    """``<lease>`` of a DHCP range or host: ``expiry`` 0 is an infinite lease;
    ``unit`` is 'seconds', 'minutes' (the default) or 'hours'."""

    expiry: int
    unit: str = "minutes"

    @property
    def seconds(self) -> int | None:
        """The lease time in seconds, None for an infinite lease."""
        if not self.expiry:
            return None
        return self.expiry * {"seconds": 1, "minutes": 60, "hours": 3600}[self.unit]


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpRange:
    start: IPAddress
    end: IPAddress
    lease: LeaseDef | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpHost:
    """A static DHCP host: ``mac`` (IPv4) or ``id`` (IPv6 DUID), ``name``, ``ip``.

    ``ip`` is None only in a DELETE request of :func:`update_network`.
    """

    mac: str | None = None
    id: str | None = None
    name: str | None = None
    ip: IPAddress | None = None
    lease: LeaseDef | None = None


def _subnet(address: IPAddress, prefix: int) -> IPNetwork:
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)


@functools.lru_cache(maxsize=64)
def _netmask_length(netmask: ipaddress.IPv4Address) -> int:
    return ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen


@dataclass(frozen=True, slots=True, kw_only=True)
class IpDef:
    """``<ip>``; ``family`` is always 'ipv4' or 'ipv6', ``family_explicit``
    records whether the XML named it (libvirt prints it back only then)."""

    address: IPAddress
    family: str = "ipv4"
    family_explicit: bool = False
    netmask: ipaddress.IPv4Address | None = None
    prefix: int | None = None
    dhcp_ranges: tuple[DhcpRange, ...] = ()
    dhcp_hosts: tuple[DhcpHost, ...] = ()
    local_ptr: bool | None = None
    # ``<tftp root>`` and ``<bootp file server>`` (IPv4 only)
    tftp_root: str | None = None
    bootp_file: str | None = None
    bootp_server: IPAddress | None = None
    #: the subnet, e.g. ``IPv4Network('192.168.122.0/24')``: computed once,
    #: as the driver compares every running network's subnets with a new one's
    network: IPNetwork = field(init=False, repr=False, compare=False)
    #: the subnet as (IP version, first address, last address), for quick overlap tests
    span: tuple[int, int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        net = _subnet(self.address, self.effective_prefix)
        object.__setattr__(self, "network", net)
        object.__setattr__(self, "span", (net.version, int(net.network_address),
                                          int(net.broadcast_address)))

    def overlaps(self, other: IpDef) -> bool:
        """Whether the two subnets share an address."""
        version, first, last = self.span
        theirs = other.span
        return version == theirs[0] and first <= theirs[2] and theirs[1] <= last

    @property
    def effective_prefix(self) -> int:
        """The prefix length in use: explicit, from the netmask, or classful
        (IPv4 without either) / 64 (IPv6), as libvirt derives it."""
        if self.prefix is not None:
            return self.prefix
        if self.netmask is not None:
            return _netmask_length(self.netmask)
        if self.family == "ipv6":
            return 64
        first = int(self.address) >> 24
        return 8 if first < 128 else 16 if first < 192 else 24

    @property
    def has_dhcp(self) -> bool:
        return bool(self.dhcp_ranges or self.dhcp_hosts)


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteDef:
    """``<route>``: a static route the bridge gets while the network runs.

    ``family`` is the attribute as written (None when absent); ``prefix``
    and ``netmask`` are mutually exclusive, and with neither the route is a
    default route (prefix 0). ``metric`` is None when absent (never 0).
    """

    family: str | None = None
    address: IPAddress
    prefix: int | None = None
    netmask: ipaddress.IPv4Address | None = None
    gateway: IPAddress
    metric: int | None = None

    @property
    def effective_prefix(self) -> int:
        if self.netmask is not None:
            return _netmask_length(self.netmask)
        return self.prefix or 0

    @property
    def network(self) -> IPNetwork:
        """The destination, e.g. ``IPv4Network('192.168.222.0/24')``."""
        return ipaddress.ip_network(f"{self.address}/{self.effective_prefix}", strict=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateDef:
    """One direction of ``<bandwidth>``; kbytes/s (burst: kbytes)."""

    average: int | None = None
    peak: int | None = None
    floor: int | None = None
    burst: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BandwidthDef:
    inbound: RateDef | None = None
    outbound: RateDef | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VlanDef:
    """``<vlan>``: the tag ids, ``trunk`` and the native tag's mode."""

    tags: tuple[int, ...]
    trunk: bool = False
    native_mode: str | None = None
    native_tag: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PortgroupDef:
    """``<portgroup>``."""

    name: str
    default: bool = False
    trust_guest_rx_filters: bool | None = None
    vlan: VlanDef | None = None
    bandwidth: BandwidthDef | None = None
    virtualport: VirtualPortDef | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkDef:
    name: str
    uuid: uuidlib.UUID | None = None
    forward: ForwardDef | None = None
    bridge: BridgeDef | None = None
    mtu: int | None = None
    mac: str | None = None
    domain: DomainDef | None = None
    dns: DnsDef | None = None
    ips: tuple[IpDef, ...] = ()
    routes: tuple[RouteDef, ...] = ()
    portgroups: tuple[PortgroupDef, ...] = ()
    # ``<network ipv6='yes'>``: IPv6 between guests without an IPv6 address
    # on the bridge; None when absent (libvirt prints it only when yes).
    ipv6: bool | None = None
    trust_guest_rx_filters: bool | None = None
    bandwidth: BandwidthDef | None = None
    vlan: VlanDef | None = None
    # ``<port isolated='yes|no'/>``: the default of the network's ports
    port_isolated: bool | None = None
    virtualport: VirtualPortDef | None = None
    # ``<metadata>`` exactly as libvirt prints it, indented one level, no final newline.
    metadata: str | None = None

    @property
    def forward_mode(self) -> ForwardMode | None:
        """The forward mode; None for an isolated network."""
        return self.forward.mode if self.forward is not None else None

    def ips_of(self, family: str) -> tuple[IpDef, ...]:
        return tuple(ip for ip in self.ips if ip.family == family)
