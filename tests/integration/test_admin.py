"""The admin program, side by side: the real ``virt-admin`` and rpcnet's own
client against rpcnetd's admin socket and a real libvirtd's, with the same
clients connected to each. rpcnetd serves libvirtd's socket names here, so
its daemon server is called ``libvirtd`` too and the answers can be
compared whole. What differs by design (ids, times, the worker pool's
size) is left out of the comparison and checked on its own."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from rpcnet.client.connection import Connection
from rpcnet.errors import VirError
from rpcnet.protocol.admin import ADMIN, ClientRef, Proc, ServerRef
from rpcnet.protocol.values import ParamType, TypedParam
from tests.peers.admin import (
    LibvirtNamedRpcnetd,
    hold_client,
    virt_admin,
    virt_admin_fields,
    virt_admin_rows,
)
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.requirements import need_executable
from tests.peers.rpcnetd import RpcnetdPeer

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def admin_libvirtd(libvirtd_available: None) -> Iterator[LibvirtdPeer]:
    """A libvirtd of this module's own: its logging and clients get changed."""
    with LibvirtdPeer() as peer:
        yield peer


@pytest.fixture
def twin() -> Iterator[LibvirtNamedRpcnetd]:
    with LibvirtNamedRpcnetd() as peer:
        yield peer


@pytest.fixture
def both(admin_libvirtd: LibvirtdPeer, twin: LibvirtNamedRpcnetd
         ) -> tuple[LibvirtdPeer, LibvirtNamedRpcnetd]:
    return admin_libvirtd, twin


def sockets(both: tuple[LibvirtdPeer, LibvirtNamedRpcnetd]) -> tuple[str, str]:
    """The two admin sockets: (libvirtd's, rpcnetd's)."""
    return both[0].socket_admin, both[1].socket_admin


# -- virt-admin, whole answers ------------------------------------------------------

SAME_ANSWERS = [
    ("version",),
    ("server-clients-info", "admin"),
    ("server-clients-info", "nope"),
    ("server-threadpool-info", "nope"),
    ("client-list", "nope"),
    ("client-info", "libvirtd", "99999"),
    ("client-info", "admin", "99999"),
    ("client-disconnect", "libvirtd", "99999"),
    ("server-clients-set", "libvirtd", "--max-clients", "10", "--max-unauth-clients", "20"),
    ("server-clients-set", "nope", "--max-clients", "10"),
    ("server-threadpool-set", "libvirtd", "--min-workers", "30"),
    ("server-threadpool-set", "nope", "--min-workers", "1"),
    ("server-update-tls", "libvirtd"),
    ("server-update-tls", "admin"),
    ("daemon-log-outputs", "9:stderr"),
    ("daemon-log-outputs", "1:bogus"),
    ("daemon-log-outputs", "1:file"),
    ("daemon-log-outputs", "1:stderr:extra"),
    ("daemon-log-outputs", "1:file:/nonexistent/dir/log"),
    ("daemon-log-filters", "x:foo"),
    ("daemon-log-filters", "1"),
    ("daemon-log-filters", "1:+"),
    ("daemon-timeout", "--timeout", "0"),
]


@pytest.mark.parametrize("command", SAME_ANSWERS, ids=" ".join)
def test_virt_admin_gets_the_same_answers(
    both: tuple[LibvirtdPeer, LibvirtNamedRpcnetd], command: tuple[str, ...]
) -> None:
    theirs, ours = (virt_admin(socket, *command) for socket in sockets(both))
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        theirs.returncode, theirs.stdout, theirs.stderr)


def test_servers_listed_alike(both: tuple[LibvirtdPeer, LibvirtNamedRpcnetd]) -> None:
    theirs, ours = (virt_admin_rows(socket, "server-list") for socket in sockets(both))
    # libvirtd lists its servers in a hash table's order, random per process
    assert sorted(row[1] for row in ours) == sorted(row[1] for row in theirs) == [
        "admin", "libvirtd"]


