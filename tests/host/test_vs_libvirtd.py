"""The same NAT network started by rpcnetd and by a real libvirtd, each in a
namespace of its own: the kernel ends up in the same state."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

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
_COUNTER = re.compile(r"counter packets \d+ bytes \d+ ")


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
    }


def firewall_facts(ns: NetNamespace) -> dict[str, set[str]]:
    """Masquerade and forward rules of the bridge, whatever tables hold them."""
    rules = [_COUNTER.sub("", line.strip())
             for line in ns.run("nft", "list", "ruleset").stdout.splitlines()]
    # libvirt's iptables splits "meta l4proto { tcp, udp }" into two rules
    # and its conntrack match lists the states in another order
    rules = [r.replace("meta l4proto tcp ", "meta l4proto { tcp, udp } ")
             .replace("meta l4proto udp ", "meta l4proto { tcp, udp } ")
             .replace("related,established", "established,related") for r in rules]
    return {
        "nat": {r for r in rules if "10.67.0.0/24" in r and r.endswith(
            ("masquerade", "return", "masquerade to :1024-65535"))},
        "forward": {r for r in rules if '"rpcsame"' in r and ("dport" not in r)},
    }


def leases_without_expiry(uri: str) -> list[list[str]]:
    out = virsh(uri, "net-dhcp-leases", "same", check=True).stdout.splitlines()[2:]
    return [line.split()[2:] for line in out if line.strip()]


def test_same_nat_xml_same_kernel_state(
    daemon: HostDaemon, libvirtd: LibvirtdPeer, guests: Callable[..., Guest], tmp_path: Path
) -> None:
    path = tmp_path / "same.xml"
    path.write_text(XML)
    theirs_uri = libvirtd.uri("network")
    virsh(daemon.uri, "net-create", str(path), check=True)
    virsh(theirs_uri, "net-create", str(path), check=True)
    try:
        ours_ns, theirs_ns = daemon.ns, libvirtd.namespace
        assert bridge_state(ours_ns) == bridge_state(theirs_ns)
        ours_fw, theirs_fw = firewall_facts(ours_ns), firewall_facts(theirs_ns)
        assert len(ours_fw["nat"]) == 4 and ours_fw == theirs_fw

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
    finally:
        virsh(theirs_uri, "net-destroy", "same")
