"""`rpcnet pki`, the allow-list DN format and the TLS settings, without sockets."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from rpcnet.cli import pki
from rpcnet.client.tls import ClientCredentials, client_context
from rpcnet.errors import ErrorCode, VirError
from rpcnet.server.dn import DnAllowList, certificate_dn, format_dn
from rpcnet.server.metrics import parse_metrics_address
from rpcnet.server.tls import (
    ServerCredentials,
    parse_listen_address,
    server_context,
)
from tests.peers.requirements import need_executable

QUERY_DN = "/usr/bin/virt-pki-query-dn"


def _pki(*argv: str | Path) -> int:
    return pki.main([str(a) for a in argv])


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.fixture
def pkidir(tmp_path: Path) -> Path:
    d = tmp_path / "pki"
    assert _pki("ca", d, "--cn", "Test CA", "--org", "LvTest") == 0
    assert _pki("server", d, "--host", "host.example", "--ip", "127.0.0.1", "--ip", "::1") == 0
    assert _pki("client", d, "--cn", "client1", "--org", "LvTest", "--country", "XX") == 0
    return d


# -- rpcnet pki ---------------------------------------------------------------

def test_files_in_libvirts_layout_with_safe_modes(pkidir: Path) -> None:
    names = {p.name: p.stat().st_mode & 0o777 for p in pkidir.iterdir()}
    assert names == {
        "cacert.pem": 0o644, "cakey.pem": 0o600,
        "servercert.pem": 0o644, "serverkey.pem": 0o600,
        "clientcert.pem": 0o644, "clientkey.pem": 0o600,
    }
    assert pkidir.stat().st_mode & 0o777 == 0o700


def test_ca_has_what_libvirt_checks(pkidir: Path) -> None:
    ca = _cert(pkidir / "cacert.pem")
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert basic.critical and basic.value.ca
    assert usage.key_cert_sign
    assert ca.subject == ca.issuer
    assert certificate_dn(ca) == "O=LvTest,CN=Test CA"


@pytest.mark.parametrize(("name", "eku"), [("server", ExtendedKeyUsageOID.SERVER_AUTH),
                                          ("client", ExtendedKeyUsageOID.CLIENT_AUTH)])
def test_leaves_have_what_libvirt_checks(pkidir: Path, name: str, eku: ObjectIdentifier) -> None:
    cert = _cert(pkidir / f"{name}cert.pem")
    ca = _cert(pkidir / "cacert.pem")
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [eku]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(ca)


def test_server_certificate_carries_names_and_addresses(pkidir: Path) -> None:
    san = _cert(pkidir / "servercert.pem").extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["host.example"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    assert certificate_dn(_cert(pkidir / "servercert.pem")) == "CN=host.example"


def test_client_dn_and_the_dn_command(pkidir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert _pki("dn", pkidir / "clientcert.pem") == 0
    assert capsys.readouterr().out == "C=XX,O=LvTest,CN=client1\n"


def test_refuses_to_replace_files_unless_forced(pkidir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    before = (pkidir / "clientkey.pem").read_bytes()
    assert _pki("client", pkidir, "--cn", "again") == 1
    assert "exists (use --force" in capsys.readouterr().err
    assert (pkidir / "clientkey.pem").read_bytes() == before
    assert _pki("client", pkidir, "--cn", "again", "--force") == 0
    assert certificate_dn(_cert(pkidir / "clientcert.pem")) == "CN=again"


def test_another_dir_signed_by_the_ca_gets_its_certificate(pkidir: Path, tmp_path: Path) -> None:
    other = tmp_path / "deep" / "other"
    assert _pki("client", other, "--ca", pkidir, "--cn", "c2") == 0
    assert sorted(p.name for p in other.iterdir()) == ["cacert.pem", "clientcert.pem",
                                                       "clientkey.pem"]
    assert (other / "cacert.pem").read_bytes() == (pkidir / "cacert.pem").read_bytes()


def test_validity_options(pkidir: Path, tmp_path: Path) -> None:
    d = tmp_path / "old"
    assert _pki("client", d, "--ca", pkidir, "--cn", "old", "--not-before", "2020-01-01",
                "--not-after", "2020-01-02T12:00:00") == 0
    cert = _cert(d / "clientcert.pem")
    assert cert.not_valid_after_utc == datetime.datetime(2020, 1, 2, 12, tzinfo=datetime.UTC)
    assert _pki("server", d, "--ca", pkidir, "--ip", "10.0.0.1", "--days", "3") == 0
    left = _cert(d / "servercert.pem").not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(days=2, hours=23) < left <= datetime.timedelta(days=3)


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _pki("server", tmp_path, "--ip", "127.0.0.1") == 1
    assert "cacert.pem" in capsys.readouterr().err
    assert _pki("ca", tmp_path / "ca") == 0
    assert _pki("server", tmp_path / "ca") == 1
    assert "--host or --ip" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _pki("server", tmp_path / "ca", "--ip", "not-an-ip")


# -- DN format and allow-list --------------------------------------------------

def _named(*rdns: list[x509.NameAttribute[str]]) -> x509.Name:
    return x509.Name([x509.RelativeDistinguishedName(r) for r in rdns])


_A = x509.NameAttribute
ODD_NAME = _named(
    [_A(NameOID.COUNTRY_NAME, "DE")],
    [_A(NameOID.STATE_OR_PROVINCE_NAME, "Bay ern")],
    [_A(NameOID.LOCALITY_NAME, "Mü,nich")],
    [_A(NameOID.ORGANIZATION_NAME, 'A+B "Q" <x>;=#')],
    [_A(NameOID.ORGANIZATIONAL_UNIT_NAME, "u1"), _A(NameOID.COMMON_NAME, "multi")],
    [_A(NameOID.DOMAIN_COMPONENT, "example")],
    [_A(NameOID.EMAIL_ADDRESS, "a@b.c")],
    [_A(NameOID.SERIAL_NUMBER, "1234")],
    [_A(NameOID.USER_ID, "uid1")],
    [_A(NameOID.TITLE, "Dr")],
    [_A(NameOID.GIVEN_NAME, "G")],
    [_A(NameOID.SURNAME, "S")],
    [_A(NameOID.STREET_ADDRESS, "St")],
    [_A(ObjectIdentifier("2.5.4.20"), "123", _ASN1Type.PrintableString)],
    [_A(ObjectIdentifier("2.5.4.20"), "123")],
    [_A(ObjectIdentifier("1.2.3.4"), "odd")],
    [_A(ObjectIdentifier("1.2.3.7"), "bm", _ASN1Type.BMPString)],
    [_A(NameOID.COMMON_NAME, "#hash")],
    [_A(NameOID.COMMON_NAME, " lead trail ")],
)


def test_dn_format_in_certificate_order_with_gnutls_names() -> None:
    assert format_dn(_named([_A(NameOID.COUNTRY_NAME, "XX")],
                            [_A(NameOID.ORGANIZATION_NAME, "LvTest")],
                            [_A(NameOID.COMMON_NAME, "client1")])) == "C=XX,O=LvTest,CN=client1"
    dn = format_dn(ODD_NAME)
    assert dn.startswith('C=DE,ST=Bay ern,L=Mü\\,nich,O=A\\+B \\"Q\\" \\<x\\>\\;=#,OU=u1+CN=multi,')
    assert ",EMAIL=a@b.c,serialNumber=1234,UID=uid1,title=Dr,givenName=G,surName=S," in dn
    assert ",street=St,telephoneNumber=123,telephoneNumber=#0c03313233," in dn
    assert dn.endswith(",1.2.3.4=#0c036f6464,1.2.3.7=#1e040062006d,CN=\\#hash,CN=\\ lead trail\\ ")


def test_dn_format_is_what_virt_pki_query_dn_prints(tmp_path: Path) -> None:
    tool = need_executable(QUERY_DN)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    for i, name in enumerate([ODD_NAME, pki.subject("client1", "LvTest", "XX")]):
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(1).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
        pki.write_pair(tmp_path, f"c{i}", cert, None)
        path = tmp_path / f"c{i}cert.pem"
        out = subprocess.run([tool, str(path)], capture_output=True, check=True).stdout
        assert out.decode().rstrip("\n") == certificate_dn(cert)


@pytest.mark.parametrize(("patterns", "dn", "allowed"), [
    (None, "anything", True),
    ([], "C=XX,O=LvTest,CN=client1", False),
    (["C=XX,O=LvTest,CN=client1"], "C=XX,O=LvTest,CN=client1", True),
    (["C=XX,O=LvTest,CN=client1"], "C=XX,O=LvTest,CN=client10", False),
    (["C=XX,O=LvTest,CN=client?"], "C=XX,O=LvTest,CN=client2", True),
    (["C=XX,O=LvTest,CN=*"], "C=XX,O=LvTest,CN=a,b", True),
    (["*,CN=admin"], "C=XX,O=LvTest,CN=admin", True),
    (["c=xx,o=lvtest,cn=client1"], "C=XX,O=LvTest,CN=client1", False),
    (["CN=[ab]"], "CN=a", False),  # GLib's simple globs have no classes
    (["CN=[ab]"], "CN=[ab]", True),
    (["CN=a.c"], "CN=abc", False),
    (["O=x", "CN=y*"], "CN=yes", True),
])
def test_allow_list_globs_like_glib(patterns: list[str] | None, dn: str, allowed: bool) -> None:
    assert DnAllowList(patterns).allows(dn) is allowed


# -- listener address, contexts and credential paths -----------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1", ("127.0.0.1", 16514)),
    ("127.0.0.1:17000", ("127.0.0.1", 17000)),
    ("[::1]", ("::1", 16514)),
    ("[::1]:17000", ("::1", 17000)),
    ("::", ("::", 16514)),
    ("host.example:1", ("host.example", 1)),
])
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text", ["", ":16514", "[::1", "[::1]x", "h:0", "h:70000", "h:x"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen_address(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9177", ("127.0.0.1", 9177)),
    ("127.0.0.1:0", ("127.0.0.1", 0)),
    ("[::1]:9177", ("::1", 9177)),
    ("[::1]:0", ("::1", 0)),
])
def test_metrics_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_metrics_address(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1", "::1", "::1:9177", "[::1]", "h:70000", "[::1"])
def test_metrics_addresses_need_a_port(text: str) -> None:
    """A bare IPv6 literal is a host with no port, not a host and a port."""
    with pytest.raises(ValueError):
        parse_metrics_address(text)


def test_server_context_settings(pkidir: Path) -> None:
    ctx = server_context(ServerCredentials.from_dir(pkidir))
    assert ctx.num_tickets == 0  # GnuTLS clients fail on TLS 1.3 session tickets
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert not ctx.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF


def test_server_defaults_and_missing_files(tmp_path: Path) -> None:
    assert ServerCredentials.from_dir(None) == ServerCredentials(
        ca_cert=Path("/etc/pki/CA/cacert.pem"), ca_crl=Path("/etc/pki/CA/cacrl.pem"),
        cert=Path("/etc/pki/libvirt/servercert.pem"),
        key=Path("/etc/pki/libvirt/private/serverkey.pem"))
    with pytest.raises(ssl.SSLError, match=r"Cannot read CA certificate '.*cacert\.pem'"):
        server_context(ServerCredentials.from_dir(tmp_path))


def test_client_credentials_paths(tmp_path: Path) -> None:
    d = ClientCredentials.locate(str(tmp_path))
    assert d == ClientCredentials(tmp_path / "cacert.pem", tmp_path / "cacrl.pem",
                                  tmp_path / "clientcert.pem", tmp_path / "clientkey.pem")
    root = ClientCredentials.locate(None)
    assert root == ClientCredentials(
        Path("/etc/pki/CA/cacert.pem"), Path("/etc/pki/CA/cacrl.pem"),
        Path("/etc/pki/libvirt/clientcert.pem"), Path("/etc/pki/libvirt/private/clientkey.pem"))
    user = tmp_path / "home" / ".pki" / "libvirt"
    user.mkdir(parents=True)
    (user / "cacert.pem").touch()
    (user / "clientcert.pem").touch()  # no key beside it: the pair falls back together
    got = ClientCredentials.locate(None, home=tmp_path / "home")
    assert got == ClientCredentials(user / "cacert.pem", root.ca_crl, root.cert, root.key)
    (user / "clientkey.pem").touch()
    got = ClientCredentials.locate(None, home=tmp_path / "home")
    assert (got.cert, got.key) == (user / "clientcert.pem", user / "clientkey.pem")


def test_client_context(pkidir: Path, tmp_path: Path) -> None:
    ctx = client_context(ClientCredentials.locate(str(pkidir)))
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    lax = client_context(ClientCredentials.locate(str(pkidir)), verify=False)
    assert not lax.check_hostname and lax.verify_mode == ssl.CERT_NONE
    with pytest.raises(VirError) as info:
        client_context(ClientCredentials.locate(str(tmp_path)))
    assert info.value.code == ErrorCode.SYSTEM_ERROR
    assert str(info.value) == (f"Cannot read CA certificate '{tmp_path}/cacert.pem': "
                               "No such file or directory")


def test_reachable_as_rpcnet_pki(pkidir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rpcnet.cli.console import main as rpcnet_main

    capsys.readouterr()
    assert rpcnet_main(["pki", "dn", str(pkidir / "clientcert.pem")]) == 0
    assert capsys.readouterr().out == "C=XX,O=LvTest,CN=client1\n"
