"""libvirt's TLS transport, end to end, with certificates made by `rpcnet pki`.

rpcnetd listens on 127.0.0.1 in this process's namespace and is driven by
the real virsh, the real Python bindings and our client. Our client is also
driven against a real libvirtd configured for TLS, inside that peer's
network namespace. Each rejection (untrusted CA, DN not on the allow-list,
expired certificate, wrong host name) is checked on both sides: the
client's error and the server's log.
"""

from __future__ import annotations

import datetime
import json
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rpcnet.cli import pki
from rpcnet.errors import ErrorCode
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.libvirtd_conf import TlsConfig
from tests.peers.pki import free_port
from tests.peers.rpcnetd import RpcnetdPeer
from tests.peers.virsh import python_json, run_client, virsh

pytestmark = pytest.mark.interop

ALLOWED = "C=XX,O=LvTest,CN=client*"
VERIFY_FAILED = "authentication failed: Failed to verify peer's certificate"
NO_CONFIRMATION = "Unable to read TLS confirmation"

# Our client, run as a separate process so it can run inside a namespace.
CLIENT = """
import asyncio, json, sys
from rpcnet.client.driver import RemoteDriver
from rpcnet.errors import VirError
from rpcnet.protocol.remote import Proc

async def main(uri):
    try:
        driver = await RemoteDriver.open(uri)
    except VirError as exc:
        return {"code": int(exc.code), "domain": int(exc.domain), "message": str(exc)}
    try:
        nets = [net.name for net in await driver.connect_list_all_networks(0)]
        (secure,) = await driver.connection.call(Proc.CONNECT_IS_SECURE, ())
        return {"nets": nets, "secure": secure}
    finally:
        await driver.close()

print(json.dumps(asyncio.run(main(sys.argv[1]))))
"""

BINDINGS = """
import json, sys, libvirt
conn = libvirt.open(sys.argv[1])
print(json.dumps({"nets": sorted(n.name() for n in conn.listAllNetworks()),
                  "secure": conn.isSecure()}))
conn.close()
"""


def rpcnet_client(uri: str, netns: str | None = None) -> dict[str, object]:
    res = run_client([sys.executable, "-c", CLIENT, uri], netns=netns, check=True)
    result: dict[str, object] = json.loads(res.stdout)
    return result



def make(*argv: str | Path) -> None:
    assert pki.main([str(a) for a in argv]) == 0


@dataclass(frozen=True, slots=True)
class Pkis:
    """The credential directories of one test module (all made by `rpcnet pki`)."""

    good: Path  # CA, server cert for 127.0.0.1, client C=XX,O=LvTest,CN=client1
    intruder: Path  # same CA, client CN=intruder (not on the allow-list)
    expired: Path  # same CA, client1 whose certificate expired
    foreign: Path  # client1 signed by another CA (trusts both CAs itself)
    rogue_server: Path  # server cert from an unknown CA (trusts our clients)
    expired_server: Path  # server cert that expired


@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> Pkis:
    root = tmp_path_factory.mktemp("tls")
    good, other_ca = root / "good", root / "other-ca"
    old = ("--not-before", "2020-01-01", "--not-after", "2020-01-02")
    make("ca", good, "--cn", "rpcnet test CA", "--org", "LvTest")
    make("server", good, "--ip", "127.0.0.1")
    make("client", good, "--cn", "client1", "--org", "LvTest", "--country", "XX")
    make("client", root / "intruder", "--ca", good, "--cn", "intruder", "--org", "LvTest",
         "--country", "XX")
    make("client", root / "expired", "--ca", good, "--cn", "client1", "--org", "LvTest",
         "--country", "XX", *old)
    make("ca", other_ca, "--cn", "other CA")
    make("client", root / "foreign", "--ca", other_ca, "--cn", "client1", "--org", "LvTest",
         "--country", "XX")
    both = (good / "cacert.pem").read_bytes() + (other_ca / "cacert.pem").read_bytes()
    (root / "foreign" / "cacert.pem").write_bytes(both)
    make("server", root / "rogue", "--ca", other_ca, "--ip", "127.0.0.1")
    (root / "rogue" / "cacert.pem").write_bytes((good / "cacert.pem").read_bytes())
    make("server", root / "expired-server", "--ca", good, "--ip", "127.0.0.1", *old)
    return Pkis(good, root / "intruder", root / "expired", root / "foreign", root / "rogue",
                root / "expired-server")


