"""Read-only enforcement, walked over every procedure of the table."""

from __future__ import annotations

from typing import Any

import pytest

from rpcnet.protocol import remote, xdr
from rpcnet.protocol.message import Status
from rpcnet.protocol.remote import CallStyle
from rpcnet.protocol.values import NetworkRef, PortRef
from tests.integration.hostile import RawClient, call_frame, error_of
from tests.peers.rpcnetd import RpcnetdPeer

DEFAULT_UUID = bytes(16)


def sample(t: xdr.XdrType) -> Any:
    """A small valid value of any argument type in the table."""
    if t is remote.NET:
        return NetworkRef("default", DEFAULT_UUID)
    if t is remote.PORT:
        return PortRef(NetworkRef("default", DEFAULT_UUID), DEFAULT_UUID)
    if t.fields:
        return tuple(sample(ftype) for _, ftype in t.fields)
    if t.name.endswith("*"):
        return None
    if t.name.startswith("string"):
        return "<network><name>ro</name></network>"
    if t.name == "opaque[16]":
        return DEFAULT_UUID
    if "<" in t.name:
        return []
    return 0


CALLS = [p for p in remote.PROCEDURES if p.style is not CallStyle.EVENT
         and p.number not in (remote.Proc.CONNECT_OPEN, remote.Proc.CONNECT_CLOSE)]


@pytest.mark.parametrize("socket_kind", ["ro-socket", "ro-flag"])
def test_every_procedure_on_a_read_only_connection(rpcnetd: RpcnetdPeer, socket_kind: str) -> None:
    path = rpcnetd.socket_ro if socket_kind == "ro-socket" else rpcnetd.socket
    with RawClient(path) as client:
        assert client.call(66).header.status == Status.OK
        flags = 0 if socket_kind == "ro-socket" else 1
        assert client.call(1, ("network:///system", flags)).header.status == Status.OK
        for serial, proc in enumerate(CALLS, start=10):
            client.send(call_frame(proc.number, proc.args.encode(sample(proc.args)), serial=serial))
            reply = client.receive()
            assert reply is not None and reply.header.serial == serial, proc.name
            denied = reply.header.status == Status.ERROR and error_of(reply)[:2] == (29, 19)
            assert denied == (not proc.readonly), proc.name
            if denied:
                assert error_of(reply)[2] == (
                    f"operation forbidden: read only access prevents {proc.api}")
