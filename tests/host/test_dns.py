"""dnsmasq's DNS as rpcnet runs it: answers on the bridge as libvirt's does,
and forwards to the host's resolvers, following resolv.conf."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.host.dnsprobe import resolve
from tests.host.hostnet import Guest, HostDaemon, Uplink
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.netns import IP, NetNamespace
from tests.peers.virsh import virsh

GUARD_XML = """<network><name>dnsg</name><forward mode='nat'/><bridge name='rpcdnsg' stp='off'/>
<dns><host ip='10.84.0.9'><hostname>nine</hostname></host></dns>
<ip address='10.84.0.1' prefix='24'/></network>"""


def dns_answers(ns: NetNamespace, guest: Guest, uplink: Uplink) -> dict[str, str | None]:
    """Who gets an answer for "nine" from dnsmasq on the bridge address."""
    uplink.ns.run(IP, "route", "add", "10.84.0.0/24", "via", Uplink.HOST_ADDR)
    return {
        "guest": resolve(guest.ns, "10.84.0.1", "nine"),
        "host": resolve(ns, "10.84.0.1", "nine"),
        "uplink": resolve(uplink.ns, "10.84.0.1", "nine"),
    }


def test_dns_answers_on_the_bridge_only_as_libvirtd_does(
    daemon: HostDaemon, libvirtd: LibvirtdPeer, guests: Callable[..., Guest],
    uplinks: Callable[..., Uplink], tmp_path: Path,
) -> None:
    # rpcnet's dnsmasq binds with bind-interfaces and its table drops DNS to
    # the bridge address from other interfaces; libvirt's uses bind-dynamic
    path = tmp_path / "dnsg.xml"
    path.write_text(GUARD_XML)
    virsh(daemon.uri, "net-create", str(path), check=True)
    guest = guests(daemon, "rpcdnsg", "52:54:00:84:00:02")
    guest.set_address("10.84.0.2/24", "10.84.0.1")
    ours = dns_answers(daemon.ns, guest, uplinks(daemon))

    theirs_uri = libvirtd.uri("network")
    virsh(theirs_uri, "net-create", str(path), check=True)
    their_guest = Guest(libvirtd.namespace, "rpcdnsg", "52:54:00:84:00:02", tag="lv")
    their_uplink = Uplink(libvirtd.namespace, host_if="up9")
    try:
        their_guest.set_address("10.84.0.2/24", "10.84.0.1")
        theirs = dns_answers(libvirtd.namespace, their_guest, their_uplink)
    finally:
        their_guest.cleanup()
        their_uplink.cleanup()
        virsh(theirs_uri, "net-destroy", "dnsg")
    assert ours == theirs == {"guest": "10.84.0.9", "host": "10.84.0.9", "uplink": None}


@contextlib.contextmanager
def upstream_servers(uplink: Uplink, answers: dict[str, str]) -> Iterator[None]:
    """A dnsmasq in the uplink namespace per address in ``answers``, each
    answering name "up.test" with its value."""
    procs = []
    try:
        for addr, value in answers.items():
            if addr != Uplink.ADDR:
                uplink.ns.run(IP, "addr", "add", f"{addr}/24", "dev", "eth0")
            procs.append(subprocess.Popen(uplink.ns.exec_args(
                shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "--keep-in-foreground",
                "--no-resolv", "--no-hosts", "--bind-interfaces", f"--listen-address={addr}",
                "--user=root", f"--address=/up.test/{value}", "--pid-file="),
                stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        for addr, value in answers.items():
            while (resolve(uplink.ns, addr, "up.test", timeout=0.2) != value
                   and time.monotonic() < deadline):
                time.sleep(0.05)
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_upstream_servers_follow_the_hosts_resolv_conf(
    host_tools: None, guests: Callable[..., Guest], tmp_path: Path
) -> None:
    daemon = HostDaemon()
    etc = Path("/etc/netns") / daemon.ns.name  # ip netns exec mounts it over /etc/resolv.conf
    try:
        etc.mkdir(parents=True)
        resolv = etc / "resolv.conf"
        resolv.write_text("search example.test\nnameserver 203.0.113.2\n")
        uplink = Uplink(daemon.ns)
        try:
            daemon.start()
            path = tmp_path / "up.xml"
            path.write_text(GUARD_XML)
            virsh(daemon.uri, "net-create", str(path), check=True)
            guest = guests(daemon, "rpcdnsg", "52:54:00:84:00:03")
            guest.set_address("10.84.0.3/24", "10.84.0.1")
            with upstream_servers(uplink, {"203.0.113.2": "192.0.2.2", "203.0.113.3": "192.0.2.3"}):
                assert resolve(guest.ns, "10.84.0.1", "up.test") == "192.0.2.2"
                with resolv.open("w") as f:  # in place: the bind mount sees the same file
                    f.write("nameserver 203.0.113.3\n")
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and resolve(
                        guest.ns, "10.84.0.1", "up.test", timeout=0.3) != "192.0.2.3":
                    time.sleep(0.05)
                assert resolve(guest.ns, "10.84.0.1", "up.test") == "192.0.2.3"
            servers = daemon.state_dir / "network" / "upstream-servers"
            assert servers.read_text() == "server=203.0.113.3\n"
            assert "upstream DNS servers in /etc/resolv.conf changed" in daemon.log_path.read_text()
        finally:
            uplink.cleanup()
    finally:
        daemon.cleanup()
        shutil.rmtree(etc, ignore_errors=True)
