"""The seam for a second program, with a real peer: the ADMIN program's table
(rpcnet/protocol/admin.py) over the client's unchanged asyncio adapter
talks to a real libvirtd's admin socket. (rpcnetd serving it to virt-admin
is tests/integration/test_admin.py.)"""

from __future__ import annotations

import pytest

from rpcnet.client.connection import Connection
from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.protocol.admin import ADMIN, Proc, ServerRef
from tests.peers.libvirtd import LibvirtdPeer

pytestmark = pytest.mark.interop


async def test_the_admin_table_talks_to_libvirtds_admin_socket(libvirtd: LibvirtdPeer) -> None:
    conn = await Connection.open_unix(libvirtd.socket_admin, program=ADMIN)
    try:
        assert await conn.call(Proc.CONNECT_OPEN, (0,)) is None
        assert await conn.call(Proc.CONNECT_GET_LIB_VERSION, ()) == (9_000_000,)
        assert await conn.call(Proc.CONNECT_OPEN, (0,)) is None  # ADMIN, unlike REMOTE, opens again
        servers, count = await conn.call(Proc.CONNECT_LIST_SERVERS, (1, 0))
        assert sorted(servers, key=repr) == [ServerRef("admin"), ServerRef("libvirtd")]
        assert count == 2
        with pytest.raises(VirError) as info:
            await conn.call(Proc.CONNECT_OPEN, (1,))
        assert (info.value.code, info.value.domain) == (ErrorCode.INVALID_ARG, ErrorDomain.ADMIN)
    finally:
        await conn.close()  # CONNECT_CLOSE, the program's
    assert conn.closed