class TlsDaemon:
    """An RpcnetdPeer with a TLS listener on 127.0.0.1."""

    def __init__(self, pki_dir: Path, *extra: str) -> None:
        self.port = free_port()
        args = ("--tls", f"127.0.0.1:{self.port}", "--pki", str(pki_dir),
                "--tls-allowed-dn", ALLOWED, *extra)
        self.peer = RpcnetdPeer(extra_args=args)

    def uri(self, pki_dir: Path, host: str = "127.0.0.1", extra: str = "") -> str:
        return f"network+tls://{host}:{self.port}/system?pkipath={pki_dir}{extra}"

    def log_after(self, mark: int, needle: str, timeout: float = 5.0) -> str:
        """The log written since offset `mark`, once it contains `needle`."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.peer.log_path.read_text(errors="replace")[mark:]
            if needle in text or time.monotonic() > deadline:
                return text
            time.sleep(0.05)

    def log_mark(self) -> int:
        return len(self.peer.log_path.read_text(errors="replace"))


@pytest.fixture(scope="module")
def daemon(pkis: Pkis) -> Iterator[TlsDaemon]:
    d = TlsDaemon(pkis.good)
    with d.peer:
        yield d


# -- real libvirt clients and ours against rpcnetd ----------------------------------

def test_virsh_over_tls(virsh_bin: str, daemon: TlsDaemon, pkis: Pkis) -> None:
    out = virsh(daemon.uri(pkis.good), "net-list", "--all", check=True).stdout
    assert "default" in out
    mark = daemon.log_mark()
    virsh(daemon.uri(pkis.good), "uri", check=True)
    assert "accepted: C=XX,O=LvTest,CN=client1 (TLSv1.3)" in daemon.log_after(mark, "accepted")


def test_python_bindings_over_tls(system_python: str, daemon: TlsDaemon, pkis: Pkis) -> None:
    for _ in range(3):  # the TLS 1.3 session-ticket pitfall failed every time, not sometimes
        assert python_json(BINDINGS, daemon.uri(pkis.good)) == {"nets": ["default"], "secure": 1}


def test_rpcnet_client_over_tls(daemon: TlsDaemon, pkis: Pkis) -> None:
    assert rpcnet_client(daemon.uri(pkis.good)) == {"nets": ["default"], "secure": 1}


def test_no_verify_accepts_a_wrong_host_name(virsh_bin: str, daemon: TlsDaemon,
                                             pkis: Pkis) -> None:
    uri = daemon.uri(pkis.good, host="localhost", extra="&no_verify=1")
    assert "default" in virsh(uri, "net-list", check=True).stdout
    assert rpcnet_client(uri)["nets"] == ["default"]


def test_stalled_handshakes_do_not_stall_others(pkis: Pkis) -> None:
    d = TlsDaemon(pkis.good, "--tls-handshake-timeout", "5")
    with d.peer:
        silent = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(5)]
        half = socket.create_connection(("127.0.0.1", d.port))
        half.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello
        try:
            assert rpcnet_client(d.uri(pkis.good))["nets"] == ["default"]
            # served while every stalled handshake still waits for its timeout
            # (a clock would measure the client's start-up on a busy machine)
            assert "taking longer" not in d.log_after(0, "accepted")
            deadline = time.monotonic() + 20
            while (log := d.log_after(0, "")).count("taking longer") < 6:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert log.count("rejected: handshake failed: SSL handshake is taking longer "
                             "than 5.0 seconds") == 6
            for sock in [*silent, half]:
                sock.settimeout(2)
                assert sock.recv(100) == b""  # closed by the server
        finally:
            for sock in [*silent, half]:
                sock.close()


def test_handshakes_beyond_the_anonymous_limit_are_dropped(pkis: Pkis) -> None:
    d = TlsDaemon(pkis.good, "--max-anonymous-clients", "2", "--tls-handshake-timeout", "3")
    with d.peer:
        silent = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(2)]
        try:
            time.sleep(0.3)
            with socket.create_connection(("127.0.0.1", d.port)) as extra:
                extra.settimeout(2)
                assert extra.recv(100) == b""  # dropped at once, not after the timeout
            assert "2 handshakes already in progress" in d.log_after(0, "in progress")
        finally:
            for sock in silent:
                sock.close()
        time.sleep(0.3)
        assert rpcnet_client(d.uri(pkis.good))["nets"] == ["default"]


def test_ipv6_and_several_listeners(virsh_bin: str, pkis: Pkis, tmp_path: Path) -> None:
    d = tmp_path / "dual"
    shutil.copytree(pkis.good, d)
    make("server", d, "--ip", "127.0.0.1", "--ip", "::1", "--force")
    v6 = free_port()
    daemon = TlsDaemon(d, "--tls", f"[::1]:{v6}")
    with daemon.peer:
        for uri in (daemon.uri(d), f"network+tls://[::1]:{v6}/system?pkipath={d}"):
            assert "default" in virsh(uri, "net-list", check=True).stdout
            assert rpcnet_client(uri)["secure"] == 1
        assert f"listening for TLS on [::1]:{v6}" in daemon.log_after(0, "::1")


# -- rejections, seen by the client and in rpcnetd's log ---------------------------------

def _virsh_error(uri: str) -> str:
    res = virsh(uri, "net-list")
    assert res.returncode != 0, res.stdout
    assert res.stderr, f"virsh exited {res.returncode} without a message"
    return res.stderr


def test_wrong_host_name(virsh_bin: str, daemon: TlsDaemon, pkis: Pkis) -> None:
    uri = daemon.uri(pkis.good, host="localhost")
    mark = daemon.log_mark()
    assert f"error: {VERIFY_FAILED}" in _virsh_error(uri)
    ours = rpcnet_client(uri)
    assert ours == {"code": ErrorCode.AUTH_FAILED, "domain": 7, "message": VERIFY_FAILED}
    assert "the client closed the connection" in daemon.log_after(mark, "closed")


def _refused_after_handshake(daemon: TlsDaemon, pki_dir: Path, needle: str) -> str:
    """Dial with virsh and ours; both must miss the confirmation byte. Returns the log."""
    uri = daemon.uri(pki_dir)
    mark = daemon.log_mark()
    assert f"error: {NO_CONFIRMATION}: Input/output error" in _virsh_error(uri)
    ours = rpcnet_client(uri)
    assert ours["code"] == ErrorCode.SYSTEM_ERROR
    assert str(ours["message"]).startswith(NO_CONFIRMATION)
    return daemon.log_after(mark, needle)


def test_dn_not_on_the_allow_list(virsh_bin: str, daemon: TlsDaemon, pkis: Pkis) -> None:
    log = _refused_after_handshake(daemon, pkis.intruder, "intruder")
    assert log.count("rejected: Client's Distinguished Name is not on the list of allowed "
                     "clients (tls_allowed_dn_list): C=XX,O=LvTest,CN=intruder") == 2


def test_client_certificate_from_an_untrusted_ca(virsh_bin: str, daemon: TlsDaemon,
                                                 pkis: Pkis) -> None:
    log = _refused_after_handshake(daemon, pkis.foreign, "chain")
    assert log.count("rejected: handshake failed: client certificate verification failed: ") == 2
    # GnuTLS sends the leaf alone, OpenSSL the leaf and the (untrusted) CA it chains to
    assert "failed: unable to get local issuer certificate" in log
    assert "failed: self-signed certificate in certificate chain" in log


def test_expired_client_certificate(virsh_bin: str, daemon: TlsDaemon, pkis: Pkis) -> None:
    uri = daemon.uri(pkis.expired)
    # libvirt's client refuses its own expired certificate before it dials
    assert f"The client certificate {pkis.expired}/clientcert.pem has expired" in \
        _virsh_error(uri)
    mark = daemon.log_mark()
    ours = rpcnet_client(uri)
    assert ours["code"] == ErrorCode.SYSTEM_ERROR
    assert str(ours["message"]).startswith(NO_CONFIRMATION)
    assert "client certificate verification failed: certificate has expired" in \
        daemon.log_after(mark, "expired")


def _revoke(ca_dir: Path, cert_file: Path, crl_file: Path) -> None:
    ca = x509.load_pem_x509_certificate((ca_dir / "cacert.pem").read_bytes())
    key = serialization.load_pem_private_key((ca_dir / "cakey.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    serial = x509.load_pem_x509_certificate(cert_file.read_bytes()).serial_number
    now = datetime.datetime.now(datetime.UTC)
    revoked = (x509.RevokedCertificateBuilder().serial_number(serial)
               .revocation_date(now - datetime.timedelta(hours=1)).build())
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
           .last_update(now - datetime.timedelta(hours=1))
           .next_update(now + datetime.timedelta(days=1))
           .add_revoked_certificate(revoked).sign(key, hashes.SHA256()))
    crl_file.write_bytes(crl.public_bytes(serialization.Encoding.PEM))


def test_revoked_client_certificate(virsh_bin: str, pkis: Pkis, tmp_path: Path) -> None:
    server_dir, revoked = tmp_path / "server", tmp_path / "revoked"
    shutil.copytree(pkis.good, server_dir)
    make("client", revoked, "--ca", pkis.good, "--cn", "client2", "--org", "LvTest",
         "--country", "XX")
    _revoke(pkis.good, revoked / "clientcert.pem", server_dir / "cacrl.pem")
    daemon = TlsDaemon(server_dir)
    with daemon.peer:
        assert rpcnet_client(daemon.uri(pkis.good))["secure"] == 1  # others still get in
        log = _refused_after_handshake(daemon, revoked, "revoked")
        assert log.count("client certificate verification failed: certificate revoked") == 2


@pytest.mark.parametrize("server", ["rogue_server", "expired_server"])
def test_server_certificate_rejected(virsh_bin: str, pkis: Pkis, server: str) -> None:
    d = TlsDaemon(getattr(pkis, server))
    with d.peer:
        uri = d.uri(pkis.good)
        assert f"error: {VERIFY_FAILED}" in _virsh_error(uri)
        ours = rpcnet_client(uri)
        assert ours == {"code": ErrorCode.AUTH_FAILED, "domain": 7, "message": VERIFY_FAILED}


# -- our client against a real libvirtd ----------------------------------------------------

@pytest.fixture(scope="module")
def tls_libvirtd(libvirtd_available: None, pkis: Pkis) -> Iterator[LibvirtdPeer]:
    d = pkis.good
    tls = TlsConfig(cert_file=d / "servercert.pem", key_file=d / "serverkey.pem",
                    ca_file=d / "cacert.pem", allowed_dn_list=[ALLOWED])
    with LibvirtdPeer(tls=tls) as peer:
        yield peer


def _lvd_uri(pki_dir: Path, host: str = "127.0.0.1") -> str:
    return f"test+tls://{host}/default?pkipath={pki_dir}"


def test_rpcnet_client_against_libvirtd(tls_libvirtd: LibvirtdPeer, pkis: Pkis) -> None:
    ours = rpcnet_client(_lvd_uri(pkis.good), netns=tls_libvirtd.netns)
    assert ours == {"nets": ["default"], "secure": 1}


@pytest.mark.parametrize(("who", "host"), [("intruder", "127.0.0.1"), ("good", "localhost")])
def test_libvirtd_rejections_worded_as_virsh(virsh_bin: str, tls_libvirtd: LibvirtdPeer,
                                             pkis: Pkis, who: str, host: str) -> None:
    uri = _lvd_uri(getattr(pkis, who), host)
    ns = tls_libvirtd.netns
    res = virsh(uri, "net-list", netns=ns)
    assert res.returncode != 0
    theirs = res.stderr.strip().splitlines()[-1].removeprefix("error: ")
    ours = rpcnet_client(uri, netns=ns)
    assert ours["message"] == theirs


def test_failures_and_refusals_are_counted_in_the_metrics(pkis: Pkis) -> None:
    from tests.peers.metrics import metrics_url, samples, scrape, value

    d = TlsDaemon(pkis.good, "--metrics", "127.0.0.1:0", "--max-anonymous-clients", "1",
                  "--tls-handshake-timeout", "3")
    with d.peer:
        with socket.create_connection(("127.0.0.1", d.port)) as garbage:
            garbage.sendall(b"GET / HTTP/1.0\r\n\r\n")  # not a TLS ClientHello
        assert "handshake failed" in d.log_after(0, "handshake failed")
        mark = d.log_mark()
        with socket.create_connection(("127.0.0.1", d.port)):
            time.sleep(0.3)  # as above: the silent one is in its handshake
            with socket.create_connection(("127.0.0.1", d.port)) as extra:
                extra.settimeout(2)
                assert extra.recv(100) == b""
        assert "handshake failed" in d.log_after(mark, "handshake failed")
        assert rpcnet_client(d.uri(pkis.intruder))["code"] == ErrorCode.SYSTEM_ERROR
        assert rpcnet_client(d.uri(pkis.good))["nets"] == ["default"]
        found = samples(scrape(metrics_url(d.peer.log())))
    assert value(found, "rpcnet_tls_handshake_failures_total", reason="handshake") == 2
    assert value(found, "rpcnet_tls_handshake_failures_total", reason="dn_not_allowed") == 1
    assert value(found, "rpcnet_clients_refused_total", limit="max_anonymous_clients") == 1
    assert value(found, "rpcnet_client_connections_total", transport="tls") == 1
