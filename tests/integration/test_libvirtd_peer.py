"""The isolated libvirtd harness works, and leaves nothing behind."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.libvirtd import LibvirtdError, LibvirtdPeer
from tests.peers.netns import IP
from tests.peers.pki import make_pki
from tests.peers.virsh import python_json, virsh

pytestmark = pytest.mark.interop

LIST_NETWORKS = """
import json, sys, libvirt
conn = libvirt.open(sys.argv[1])
print(json.dumps({n.name(): bool(n.isActive()) for n in conn.listAllNetworks()}))
conn.close()
"""


def nat_network_xml(name: str, bridge: str) -> str:
    return (
        f"<network><name>{name}</name><forward mode='nat'/>"
        f"<bridge name='{bridge}'/>"
        "<ip address='10.99.0.1' netmask='255.255.255.0'>"
        "<dhcp><range start='10.99.0.10' end='10.99.0.50'/></dhcp></ip></network>"
    )


def host_has_link(name: str) -> bool:
    """Read-only look at the test process's own namespace."""
    res = subprocess.run([IP, "link", "show", name], capture_output=True, timeout=10)
    return res.returncode == 0


def netns_list() -> str:
    return subprocess.run([IP, "netns", "list"], capture_output=True, text=True).stdout


@pytest.fixture
def nat_network(libvirtd: LibvirtdPeer, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A defined (not started) NAT network on network:///system; removed afterwards."""
    name, bridge = f"rpcnet-{secrets.token_hex(3)}", f"rpcbr{secrets.token_hex(3)}"
    xml = tmp_path / "net.xml"
    xml.write_text(nat_network_xml(name, bridge))
    uri = libvirtd.uri("network")
    virsh(uri, "net-define", str(xml), check=True)
    yield name, bridge
    virsh(uri, "net-destroy", name)
    virsh(uri, "net-undefine", name)


def test_test_driver_has_default_network(libvirtd: LibvirtdPeer, virsh_bin: str) -> None:
    out = virsh(libvirtd.uri("test"), "net-list", "--all", check=True).stdout
    assert any(line.split()[:2] == ["default", "active"] for line in out.splitlines())


def test_system_python_sees_default_network(libvirtd: LibvirtdPeer, system_python: str) -> None:
    assert python_json(LIST_NETWORKS, libvirtd.uri("test")) == {"default": True}


def test_network_driver_starts_no_default_network(libvirtd: LibvirtdPeer) -> None:
    uri = libvirtd.uri("network")
    names = virsh(uri, "net-list", "--all", "--name", check=True).stdout.split()
    assert "default" not in names


def test_nat_network_bridge_lives_only_in_the_namespace(
    libvirtd: LibvirtdPeer, nat_network: tuple[str, str], virsh_bin: str
) -> None:
    name, bridge = nat_network
    uri = libvirtd.uri("network")
    assert not host_has_link(bridge)
    virsh(uri, "net-start", name, check=True)
    assert bridge in libvirtd.namespace.link_names()
    assert not host_has_link(bridge)
    commands = libvirtd.namespace.commands().values()
    assert any("dnsmasq" in cmd and f"{name}.conf" in cmd for cmd in commands)
    virsh(uri, "net-destroy", name, check=True)
    assert bridge not in libvirtd.namespace.link_names()


def test_readonly_socket_refuses_changes(libvirtd: LibvirtdPeer, tmp_path: Path) -> None:
    uri = libvirtd.uri("network", readonly=True)
    virsh(uri, "net-list", "--all", check=True)
    xml = tmp_path / "net.xml"
    xml.write_text(nat_network_xml("rpcnet-ro", "rpcbrro"))
    res = virsh(uri, "net-define", str(xml))
    assert res.returncode != 0
    assert "read only" in res.stderr or "read-only" in res.stderr


def test_stop_leaves_no_namespace_process_or_dir(libvirtd_available: None, tmp_path: Path) -> None:
    peer = LibvirtdPeer().start()
    try:
        bridge = f"rpcbr{secrets.token_hex(3)}"
        xml = tmp_path / "net.xml"
        xml.write_text(nat_network_xml("rpcnet-stop", bridge))
        virsh(peer.uri("network"), "net-define", str(xml), check=True)
        virsh(peer.uri("network"), "net-start", "rpcnet-stop", check=True)
        pids = peer.namespace.pids()
        assert len(pids) >= 3  # unshare, libvirtd, dnsmasq
        sock_dir = peer.dir
    finally:
        peer.stop()
    assert peer.netns not in netns_list()
    assert not sock_dir.exists()
    assert not host_has_link(bridge)
    assert [pid for pid in pids if is_alive(pid)] == []
    peer.stop()  # idempotent


def test_failed_start_reports_log_and_cleans_up(libvirtd_available: None) -> None:
    peer = LibvirtdPeer(extra_conf={"log_outputs": "nonsense"})
    with pytest.raises(LibvirtdError, match="libvirtd exited"):
        peer.start()
    assert peer.netns not in netns_list()


def is_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_tls_listener_checks_the_client_dn(libvirtd_available: None, tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    uri = f"test+tls://127.0.0.1/default?pkipath={pki.dir}"
    allowed = pki.server_tls(allowed_dn_list=[pki.client_dn])
    with LibvirtdPeer(tls=allowed) as peer:
        assert "default" in virsh(uri, "net-list", check=True, netns=peer.netns).stdout
    denied = pki.server_tls(allowed_dn_list=["C=XX,O=LvTest,CN=somebody-else"])
    with LibvirtdPeer(tls=denied) as peer:
        res = virsh(uri, "net-list", netns=peer.netns)
        assert res.returncode != 0
        assert "TLS confirmation" in res.stderr