def test_log_filters_set_and_read_alike(both: tuple[LibvirtdPeer, LibvirtNamedRpcnetd]) -> None:
    for socket in sockets(both):
        assert virt_admin(socket, "daemon-log-filters", "3:foo  +2:bar 4:+baz").returncode == 0
    theirs, ours = (virt_admin(socket, "daemon-log-filters") for socket in sockets(both))
    assert ours.stdout == theirs.stdout == " Logging filters: 3:*foo* 2:*bar* 4:*baz* \n\n"
    for socket in sockets(both):
        assert virt_admin(socket, "daemon-log-filters", "--filters", "").returncode == 0
    theirs, ours = (virt_admin(socket, "daemon-log-filters") for socket in sockets(both))
    assert ours.stdout == theirs.stdout == " Logging filters: \n\n"


def test_clients_listed_and_described_alike(
    both: tuple[LibvirtdPeer, LibvirtNamedRpcnetd]
) -> None:
    libvirtd, rpcnetd = both
    identity = {"user-name": "alice", "unix-user-id": 1000, "group-name": "users",
                "unix-group-id": 100, "process-id": 4242, "process-time": 12345,
                "sasl-user-name": "alice@EXAMPLE", "selinux-context": "ctx_t"}
    with (hold_client(libvirtd.uri("network")), hold_client(rpcnetd.uri()),
          hold_client(libvirtd.uri("network", readonly=True)),
          hold_client(rpcnetd.uri(readonly=True)),
          hold_client(libvirtd.uri("network"), identity=identity),
          hold_client(rpcnetd.uri(), identity=identity)):
        described = []
        for socket in sockets(both):
            rows = virt_admin_rows(socket, "client-list", "libvirtd")
            assert [row[1] for row in rows] == ["unix"] * 3
            infos = [virt_admin_fields(socket, "client-info", "libvirtd", row[0]) for row in rows]
            for info, row in zip(infos, rows, strict=True):
                assert info.pop("id") == row[0]
                assert info.pop("connection_time") == " ".join(row[2:])
                if info["unix_user_name"] == "root":  # libvirtd's pid namespace hides the pid
                    info.pop("unix_process_id")
            described.append(infos)
        theirs, ours = described
        assert ours == theirs
        assert ours[2] == {
            "transport": "unix", "readonly": "no", "sasl_user_name": "alice@EXAMPLE",
            "unix_user_id": "1000", "unix_user_name": "alice", "unix_group_id": "100",
            "unix_group_name": "users", "unix_process_id": "4242", "selinux_context": "ctx_t"}
        theirs, ours = (virt_admin(socket, "server-clients-info", "libvirtd").stdout
                        for socket in sockets(both))
        assert ours == theirs and "nclients            : 3\n" in ours


def test_a_client_disconnected_alike(both: tuple[LibvirtdPeer, LibvirtNamedRpcnetd]) -> None:
    libvirtd, rpcnetd = both
    for daemon_uri, socket in ((libvirtd.uri("network"), libvirtd.socket_admin),
                               (rpcnetd.uri(), rpcnetd.socket_admin)):
        with hold_client(daemon_uri) as holder:
            [row] = virt_admin_rows(socket, "client-list", "libvirtd")
            result = virt_admin(socket, "client-disconnect", "libvirtd", row[0])
            assert result.stdout == f"Client '{row[0]}' disconnected\n"
            assert holder.wait_closed() == "closed"
            assert virt_admin_rows(socket, "client-list", "libvirtd") == []


# -- the wire, call by call ---------------------------------------------------------

