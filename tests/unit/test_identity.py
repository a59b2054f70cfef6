"""A client's identity: what libvirtd makes of a UNIX peer, and what
CONNECT_SET_IDENTITY may replace it with."""

from __future__ import annotations

import os

import pytest

from rpcnet.errors import VirError
from rpcnet.protocol.values import ParamType, TypedParam
from rpcnet.server.identity import Identity, process_start_time

T = TypedParam


def test_a_unix_peer_is_its_user_group_and_process() -> None:
    identity = Identity.of_unix_peer(0, 0, os.getpid())
    assert [p.field for p in identity.params] == [
        "user-name", "unix-user-id", "group-name", "unix-group-id", "process-id",
        "process-time"]
    assert identity.get("user-name") == "root" and identity.get("unix-user-id") == 0
    assert identity.get("process-time") == process_start_time(os.getpid()) > 0


def test_unknown_users_and_processes_are_left_out() -> None:
    identity = Identity.of_unix_peer(2**31 - 2, 2**31 - 2, 2**22 + 12345)
    assert [p.field for p in identity.params] == ["unix-user-id", "unix-group-id", "process-id"]


def test_a_set_identity_is_checked_and_kept_in_order() -> None:
    params = [T("process-id", ParamType.LLONG, 42), T("user-name", ParamType.STRING, "qemu")]
    identity = Identity.from_parameters(params)
    assert identity.describe() == "process-id=42 user-name=qemu"
    assert Identity.from_parameters([]).params == ()
    with pytest.raises(VirError, match="invalid type 'uint' for parameter 'unix-user-id', "
                                       "expected 'ullong'"):
        Identity.from_parameters([T("unix-user-id", ParamType.UINT, 5)])
    with pytest.raises(VirError, match="parameter 'uid' not supported"):
        Identity.from_parameters([T("uid", ParamType.ULLONG, 5)])
