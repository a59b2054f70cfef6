"""``rpcnet pki``: certificates for libvirt's TLS transport, in libvirt's layout.

    rpcnet pki ca DIR [--cn NAME]                  # DIR/cacert.pem, DIR/cakey.pem
    rpcnet pki server DIR --host NAME --ip ADDR    # DIR/servercert.pem, serverkey.pem
    rpcnet pki client DIR --cn NAME [--org ORG]    # DIR/clientcert.pem, clientkey.pem
    rpcnet pki dn CERTFILE                         # the DN for --tls-allowed-dn

``server`` and ``client`` sign with the CA in ``--ca CADIR`` (default DIR)
and copy its cacert.pem into DIR, so DIR works both as a client's
``?pkipath=DIR`` and as ``rpcnetd --pki DIR``. Keys are written 0600 and
directories created 0700. Certificates carry what libvirt checks at load:
the CA has basicConstraints CA:TRUE and keyCertSign; leaves have
digitalSignature and keyEncipherment and the serverAuth or clientAuth
extended key usage.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rpcnet.server.dn import certificate_dn

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_UTC = datetime.UTC


class PkiError(Exception):
    """A certificate cannot be made or read (the message says why)."""


@dataclass(frozen=True, slots=True)
class Validity:
    not_before: datetime.datetime
    not_after: datetime.datetime

    @classmethod
    def days(cls, days: int) -> Validity:
        """From an hour ago (clock skew) to ``days`` days from now."""
        now = datetime.datetime.now(_UTC)
        return cls(now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days))


@dataclass(frozen=True, slots=True)
class Issuer:
    cert: x509.Certificate
    key: PrivateKey


def subject(cn: str, org: str | None = None, country: str | None = None) -> x509.Name:
    """``C=..,O=..,CN=..`` (in that order, the order libvirt's DN shows)."""
    attrs = []
    if country:
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def new_key(kind: str = "ec") -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return ec.generate_private_key(ec.SECP256R1())


def _builder(name: x509.Name, issuer: x509.Name, key: PrivateKey,
             validity: Validity) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(validity.not_before).not_valid_after(validity.not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))


