"""The TLS listener: libvirt's TLS transport on the server side.

Theory of operation: an accept loop per listening socket hands each new
socket to its own task, which runs the TLS handshake
(``loop.connect_accepted_socket`` with a timeout, so a slow client stalls
nobody else) and logs why it failed if it does. Right after the handshake
the connection's first protocol checks the client certificate's DN against
the allow-list. If every check passes the server
writes the single byte ``0x01`` and hands the transport to a normal
:class:`Session`; otherwise it logs why and drops the connection without
the byte, as libvirtd does. TLS 1.3 session tickets are off: libvirt's
GnuTLS client reads them where it expects the ``0x01`` and fails.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cryptography import x509

from rpcnet.server.counters import DaemonCounters
from rpcnet.server.dn import DnAllowList, certificate_dn
from rpcnet.server.limits import ClientLimits

log = logging.getLogger("rpcnet.server")

TLS_PORT = 16514
CONFIRMATION = b"\x01"
HANDSHAKE_TIMEOUT = 10.0

DEFAULT_CA_CERT = Path("/etc/pki/CA/cacert.pem")
DEFAULT_CA_CRL = Path("/etc/pki/CA/cacrl.pem")
DEFAULT_SERVER_CERT = Path("/etc/pki/libvirt/servercert.pem")
DEFAULT_SERVER_KEY = Path("/etc/pki/libvirt/private/serverkey.pem")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerCredentials:
    """Where the server's TLS files are (libvirt's names and default paths)."""

    ca_cert: Path = DEFAULT_CA_CERT
    ca_crl: Path = DEFAULT_CA_CRL
    cert: Path = DEFAULT_SERVER_CERT
    key: Path = DEFAULT_SERVER_KEY

    @classmethod
    def from_dir(cls, pki_dir: Path | None) -> ServerCredentials:
        """``DIR/cacert.pem``, ``DIR/cacrl.pem``, ``DIR/servercert.pem``, ``DIR/serverkey.pem``;
        libvirt's defaults when ``pki_dir`` is None."""
        if pki_dir is None:
            return cls()
        return cls(ca_cert=pki_dir / "cacert.pem", ca_crl=pki_dir / "cacrl.pem",
                   cert=pki_dir / "servercert.pem", key=pki_dir / "serverkey.pem")


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsListenerConfig:
    """One ``--tls`` listener: address, credentials and the DN allow-list."""

    host: str
    port: int = TLS_PORT
    credentials: ServerCredentials = ServerCredentials()
    #: globs like libvirtd's tls_allowed_dn_list; None allows any DN
    allowed_dns: Sequence[str] | None = None
    handshake_timeout: float = HANDSHAKE_TIMEOUT


def parse_listen_address(text: str, *, default_port: int | None = TLS_PORT,
                         any_port: bool = False) -> tuple[str, int]:
    """``ADDR``, ``ADDR:PORT``, ``[V6]`` or ``[V6]:PORT`` -> (host, port);
    raises ValueError. Without a port: ``default_port``, or an error when it is
    None. ``any_port``: port 0 (any free one) is allowed."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"malformed address '{text}'")
        port = rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""  # a bare IPv6 literal or a name
    if not host:
        raise ValueError(f"no host in '{text}'")
    if not port:
        if default_port is None:
            raise ValueError(f"'{text}' has no port: give ADDR:PORT, e.g. 127.0.0.1:9177")
        return host, default_port
    if not port.isdigit() or not (any_port or int(port) > 0) or int(port) > 65535:
        raise ValueError(f"bad port in '{text}'")
    return host, int(port)


def server_context(creds: ServerCredentials) -> ssl.SSLContext:
    """A server SSLContext requiring a client certificate signed by the CA.

    Raises OSError or ssl.SSLError naming the file that cannot be used.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.num_tickets = 0
    ctx.verify_mode = ssl.CERT_REQUIRED
    _load(ctx.load_verify_locations, "CA certificate", creds.ca_cert)
    if creds.ca_crl.exists():
        _load(ctx.load_verify_locations, "CA revocation list", creds.ca_crl)
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    try:
        ctx.load_cert_chain(creds.cert, creds.key)
    except (OSError, ssl.SSLError) as exc:
        raise ssl.SSLError(f"Cannot load certificate '{creds.cert}' "
                           f"with private key '{creds.key}': {exc}") from None
    return ctx


def _load(loader: Callable[[Path], None], what: str, path: Path) -> None:
    try:
        loader(path)
    except (OSError, ssl.SSLError) as exc:
        raise ssl.SSLError(f"Cannot read {what} '{path}': {exc}") from None


class _Gate(asyncio.Protocol):
    """The protocol of a connection whose handshake just finished: check, confirm, hand over."""

    def __init__(self, acceptor: TlsAcceptor) -> None:
        self.acceptor = acceptor
        self.accepted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it
        tls = cast(asyncio.Transport, transport)
        if not self.acceptor.check(tls):
            tls.abort()  # libvirtd drops the client without the byte
            return
        self.accepted = True
        tls.write(CONFIRMATION)
        session = self.acceptor.session_factory()
        tls.set_protocol(session)
        session.connection_made(tls)