T = TypedParam
S = ServerRef
U = ParamType.UINT
CALLS: list[tuple[int, tuple[Any, ...]]] = [
    (Proc.CONNECT_LIST_SERVERS, (0, 0)), (Proc.CONNECT_LIST_SERVERS, (1, 1)),
    (Proc.CONNECT_OPEN, (1,)), (Proc.CONNECT_OPEN, (0,)),
    (Proc.CONNECT_LOOKUP_SERVER, ("nope", 0)), (Proc.CONNECT_LOOKUP_SERVER, ("admin", 7)),
    (Proc.CONNECT_LOOKUP_SERVER, ("libvirtd", 0)),
    (Proc.SERVER_GET_THREADPOOL_PARAMETERS, (S("nope"), 1)),
    (Proc.SERVER_GET_THREADPOOL_PARAMETERS, (S("admin"), 1)),
    (Proc.SERVER_SET_THREADPOOL_PARAMETERS, (S("nope"), [], 1)),
    (Proc.SERVER_SET_THREADPOOL_PARAMETERS, (S("admin"), [], 1)),
    (Proc.SERVER_SET_THREADPOOL_PARAMETERS, (S("admin"), [T("bogus", U, 1)], 0)),
    (Proc.SERVER_SET_THREADPOOL_PARAMETERS, (S("admin"), [T("minWorkers", 1, 1)], 0)),
    (Proc.SERVER_SET_THREADPOOL_PARAMETERS,
     (S("admin"), [T("minWorkers", U, 1), T("minWorkers", U, 1)], 0)),
    (Proc.SERVER_SET_THREADPOOL_PARAMETERS,
     (S("admin"), [T("zzz", U, 0), T("minWorkers", 7, "x")], 0)),
    (Proc.SERVER_SET_THREADPOOL_PARAMETERS,
     (S("admin"), [T("aaa", U, 0), T("minWorkers", 7, "x")], 0)),
    (Proc.SERVER_SET_THREADPOOL_PARAMETERS, (S("admin"), [T("minWorkers", U, 30)], 0)),
    (Proc.SERVER_SET_THREADPOOL_PARAMETERS, (S("admin"), [T("nWorkers", U, 0)], 0)),
    (Proc.SERVER_LIST_CLIENTS, (S("nope"), 1, 1)), (Proc.SERVER_LIST_CLIENTS, (S("admin"), 1, 1)),
    (Proc.SERVER_LIST_CLIENTS, (S("libvirtd"), 1, 0)),
    (Proc.SERVER_LOOKUP_CLIENT, (S("admin"), 999, 0)),
    (Proc.SERVER_LOOKUP_CLIENT, (S("nope"), 999, 1)),
    (Proc.SERVER_LOOKUP_CLIENT, (S("admin"), 999, 1)),
    (Proc.CLIENT_GET_INFO, (ClientRef(S("admin"), 999, 0, 0), 1)),
    (Proc.CLIENT_GET_INFO, (ClientRef(S("nope"), 999, 0, 0), 0)),
    (Proc.CLIENT_CLOSE, (ClientRef(S("admin"), 999, 0, 0), 1)),
    (Proc.CLIENT_CLOSE, (ClientRef(S("nope"), 999, 0, 0), 1)),
    (Proc.SERVER_GET_CLIENT_LIMITS, (S("nope"), 0)),
    (Proc.SERVER_GET_CLIENT_LIMITS, (S("admin"), 1)),
    (Proc.SERVER_GET_CLIENT_LIMITS, (S("admin"), 0)),
    (Proc.SERVER_GET_CLIENT_LIMITS, (S("libvirtd"), 0)),
    (Proc.SERVER_SET_CLIENT_LIMITS, (S("nope"), [], 1)),
    (Proc.SERVER_SET_CLIENT_LIMITS, (S("admin"), [], 1)),
    (Proc.SERVER_SET_CLIENT_LIMITS, (S("admin"), [T("nclients", U, 10)], 0)),
    (Proc.SERVER_SET_CLIENT_LIMITS, (S("admin"), [T("nclients_max", 3, 10)], 0)),
    (Proc.SERVER_SET_CLIENT_LIMITS,
     (S("libvirtd"), [T("nclients_max", U, 10), T("nclients_unauth_max", U, 11)], 0)),
    (Proc.SERVER_SET_CLIENT_LIMITS, (S("libvirtd"), [T("nclients_unauth_max", U, 5001)], 0)),
    (Proc.CONNECT_GET_LOGGING_OUTPUTS, (1,)), (Proc.CONNECT_GET_LOGGING_FILTERS, (1,)),
    (Proc.CONNECT_SET_LOGGING_OUTPUTS, ("", 1)), (Proc.CONNECT_SET_LOGGING_FILTERS, (None, 1)),
    (Proc.CONNECT_SET_LOGGING_OUTPUTS, ("1:file:/nonexistent/dir/log", 0)),
    (Proc.CONNECT_SET_LOGGING_FILTERS, ("1:foo 2:bar", 0)),
    (Proc.CONNECT_GET_LOGGING_FILTERS, (0,)),
    (Proc.CONNECT_SET_LOGGING_FILTERS, (None, 0)),
    (Proc.CONNECT_GET_LOGGING_FILTERS, (0,)),
    (Proc.SERVER_UPDATE_TLS_FILES, (S("libvirtd"), 1)),
    (Proc.SERVER_UPDATE_TLS_FILES, (S("libvirtd"), 0)),
    (Proc.SERVER_UPDATE_TLS_FILES, (S("nope"), 1)),
    (Proc.CONNECT_SET_DAEMON_TIMEOUT, (0, 1)), (Proc.CONNECT_SET_DAEMON_TIMEOUT, (0, 0)),
    (Proc.CONNECT_GET_LIB_VERSION, ()),
]


