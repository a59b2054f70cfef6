"""`rpcnetd import-libvirt`: networks a real libvirtd defined (in its own
mount namespace) are imported from its /etc/libvirt/qemu/networks; rpcnetd
then shows each one's `net-dumpxml --inactive` and autostart flag exactly as
libvirtd does, and the source directory is left as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.rpcnetd import RpcnetdPeer
from tests.peers.virsh import VIRSH, run_client, virsh

pytestmark = pytest.mark.interop

NETWORKS = {
    # name: (xml, autostart)
    "imp-nat": ("""<network>
  <name>imp-nat</name>
  <forward mode='nat'/>
  <domain name='imp.example' localOnly='yes'/>
  <dns>
    <host ip='10.71.0.9'><hostname>nine</hostname></host>
    <txt name='t' value='v'/>
  </dns>
  <ip address='10.71.0.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.71.0.10' end='10.71.0.99'/>
      <host mac='52:54:00:71:00:09' name='nine' ip='10.71.0.9'/>
    </dhcp>
  </ip>
</network>""", True),
    "imp-iso": ("""<network ipv6='yes'>
  <name>imp-iso</name>
  <uuid>7f4e2b9a-0d1c-4c5e-9a8b-1234567890ab</uuid>
  <bridge name='rpimp0' stp='off'/>
  <mac address='52:54:00:aa:bb:cc'/>
  <ip family='ipv6' address='fd00:71::1' prefix='64'/>
</network>""", False),
    "imp-route": ("""<network>
  <name>imp-route</name>
  <forward mode='route' dev='lo'/>
  <bandwidth><inbound average='1000' peak='2000' burst='512'/></bandwidth>
  <portgroup name='slow' default='yes'>
    <bandwidth><outbound average='100'/></bandwidth>
  </portgroup>
  <ip address='10.72.0.1' prefix='24'/>
</network>""", True),
    "imp-br": ("""<network>
  <name>imp-br</name>
  <forward mode='bridge'/>
  <bridge name='br-host'/>
</network>""", False),
}


@pytest.fixture(scope="module")
def defined(libvirtd_available: None) -> Iterator[LibvirtdPeer]:
    """A libvirtd of its own (its networks directory holds exactly ours)."""
    with LibvirtdPeer() as peer:
        uri = peer.uri("network")
        for name, (xml, autostart) in NETWORKS.items():
            run_client([VIRSH, "-c", uri, "net-define", "/dev/stdin"], input=xml, check=True)
            if autostart:
                virsh(uri, "net-autostart", name, check=True)
        virsh(uri, "net-start", "imp-iso", check=True)  # running or not: same import
        yield peer


def source_of(peer: LibvirtdPeer) -> Path:
    """libvirtd's /etc/libvirt/qemu/networks, seen through its mount namespace."""
    assert peer.pid is not None
    return Path(f"/proc/{peer.pid}/root/etc/libvirt/qemu/networks")


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """Every entry: its content or link target, and its mtime."""
    found = {}
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        what = os.readlink(path) if path.is_symlink() else (
            "<dir>" if path.is_dir() else path.read_text())
        found[str(path.relative_to(directory))] = (what, info.st_mtime_ns)
    return found


def import_libvirt(source: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rpcnet", "import-libvirt", str(source),
                           "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=60)


def autostarted(uri: str) -> list[str]:
    return sorted(virsh(uri, "net-list", "--all", "--autostart", "--name",
                        check=True).stdout.split())


def test_imported_networks_match_libvirtd_byte_for_byte(defined: LibvirtdPeer,
                                                        tmp_path: Path) -> None:
    source = source_of(defined)
    before = snapshot(source)
    assert sorted(p for p in before if not p.startswith("autostart")) == sorted(
        f"{name}.xml" for name in NETWORKS)
    result = import_libvirt(source, tmp_path / "state")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"imported network 'imp-nat' from {source}/imp-nat.xml (autostart)" in result.stdout
    assert f"imported network 'imp-iso' from {source}/imp-iso.xml\n" in result.stdout
    assert snapshot(source) == before
    with RpcnetdPeer(state_dir=tmp_path / "state") as ours:
        for name in NETWORKS:
            theirs = virsh(defined.uri("network"), "net-dumpxml", "--inactive", name, check=True)
            mine = virsh(ours.uri(), "net-dumpxml", "--inactive", name, check=True)
            assert mine.stdout == theirs.stdout, name
        assert autostarted(ours.uri()) == autostarted(defined.uri("network")) == [
            "imp-nat", "imp-route"]
        # a taken-over state is not seeded with rpcnetd's own network default
        assert "default" not in virsh(ours.uri(), "net-list", "--all", "--name").stdout.split()


def test_bad_files_are_named_and_skipped_the_rest_imported(defined: LibvirtdPeer,
                                                           tmp_path: Path) -> None:
    source = tmp_path / "networks"
    shutil.copytree(source_of(defined), source, symlinks=True)
    iso = (source / "imp-iso.xml").read_text()
    (source / "broken.xml").write_text("<network><name>broken</name>")
    (source / "renamed.xml").write_text(iso)
    twin = iso.replace("<name>imp-iso</name>", "<name>twin</name>")
    (source / "twin.xml").write_text(twin.replace("rpimp0", "rpimp1"))
    (source / "notes.txt").write_text("not a network")
    before = snapshot(source)
    result = import_libvirt(source, tmp_path / "state")
    assert result.returncode == 1
    skipped = sorted(line for line in result.stderr.splitlines() if line.startswith("skipped"))
    assert len(skipped) == 3, result.stderr
    assert skipped[0].startswith(f"skipped {source}/broken.xml: ")
    assert skipped[1] == (f"skipped {source}/renamed.xml: Network config filename "
                          f"'{source}/renamed.xml' does not match network name 'imp-iso'")
    assert skipped[2] == (f"skipped {source}/twin.xml: operation failed: network 'imp-iso' is "
                          f"already defined with uuid 7f4e2b9a-0d1c-4c5e-9a8b-1234567890ab")
    assert "4 networks imported" in result.stdout
    assert snapshot(source) == before
    with RpcnetdPeer(state_dir=tmp_path / "state") as ours:
        listed = virsh(ours.uri(), "net-list", "--all", "--name", check=True).stdout.split()
        assert sorted(listed) == sorted(NETWORKS)


def test_importing_again_changes_nothing(defined: LibvirtdPeer, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert import_libvirt(source_of(defined), state).returncode == 0
    def contents() -> dict[str, str]:  # the lock file holds the last holder's pid
        return {k: v[0] for k, v in snapshot(state / "network").items() if k != ".lock"}

    first = contents()
    assert import_libvirt(source_of(defined), state).returncode == 0
    assert contents() == first


def test_not_while_a_daemon_holds_the_state(defined: LibvirtdPeer, tmp_path: Path) -> None:
    with RpcnetdPeer(state_dir=tmp_path / "state") as ours:
        assert ours.proc is not None
        result = import_libvirt(source_of(defined), tmp_path / "state")
        assert result.returncode == 2
        assert result.stderr == (f"rpcnetd import-libvirt: [Errno 16] state directory "
                                 f"'{tmp_path}/state/network' is in use by process "
                                 f"{ours.proc.pid}\n")
        # and a second daemon on the same state does not start
        second = RpcnetdPeer(state_dir=tmp_path / "state", ready_timeout=10)
        try:
            with pytest.raises(RuntimeError, match="is in use by process"):
                second.start()
        finally:
            second.cleanup()
