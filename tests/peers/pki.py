"""Throwaway TLS credentials laid out as libvirt's `pkipath` expects.

`make_pki(dir)` writes cacert.pem, servercert.pem/serverkey.pem (SAN IP
127.0.0.1) and clientcert.pem/clientkey.pem (DN `C=XX,O=LvTest,CN=<client>`)
with the key usages libvirt checks at load time (wire-facts section 10).
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.peers.libvirtd_conf import TlsConfig

_LEAF_USAGE = x509.KeyUsage(True, False, True, False, False, False, False, False, False)
_CA_USAGE = x509.KeyUsage(False, False, False, False, False, True, True, False, False)


@dataclass(frozen=True, slots=True)
class Pki:
    dir: Path
    client_dn: str

    def server_tls(
        self, *, port: int = 16514, allowed_dn_list: Sequence[str] | None = None
    ) -> TlsConfig:
        """TlsConfig for a LibvirtdPeer serving with these files."""
        d = self.dir
        return TlsConfig(
            cert_file=d / "servercert.pem",
            key_file=d / "serverkey.pem",
            ca_file=d / "cacert.pem",
            port=port,
            allowed_dn_list=allowed_dn_list,
        )


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "LvTest"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _builder(
    subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        path.with_name(path.name.replace("cert", "key")).write_bytes(pem)


def make_pki(directory: Path, client_cn: str = "client1") -> Pki:
    """Write a CA, a server and a client certificate into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        _builder("ca", _name("ca"), ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write(directory / "cacert.pem", ca, None)
    server_san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaves = [
        ("servercert.pem", "server", ExtendedKeyUsageOID.SERVER_AUTH, server_san),
        ("clientcert.pem", client_cn, ExtendedKeyUsageOID.CLIENT_AUTH, []),
    ]
    for filename, cn, usage, san in leaves:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _builder(cn, ca.subject, key).add_extension(_LEAF_USAGE, critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        _write(directory / filename, builder.sign(ca_key, hashes.SHA256()), key)
    return Pki(dir=directory, client_dn=f"C=XX,O=LvTest,CN={client_cn}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 free just now (for a TLS listener)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
