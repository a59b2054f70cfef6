"""NetworkService with a state directory: what survives a restart or a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpcnet.driver.service import NetworkService, open_memory
from rpcnet.driver.store import DiskStore, write_atomic
from rpcnet.errors import ErrorCode, VirError

U1 = "11111111-1111-4111-8111-111111111111"
PORT = (
    "<networkport><uuid>11111111-2222-4333-8444-555555555555</uuid>"
    "<owner><name>vm1</name><uuid>aaaaaaaa-2222-4333-8444-555555555555</uuid></owner>"
    "<mac address='52:54:00:aa:bb:cc'/></networkport>"
)


def net_xml(name: str, third: int, uuid_: str | None = None) -> str:
    uuid_el = f"<uuid>{uuid_}</uuid>" if uuid_ else ""
    return (
        f"<network><name>{name}</name>{uuid_el}<ip address='10.0.{third}.1' prefix='24'/></network>"
    )


async def state(drv: NetworkService) -> dict[str, tuple[bool, bool, bool, str]]:
    """name -> (active, persistent, autostart, live-or-config XML)."""
    found = {}
    for ref in await drv.connect_list_all_networks(0):
        found[ref.name] = (
            await drv.network_is_active(ref),
            await drv.network_is_persistent(ref),
            await drv.network_get_autostart(ref),
            await drv.network_get_xml_desc(ref, 0),
        )
    return found


async def test_fresh_dir_gets_default(tmp_path: Path) -> None:
    drv = await open_memory("network", tmp_path)
    default = (await state(drv))["default"]
    assert default[:3] == (True, True, True)
    assert (tmp_path / "status" / "default.xml").read_text() == default[3]
    config = await drv.network_get_xml_desc(await drv.network_lookup_by_name("default"), 1)
    assert (tmp_path / "networks" / "default.xml").read_text() == config
    assert (tmp_path / "autostart" / "default").exists()
    again = await open_memory("network", tmp_path)
    assert await state(again) == await state(drv)


async def test_undefined_default_stays_gone(tmp_path: Path) -> None:
    drv = await open_memory("network", tmp_path)
    ref = await drv.network_lookup_by_name("default")
    await drv.network_destroy(ref)
    await drv.network_undefine(ref)
    assert await state(await open_memory("network", tmp_path)) == {}


async def test_everything_survives_a_restart(tmp_path: Path) -> None:
    drv = await open_memory("network", tmp_path)
    inactive = await drv.network_define_xml(net_xml("inactive", 1, U1))
    await drv.network_set_autostart(inactive, False)
    running = await drv.network_define_xml(net_xml("running", 2))
    await drv.network_create(running)
    await drv.network_define_xml(
        (await drv.network_get_xml_desc(running, 0)).replace("10.0.2.1", "10.0.3.1")
    )
    transient = await drv.network_create_xml(net_xml("transient", 4))
    await drv.network_port_create_xml(transient, PORT, 0)
    default = await drv.network_lookup_by_name("default")
    await drv.network_set_autostart(default, False)
    await drv.network_destroy(default)
    before = await state(drv)

    after = await open_memory("network", tmp_path)
    assert await state(after) == before
    running2 = await after.network_lookup_by_name("running")
    assert "10.0.3.1" in await after.network_get_xml_desc(running2, 1)
    transient2 = await after.network_lookup_by_name("transient")
    assert len(await after.network_list_all_ports(transient2, 0)) == 1


async def test_autostart_starts_inactive_networks_on_load(tmp_path: Path) -> None:
    drv = await open_memory("network", tmp_path)
    ref = await drv.network_define_xml(net_xml("auto", 5))
    await drv.network_set_autostart(ref, True)
    assert not await drv.network_is_active(ref)
    again = await open_memory("network", tmp_path)
    assert await again.network_is_active(await again.network_lookup_by_name("auto"))


async def test_status_file_means_running(tmp_path: Path) -> None:
    """A crash after the status file is written, before anything else: the
    network comes back running with its live definition."""
    drv = await open_memory("network", tmp_path)
    ref = await drv.network_define_xml(net_xml("n1", 1, U1))
    live = (await drv.network_get_xml_desc(ref, 0)).replace("10.0.1.1", "10.0.9.1")
    write_atomic(tmp_path / "status" / "n1.xml", live)
    again = await open_memory("network", tmp_path)
    ref = await again.network_lookup_by_name("n1")
    assert await again.network_is_active(ref)
    assert "10.0.9.1" in await again.network_get_xml_desc(ref, 0)
    assert "10.0.1.1" in await again.network_get_xml_desc(ref, 1)
    # and a status file of a network with no config is a running transient one
    (tmp_path / "networks" / "n1.xml").unlink()
    third = await open_memory("network", tmp_path)
    ref = await third.network_lookup_by_name("n1")
    assert await third.network_is_active(ref)
    assert not await third.network_is_persistent(ref)


async def test_destroy_removes_status(tmp_path: Path) -> None:
    drv = await open_memory("network", tmp_path)
    ref = await drv.network_create_xml(net_xml("t", 1))
    await drv.network_port_create_xml(ref, PORT, 0)
    assert (tmp_path / "status" / "t.xml").exists()
    assert list((tmp_path / "ports" / "t").iterdir())
    await drv.network_destroy(ref)
    assert not (tmp_path / "status" / "t.xml").exists()
    assert not (tmp_path / "ports" / "t").exists()


async def test_corrupt_files_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    drv = await open_memory("network", tmp_path)
    await drv.network_define_xml(net_xml("good", 1))
    (tmp_path / "networks" / "broken.xml").write_text("<network><name>broken")
    (tmp_path / "networks" / "misnamed.xml").write_text(net_xml("other", 2, U1))
    (tmp_path / "status" / "ghost.xml").write_text("not xml at all")
    (tmp_path / "networks" / "binary.xml").write_bytes(b"\xff\xfe\x00")
    again = await open_memory("network", tmp_path)
    assert sorted(await state(again)) == ["default", "good"]
    assert "broken" in caplog.text and "misnamed" in caplog.text


async def test_failed_write_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drv = await open_memory("network", tmp_path)

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(DiskStore, "write_config_sync", disk_full)
    monkeypatch.setattr(DiskStore, "write_status_sync", disk_full)
    with pytest.raises(VirError) as info:
        await drv.network_define_xml(net_xml("n1", 1))
    assert info.value.code == ErrorCode.SYSTEM_ERROR
    assert "No space left on device" in info.value.message
    with pytest.raises(VirError):
        await drv.network_create_xml(net_xml("t1", 2))
    assert sorted(await state(drv)) == ["default"]


async def test_test_flavor_with_state_dir(tmp_path: Path) -> None:
    drv = await open_memory("test", tmp_path)
    assert (await state(drv))["default"][:3] == (True, True, False)
    again = await open_memory("test", tmp_path)
    assert await state(again) == await state(drv)


async def test_no_temp_files_left(tmp_path: Path) -> None:
    drv = await open_memory("network", tmp_path)
    for i in range(3):
        await drv.network_define_xml(net_xml(f"n{i}", i))
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
