"""libvirt-style connection URIs, split the way libvirt's remote driver does.

``driver[+transport]://[user@][host][:port]/path[?param=value&...]``: the
transport, host, port and the parameters the remote driver consumes stay on
the client; every other parameter is forwarded to the server inside the name
sent in CONNECT_OPEN (libvirt 9.0 behaviour).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from rpcnet.errors import ErrorCode, remote_error

TLS_PORT = 16514
TCP_PORT = 16509
#: Where rpcnetd, libvirt's network daemon (for network:// URIs only) and
#: libvirtd listen by default, tried in this order; "-ro" appended for read-only.
DEFAULT_SOCKETS = (Path("/run/rpcnet/rpcnet-sock"), Path("/run/libvirt/virtnetworkd-sock"),
                   Path("/run/libvirt/libvirt-sock"))

#: The transports rpcnet dials (libvirt's names; ``tcp`` and ``ext`` it does not).
TRANSPORTS = ("unix", "tls", "ssh", "libssh", "libssh2")
#: Parameters libvirt's remote driver keeps for itself (names match in any
#: case), plus rpcnet's own.
_CONSUMED = frozenset({
    "socket", "pkipath", "no_verify", "name", "mode", "tls_priority", "command", "netcat",
    "keyfile", "known_hosts", "known_hosts_verify", "sshauth", "no_tty", "proxy", "auth",
    "no_sanity", "authfile", "keepalive_interval", "keepalive_count",
})


@dataclass(frozen=True, slots=True)
class RemoteUri:
    """A parsed connection URI."""

    uri: str
    driver: str
    transport: str
    host: str
    port: int | None
    path: str
    params: dict[str, str] = field(default_factory=dict)
    user: str | None = None

    @classmethod
    def parse(cls, uri: str) -> RemoteUri:
        """Parse ``uri``; raises :class:`VirError` (INVALID_ARG, REMOTE) if malformed."""
        try:
            parts = urlsplit(uri)
            port = parts.port
        except ValueError as exc:
            raise remote_error(ErrorCode.INVALID_ARG, f"malformed URI '{uri}': {exc}") from None
        if not parts.scheme or "://" not in uri:
            raise remote_error(ErrorCode.INVALID_ARG, f"malformed URI '{uri}'")
        driver, _, transport = parts.scheme.partition("+")
        transport = transport.lower()
        host = parts.hostname or ""
        if not transport:
            transport = "tls" if host else "unix"
        if transport not in TRANSPORTS:
            raise remote_error(ErrorCode.INVALID_ARG,
                               f"transport '{transport}' is not supported by rpcnet")
        if transport == "unix" and host:
            raise remote_error(ErrorCode.INVALID_ARG,
                               f"using unix socket and remote server '{host}' is not supported.")
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        user = unquote(parts.username) if parts.username else None
        return cls(uri, driver, transport, host, port, parts.path, params, user)

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (any case, the last one given), as
        libvirt's remote driver reads it; None if absent."""
        found = None
        for key, value in self.params.items():
            if key.lower() == name:
                found = value
        return found

    def bool_param(self, name: str) -> bool:
        """A 0/1 parameter (any integer; non-zero is true); absent is false.

        Raises :class:`VirError` (INVALID_ARG) for a value that is no integer."""
        value = self.param(name)
        if value is None:
            return False
        try:
            return int(value) != 0
        except ValueError:
            raise remote_error(ErrorCode.INVALID_ARG,
                               f"Failed to parse value of URI component {name}") from None

    @property
    def open_name(self) -> str:
        """The name libvirt's client sends in CONNECT_OPEN for this URI."""
        name_param = self.param("name")
        if name_param is not None:
            return name_param
        if self.driver == "remote":
            return ""
        forwarded = "&".join(
            f"{quote(k, safe='')}={quote(v, safe='/:')}"
            for k, v in self.params.items() if k.lower() not in _CONSUMED
        )
        name = f"{self.driver}://{self.path}"
        return f"{name}?{forwarded}" if forwarded else name

    def socket_path(self, *, readonly: bool = False) -> str:
        """The UNIX socket to dial: ``?socket=`` or the first default that exists."""
        explicit = self.param("socket")
        if explicit:
            return explicit
        candidates = [path.with_name(path.name + "-ro") if readonly else path
                      for path in DEFAULT_SOCKETS
                      if self.driver == "network" or "virtnetworkd" not in path.name]
        for candidate in candidates:
            if candidate.exists():
                return str(candidate)
        return str(candidates[0])

    @property
    def tcp_port(self) -> int:
        return self.port or TLS_PORT

    @property
    def pki_dir(self) -> str | None:
        return self.param("pkipath")

    @property
    def no_verify(self) -> bool:
        return self.bool_param("no_verify")

    def float_param(self, name: str, default: float) -> float:
        value = self.param(name)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise remote_error(ErrorCode.INVALID_ARG,
                               f"invalid value '{value}' for URI parameter '{name}'") from None

