"""What the admin program's calls do to rpcnetd, through the real virt-admin:
client limits enforced at once, the worker pool as it is, logging changed
live, new TLS files for new handshakes only, a TLS client's certificate DN,
and the idle timeout."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from rpcnet.cli import pki
from rpcnet.client.connection import Connection
from rpcnet.protocol.admin import ADMIN, Proc, ServerRef
from rpcnet.protocol.values import ParamType, TypedParam
from tests.peers.admin import (
    LibvirtNamedRpcnetd,
    hold_client,
    virt_admin,
    virt_admin_fields,
    virt_admin_rows,
)
from tests.peers.pki import free_port
from tests.peers.virsh import virsh

pytestmark = pytest.mark.interop


@pytest.fixture
def rpcnetd() -> Iterator[LibvirtNamedRpcnetd]:
    with LibvirtNamedRpcnetd() as peer:
        yield peer


def wait_for(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_client_limits_are_enforced_at_once(rpcnetd: LibvirtNamedRpcnetd) -> None:
    admin = rpcnetd.socket_admin
    with hold_client(rpcnetd.uri()):
        assert virt_admin(admin, "server-clients-set", "libvirtd", "--max-clients", "1",
                          "--max-unauth-clients", "0").returncode == 0
        fields = virt_admin_fields(admin, "server-clients-info", "libvirtd")
        assert (fields["nclients_max"], fields["nclients"]) == ("1", "1")
        refused = virsh(rpcnetd.uri(), "net-list")
        assert refused.returncode != 0
        assert "Too many active clients (1), dropping connection" in refused.stderr
        assert virt_admin(admin, "server-clients-set", "libvirtd",
                          "--max-clients", "2").returncode == 0
        assert virsh(rpcnetd.uri(), "net-list").returncode == 0
    assert "refusing client" in rpcnetd.log()


async def test_the_admin_servers_limit_too(rpcnetd: LibvirtNamedRpcnetd) -> None:
    admin = rpcnetd.socket_admin
    assert virt_admin(admin, "server-clients-set", "admin", "--max-clients", "1").returncode == 0
    holder = await Connection.open_unix(admin, program=ADMIN)
    try:
        assert await holder.call(Proc.CONNECT_GET_LIB_VERSION, ()) == (9_000_000,)
        refused = virt_admin(admin, "server-list")
        assert refused.returncode != 0
        assert "Too many active clients (1), dropping connection" in refused.stderr
        limit = TypedParam("nclients_max", ParamType.UINT, 5)
        await holder.call(Proc.SERVER_SET_CLIENT_LIMITS, (ServerRef("admin"), [limit], 0))
    finally:
        await holder.close()
    assert virt_admin(admin, "server-list").returncode == 0


def test_the_worker_pool_is_one_event_loop(rpcnetd: LibvirtNamedRpcnetd) -> None:
    admin = rpcnetd.socket_admin
    assert virt_admin_fields(admin, "server-threadpool-info", "libvirtd") == {
        "minWorkers": "1", "maxWorkers": "1", "nWorkers": "1", "freeWorkers": "1",
        "prioWorkers": "0", "jobQueueDepth": "0"}
    # the admin server's one worker is busy answering the question
    assert virt_admin_fields(admin, "server-threadpool-info", "admin")["freeWorkers"] == "0"
    same = virt_admin(admin, "server-threadpool-set", "libvirtd", "--min-workers", "1",
                      "--max-workers", "1", "--priority-workers", "0")
    assert same.returncode == 0, same.stderr
    bigger = virt_admin(admin, "server-threadpool-set", "libvirtd", "--max-workers", "8")
    assert bigger.returncode != 0
    assert ("Operation not supported: rpcnetd runs every call on one event loop: its worker "
            "pool has one worker and no priority workers, which cannot change") in bigger.stderr


def test_log_outputs_and_filters_change_live(rpcnetd: LibvirtNamedRpcnetd,
                                            tmp_path: Path) -> None:
    admin, log = rpcnetd.socket_admin, tmp_path / "admin.log"
    set_outputs = virt_admin(admin, "daemon-log-outputs", f"2:file:{log} 1:stderr")
    assert set_outputs.returncode == 0, set_outputs.stderr
    assert virt_admin(admin, "daemon-log-outputs").stdout == (
        f" Logging outputs: 2:file:{log} 1:stderr\n\n")
    assert wait_for(lambda: "admin client disconnected" in log.read_text())
    # a filter quietens the server's messages (rpcnet.server) below warnings
    assert virt_admin(admin, "daemon-log-filters", "3:rpcnet.server").returncode == 0
    quiet_from = log.stat().st_size
    with hold_client(rpcnetd.uri()):
        pass
    assert "client connected" not in log.read_text()[quiet_from:]
    assert virt_admin(admin, "daemon-log-filters", "--filters", "").returncode == 0
    with hold_client(rpcnetd.uri()):
        pass
    assert wait_for(lambda: "log filters set to (none)" in log.read_text())
    assert wait_for(lambda: "client connected" in log.read_text().split("(none)")[-1])
    # none: back to rpcnetd's default output, and the file is let go
    assert virt_admin(admin, "daemon-log-outputs", "--outputs", "").returncode == 0
    assert virt_admin(admin, "daemon-log-outputs").stdout == " Logging outputs: 1:stderr\n\n"
    size = log.stat().st_size
    with hold_client(rpcnetd.uri()):
        pass
    assert log.stat().st_size == size


def test_the_idle_timeout_set_live(rpcnetd: LibvirtNamedRpcnetd) -> None:
    assert virt_admin(rpcnetd.socket_admin, "daemon-timeout", "--timeout", "1").returncode == 0
    assert rpcnetd.proc is not None
    assert rpcnetd.proc.wait(20) == 0  # no client once virt-admin is gone
    assert "no client for 1 seconds, exiting" in rpcnetd.log()


# -- TLS ------------------------------------------------------------------------------


def make(*argv: str | Path) -> None:
    assert pki.main([str(a) for a in argv]) == 0


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    make("ca", directory, "--cn", "rpcnet test CA", "--org", "LvTest")
    make("server", directory, "--ip", "127.0.0.1")
    make("client", directory, "--cn", "client1", "--org", "LvTest", "--country", "XX")
    return directory



def served_certificate(port: int, directory: Path) -> bytes:
    """The certificate a new TLS handshake with the daemon presents (DER)."""
    context = ssl.create_default_context(cafile=str(directory / "cacert.pem"))
    context.load_cert_chain(directory / "clientcert.pem", directory / "clientkey.pem")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        der = tls.getpeercert(binary_form=True)
        assert tls.recv(1) == b"\x01"  # libvirt's confirmation: accepted
    assert der is not None
    return der


def file_certificate(directory: Path) -> bytes:
    pem = (directory / "servercert.pem").read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def test_new_tls_files_serve_new_handshakes_only(tls_dir: Path) -> None:
    port = free_port()
    with LibvirtNamedRpcnetd("--tls", f"127.0.0.1:{port}", "--pki", str(tls_dir)) as rpcnetd:
        admin = rpcnetd.socket_admin
        uri = f"network+tls://127.0.0.1:{port}/system?pkipath={tls_dir}"
        old = file_certificate(tls_dir)
        with hold_client(uri) as held:
            [row] = virt_admin_rows(admin, "client-list", "libvirtd")
            assert row[1] == "tls"
            info = virt_admin_fields(admin, "client-info", "libvirtd", row[0])
            assert info["x509_dname"] == "C=XX,O=LvTest,CN=client1"
            assert info["sock_addr"].startswith("127.0.0.1:") and info["readonly"] == "no"
            assert "unix_user_id" not in info
            make("server", tls_dir, "--ip", "127.0.0.1", "--force")
            new = file_certificate(tls_dir)
            assert new != old and served_certificate(port, tls_dir) == old
            result = virt_admin(admin, "server-update-tls", "libvirtd")
            assert result.returncode == 0, result.stderr
            assert served_certificate(port, tls_dir) == new
            # the connection made before goes on with its session
            assert virt_admin_rows(admin, "client-list", "libvirtd")[0][0] == row[0]
            assert held.proc.poll() is None
        assert "TLS files reloaded for new connections" in rpcnetd.log()
        # files that cannot be used change nothing
        (tls_dir / "serverkey.pem").write_text("not a key")
        broken = virt_admin(admin, "server-update-tls", "libvirtd")
        assert broken.returncode != 0 and "Unable to reload the TLS files" in broken.stderr
        assert served_certificate(port, tls_dir) == new



def test_clients_in_their_tls_handshake_counted_and_limited_live(tls_dir: Path) -> None:
    port = free_port()
    with LibvirtNamedRpcnetd("--tls", f"127.0.0.1:{port}", "--pki", str(tls_dir),
                             "--tls-handshake-timeout", "30") as rpcnetd:
        admin = rpcnetd.socket_admin
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        try:
            assert wait_for(lambda: virt_admin_fields(admin, "server-clients-info", "libvirtd")
                            ["nclients_unauth"] == "2")
            assert virt_admin(admin, "server-clients-set", "libvirtd",
                              "--max-unauth-clients", "2").returncode == 0
            with socket.create_connection(("127.0.0.1", port)) as third:
                third.settimeout(10)
                assert third.recv(100) == b""  # dropped at once: two handshakes already
            assert "dropped: 2 handshakes already in progress" in rpcnetd.log()
            assert virt_admin(admin, "server-clients-set", "libvirtd",
                              "--max-unauth-clients", "0").returncode == 0  # no limit
            assert served_certificate(port, tls_dir) == file_certificate(tls_dir)
        finally:
            for sock in silent:
                sock.close()
