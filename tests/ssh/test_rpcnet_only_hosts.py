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