async def answers(socket: str) -> list[Any]:
    """Each call's result, or every field of its error."""
    conn = await Connection.open_unix(socket, program=ADMIN)
    out: list[Any] = []
    try:
        for number, args in CALLS:
            try:
                out.append(await conn.call(number, args))
            except VirError as err:
                out.append((err.code, err.domain, err.message, err.level, err.str1, err.str2,
                            err.str3, err.int1, err.int2))
    finally:
        await conn.close()
    return out


async def test_every_procedure_answered_alike(
    both: tuple[LibvirtdPeer, LibvirtNamedRpcnetd]
) -> None:
    theirs, ours = [await answers(socket) for socket in sockets(both)]
    for (number, args), mine, libvirts in zip(CALLS, ours, theirs, strict=True):
        if number == Proc.SERVER_LIST_CLIENTS and args[2] == 0:
            assert len(mine[0]) == mine[1] == len(libvirts[0]) == libvirts[1] == 0
        elif number == Proc.SERVER_GET_CLIENT_LIMITS and args[1] == 0:
            assert mine == libvirts  # defaults alike, the one admin client each
        else:
            assert mine == libvirts, (Proc(number).name, args)


def test_virt_admin_version_needs_no_open(twin: LibvirtNamedRpcnetd) -> None:
    result = virt_admin(twin.socket_admin, "version")
    assert "Running against daemon: 9.0.0" in result.stdout
    assert "admin client connected" in twin.log()


def test_rpcnetds_own_names(rpcnetd: RpcnetdPeer) -> None:
    """By default the admin socket is rpcnet-admin-sock and the server rpcnetd."""
    rows = virt_admin_rows(str(rpcnetd.dir / "rpcnet-admin-sock"), "server-list")
    assert sorted(row[1] for row in rows) == ["admin", "rpcnetd"]


def test_admin_socket_is_private_and_removed_on_stop(twin: LibvirtNamedRpcnetd) -> None:
    mode = os.stat(twin.socket_admin).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    twin.stop()
    assert not os.path.exists(twin.socket_admin)


def test_an_admin_client_of_another_user_is_refused(twin: LibvirtNamedRpcnetd) -> None:
    """libvirtd disallows admin clients but its own user; so does rpcnetd
    (given a socket anyone may reach)."""
    os.chmod(twin.socket_admin, 0o666)
    os.chmod(twin.dir, 0o755)
    setpriv = need_executable("setpriv")
    result = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "virt-admin", "-c",
         f"libvirtd:///system?socket={twin.socket_admin}", "server-list"],
        capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0
    assert "Disallowing client" in result.stderr + twin.log()