def make_ca(name: x509.Name, key: PrivateKey, validity: Validity) -> x509.Certificate:
    """A self-signed CA certificate (CA:TRUE, keyCertSign and cRLSign)."""
    usage = x509.KeyUsage(digital_signature=False, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=True, encipher_only=False,
                          decipher_only=False)
    return (_builder(name, name, key, validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .sign(key, hashes.SHA256()))


def make_leaf(name: x509.Name, key: PrivateKey, issuer: Issuer, validity: Validity, *,
              server: bool, sans: Sequence[x509.GeneralName] = ()) -> x509.Certificate:
    """A server or client certificate signed by ``issuer``."""
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=True, data_encipherment=False, key_agreement=False,
                          key_cert_sign=False, crl_sign=False, encipher_only=False,
                          decipher_only=False)
    eku = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
    builder = (_builder(name, issuer.cert.subject, key, validity)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(usage, critical=True)
               .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
               .add_extension(aki, critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer.key, hashes.SHA256())


# -- files ------------------------------------------------------------------

def _make_dir(directory: Path) -> None:
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        directory.chmod(0o700)


def _write(path: Path, data: bytes, mode: int, force: bool) -> None:
    """Write ``data`` to ``path`` with ``mode`` (atomically; never over a file unless ``force``)."""
    if path.exists() and not force:
        raise PkiError(f"{path} exists (use --force to replace it)")
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_pair(directory: Path, stem: str, cert: x509.Certificate, key: PrivateKey | None,
               *, force: bool = False) -> None:
    """``DIR/<stem>cert.pem`` (0644) and, if given, ``DIR/<stem>key.pem`` (0600)."""
    names = [f"{stem}key.pem"] if key is not None else []
    for name in [*names, f"{stem}cert.pem"]:
        if (directory / name).exists() and not force:
            raise PkiError(f"{directory / name} exists (use --force to replace it)")
    _make_dir(directory)
    if key is not None:
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        _write(directory / f"{stem}key.pem", pem, 0o600, force)
    _write(directory / f"{stem}cert.pem", cert.public_bytes(serialization.Encoding.PEM),
           0o644, force)


def read_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read certificate {path}: {exc}") from None


def read_issuer(ca_dir: Path) -> Issuer:
    """The CA in ``ca_dir`` (cacert.pem and cakey.pem)."""
    cert = read_cert(ca_dir / "cacert.pem")
    try:
        key = serialization.load_pem_private_key((ca_dir / "cakey.pem").read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise PkiError(f"cannot read CA key {ca_dir / 'cakey.pem'}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PkiError(f"{ca_dir / 'cakey.pem'}: unsupported key type")
    return Issuer(cert, key)


# -- commands -----------------------------------------------------------------

def _validity(args: argparse.Namespace) -> Validity:
    default = Validity.days(args.days)
    return Validity(args.not_before or default.not_before, args.not_after or default.not_after)


def _cmd_ca(args: argparse.Namespace) -> None:
    key = new_key(args.key_type)
    cert = make_ca(subject(args.cn, args.org, args.country), key, _validity(args))
    write_pair(args.dir, "ca", cert, key, force=args.force)
    print(f"CA: {args.dir / 'cacert.pem'} ({certificate_dn(cert)})")


def _leaf(args: argparse.Namespace, role: str, cn: str,
          sans: Sequence[x509.GeneralName]) -> None:
    ca_dir = args.ca or args.dir
    issuer = read_issuer(ca_dir)
    key = new_key(args.key_type)
    cert = make_leaf(subject(cn, args.org, args.country), key, issuer, _validity(args),
                     server=role == "server", sans=sans)
    write_pair(args.dir, role, cert, key, force=args.force)
    if ca_dir.resolve() != args.dir.resolve():
        ca_copy = args.dir / "cacert.pem"
        if args.force or not ca_copy.exists():
            _write(ca_copy, issuer.cert.public_bytes(serialization.Encoding.PEM), 0o644, True)
    print(f"{role}: {args.dir / (role + 'cert.pem')} ({certificate_dn(cert)})")


def _cmd_server(args: argparse.Namespace) -> None:
    if not args.host and not args.ip:
        raise PkiError("a server certificate needs at least one --host or --ip")
    sans: list[x509.GeneralName] = [x509.DNSName(h) for h in args.host]
    sans += [x509.IPAddress(ip) for ip in args.ip]
    _leaf(args, "server", args.cn or (args.host or [str(ip) for ip in args.ip])[0], sans)


def _cmd_client(args: argparse.Namespace) -> None:
    _leaf(args, "client", args.cn, [])


def _cmd_dn(args: argparse.Namespace) -> None:
    print(certificate_dn(read_cert(args.cert)))


def _time(text: str) -> datetime.datetime:
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date/time: '{text}'") from None
    return when if when.tzinfo else when.replace(tzinfo=_UTC)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rpcnet pki", description="make TLS certificates in libvirt's file layout")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, days: int) -> None:
        p.add_argument("dir", type=Path, metavar="DIR")
        p.add_argument("--org", help="organization (O=) of the subject")
        p.add_argument("--country", help="country (C=) of the subject, two letters")
        p.add_argument("--days", type=int, default=days, help="validity (default %(default)s)")
        p.add_argument("--not-before", type=_time, metavar="ISO-TIME")
        p.add_argument("--not-after", type=_time, metavar="ISO-TIME")
        p.add_argument("--key-type", choices=["ec", "rsa"], default="ec",
                       help="EC P-256 or RSA 3072 (default %(default)s)")
        p.add_argument("--force", action="store_true", help="replace existing files")

    ca = sub.add_parser("ca", help="create a CA: DIR/cacert.pem and DIR/cakey.pem")
    common(ca, 3650)
    ca.add_argument("--cn", default="rpcnet CA")
    for role, helptext in (("server", "servercert.pem/serverkey.pem"),
                           ("client", "clientcert.pem/clientkey.pem")):
        p = sub.add_parser(role, help=f"create DIR/{helptext} signed by the CA")
        common(p, 365)
        p.add_argument("--ca", type=Path, metavar="CADIR",
                       help="directory with cacert.pem and cakey.pem (default DIR)")
        if role == "server":
            p.add_argument("--host", action="append", default=[], metavar="NAME",
                           help="DNS name clients connect to (repeatable)")
            p.add_argument("--ip", action="append", default=[], type=_ip, metavar="ADDR",
                           help="IP address clients connect to (repeatable)")
            p.add_argument("--cn", help="common name (default: the first --host or --ip)")
        else:
            p.add_argument("--cn", required=True)
    dn = sub.add_parser("dn", help="print a certificate's DN as --tls-allowed-dn matches it")
    dn.add_argument("cert", type=Path, metavar="CERTFILE")
    return parser


_COMMANDS = {"ca": _cmd_ca, "server": _cmd_server, "client": _cmd_client, "dn": _cmd_dn}


def main(argv: list[str]) -> int:
    """Run ``rpcnet pki ARGV``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        _COMMANDS[args.command](args)
    except (PkiError, OSError, ValueError) as exc:
        print(f"rpcnet pki: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
