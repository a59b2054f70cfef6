"""Daemon restarts: what still runs is adopted, what is gone is cleaned up."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.host.hostnet import HostDaemon
from tests.peers.virsh import virsh

XML = """<network><name>{name}</name><forward mode='nat'/><bridge name='rpc{name}' stp='off'/>
<ip address='10.{n}.0.1' prefix='24'><dhcp><range start='10.{n}.0.2' end='10.{n}.0.9'/></dhcp>
</ip></network>"""


def create(daemon: HostDaemon, tmp: Path, name: str, n: int, *, define: bool = False) -> None:
    path = tmp / f"{name}.xml"
    path.write_text(XML.format(name=name, n=n))
    virsh(daemon.uri, "net-define" if define else "net-create", str(path), check=True)


def test_destroy_of_a_half_gone_network_cleans_up(daemon: HostDaemon, tmp_path: Path) -> None:
    before = daemon.snapshot()
    create(daemon, tmp_path, "half", 70)
    daemon.ns.run("ip", "link", "del", "rpchalf")
    for pid in daemon.pids_of("half/dnsmasq.conf"):
        daemon.ns.run("kill", "-9", str(pid))
    virsh(daemon.uri, "net-destroy", "half", check=True)
    assert daemon.snapshot() == before


def test_restart_forgets_networks_whose_bridge_vanished(daemon: HostDaemon,
                                                        tmp_path: Path) -> None:
    before = daemon.snapshot()
    create(daemon, tmp_path, "gone", 71)
    create(daemon, tmp_path, "kept", 72, define=True)
    virsh(daemon.uri, "net-start", "kept", check=True)
    daemon.stop(signal.SIGKILL)
    daemon.ns.run("ip", "link", "del", "rpcgone")
    daemon.ns.run("ip", "link", "del", "rpckept")
    daemon.start()
    listing = virsh(daemon.uri, "net-list", "--all", check=True).stdout
    assert "gone" not in listing  # transient: gone with its bridge
    assert any(line.split()[:2] == ["kept", "inactive"] for line in listing.splitlines())
    assert daemon.snapshot() == before  # dnsmasq, chains and table removed too
    assert "its bridge is gone; marking it stopped" in daemon.log_path.read_text()


def test_restart_removes_leftovers_of_a_crash_mid_start(daemon: HostDaemon,
                                                        tmp_path: Path) -> None:
    before = daemon.snapshot()
    create(daemon, tmp_path, "crash", 73)
    daemon.stop(signal.SIGKILL)
    # As if the daemon died before it saved the status: the kernel has it all.
    (daemon.state_dir / "network" / "status" / "crash.xml").unlink()
    daemon.start()
    assert "crash" not in virsh(daemon.uri, "net-list", "--all", check=True).stdout
    assert daemon.snapshot() == before
    assert "network crash: removing leftovers" in daemon.log_path.read_text()


def test_autostart_at_daemon_start(daemon: HostDaemon, tmp_path: Path) -> None:
    create(daemon, tmp_path, "auto", 74, define=True)
    virsh(daemon.uri, "net-autostart", "auto", check=True)
    daemon.stop()
    daemon.start()
    listing = virsh(daemon.uri, "net-list", check=True).stdout
    assert any(line.split()[:3] == ["auto", "active", "yes"] for line in listing.splitlines())
    assert "10.74.0.1/24" in daemon.ns.run("ip", "-o", "addr", "show", "rpcauto").stdout
    assert daemon.pids_of("auto/dnsmasq.conf")


def test_sighup_restores_what_was_removed_behind_its_back(daemon: HostDaemon,
                                                          tmp_path: Path) -> None:
    create(daemon, tmp_path, "hup", 76)
    expected = daemon.snapshot()
    bridge_index = daemon.ns.run("cat", "/sys/class/net/rpchup/ifindex").stdout
    daemon.ns.run("nft", "delete", "table", "inet", "rpcnet")
    daemon.ns.run("ip", "addr", "flush", "dev", "rpchup")
    assert daemon.snapshot() != expected
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    for _ in range(100):
        if daemon.snapshot() == expected:
            break
        time.sleep(0.05)
    assert daemon.snapshot() == expected
    assert daemon.ns.run("cat", "/sys/class/net/rpchup/ifindex").stdout == bridge_index
    assert "Active:         yes" in virsh(daemon.uri, "net-info", "hup", check=True).stdout


def test_restart_answers_first_and_reasserts_many_networks_behind(
    daemon: HostDaemon, tmp_path: Path
) -> None:
    # more networks than one turn of the re-assertion (reconcile.CHUNK)
    names = [f"many{n}" for n in range(40)]
    for n, name in enumerate(names):
        path = tmp_path / f"{name}.xml"
        path.write_text(f"<network><name>{name}</name><forward mode='nat'/>"
                        f"<bridge name='rpcm{n}' stp='off'/><ip address='10.120.{n}.1' "
                        f"prefix='24'><dhcp><range start='10.120.{n}.2' end='10.120.{n}.9'/>"
                        "</dhcp></ip></network>")
        virsh(daemon.uri, "net-create", str(path), check=True)
    expected = daemon.snapshot()
    daemon.stop(signal.SIGKILL)
    daemon.ns.run("nft", "delete", "table", "inet", "rpcnet")
    for n in range(0, 40, 3):
        daemon.ns.run("ip", "addr", "flush", "dev", f"rpcm{n}")
    done = daemon.reasserted()
    daemon.start(settle=False)
    listing = virsh(daemon.uri, "net-list", check=True).stdout  # answers at once
    assert all(name in listing for name in names)
    daemon.wait_reasserted(done)
    assert daemon.snapshot() == expected
    assert "re-asserted 41 running networks" in daemon.log_path.read_text()  # with "default"
