"""rpcnetd as a process: sockets, signals, keepalive, concurrency, persistence."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import struct
import subprocess
import time
from pathlib import Path

import pytest

import rpcnet.client
from rpcnet.protocol import keepalive
from rpcnet.protocol.message import Framer
from tests.integration.test_replay import read_frame
from tests.peers.rpcnetd import RpcnetdPeer
from tests.unit.vectors import frames

NET_XML = """<network>
  <name>{name}</name>
  <bridge name='{bridge}'/>
  <ip address='{prefix}.1' netmask='255.255.255.0'/>
</network>
"""


def test_sockets_have_libvirt_modes_and_vanish_on_sigterm() -> None:
    peer = RpcnetdPeer().start()
    try:
        assert stat.S_IMODE(os.stat(peer.socket).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(peer.socket_ro).st_mode) == 0o666
        assert peer.stop(signal.SIGTERM) == 0
        assert not os.path.exists(peer.socket) and not os.path.exists(peer.socket_ro)
    finally:
        peer.cleanup()


def test_sigint_also_stops_cleanly() -> None:
    with RpcnetdPeer() as peer:
        assert peer.stop(signal.SIGINT) == 0
        assert not os.path.exists(peer.socket)


def test_sighup_reloads_and_keeps_serving(virsh_bin: str) -> None:
    with RpcnetdPeer() as peer:
        assert peer.proc is not None
        peer.proc.send_signal(signal.SIGHUP)
        for _ in range(100):
            if "reloading" in peer.log_tail():
                break
            time.sleep(0.02)
        assert "reloading" in peer.log_tail()
        assert peer.proc.poll() is None and os.path.exists(peer.socket)
        res = subprocess.run([virsh_bin, "-c", peer.uri(), "net-list", "--name"],
                             capture_output=True, text=True, timeout=30, check=True)
        assert res.stdout == "default\n\n"


def _handshake_with_keepalive(sock: socket.socket) -> None:
    calls = [f.raw for f in frames("b_virsh_network_lifecycle") if f.direction == "c2s"][:3]
    for raw in calls:  # AUTH_LIST, SUPPORTS_FEATURE(10), CONNECT_OPEN
        sock.sendall(raw)
        read_frame(sock)


def test_silent_client_is_pinged_then_dropped() -> None:
    daemon = RpcnetdPeer(extra_args=("--keepalive-interval", "0.2", "--keepalive-count", "2"))
    with daemon as peer, socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(peer.socket)
        _handshake_with_keepalive(sock)
        start = time.monotonic()
        pings = 0
        while True:
            data = sock.recv(28)
            if not data:
                break
            assert data == keepalive.PING_FRAME
            pings += 1
        assert pings == 2
        assert 0.5 < time.monotonic() - start < 3


def test_client_answering_pings_stays_connected() -> None:
    daemon = RpcnetdPeer(extra_args=("--keepalive-interval", "0.2", "--keepalive-count", "1"))
    with daemon as peer, socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(peer.socket)
        _handshake_with_keepalive(sock)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert sock.recv(28) == keepalive.PING_FRAME
            sock.sendall(keepalive.PONG_FRAME)
        sock.sendall(keepalive.PING_FRAME)
        assert sock.recv(28) in (keepalive.PONG_FRAME, keepalive.PING_FRAME)


def test_client_ping_gets_pong_without_feature() -> None:
    with RpcnetdPeer() as peer, socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(peer.socket)
        sock.sendall(keepalive.PING_FRAME)
        assert sock.recv(28) == keepalive.PONG_FRAME


async def test_concurrent_calls_on_one_connection(rpcnetd: RpcnetdPeer) -> None:
    async with rpcnet.client.connect(rpcnetd.uri()) as conn:
        net = await conn.network_lookup_by_name("default")
        results = await asyncio.gather(
            *(conn.network_is_active(net) for _ in range(200)),
            *(conn.network_get_bridge_name(net) for _ in range(200)),
        )
        assert results == [True] * 200 + ["virbr0"] * 200


def test_pipelined_calls_get_replies_with_their_serials(rpcnetd: RpcnetdPeer) -> None:
    b = [f.raw for f in frames("b_virsh_network_lifecycle") if f.direction == "c2s"]
    auth, _feature, open_call = b[0], b[1], b[2]
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(rpcnetd.socket)
        sock.sendall(auth + open_call)
        read_frame(sock), read_frame(sock)
        # 50 AUTH_LIST calls in one write with serials 100..149
        burst = b"".join(auth[:20] + struct.pack(">I", 100 + i) + auth[24:] for i in range(50))
        sock.sendall(burst)
        framer, serials = Framer(), []
        while len(serials) < 50:
            framer.feed(sock.recv(65536))
            while (m := framer.next_message()) is not None:
                serials.append(m.header.serial)
        assert sorted(serials) == list(range(100, 150))


async def _define(uri: str, name: str, bridge: str, prefix: str, *, start: bool,
                  autostart: bool) -> None:
    async with rpcnet.client.connect(uri) as conn:
        net = await conn.network_define_xml(NET_XML.format(name=name, bridge=bridge,
                                                           prefix=prefix))
        if autostart:
            await conn.network_set_autostart(net, True)
        if start:
            await conn.network_create(net)


async def _states(uri: str) -> dict[str, tuple[bool, bool, bool]]:
    async with rpcnet.client.connect(uri) as conn:
        out = {}
        for net in await conn.connect_list_all_networks(0):
            out[net.name] = (await conn.network_is_active(net),
                             await conn.network_is_persistent(net),
                             await conn.network_get_autostart(net))
        return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
async def test_state_dir_survives_restart_and_crash(tmp_path: Path, sig: int) -> None:
    state = tmp_path / "state"
    peer = RpcnetdPeer(state_dir=state).start()
    try:
        uri = peer.uri()
        await _define(uri, "keep1", "virbr51", "10.51.0", start=True, autostart=False)
        await _define(uri, "keep2", "virbr52", "10.52.0", start=False, autostart=True)
        await _define(uri, "keep3", "virbr53", "10.53.0", start=False, autostart=False)
        async with rpcnet.client.connect(uri) as conn:
            await conn.network_create_xml(NET_XML.format(name="temp", bridge="virbr54",
                                                         prefix="10.54.0"))
        before = await _states(uri)
        peer.stop(sig)
        peer.start()
        after = await _states(uri)
        # keep2 is autostart: started when the daemon starts again
        expected = dict(before, keep2=(True, True, True))
        assert after == expected
    finally:
        peer.cleanup()


def test_socket_modes_and_group_are_configurable() -> None:
    import grp

    group = grp.getgrgid(os.getgid()).gr_name
    args = ("--socket-mode", "0660", "--socket-mode-ro", "0644", "--socket-group", group)
    with RpcnetdPeer(extra_args=args) as peer:
        assert stat.S_IMODE(os.stat(peer.socket).st_mode) == 0o660
        assert stat.S_IMODE(os.stat(peer.socket_ro).st_mode) == 0o644
        assert os.stat(peer.socket).st_gid == grp.getgrnam(group).gr_gid


def test_peer_credentials_are_logged(rpcnetd: RpcnetdPeer) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(rpcnetd.socket)
        sock.sendall(next(f.raw for f in frames("i_raw_client_no_keepalive_feature")))
        read_frame(sock)
    assert f"client connected: unix pid={os.getpid()} uid={os.getuid()}" in rpcnetd.log_tail(50)