class TlsAcceptor:
    """Listens on one address and starts a session on each TLS client that passes."""

    def __init__(self, config: TlsListenerConfig,
                 session_factory: Callable[[], asyncio.Protocol], limits: ClientLimits,
                 counters: DaemonCounters) -> None:
        self.config = config
        #: the server's counters (refusals and TLS failures are counted here)
        self.counters = counters
        #: the server's limits: connections in their TLS handshake at once, on
        #: all its listeners, are ``max_unauth`` at most (libvirtd's
        #: max_anonymous_clients); more are closed at once
        self.limits = limits
        #: what new handshakes use; replaced to take new certificate files
        self.context = server_context(config.credentials)
        self.allowed = DnAllowList(config.allowed_dns)
        self.session_factory = session_factory
        self.sockets: list[socket.socket] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, sockets: list[socket.socket] | None = None) -> None:
        """Accept on ``sockets`` (listening already, as systemd passes them)
        or else bind every address ``host`` resolves to; raises OSError."""
        if sockets is not None:
            for sock in sockets:
                sock.setblocking(False)
                log.info("listening for TLS on %s", describe_address(sock.getsockname()))
                self.sockets.append(sock)
                self._spawn(self._accept_loop(sock))
            return
        loop = asyncio.get_running_loop()
        try:
            for info in await loop.getaddrinfo(self.config.host, self.config.port,
                                               type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
                self.sockets.append(_bind(*info))
        except OSError as exc:
            self.close()
            raise OSError(exc.errno, f"cannot listen for TLS on "
                                     f"{self.config.host}:{self.config.port}: {exc}") from None
        for sock in self.sockets:
            self._spawn(self._accept_loop(sock))

    def close(self) -> None:
        """Stop listening and drop the connections still in their handshake."""
        for task in self._tasks:
            task.cancel()
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()

    def _spawn(self, coro: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as exc:  # EMFILE and the like: wait, do not spin
                log.warning("TLS accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            if not self.limits.handshake_allowed():
                log.warning("TLS client %s dropped: %d handshakes already in progress",
                            _peer(conn), self.limits.unauth)
                self.counters.refuse("max_anonymous_clients")
                conn.close()
                continue
            self.limits.unauth += 1  # counted from accept, so a burst cannot overshoot
            self._spawn(self._handshake(conn))

    async def _handshake(self, conn: socket.socket) -> None:
        # The transport gets a duplicate of the socket: when a check fails we
        # keep the connection to close it gently (FIN, then drain) instead of
        # with a reset, which would kill a client still writing its handshake
        # with SIGPIPE before it can report anything (libvirt's client does
        # not ignore SIGPIPE).
        peer = _peer(conn)
        gate = _Gate(self)
        try:
            await asyncio.get_running_loop().connect_accepted_socket(
                lambda: gate, conn.dup(), ssl=self.context,
                ssl_handshake_timeout=self.config.handshake_timeout)
        except Exception as exc:
            log.warning("TLS client %s rejected: handshake failed: %s", peer, _reason(exc))
            self.counters.tls_failure("handshake")
        finally:
            self.limits.unauth -= 1
        if gate.accepted:
            conn.close()
        else:
            await _close_gently(conn)

    def check(self, tls: asyncio.Transport) -> bool:
        """Whether the verified client may use the server (logs why not)."""
        peer = describe_address(tls.get_extra_info("peername") or ("?", "?"))
        ssl_object = tls.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            log.warning("TLS client %s rejected: No certificate was found", peer)
            self.counters.tls_failure("no_certificate")
            return False
        dn = certificate_dn(x509.load_der_x509_certificate(der))
        if not self.allowed.allows(dn):
            log.warning("TLS client %s rejected: Client's Distinguished Name is not on the "
                        "list of allowed clients (tls_allowed_dn_list): %s", peer, dn)
            self.counters.tls_failure("dn_not_allowed")
            return False
        log.info("TLS client %s accepted: %s (%s)", peer, dn, ssl_object.version())
        return True


async def _close_gently(conn: socket.socket, linger: float = 1.0) -> None:
    """Send FIN, read what the client still sends (for ``linger`` seconds at most), close."""
    loop = asyncio.get_running_loop()
    try:
        conn.setblocking(False)
        conn.shutdown(socket.SHUT_WR)
        async with asyncio.timeout(linger):
            while await loop.sock_recv(conn, 16384):
                pass
    except (OSError, TimeoutError):
        pass
    finally:
        conn.close()


def _bind(family: int, kind: int, proto: int, _name: str, addr: tuple[Any, ...]) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(addr)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    log.info("listening for TLS on %s", describe_address(addr))
    return sock


def describe_address(addr: tuple[Any, ...]) -> str:
    """``HOST:PORT``, or ``[V6]:PORT`` (libvirt's form of a socket address)."""
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _peer(conn: socket.socket) -> str:
    try:
        return describe_address(conn.getpeername())
    except OSError:
        return "?"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"client certificate verification failed: {exc.verify_message}"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "the client closed the connection (did it reject our certificate?)"
    return str(exc) or type(exc).__name__
