"""The idle exit inside the daemon: Server.set_idle_timeout (what the admin
program's CONNECT_SET_DAEMON_TIMEOUT calls) takes effect at once, and any
connected client, in sessions or counted with client_opened, holds it off."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rpcnet.driver.service import open_memory
from rpcnet.server.config import ServerConfig
from rpcnet.server.daemon import Server


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    directory = Path(tempfile.mkdtemp(prefix="rpcnet-idle-"))
    drivers = {"network": await open_memory("network"), "test": await open_memory("test")}
    server = Server(ServerConfig(socket_dir=directory), drivers)
    await server.start()
    yield server
    await server.stop()
    directory.rmdir()


async def quits_within(server: Server, seconds: float) -> bool:
    try:
        await asyncio.wait_for(server.quit.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def test_set_idle_timeout_takes_effect_at_once(server: Server) -> None:
    assert not await quits_within(server, 0.3)  # 0: never
    server.set_idle_timeout(0.2)
    assert await quits_within(server, 10)
    assert server.quit_reason == "idle timeout"


async def test_a_connected_client_holds_it_off(server: Server) -> None:
    _reader, writer = await asyncio.open_unix_connection(str(server.config.rw_socket))
    for _ in range(100):  # until the daemon has counted it
        if server.sessions:
            break
        await asyncio.sleep(0.01)
    server.set_idle_timeout(0.1)
    assert not await quits_within(server, 0.5)
    writer.close()
    await writer.wait_closed()
    assert await quits_within(server, 10)


async def test_other_clients_count_too(server: Server) -> None:
    server.client_opened()
    server.set_idle_timeout(0.1)
    assert not await quits_within(server, 0.5)
    server.client_closed()
    assert await quits_within(server, 10)


async def test_zero_turns_a_countdown_off(server: Server) -> None:
    server.set_idle_timeout(0.3)
    server.set_idle_timeout(0)
    assert not await quits_within(server, 0.6)
