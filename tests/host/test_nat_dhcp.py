"""A NAT network of `rpcnetd --driver host`, used by guests in namespaces."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from tests.host.hostnet import Guest, HostDaemon, Uplink, peer_seen_by
from tests.peers.virsh import virsh

NAT_XML = """<network>
  <name>{name}</name>
  <forward mode='nat'{dev}/>
  <bridge name='{bridge}' stp='off'/>
  <ip address='10.{n}.0.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.{n}.0.100' end='10.{n}.0.150'/>
      <host mac='52:54:00:00:{n:02x}:42' name='fixed' ip='10.{n}.0.42'/>
    </dhcp>
  </ip>
</network>
"""


def nat_xml(tmp: Path, name: str, n: int, *, dev: str | None = None) -> Path:
    path = tmp / f"{name}.xml"
    dev_attr = f" dev='{dev}'" if dev else ""
    path.write_text(NAT_XML.format(name=name, bridge=f"rpc{name}", n=n, dev=dev_attr))
    return path


def test_guests_get_leases_ping_and_reach_uplink_through_nat(
    daemon: HostDaemon, guests: Callable[..., Guest], uplinks: Callable[..., Uplink],
    tmp_path: Path,
) -> None:
    uplink = uplinks(daemon)
    virsh(daemon.uri, "net-create", str(nat_xml(tmp_path, "nat1", 61)), check=True)
    fixed = guests(daemon, "rpcnat1", "52:54:00:00:3d:42")
    other = guests(daemon, "rpcnat1", "52:54:00:00:3d:77")
    assert str(fixed.dhcp(tmp_path)) == "10.61.0.42/24"
    dynamic = other.dhcp(tmp_path)
    assert dynamic.ip in dynamic.network and 100 <= int(dynamic.ip) % 256 <= 150

    leases = virsh(daemon.uri, "net-dhcp-leases", "nat1", check=True).stdout
    assert "52:54:00:00:3d:42" in leases and "10.61.0.42/24" in leases and "fixed" in leases
    assert f"{dynamic}" in leases
    only = virsh(daemon.uri, "net-dhcp-leases", "nat1", "--mac", "52:54:00:00:3d:77",
                 check=True).stdout
    assert str(dynamic) in only and "10.61.0.42" not in only

    assert fixed.ping("10.61.0.1")
    assert fixed.ping(str(dynamic.ip))
    with uplink.listen() as listener:
        assert peer_seen_by(listener, fixed) == Uplink.HOST_ADDR


def test_forward_dev_keeps_traffic_off_other_links(
    daemon: HostDaemon, guests: Callable[..., Guest], uplinks: Callable[..., Uplink],
    tmp_path: Path,
) -> None:
    uplink = uplinks(daemon)
    daemon.ns.run("ip", "link", "add", "other0", "type", "veth", "peer", "name", "other1")
    xml = nat_xml(tmp_path, "nat2", 62, dev="other0")
    virsh(daemon.uri, "net-create", str(xml), check=True)
    guest = guests(daemon, "rpcnat2", "52:54:00:00:3e:42")
    guest.set_address("10.62.0.42/24", "10.62.0.1")
    assert guest.ping("10.62.0.1")
    with uplink.listen() as listener:
        assert peer_seen_by(listener, guest, timeout=1.0) is None


def test_kill9_and_restart_adopts_without_a_lost_packet(
    daemon: HostDaemon, guests: Callable[..., Guest], tmp_path: Path
) -> None:
    virsh(daemon.uri, "net-create", str(nat_xml(tmp_path, "nat3", 63)), check=True)
    guest = guests(daemon, "rpcnat3", "52:54:00:00:3f:42")
    guest.dhcp(tmp_path)
    bridge_before = daemon.ns.run("ip", "-o", "link", "show", "rpcnat3").stdout.split(":")[0]
    dnsmasq_before = daemon.pids_of("nat3/dnsmasq.conf")
    assert dnsmasq_before

    result: dict[str, str] = {}

    def ping() -> None:
        res = guest.ns.run("busybox", "ping", "-c", "60", "-i", "0.05", "-W", "1",
                           "10.63.0.1", timeout=30)
        result["out"] = res.stdout

    pinger = threading.Thread(target=ping)
    pinger.start()
    try:
        daemon.stop(9)
        daemon.start()
        leases = virsh(daemon.uri, "net-dhcp-leases", "nat3", check=True).stdout
    finally:
        pinger.join()
    assert "60 packets transmitted, 60 packets received, 0% packet loss" in result["out"]
    assert "10.63.0.42/24" in leases
    assert daemon.pids_of("nat3/dnsmasq.conf") == dnsmasq_before
    after = daemon.ns.run("ip", "-o", "link", "show", "rpcnat3").stdout.split(":")[0]
    assert after == bridge_before  # same ifindex: the bridge was never re-created
    assert "adopted running rpcnat3" in daemon.log_path.read_text()
    listing = virsh(daemon.uri, "net-list", check=True).stdout
    assert "nat3" in listing and "active" in listing
