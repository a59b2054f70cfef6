"""NAT, routed and isolated networks on a host that also runs Docker.

Docker 28's firewall (FORWARD policy DROP, DOCKER-USER, DOCKER-FORWARD, ...)
is recreated with the real iptables (tests/host/docker_rules.py), before the
daemon starts or while networks run. The same networks, guests and checks
run against rpcnetd and against a real libvirtd 9.0, the reference: guests
get leases, reach each other and the uplink (through NAT, or routed), the
isolated network stays isolated. rpcnetd must also leave Docker's rules as
they were once its networks are destroyed, and add nothing to iptables when
there is no Docker.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rpcnet.driver.host import iptables
from tests.host import docker_rules
from tests.host.hostnet import Guest, HostDaemon, Uplink, peer_seen_by
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.netns import IP, NetNamespace
from tests.peers.requirements import need_executable
from tests.peers.virsh import virsh

NETWORKS = {
    "dknat": "<forward mode='nat'/>",
    "dkroute": "<forward mode='route'/>",
    "dkiso": "",
}
SUBNETS = {"dknat": 81, "dkroute": 83, "dkiso": 82}
GUESTS = {"nat1": "dknat", "nat2": "dknat", "route1": "dkroute", "iso1": "dkiso"}
# What libvirtd and rpcnetd must both give (the checks of `exercise`)
EXPECTED = {
    "leases": {"nat1": True, "nat2": True, "route1": True, "iso1": True},
    "nat1 pings nat2": True,
    "nat1 pings uplink": True,
    "nat1 reaches uplink as": Uplink.HOST_ADDR,  # masqueraded
    "route1 reaches uplink as": "route1",  # its own address
    "iso1 pings its gateway": True,
    "iso1 reaches uplink as": None,
    "iso1 pings nat1": False,
    "nat1 pings iso1": False,
}


def network_xml(name: str) -> str:
    n = SUBNETS[name]
    return (f"<network><name>{name}</name>{NETWORKS[name]}<bridge name='{name}' stp='off'/>"
            f"<ip address='10.{n}.0.1' prefix='24'><dhcp><range start='10.{n}.0.100' "
            f"end='10.{n}.0.150'/></dhcp></ip></network>")


@dataclass
class Host:
    """A daemon's namespace and URI, as the scenario needs them."""

    ns: NetNamespace
    uri: str


def create_networks(host: Host, tmp: Path) -> None:
    for name in NETWORKS:
        path = tmp / f"{name}.xml"
        path.write_text(network_xml(name))
        virsh(host.uri, "net-create", str(path), check=True)


def destroy_networks(host: Host) -> None:
    for name in NETWORKS:
        virsh(host.uri, "net-destroy", name, check=True)


def exercise(host: Host, tmp: Path) -> dict[str, object]:
    """Guests on every network, each check of EXPECTED done; the outcome."""
    made: list[Guest] = []
    uplink = Uplink(host.ns)
    try:
        uplink.ns.run(IP, "route", "add", f"10.{SUBNETS['dkroute']}.0.0/24", "via",
                      Uplink.HOST_ADDR)
        guests = {}
        for tag, (name, bridge) in enumerate(GUESTS.items()):
            guests[name] = Guest(host.ns, bridge, f"52:54:00:dc:00:{tag:02x}", tag=f"d{tag}")
            made.append(guests[name])
        addrs = {name: str(guest.dhcp(tmp).ip) for name, guest in guests.items()}
        outcome: dict[str, object] = {"leases": {
            name: addr.startswith(f"10.{SUBNETS[GUESTS[name]]}.0.")
            for name, addr in addrs.items()}}
        outcome["nat1 pings nat2"] = guests["nat1"].ping(addrs["nat2"])
        outcome["nat1 pings uplink"] = guests["nat1"].ping(Uplink.ADDR)
        with uplink.listen() as listener:
            for name in ("nat1", "route1", "iso1"):
                seen = peer_seen_by(listener, guests[name], timeout=2.0)
                outcome[f"{name} reaches uplink as"] = name if seen == addrs[name] else seen
        outcome["iso1 pings its gateway"] = guests["iso1"].ping(f"10.{SUBNETS['dkiso']}.0.1")
        outcome["iso1 pings nat1"] = guests["iso1"].ping(addrs["nat1"], wait=1)
        outcome["nat1 pings iso1"] = guests["nat1"].ping(addrs["iso1"], wait=1)
        return outcome
    finally:
        for guest in made:
            guest.cleanup()
        uplink.cleanup()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def our_rules_present(ns: NetNamespace) -> bool:
    lines = ns.run("iptables", "-w", "-S", "FORWARD").stdout.splitlines()
    return all(rule in lines for rule in iptables.RULES)


