"""dnsmasq's lease file as libvirt's ``virNetworkDHCPLease`` records.

Lines are ``EXPIRY MAC IP HOSTNAME CLIENTID`` for IPv4; after a ``duid``
line they are ``EXPIRY IAID IP HOSTNAME DUID`` for IPv6; ``*`` means none.
dnsmasq does not store an IPv6 client's MAC; libvirt shows the one dnsmasq
hands its lease script, which for the usual DUID-LLT and DUID-LL of an
Ethernet client is the MAC inside the DUID, so it is taken from there.
"""

from __future__ import annotations

import ipaddress

from rpcnet.netxml import NetworkDef
from rpcnet.protocol.values import DhcpLease

_IPV4, _IPV6 = 0, 1  # virIPAddrType


def parse(text: str, netdef: NetworkDef, mac: str | None = None) -> list[DhcpLease]:
    assert netdef.bridge is not None and netdef.bridge.name
    bridge = netdef.bridge.name
    found: list[DhcpLease] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] == "duid":
            continue
        try:
            expiry = int(fields[0])
            addr = ipaddress.ip_address(fields[2])
        except ValueError:
            continue
        v6 = addr.version == 6
        lease_mac = _mac_in_duid(fields[4]) if v6 else fields[1].lower()
        if mac is not None and lease_mac != mac.lower():
            continue
        prefix = next((ip.effective_prefix for ip in netdef.ips if addr in ip.network),
                      128 if v6 else 32)
        found.append(DhcpLease(
            iface=bridge,
            expirytime=expiry,
            type=_IPV6 if v6 else _IPV4,
            mac=lease_mac,
            iaid=fields[1] if v6 else None,
            ipaddr=str(addr),
            prefix=prefix,
            hostname=None if fields[3] == "*" else fields[3],
            clientid=None if fields[4] == "*" else fields[4],
        ))
    return found


def _mac_in_duid(duid: str) -> str | None:
    """The Ethernet MAC inside a DUID-LLT (type 1) or DUID-LL (type 3)."""
    octets = duid.lower().split(":")
    if octets[2:4] != ["00", "01"]:  # hardware type 1: Ethernet
        return None
    if octets[:2] == ["00", "01"] and len(octets) == 14:
        return ":".join(octets[8:])
    if octets[:2] == ["00", "03"] and len(octets) == 10:
        return ":".join(octets[4:])
    return None
