"""rpcnet's client speaking for someone else, as libvirt's QEMU driver does:
the identity it sets is what a real libvirtd (and rpcnetd) show for it."""

from __future__ import annotations

import pytest

from rpcnet.client.driver import RemoteDriver
from tests.peers.admin import LibvirtNamedRpcnetd, virt_admin_fields, virt_admin_rows
from tests.peers.libvirtd import LibvirtdPeer

pytestmark = pytest.mark.interop

IDENTITY = {"user-name": "guestowner", "unix-user-id": 1234, "group-name": "guests",
            "unix-group-id": 4321, "process-id": 777}
SHOWN = {"unix_user_id": "1234", "unix_user_name": "guestowner", "unix_group_id": "4321",
         "unix_group_name": "guests", "unix_process_id": "777"}


def infos(admin_socket: str) -> list[dict[str, str]]:
    rows = virt_admin_rows(admin_socket, "client-list", "libvirtd")
    return [virt_admin_fields(admin_socket, "client-info", "libvirtd", row[0]) for row in rows]


def shows_identity(admin_socket: str) -> bool:
    return any(all(info.get(k) == v for k, v in SHOWN.items()) for info in infos(admin_socket))


async def test_a_real_libvirtd_shows_the_identity_also_after_a_reconnect(
    libvirtd: LibvirtdPeer
) -> None:
    driver = await RemoteDriver.open(libvirtd.uri("network"), identity=IDENTITY)
    try:
        assert shows_identity(libvirtd.socket_admin)
        await driver.reconnect()
        assert shows_identity(libvirtd.socket_admin)
    finally:
        await driver.close()


async def test_rpcnetd_shows_it_too() -> None:
    with LibvirtNamedRpcnetd() as rpcnetd:
        driver = await RemoteDriver.open(rpcnetd.uri())
        try:
            assert not shows_identity(rpcnetd.socket_admin)
            await driver.set_identity(IDENTITY)
            assert shows_identity(rpcnetd.socket_admin)
        finally:
            await driver.close()


async def test_unknown_keys_are_refused_before_sending(libvirtd: LibvirtdPeer) -> None:
    driver = await RemoteDriver.open(libvirtd.uri("network"))
    try:
        with pytest.raises(ValueError, match="unknown identity parameter 'uid'"):
            await driver.set_identity({"uid": 5})
    finally:
        await driver.close()
