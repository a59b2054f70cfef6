"""Reading libvirt's network directory and defining it offline
(rpcnet.driver.libvirt_import, NetworkService.load(adopt=False), the state lock)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rpcnet.driver.libvirt_import import import_networks, read_libvirt_networks
from rpcnet.driver.service import NetworkService, open_memory
from rpcnet.driver.store import DiskStore, StateInUse, lock_directory


def net(name: str, third: int) -> str:
    return f"<network><name>{name}</name><ip address='10.9.{third}.1' prefix='24'/></network>"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "networks"
    (src / "autostart").mkdir(parents=True)
    for third, name in enumerate(["a", "b", "c", "d", "e"]):
        (src / f"{name}.xml").write_text(net(name, third))
    (src / "autostart" / "a.xml").symlink_to(src / "a.xml")  # libvirt's own link
    (src / "autostart" / "b.xml").symlink_to("/etc/libvirt/qemu/networks/b.xml")  # a copy's
    (src / "autostart" / "c.xml").symlink_to(src / "d.xml")  # points elsewhere: not c's
    (src / "autostart" / "e.xml").write_text("")  # a plain file
    (src / "README").write_text("libvirt loads *.xml only")
    return src


def test_autostart_links(source: Path) -> None:
    report = read_libvirt_networks(source)
    assert report.skipped == []
    assert {f.name: f.autostart for f in report.imported} == {
        "a": True, "b": True, "c": False, "d": False, "e": True}


async def test_offline_load_seeds_nothing_and_starts_nothing(tmp_path: Path,
                                                             source: Path) -> None:
    state = tmp_path / "state"
    service = NetworkService("network", store=DiskStore(state))
    await service.load(adopt=False)
    report = await import_networks(service, read_libvirt_networks(source).imported)
    assert [f.name for f in report.imported] == ["a", "b", "c", "d", "e"]
    assert await service.connect_list_all_networks(0) != []
    assert list((state / "status").iterdir()) == []
    assert sorted(p.name for p in (state / "autostart").iterdir()) == ["a", "b", "e"]
    # the daemon's next start autostarts them, and seeds no default beside them
    daemon = await open_memory("network", state)
    names = {ref.name: await daemon.network_is_active(ref)
             for ref in await daemon.connect_list_all_networks(0)}
    assert names == {"a": True, "b": True, "c": False, "d": False, "e": True}


def test_one_holder_of_a_state_at_a_time(tmp_path: Path) -> None:
    fd = lock_directory(tmp_path / "state")
    try:
        with pytest.raises(StateInUse, match=f"in use by process {os.getpid()}"):
            lock_directory(tmp_path / "state")
    finally:
        os.close(fd)
    os.close(lock_directory(tmp_path / "state"))
