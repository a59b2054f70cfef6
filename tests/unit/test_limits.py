"""A server's client limits, changed live as libvirt's admin program does."""

from __future__ import annotations

import pytest

from rpcnet.errors import VirError
from rpcnet.server.limits import ClientLimits


def test_the_limit_refuses_the_next_client_only() -> None:
    limits = ClientLimits(max_clients=2, max_unauth=1)
    assert limits.refusal(1) is None
    assert limits.refusal(2) == "Too many active clients (2), dropping connection"
    assert limits.handshake_allowed()
    limits.unauth = 1
    assert not limits.handshake_allowed()
    assert ClientLimits(max_clients=2, max_unauth=0, unauth=1000).handshake_allowed()  # no limit


def test_changes_keep_the_unauthenticated_limit_under_the_other() -> None:
    limits = ClientLimits(max_clients=5000, max_unauth=20)
    limits.change(30, None)
    assert (limits.max_clients, limits.max_unauth) == (30, 20)
    for maximum, unauth in ((None, 31), (19, None), (5, 6)):
        with pytest.raises(VirError) as info:
            limits.change(maximum, unauth)
        assert (info.value.code, info.value.domain) == (8, 7)
        assert info.value.message == (
            "invalid argument: The overall maximum number of clients waiting for "
            "authentication must not be less than the overall maximum number of clients")
        assert (limits.max_clients, limits.max_unauth) == (30, 20)
    limits.change(10, 5)
    assert (limits.max_clients, limits.max_unauth) == (10, 5)
