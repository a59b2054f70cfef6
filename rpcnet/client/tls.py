"""libvirt's TLS transport on the client side.

Credentials come from ``?pkipath=DIR`` or libvirt's default paths (for a
non-root user first ``$HOME/.pki/libvirt``, file by file, the certificate
and key together). After the handshake, which checks the server's chain,
dates and host name unless ``no_verify=1``, the server sends one byte,
``0x01``, once it has accepted our certificate; only then does RPC start.
Failures are reported with libvirt's wording.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from rpcnet.errors import ErrorCode, VirError, rpc_error

log = logging.getLogger("rpcnet.client")

CONFIRMATION = 0x01
TIMEOUT = 30.0
_FILES = ("cacert.pem", "cacrl.pem", "clientcert.pem", "clientkey.pem")
_GLOBAL = (Path("/etc/pki/CA/cacert.pem"), Path("/etc/pki/CA/cacrl.pem"),
           Path("/etc/pki/libvirt/clientcert.pem"), Path("/etc/pki/libvirt/private/clientkey.pem"))


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """Where the client's TLS files are."""

    ca_cert: Path
    ca_crl: Path
    cert: Path
    key: Path

    @classmethod
    def locate(cls, pki_dir: str | None, *, home: Path | None = None) -> ClientCredentials:
        """The files libvirt 9.0 would use for ``pkipath`` (or its absence).

        ``home`` is the user's home for a non-root client; None means root
        (or no per-user fallback).
        """
        if pki_dir:
            return cls(*(Path(pki_dir) / name for name in _FILES))
        ca, crl, cert, key = _GLOBAL
        if home is not None:
            user = home / ".pki" / "libvirt"
            ca, crl = (p if p.exists() else g for p, g in zip(
                (user / _FILES[0], user / _FILES[1]), (ca, crl), strict=True))
            if (user / _FILES[2]).exists() and (user / _FILES[3]).exists():
                cert, key = user / _FILES[2], user / _FILES[3]
        return cls(ca, crl, cert, key)

    @classmethod
    def for_user(cls, pki_dir: str | None) -> ClientCredentials:
        """:meth:`locate` for the current process (root or not)."""
        home = None if os.geteuid() == 0 else Path(os.path.expanduser("~"))
        return cls.locate(pki_dir, home=home)


def _check_file(what: str, path: Path, *, allow_missing: bool) -> bool:
    """True if readable, False if missing and allowed; else libvirt's error."""
    try:
        with path.open("rb"):
            return True
    except FileNotFoundError:
        if allow_missing:
            return False
        raise rpc_error(f"Cannot read {what} '{path}': No such file or directory",
                        ErrorCode.SYSTEM_ERROR) from None
    except OSError as exc:
        raise rpc_error(f"Cannot read {what} '{path}': {exc.strerror or exc}",
                        ErrorCode.SYSTEM_ERROR) from None


def client_context(creds: ClientCredentials, *, verify: bool = True) -> ssl.SSLContext:
    """An SSLContext that presents our certificate and checks the server's.

    Raises :class:`VirError` if a file cannot be read or used.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        _check_file("CA certificate", creds.ca_cert, allow_missing=False)
        ctx.load_verify_locations(creds.ca_cert)
        if _check_file("CA revocation list", creds.ca_crl, allow_missing=True):
            ctx.load_verify_locations(creds.ca_crl)
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        if (_check_file("certificate", creds.cert, allow_missing=True)
                and _check_file("private key", creds.key, allow_missing=True)):
            ctx.load_cert_chain(creds.cert, creds.key)
    except ssl.SSLError as exc:
        raise rpc_error(f"Unable to load TLS credentials from {creds}: {exc}",
                        ErrorCode.GNUTLS_ERROR) from None
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _Confirmation(asyncio.Protocol):
    """Collects what arrives until the server's confirmation byte is there."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.received = bytearray()
        self.done: asyncio.Future[None] = loop.create_future()

    def data_received(self, data: bytes) -> None:
        self.received += data
        if not self.done.done():
            self.done.set_result(None)

    def eof_received(self) -> bool | None:
        self._fail(None)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc)

    def _fail(self, exc: BaseException | None) -> None:
        if not self.done.done():
            reason = str(exc) if exc is not None and str(exc) else "Input/output error"
            self.done.set_exception(rpc_error(f"Unable to read TLS confirmation: {reason}",
                                              ErrorCode.SYSTEM_ERROR))


async def connect(host: str, port: int, context: ssl.SSLContext, *,
                  timeout: float = TIMEOUT) -> tuple[asyncio.Transport, bytes]:
    """Dial, handshake and wait for the confirmation byte.

    Returns the TLS transport (its protocol must be replaced by the caller)
    and any bytes that came after the confirmation. Raises :class:`VirError`
    worded as libvirt's client words the same failure.
    """
    loop = asyncio.get_running_loop()
    confirmation = _Confirmation(loop)
    try:
        transport, _ = await asyncio.wait_for(loop.create_connection(
            lambda: confirmation, host, port, ssl=context, server_hostname=host,
            ssl_handshake_timeout=timeout), timeout)
    except ssl.SSLCertVerificationError as exc:
        log.warning("Certificate check failed: %s", exc.verify_message)
        err = rpc_error("Failed to verify peer's certificate", ErrorCode.AUTH_FAILED)
        err.add_note(f"certificate check failed: {exc.verify_message}")
        raise err from None
    except ssl.SSLError as exc:
        raise rpc_error(f"TLS handshake failed: {exc}", ErrorCode.AUTH_FAILED) from None
    except OSError as exc:  # TimeoutError included
        reason = os.strerror(exc.errno) if exc.errno else str(exc) or "timed out"
        raise rpc_error(f"unable to connect to server at '{host}:{port}': {reason}",
                        ErrorCode.SYSTEM_ERROR) from None
    if context.verify_mode == ssl.CERT_NONE:
        log.info("not checking the certificate of %s:%d (no_verify=1)", host, port)
    try:
        await asyncio.wait_for(asyncio.shield(confirmation.done), timeout)
    except TimeoutError:
        transport.abort()
        raise rpc_error("Unable to read TLS confirmation: "
                        "Resource temporarily unavailable", ErrorCode.SYSTEM_ERROR) from None
    except VirError:
        transport.abort()
        raise
    if confirmation.received[0] != CONFIRMATION:
        transport.abort()
        raise rpc_error("server verification (of our certificate or IP address) failed")
    return transport, bytes(confirmation.received[1:])
