"""Checks rpcnet adds on top of libvirt's: values that would be written into
dnsmasq configuration or firewall rules (names, DNS records, the tftp root,
the bootp file, interface names) must not be able to break out of their
field, DHCP/DNS data must be unambiguous, and a virtualport profileid, which
libvirt prints unescaped, may hold no markup.

All failures are XML_ERROR in the network domain, naming the bad value.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from rpcnet.errors import ErrorCode, VirError, network_error

from .model import DhcpHost, DhcpRange, IpDef, NetworkDef

MAX_IFNAME = 15  # IFNAMSIZ - 1

# Control characters, and the separators of dnsmasq option lines.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f,=#]")
# Host and domain names additionally may not hold blanks (hosts-file fields).
_UNSAFE_HOST = re.compile(r"[\x00-\x20\x7f,=#]")
_UNSAFE_IFNAME = re.compile(r"[\x00-\x20\x7f/,=#:]")
# File names for dnsmasq's tftp-root and dhcp-boot: no separators or line breaks.
_UNSAFE_PATH = re.compile(r"[\x00-\x1f\x7f,]")
# libvirt prints a virtualport profileid without escaping it.
_MARKUP = re.compile(r"[<>&'\"]")


def check_network(net: NetworkDef) -> None:
    """Raise :class:`VirError` if ``net`` holds an unsafe or ambiguous value."""
    label = f"in network '{net.name}'"
    _check_text(net.name, "network name", "", _UNSAFE)
    if net.bridge is not None and net.bridge.name is not None:
        check_ifname(net.bridge.name, "bridge name", label)
    if net.forward is not None:
        for dev in net.forward.interfaces:
            check_ifname(dev, "forward interface", label)
        if net.forward.pf is not None:
            check_ifname(net.forward.pf, "forward pf", label)
    for vport in (net.virtualport, *(group.virtualport for group in net.portgroups)):
        if vport is not None and vport.profileid is not None:
            _check_text(vport.profileid, "virtualport profileid", label, _MARKUP)
    if net.domain is not None:
        _check_text(net.domain.name, "domain name", label, _UNSAFE_HOST)
    if net.dns is not None:
        for fwd in net.dns.forwarders:
            if fwd.domain is not None:
                _check_text(fwd.domain, "DNS forwarder domain", label, _UNSAFE_HOST)
        for host in net.dns.hosts:
            for hostname in host.hostnames:
                _check_text(hostname, "DNS hostname", label, _UNSAFE_HOST)
        for txt in net.dns.txts:
            _check_text(txt.name, "DNS TXT record name", label, _UNSAFE_HOST)
            if txt.value is not None:
                _check_text(txt.value, "DNS TXT record value", label, _UNSAFE)
        for srv in net.dns.srvs:
            for what, value in (
                ("service", srv.service),
                ("protocol", srv.protocol),
                ("domain", srv.domain),
                ("target", srv.target),
            ):
                if value is not None:
                    _check_text(value, f"DNS SRV record {what}", label, _UNSAFE_HOST)
    for ip in net.ips:
        _check_ip(ip, label)


def check_ifname(name: str, what: str, label: str) -> None:
    if len(name.encode()) > MAX_IFNAME:
        raise network_error(
            ErrorCode.XML_ERROR, f"{what} '{name}' {label} is longer than {MAX_IFNAME} bytes"
        )
    _check_text(name, what, label, _UNSAFE_IFNAME)


def _check_text(value: str, what: str, label: str, bad: re.Pattern[str]) -> None:
    if not value:
        raise network_error(ErrorCode.XML_ERROR, f"empty {what} {label}".rstrip())
    found = bad.search(value)
    if found is not None:
        where = f" {label}" if label else ""
        raise network_error(
            ErrorCode.XML_ERROR,
            f"{what} {value!r}{where} contains the forbidden character {found[0]!r}",
        )


def _check_ip(ip: IpDef, label: str) -> None:
    if ip.tftp_root is not None:
        _check_text(ip.tftp_root, "tftp root", label, _UNSAFE_PATH)
    if ip.bootp_file is not None:
        _check_text(ip.bootp_file, "bootp file", label, _UNSAFE_PATH)
    check_ranges(ip.dhcp_ranges, label)
    for host in ip.dhcp_hosts:
        if host.name is not None:
            _check_text(host.name, "DHCP host name", label, _UNSAFE_HOST)
        if host.id is not None:
            _check_text(host.id, "DHCP host id", label, _UNSAFE_HOST)
    check_unique_hosts(ip.dhcp_hosts, label)


def check_ranges(ranges: Iterable[DhcpRange], label: str) -> None:
    """Refuse overlapping DHCP ranges (libvirt accepts them; dnsmasq would
    hand out the overlap twice over)."""
    ordered = sorted(ranges, key=lambda r: int(r.start))
    for before, after in itertools.pairwise(ordered):
        if int(after.start) <= int(before.end):
            raise network_error(
                ErrorCode.XML_ERROR,
                f"dhcp range {after.start} - {after.end} overlaps range "
                f"{before.start} - {before.end} {label}",
            )


def check_unique_hosts(hosts: Iterable[DhcpHost], label: str) -> None:
    """Refuse two static DHCP hosts sharing a mac, id, name or ip."""
    seen: dict[tuple[str, str], None] = {}
    for host in hosts:
        for key in _host_keys(host):
            if key in seen:
                raise _duplicate(key, label)
            seen[key] = None


def _host_keys(host: DhcpHost) -> list[tuple[str, str]]:
    keys = []
    if host.mac is not None:
        keys.append(("mac", host.mac.lower()))
    if host.id is not None:
        keys.append(("id", host.id.lower()))
    if host.name is not None:
        keys.append(("name", host.name))
    if host.ip is not None:
        keys.append(("ip", str(host.ip)))
    return keys


def _duplicate(key: tuple[str, str], label: str) -> VirError:
    return network_error(ErrorCode.XML_ERROR, f"duplicate dhcp host {key[0]} '{key[1]}' {label}")