@pytest.fixture(scope="module")
def docker_tools() -> None:
    for tool in ("iptables", "iptables-save", "ip6tables-save", "/usr/sbin/libvirtd"):
        need_executable(tool)


@contextlib.contextmanager
def rpcnetd(docker_first: bool) -> Iterator[tuple[HostDaemon, Host]]:
    daemon = HostDaemon()
    try:
        if docker_first:
            docker_rules.start(daemon.ns)
        daemon.start()
        host = Host(daemon.ns, daemon.uri)
        virsh(host.uri, "net-destroy", "default", check=True)  # only the test's networks
        yield daemon, host
    finally:
        daemon.cleanup()


@contextlib.contextmanager
def libvirtd(docker_first: bool) -> Iterator[Host]:
    prepare = docker_rules.start if docker_first else None
    with LibvirtdPeer(prepare_namespace=prepare) as peer:
        yield Host(peer.namespace, peer.uri("network"))


@pytest.mark.parametrize("docker_first", [True, False], ids=["docker-first", "docker-later"])
def test_networks_work_beside_docker_as_with_libvirtd(
    host_tools: None, docker_tools: None, tmp_path: Path, docker_first: bool
) -> None:
    with libvirtd(docker_first) as theirs:
        create_networks(theirs, tmp_path)
        if not docker_first:
            docker_rules.start(theirs.ns)
        reference = exercise(theirs, tmp_path)
    assert reference == EXPECTED  # libvirt 9.0 passes: the scenario is sound

    with rpcnetd(docker_first) as (daemon, ours):
        before = docker_rules.iptables_save(ours.ns), docker_rules.nft_ruleset(ours.ns)
        create_networks(ours, tmp_path)
        if not docker_first:
            assert not our_rules_present(ours.ns)  # no Docker, nothing in iptables
            docker_rules.start(ours.ns)
        assert wait_for(lambda: our_rules_present(ours.ns)), daemon.log_tail()
        assert exercise(ours, tmp_path) == reference

        docker_rules.restart(ours.ns)  # Docker rebuilds its chains while networks run
        assert wait_for(lambda: our_rules_present(ours.ns)), daemon.log_tail()
        assert exercise(ours, tmp_path)["nat1 reaches uplink as"] == Uplink.HOST_ADDR

        destroy_networks(ours)
        if docker_first:  # all of Docker's rules and nothing else, as before
            assert (docker_rules.iptables_save(ours.ns),
                    docker_rules.nft_ruleset(ours.ns)) == before
        else:
            assert not our_rules_present(ours.ns)
            scratch = NetNamespace("rpcnet-dk")
            scratch.create()
            try:
                docker_rules.start(scratch)
                assert docker_rules.iptables_save(ours.ns) == docker_rules.iptables_save(scratch)
                assert docker_rules.nft_ruleset(ours.ns) == docker_rules.nft_ruleset(scratch)
            finally:
                scratch.delete()


def test_without_docker_nothing_but_rpcnets_own_table(
    daemon: HostDaemon, tmp_path: Path
) -> None:
    host = Host(daemon.ns, daemon.uri)
    create_networks(host, tmp_path)
    assert docker_rules.iptables_save(daemon.ns).strip() == ""
    tables = [line for line in daemon.ns.run("nft", "list", "tables").stdout.splitlines() if line]
    assert tables == ["table inet rpcnet"]
    destroy_networks(host)
