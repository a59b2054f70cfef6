"""The same NAT network started by rpcnetd and by a real libvirtd, each in a
namespace of its own: the kernel ends up in the same state."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from lxml import etree

from tests.host.firewall_view import canonical, unfolded
from tests.host.hostnet import Guest, HostDaemon
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.netns import IP, NetNamespace
from tests.peers.virsh import virsh

XML = """<network>
  <name>same</name>
  <forward mode='nat'/>
  <bridge name='rpcsame' stp='off' delay='0'/>
  <mac address='52:54:00:5a:4e:01'/>
  <ip address='10.67.0.1' netmask='255.255.255.0'>
    <dhcp><range start='10.67.0.100' end='10.67.0.120'/></dhcp>
  </ip>
</network>
"""


def bridge_state(ns: NetNamespace) -> dict[str, object]:
    [link] = json.loads(ns.run(IP, "-d", "-j", "link", "show", "rpcsame").stdout)
    [addrs] = json.loads(ns.run(IP, "-j", "addr", "show", "rpcsame").stdout)
    data = link["linkinfo"]["info_data"]
    return {
        "admin_up": "UP" in link["flags"],
        "mac": link["address"],
        "mtu": link["mtu"],
        "stp": data["stp_state"],
        "delay": data["forward_delay"],
        "addrs": sorted((a["local"], a["prefixlen"], a.get("broadcast"))
                        for a in addrs["addr_info"] if a["family"] == "inet"),
        "ip_forward": ns.run("cat", "/proc/sys/net/ipv4/ip_forward").stdout.strip(),
        "ipv6": ipv6_switches(ns, "rpcsame"),
    }


def ipv6_switches(ns: NetNamespace, bridge: str) -> list[str]:
    names = ("disable_ipv6", "accept_ra", "autoconf")
    paths = [f"/proc/sys/net/ipv6/conf/{bridge}/{name}" for name in names]
    return ns.run("cat", *paths).stdout.split()


def libvirt_rules(ns: NetNamespace) -> list[str]:
    return ns.run("nft", "list", "ruleset").stdout.splitlines()


def firewall_facts(rules: list[str]) -> dict[str, set[str]]:
    """Masquerade and forward rules of the bridge, matches in one order
    (rpcnet's table is unfolded into such rules by firewall_view)."""
    canon = [canonical(rule) for rule in rules]
    return {
        "nat": {r for r in canon if "10.67.0.0/24" in r and r.endswith(
            ("masquerade", "return", "masquerade to :1024-65535"))},
        "forward": {r for r in canon if '"rpcsame"' in r and ("dport" not in r)},
    }


def leases_without_expiry(uri: str) -> list[list[str]]:
    out = virsh(uri, "net-dhcp-leases", "same", check=True).stdout.splitlines()[2:]
    return [line.split()[2:] for line in out if line.strip()]


@contextlib.contextmanager
def created_on_both(daemon: HostDaemon, libvirtd: LibvirtdPeer, xml: str, tmp: Path,
                    ) -> Iterator[str]:
    """Create the network of ``xml`` in rpcnetd and libvirtd; yields
    libvirtd's URI and destroys its copy afterwards."""
    path = tmp / "both.xml"
    path.write_text(xml)
    theirs_uri = libvirtd.uri("network")
    virsh(daemon.uri, "net-create", str(path), check=True)
    virsh(theirs_uri, "net-create", str(path), check=True)
    try:
        yield theirs_uri
    finally:
        virsh(theirs_uri, "net-destroy", etree.fromstring(xml).findtext("name") or "")


def test_same_nat_xml_same_kernel_state(
    daemon: HostDaemon, libvirtd: LibvirtdPeer, guests: Callable[..., Guest], tmp_path: Path
) -> None:
    with created_on_both(daemon, libvirtd, XML, tmp_path) as theirs_uri:
        ours_ns, theirs_ns = daemon.ns, libvirtd.namespace
        assert bridge_state(ours_ns) == bridge_state(theirs_ns)
        ours_fw = firewall_facts(unfolded(ours_ns))
        theirs_fw = firewall_facts(libvirt_rules(theirs_ns))
        assert len(ours_fw["nat"]) == 4 and len(ours_fw["forward"]) == 5
        assert ours_fw == theirs_fw

        mac = "52:54:00:5a:4e:99"
        ours_guest = guests(daemon, "rpcsame", mac)
        theirs_guest = Guest(theirs_ns, "rpcsame", mac, tag="lv")
        try:
            assert ours_guest.dhcp(tmp_path) == theirs_guest.dhcp(tmp_path)
            assert ours_guest.ping("10.67.0.1") and theirs_guest.ping("10.67.0.1")
        finally:
            theirs_guest.cleanup()
        ours, theirs = leases_without_expiry(daemon.uri), leases_without_expiry(theirs_uri)
        assert ours == theirs and ours[0][0] == mac


V6_XML = """<network>
  <name>v6nat</name>
  <forward mode='nat'><nat ipv6='yes'/></forward>
  <bridge name='rpcv6' stp='off'/>
  <ip address='10.68.0.1' prefix='24'/>
  <ip family='ipv6' address='fd68::1' prefix='64'/>
  <route address='10.99.0.0' prefix='16' gateway='10.68.0.5'/>
  <route address='10.98.0.0' netmask='255.255.0.0' gateway='10.68.0.6' metric='7'/>
  <route family='ipv6' address='fd99::' prefix='48' gateway='fd68::5'/>
  <route address='10.0.0.0' netmask='255.0.255.0' gateway='10.68.0.7'/>
</network>
"""
# ip6tables-nft's MASQUERADE prints as nothing in `nft list ruleset`
_TARGET = re.compile(r" (masquerade( to :\d+-\d+)?|accept|return|reject)$")


def static_routes(ns: NetNamespace) -> list[str]:
    lines = ns.run(IP, "route", "show", "dev", "rpcv6").stdout.splitlines()
    lines += ns.run(IP, "-6", "route", "show", "dev", "rpcv6").stdout.splitlines()
    return sorted(" ".join(w for w in line.split() if w != "linkdown")
                  for line in lines if " via " in line)


def ipv6_nat_matches(rules: list[str]) -> set[str]:
    """The matches of IPv6 NAT rules (ip6tables-nft's MASQUERADE prints as
    nothing in `nft list ruleset`)."""
    found = set()
    for line in rules:
        rule = canonical(line)
        if "ip6 saddr fd68::/64" in rule and "iifname" not in rule:
            found.add(_TARGET.sub("", rule))
    return found


def test_same_routes_and_ipv6_nat(
    daemon: HostDaemon, libvirtd: LibvirtdPeer, tmp_path: Path
) -> None:
    with created_on_both(daemon, libvirtd, V6_XML, tmp_path):
        ours = static_routes(daemon.ns)
        assert ours == [
            "10.98.0.0/16 via 10.68.0.6 metric 7", "10.99.0.0/16 via 10.68.0.5 metric 1",
            "fd99::/48 via fd68::5 metric 1 pref medium",
        ]
        assert ours == static_routes(libvirtd.namespace)
        switches = ipv6_switches(daemon.ns, "rpcv6")
        assert switches == ["0", "0", "0"] == ipv6_switches(libvirtd.namespace, "rpcv6")
        ours = unfolded(daemon.ns)
        nat = ipv6_nat_matches(ours)
        assert "ip6 daddr ff02::/16 ip6 saddr fd68::/64" in nat and len(nat) == 3
        assert nat == ipv6_nat_matches(libvirt_rules(libvirtd.namespace))
        canon = {canonical(rule) for rule in ours}
        assert "ip6 daddr != fd68::/64 ip6 saddr fd68::/64 masquerade" in canon
        assert ('ct state established,related ip6 daddr fd68::/64 oifname "rpcv6" accept'
                in canon)
    virsh(daemon.uri, "net-destroy", "v6nat", check=True)
    assert static_routes(daemon.ns) == []


COLLIDE_XML = """<network><name>coll</name><forward mode='nat'/><bridge name='rpccoll' stp='off'/>
<ip address='10.86.1.1' prefix='24'/></network>"""


def start_beside_routes(ns: NetNamespace, uri: str, path: Path) -> tuple[bool, str]:
    """Create network "coll" while the host routes 10.86.0.0/16 elsewhere
    (allowed), then while it routes 10.86.1.0/24 exactly (refused)."""
    ns.run(IP, "link", "add", "other9", "type", "bridge")
    try:
        ns.run(IP, "link", "set", "other9", "up")
        ns.run(IP, "addr", "add", "10.86.0.1/16", "dev", "other9")
        covering = virsh(uri, "net-create", str(path))
        if covering.returncode == 0:
            virsh(uri, "net-destroy", "coll", check=True)
        ns.run(IP, "route", "add", "10.86.1.0/24", "dev", "other9")
        exact = virsh(uri, "net-create", str(path))
        if exact.returncode == 0:
            virsh(uri, "net-destroy", "coll", check=True)
        return covering.returncode == 0, exact.stderr.strip()
    finally:
        ns.run(IP, "link", "del", "other9")


def test_a_subnet_the_host_routes_is_refused_as_by_libvirtd(
    daemon: HostDaemon, libvirtd: LibvirtdPeer, tmp_path: Path
) -> None:
    path = tmp_path / "coll.xml"
    path.write_text(COLLIDE_XML)
    ours = start_beside_routes(daemon.ns, daemon.uri, path)
    theirs = start_beside_routes(libvirtd.namespace, libvirtd.uri("network"), path)
    refused = (f"error: Failed to create network from {path}\n"
               "error: internal error: Network is already in use by interface other9")
    assert ours == theirs == (True, refused)
