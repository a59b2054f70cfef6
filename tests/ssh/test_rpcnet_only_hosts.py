"""Hosts with rpcnet and no libvirt, reached over ssh by virsh and by rpcnet
with the URIs that reach a libvirt host.

libvirt's remote command runs ``virt-ssh-helper`` if the host has one, else
``nc -U /var/run/libvirt/libvirt-sock``. So a host without libvirt is
reachable either by rpcnetd serving libvirt's socket names (``--socket-dir
/run/libvirt --socket-name libvirt``) with nc installed, or, with no nc and
rpcnetd on its own sockets, by rpcnet's helper installed as virt-ssh-helper
or named with ``netcat=``. Each host's sshd gives its sessions a PATH made
for the test, so the far side has exactly the tools such a host has.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.sshhost import SshFleet, rpcnet_ssh_helper

pytestmark = pytest.mark.host

@pytest.fixture(scope="module")
def hosts(ssh_tools: None) -> Iterator[SshFleet]:
    """host01: nc, rpcnetd at libvirt-sock. host02: rpcnet's helper as
    virt-ssh-helper, rpcnetd on /run/rpcnet. host03: the helper under its own
    name, rpcnetd on /run/rpcnet."""
    with SshFleet(3, socket_name=None) as fleet:
        nc_host, helper_host, plain_host = fleet.hosts
        nc_host.use_tools({}, "nc")
        nc_host.start_rpcnetd("libvirt")
        helper_host.use_tools({"virt-ssh-helper": rpcnet_ssh_helper()})
        plain_host.use_tools({"rpcnet-ssh-helper": rpcnet_ssh_helper()})
        for host in (helper_host, plain_host):
            host.start_rpcnetd("rpcnet", socket_dir="/run/rpcnet")
        yield fleet


def reach(fleet: SshFleet, uri: str, *args: str) -> None:
    """virsh and rpcnet both list the host's networks over ``uri``."""
    for run in (fleet.client.virsh, lambda *a: fleet.client.rpcnet("-c", *a)):
        result = run(uri, *args, "net-list", "--all", "--name")
        assert (result.returncode, result.stdout, result.stderr) == (0, "default\n\n", "")


@pytest.mark.parametrize("transport", ["ssh", "libssh"])
def test_rpcnetd_at_libvirts_socket_with_nc(hosts: SshFleet, transport: str) -> None:
    host = hosts.hosts[0]
    assert "virt-ssh-helper" not in host.run("ls", host.path or "").stdout
    reach(hosts, f"network+{transport}://{host.name}/system")
    reach(hosts, f"network+{transport}://{host.name}/system", "-r")
    reach(hosts, f"test+{transport}://{host.name}/default")


@pytest.mark.parametrize("params", ["", "?proxy=native"])
def test_the_helper_installed_as_virt_ssh_helper(hosts: SshFleet, params: str) -> None:
    host = hosts.hosts[1]
    for transport in ("ssh", "libssh"):
        reach(hosts, f"network+{transport}://{host.name}/system{params}")
        reach(hosts, f"network+{transport}://{host.name}/system{params}", "-r")
        reach(hosts, f"test+{transport}://{host.name}/default{params}")


def test_the_helper_named_as_netcat(hosts: SshFleet) -> None:
    host = hosts.hosts[2]
    for transport in ("ssh", "libssh"):
        uri = f"network+{transport}://{host.name}/system?netcat=rpcnet-ssh-helper"
        reach(hosts, f"{uri}&socket=/run/rpcnet/rpcnet-sock")
        reach(hosts, f"{uri}&socket=/run/rpcnet/rpcnet-sock-ro", "-r")


def test_a_host_with_neither_says_what_is_missing(hosts: SshFleet) -> None:
    host = hosts.hosts[2]
    uri = f"network+ssh://{host.name}/system"
    theirs = hosts.client.virsh(uri, "net-list")
    ours = hosts.client.rpcnet("-c", uri, "net-list")
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)
    assert ours.stderr.endswith("error: End of file while reading data: sh: 1: nc: not found: "
                                "Input/output error\n")


def test_the_helper_carries_large_messages_both_ways(hosts: SshFleet, tmp_path: Path) -> None:
    """A 140 KB definition in, and its 160 KB XML out, through the helper's
    copy loop; virsh over +ssh reads back what rpcnet wrote."""
    host = hosts.hosts[1]
    dhcp_hosts = "".join(f"<host mac='52:54:00:00:{i // 256:02x}:{i % 256:02x}' "
                         f"ip='10.9.{i // 200}.{i % 200 + 2}'/>" for i in range(3000))
    xml = tmp_path / "big.xml"
    xml.write_text("<network><name>big</name><bridge name='virbig0'/>"
                   "<ip address='10.9.0.1' netmask='255.255.0.0'><dhcp>"
                   f"<range start='10.9.100.2' end='10.9.100.254'/>{dhcp_hosts}</dhcp></ip>"
                   "</network>")
    for transport in ("ssh", "libssh"):
        uri = f"network+{transport}://{host.name}/system"
        defined = hosts.client.rpcnet("-c", uri, "net-define", str(xml))
        assert defined.returncode == 0, defined.stderr
        try:
            ours = hosts.client.rpcnet("-c", uri, "net-dumpxml", "big")
            theirs = hosts.client.virsh(f"network+ssh://{host.name}/system", "net-dumpxml", "big")
            assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr + theirs.stderr
            assert ours.stdout == theirs.stdout
            assert len(ours.stdout) > 150_000 and ours.stdout.count("<host ") == 3000
        finally:
            gone = hosts.client.rpcnet("-c", uri, "net-undefine", "big")
            assert gone.returncode == 0, gone.stderr
