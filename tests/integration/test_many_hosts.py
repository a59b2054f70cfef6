"""Twenty rpcnetd instances (separate socket directories) driven by one
`rpcnet` console: one merged table for all hosts, and one merged event
stream in which an event on any host shows up tagged with that host."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rpcnet.client import Networks, connect
from rpcnet.testing import RpcnetdServer

HOSTS = 20
RPCNET = [sys.executable, "-m", "rpcnet.cli.console"]


@pytest.fixture(scope="module")
def servers() -> Iterator[list[RpcnetdServer]]:
    fleet = [RpcnetdServer() for _ in range(HOSTS)]
    try:
        with ThreadPoolExecutor(HOSTS) as pool:
            list(pool.map(RpcnetdServer.start, fleet))
        yield fleet
    finally:
        for server in fleet:
            server.close()


def label(i: int) -> str:
    return f"host{i + 1:02d}"


@pytest.fixture(scope="module")
def hosts_file(servers: list[RpcnetdServer], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hosts") / "hosts.txt"
    lines = ["# the fleet: LABEL URI", ""]
    lines += [f"{label(i)} {s.uri()}" for i, s in enumerate(servers)]
    path.write_text("\n".join(lines) + "\n")
    return path


def console(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RPCNET, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LC_ALL": "C"})


def test_one_table_for_all_hosts(hosts_file: Path) -> None:
    result = console("--hosts", str(hosts_file), "net-list", "--all")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Host", "Name", "State", "Autostart", "Persistent"]
    rows = [line.split() for line in lines[2:]]
    assert rows == [[label(i), "default", "active", "yes", "yes"] for i in range(HOSTS)]


def test_a_dead_host_does_not_fail_the_others(hosts_file: Path, tmp_path: Path) -> None:
    dead = f"network+unix:///system?socket={tmp_path}/gone-sock"
    result = console("--hosts", str(hosts_file), "-c", dead, "net-info", "default")
    assert result.returncode == 1
    assert result.stderr == (f"error: {dead}: failed to connect to the hypervisor: "
                             f"Failed to connect socket to '{tmp_path}/gone-sock': "
                             "No such file or directory\n")
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["Host", "Name", "UUID"]
    rows = [line.split() for line in lines[2:]]
    assert [r[0] for r in rows] == [dead, *(label(i) for i in range(HOSTS))]
    assert lines[2] == (f" {dead}   error: Failed to connect socket to '{tmp_path}/gone-sock': "
                        "No such file or directory")
    assert all(r[1] == "default" and r[-1] == "virbr0" for r in rows[1:])


async def test_merged_event_stream(servers: list[RpcnetdServer], hosts_file: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *RPCNET, "--hosts", str(hosts_file), "net-event", "--loop", "--event", "lifecycle",
        "--timeout", "30", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        await asyncio.sleep(1.5)  # connected to all twenty and registered
        picks = [13, 6]
        for i in picks:
            async with connect(servers[i].uri()) as drv:
                net = await Networks(drv).define(
                    f"<network><name>fleet{i}</name><bridge name='virbr9{i % 10}'/></network>")
                await net.start()
        wanted = {f"{label(i)}: event 'lifecycle' for network fleet{i}: Started" for i in picks}
        seen: list[str] = []
        while wanted - set(seen):
            line = await asyncio.wait_for(proc.stdout.readline(), 10)
            assert line, f"the stream ended early after {seen}"
            seen.append(line.decode().rstrip("\n"))
        assert f"{label(13)}: event 'lifecycle' for network fleet13: Defined" in seen
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert out.decode().endswith("event loop interrupted\nevents received: 4\n")
    assert proc.returncode == 0 and err == b""
