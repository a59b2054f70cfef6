"""libvirt's QEMU driver's calls answered by ``rpcnetd --driver host`` (real
bridge, nftables and dnsmasq in a namespace) as by libvirtd's bridge driver
in its own namespace: byte for byte, refusals included."""

from __future__ import annotations

from tests.host.hostnet import HostDaemon
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.qemu_replay import assert_answered_alike


def test_the_host_driver_answers_as_libvirtds_bridge_driver(
    system_python: str, daemon: HostDaemon, libvirtd: LibvirtdPeer
) -> None:
    assert_answered_alike(daemon.socket, libvirtd.socket)
    # the network really ran in the daemon's namespace, and is gone again
    log = daemon.log_tail(400)
    assert "network qemunet started on rpcqemu0" in log and "network qemunet stopped" in log
    assert not any("rpcqemu0" in link for link in daemon.snapshot()["links"])  # type: ignore[attr-defined]
    assert "set its identity: user-name=qemu-owner" in log
