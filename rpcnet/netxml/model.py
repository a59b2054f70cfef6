"""Frozen data model of a libvirt network definition.

Addresses are :mod:`ipaddress` objects; everything else is plain text or
numbers as libvirt prints it. Derive changed copies with
:func:`dataclasses.replace`; nothing here is ever mutated.
"""

from __future__ import annotations

import ipaddress
import uuid as uuidlib
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeDef:
    name: str | None = None
    stp: bool = True
    delay: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardDef:
    """``<forward>``; ``interfaces`` are the ``<interface dev>`` names, the
    first of which libvirt also prints as the ``dev`` attribute."""

    mode: str = "nat"
    interfaces: tuple[str, ...] = ()
    nat_address_start: ipaddress.IPv4Address | None = None
    nat_address_end: ipaddress.IPv4Address | None = None
    nat_port_start: int | None = None
    nat_port_end: int | None = None
    # ``<nat ipv6='yes|no'/>``: masquerade IPv6 too; None when absent.
    nat_ipv6: bool | None = None

    @property
    def dev(self) -> str | None:
        return self.interfaces[0] if self.interfaces else None

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
    service: str
    protocol: str
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
    """``<dns>``; ``enable`` is None when the attribute is absent."""

    enable: bool | None = None
    forwarders: tuple[DnsForwarder, ...] = ()
    txts: tuple[DnsTxt, ...] = ()
    srvs: tuple[DnsSrv, ...] = ()
    hosts: tuple[DnsHost, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self.enable is None and not (self.forwarders or self.txts or self.srvs or self.hosts)


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpRange:
    start: IPAddress
    end: IPAddress


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpHost:
    """A static DHCP host: ``mac`` (IPv4) or ``id`` (IPv6 DUID), ``name``, ``ip``.

    ``ip`` is None only in a DELETE request of :func:`update_network`.
    """

    mac: str | None = None
    id: str | None = None
    name: str | None = None
    ip: IPAddress | None = None


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

    @property
    def effective_prefix(self) -> int:
        """The prefix length in use: explicit, from the netmask, or classful
        (IPv4 without either) / 64 (IPv6), as libvirt derives it."""
        if self.prefix is not None:
            return self.prefix
        if self.netmask is not None:
            return ipaddress.IPv4Network(f"0.0.0.0/{self.netmask}").prefixlen
        if self.family == "ipv6":
            return 64
        first = int(self.address) >> 24
        return 8 if first < 128 else 16 if first < 192 else 24

    @property
    def network(self) -> IPNetwork:
        """The subnet, e.g. ``IPv4Network('192.168.122.0/24')``."""
        return ipaddress.ip_network(f"{self.address}/{self.effective_prefix}", strict=False)

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
            return ipaddress.IPv4Network(f"0.0.0.0/{self.netmask}").prefixlen
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
    # ``<metadata>`` exactly as libvirt prints it, indented one level, no final newline.
    metadata: str | None = None

    @property
    def forward_mode(self) -> str | None:
        """'nat', 'route', 'open', 'bridge' or None for an isolated network."""
        return self.forward.mode if self.forward is not None else None

    def ips_of(self, family: str) -> tuple[IpDef, ...]:
        return tuple(ip for ip in self.ips if ip.family == family)
