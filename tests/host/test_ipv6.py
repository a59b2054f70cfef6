"""IPv6 on a host network: router advertisements and DHCPv6 from dnsmasq."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from pathlib import Path

from tests.host.hostnet import Guest, HostDaemon
from tests.peers.virsh import virsh

DUAL_XML = """<network>
  <name>dual</name>
  <forward mode='nat'/>
  <bridge name='rpcdual' stp='off'/>
  <ip address='10.67.0.1' prefix='24'>
    <dhcp><range start='10.67.0.100' end='10.67.0.150'/></dhcp>
  </ip>
  <ip family='ipv6' address='fd67::1' prefix='64'>
    <dhcp>
      <range start='fd67::100' end='fd67::1ff'/>
    </dhcp>
  </ip>
</network>
"""


def test_guest_gets_router_advertisement_and_dhcpv6_lease(
    daemon: HostDaemon, guests: Callable[..., Guest], tmp_path: Path
) -> None:
    path = tmp_path / "dual.xml"
    path.write_text(DUAL_XML)
    virsh(daemon.uri, "net-create", str(path), check=True)
    guest = guests(daemon, "rpcdual", "52:54:00:00:43:01")
    leased = guest.dhcp6(tmp_path)
    assert leased.ip in ipaddress.ip_network("fd67::100/120")
    # dnsmasq's router advertisement: the on-link prefix and a default route
    for _ in range(100):
        routes = guest.ns.run("ip", "-6", "route").stdout
        if "proto ra" in routes:
            break
        time.sleep(0.1)
    assert "default via fe80::" in routes and "proto ra" in routes, routes
    leases = virsh(daemon.uri, "net-dhcp-leases", "dual", "--mac", guest.mac, check=True).stdout
    assert f"{leased.ip}/64" in leases and "ipv6" in leases and guest.mac in leases, leases
    guest.ns.run("ip", "-6", "addr", "add", f"{leased.ip}/64", "dev", "eth0", "nodad")
    assert guest.ping("fd67::1")
