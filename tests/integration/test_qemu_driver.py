"""libvirt's QEMU driver as a client: its whole sequence of network calls
(tests/integration/scripts/qemu_driver.py, the Python bindings) answered by
rpcnetd as by libvirtd's network driver, byte for byte, refusals included."""

from __future__ import annotations

import pytest

from rpcnet.client.connection import Connection
from rpcnet.errors import VirError
from rpcnet.protocol import remote
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.qemu_replay import assert_answered_alike
from tests.peers.rpcnetd import RpcnetdPeer

pytestmark = pytest.mark.interop


def test_answered_as_libvirtd_answers_them(
    system_python: str, rpcnetd: RpcnetdPeer, libvirtd: LibvirtdPeer
) -> None:
    assert_answered_alike(rpcnetd.socket, libvirtd.socket)
    # the forwarded identity is the client's in rpcnetd's log lines from then on
    assert "set its identity: user-name=qemu-owner unix-user-id=64055" in rpcnetd.log()
    assert "client disconnected: unix pid=" in rpcnetd.log()
    assert "[user-name=qemu-owner" in rpcnetd.log().split("client disconnected: ")[-1]


async def features(socket: str, uri: str) -> list[int | str]:
    """What the daemon on ``socket`` answers to features 0-29 once ``uri`` is open."""
    conn = await Connection.open_unix(socket)
    try:
        await conn.call(remote.Proc.AUTH_LIST, ())
        await conn.call(remote.Proc.CONNECT_OPEN, (uri, 0))
        answers: list[int | str] = []
        for feature in range(30):
            try:
                (supported,) = await conn.call(remote.Proc.CONNECT_SUPPORTS_FEATURE, (feature,))
                answers.append(supported)
            except VirError as err:
                answers.append(err.message)
        return answers
    finally:
        await conn.close()


@pytest.mark.parametrize("uri", ["network:///system", "test:///default"])
async def test_feature_probes_answered_as_libvirtd_answers_them(
    rpcnetd: RpcnetdPeer, libvirtd: LibvirtdPeer, uri: str
) -> None:
    ours = await features(rpcnetd.socket, uri)
    assert ours == await features(libvirtd.socket, uri)
    # what the QEMU driver relies on: fd passing, typed-parameter strings,
    # keepalive, event and close callbacks, NETWORK_UPDATE's argument order
    assert [f for f, supported in enumerate(ours) if supported == 1] == [8, 9, 10, 14, 15, 16]
