"""The in-process SSH transport (``+libssh`` and ``+libssh2`` URIs), on asyncssh.

No process per host: one SSH connection in this process, and a session
channel running the same remote command as the ``+ssh`` transport
(``ssh_command.py``), whose stdout and stdin are the byte stream. The URI
parameters are libvirt's for these transports:

- ``known_hosts=FILE`` (default ``$XDG_CONFIG_HOME/libvirt/known_hosts``,
  i.e. ``~/.config/libvirt/known_hosts``);
- ``known_hosts_verify=normal|auto|ignore``: ``normal`` (the default)
  accepts only a host key found in that file; ``auto`` adds an unknown
  host's key to the file (a changed key is still refused); ``ignore``
  checks nothing;
- ``keyfile=FILE`` (default: the first of ``~/.ssh/identity``, ``id_dsa``,
  ``id_ecdsa``, ``id_ed25519``, ``id_rsa`` that exists);
- ``sshauth=agent,privkey,...`` tried in that order (default
  ``agent,privkey,password,keyboard-interactive``); rpcnet has no way to
  ask for a password, so ``password`` and ``keyboard-interactive`` never
  succeed;
- the user defaults to root, the port to 22.

Needs the optional ``asyncssh`` package (``pip install 'rpcnet[ssh]'``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rpcnet.client.connection import Connection
from rpcnet.client.process import STDERR_KEEP
from rpcnet.client.ssh_command import SshTarget
from rpcnet.client.streams import StreamEnded, StreamReceiver
from rpcnet.errors import ErrorCode, ErrorDomain, VirError, remote_error, rpc_error

if TYPE_CHECKING:
    import asyncssh

log = logging.getLogger("rpcnet.client")

AUTH_METHODS = ("agent", "privkey", "password", "keyboard-interactive")
DEFAULT_KEYS = ("identity", "id_dsa", "id_ecdsa", "id_ed25519", "id_rsa")
#: libvirt's error code and domain for each transport
_ERROR_KIND = {"libssh": (ErrorCode.LIBSSH, ErrorDomain.LIBSSH),
               "libssh2": (ErrorCode.SSH, ErrorDomain.SSH)}


def _import() -> Any:
    try:
        import asyncssh
    except ImportError:
        raise remote_error(ErrorCode.NO_SUPPORT,
                           "the libssh transports need the asyncssh package "
                           "(pip install 'rpcnet[ssh]')") from None
    return asyncssh


class _Settings:
    """The libssh parameters of a URI, checked as libvirt checks them."""

    def __init__(self, target: SshTarget) -> None:
        uri = target.uri
        self.transport = uri.transport
        self.host = target.host
        self.port = uri.port or 22
        self.user = uri.user or "root"
        self.verify = (uri.param("known_hosts_verify") or "normal").lower()
        if self.verify not in ("normal", "auto", "ignore"):
            raise remote_error(ErrorCode.INVALID_ARG,
                               "Invalid host key verification method: "
                               f"'{uri.param('known_hosts_verify')}'")
        config = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
        self.known_hosts = Path(uri.param("known_hosts") or f"{config}/libvirt/known_hosts")
        keyfile = uri.param("keyfile")
        self.keyfile = Path(keyfile) if keyfile else _default_key()
        methods = uri.param("sshauth")
        if methods is None:
            self.methods = [m for m in AUTH_METHODS if m != "privkey" or self.keyfile]
        else:
            self.methods = [m.lower() for m in methods.split(",")]
        for method in self.methods:
            if method not in AUTH_METHODS:
                raise remote_error(ErrorCode.INVALID_ARG,
                                   f"Invalid authentication method: '{method}'")

    def error(self, code: int | None, detail: str) -> VirError:
        """An error of this transport's domain (``code`` None: its own error code)."""
        own, domain = _ERROR_KIND[self.transport]
        return VirError.make(own if code is None else code, domain, detail)


def _default_key() -> Path | None:
    ssh_dir = Path(os.path.expanduser("~/.ssh"))
    for name in DEFAULT_KEYS:
        if (ssh_dir / name).is_file():
            return ssh_dir / name
    return None


def _key_hash(key: asyncssh.SSHKey) -> str:
    """The key's hash as libssh prints it (SHA-256, hex bytes joined by ':')."""
    digest = hashlib.sha256(key.public_data).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _known_hosts_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _client_class(asyncssh: Any, settings: _Settings) -> type[Any]:
    class HostKeyChecker(asyncssh.SSHClient):  # type: ignore[misc]
        """Checks the host key against libvirt's known_hosts file."""

        failure: VirError | None = None

        def validate_host_public_key(self, host: str, addr: str, port: int,
                                     key: asyncssh.SSHKey) -> bool:
            try:
                return self._check(key)
            except VirError as exc:
                self.failure = exc
                return False

        def _check(self, key: asyncssh.SSHKey) -> bool:
            path = settings.known_hosts
            known = _read_known_hosts(asyncssh, path)
            if known is not None:
                host_keys = known.match(settings.host, "", settings.port)[0]
                if key in host_keys:
                    return True
                if host_keys:
                    raise settings.error(
                        ErrorCode.AUTH_FAILED,
                        "!!! SSH HOST KEY VERIFICATION FAILED !!!: Identity of host "
                        f"'{settings.host}:{settings.port}' differs from stored identity. "
                        f"Please verify the new host key '{_key_hash(key)}' to avoid possible "
                        f"man in the middle attack. The key is stored in '{path}'.")
            if settings.verify == "normal":
                raise settings.error(
                    None, f"SSH host key of '{settings.host}:{settings.port}' "
                    f"({_key_hash(key)}) is not in '{path}' and no user interaction callback "
                    "is provided to accept it: add it there, or use known_hosts_verify=auto")
            _remember(path, settings, key)
            return True

    return HostKeyChecker


#: Parsed known_hosts files by path, with the (mtime, size) they were read at:
#: a console reaching a fleet reads the file once, not once per host.
_known_hosts_cache: dict[Path, tuple[tuple[int, int], Any]] = {}


def _read_known_hosts(asyncssh: Any, path: Path) -> Any:
    """The parsed ``path`` (None if there is no such file)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _known_hosts_cache.get(path)
    if cached is None or cached[0] != stamp:
        cached = stamp, asyncssh.read_known_hosts(str(path))
        _known_hosts_cache[path] = cached
    return cached[1]


def _remember(path: Path, settings: _Settings, key: asyncssh.SSHKey) -> None:
    """known_hosts_verify=auto: add the new host's key to the file."""
    line = f"{_known_hosts_name(settings.host, settings.port)} " \
           f"{key.export_public_key('openssh').decode().strip()}\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as known:
            known.write(line)
    except OSError as exc:
        raise settings.error(None, f"failed to write known_host file '{path}': "
                                   f"{exc.strerror}") from None
    log.info("added the host key of %s to %s", settings.host, path)


async def _client_keys(asyncssh: Any, settings: _Settings) -> list[Any]:
    """The keys to offer, in the order of ``sshauth``."""
    keys: list[Any] = []
    for method in settings.methods:
        if method == "agent" and os.environ.get("SSH_AUTH_SOCK"):
            try:
                agent = await asyncssh.connect_agent()
                keys += await agent.get_keys()
            except (OSError, asyncssh.Error) as exc:
                log.debug("no keys from the ssh agent: %s", exc)
        elif method == "privkey" and settings.keyfile is not None:
            try:
                keys.append(asyncssh.load_keypairs(str(settings.keyfile))[0])
            except (OSError, asyncssh.KeyImportError):
                raise settings.error(ErrorCode.AUTH_FAILED, "error while reading private key "
                                     f"'{settings.keyfile}'") from None
    return keys


class ChannelStream:
    """An SSH session channel as a byte stream; closing it ends the SSH connection."""

    def __init__(self, connection: asyncssh.SSHClientConnection) -> None:
        self.connection = connection
        self.channel: asyncssh.SSHClientChannel[bytes] | None = None

    def write(self, data: bytes) -> None:
        assert self.channel is not None
        # a closing channel refuses writes; its connection_lost tells the connection
        with contextlib.suppress(BrokenPipeError):
            self.channel.write(data)

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        self.connection.close()

    def abort(self) -> None:
        self.connection.abort()

    async def wait_closed(self) -> None:
        await self.connection.wait_closed()


def _session_class(asyncssh: Any, receiver: StreamReceiver, stream: ChannelStream) -> Any:
    class ChannelFeeder(asyncssh.SSHClientSession):  # type: ignore[misc]
        """The channel's stdout feeds the receiver; stderr is kept for errors."""

        def __init__(self) -> None:
            self.stderr = bytearray()
            self.status: int | None = None

        def connection_made(self, chan: asyncssh.SSHClientChannel[bytes]) -> None:
            stream.channel = chan
            receiver.attach(stream)

        def data_received(self, data: bytes, datatype: int | None) -> None:
            if datatype is None:
                receiver.feed(data)
            else:
                self.stderr += data
                del self.stderr[:-STDERR_KEEP]

        def exit_status_received(self, status: int) -> None:
            self.status = status

        def connection_lost(self, exc: Exception | None) -> None:
            said = self.stderr.decode(errors="replace").rstrip()
            if exc is not None:
                detail = f"Cannot recv data: {exc}"
            elif self.status:
                detail = f"Remote command terminated with non-zero code: {self.status}"
            else:
                detail = "End of file while reading data"
            receiver.stream_lost(StreamEnded(f"{detail}: {said}" if said else detail))

    return ChannelFeeder


async def open_connection(target: SshTarget, **options: Any) -> Connection:
    """Connect over SSH in process and run the remote command in a channel.

    Raises :class:`VirError` for a bad parameter, an unreachable host, a host
    key that is unknown (``normal``) or changed, refused authentication or a
    channel that cannot be opened."""
    asyncssh = _import()
    settings = _Settings(target)
    keys = await _client_keys(asyncssh, settings)
    client_class = _client_class(asyncssh, settings)
    clients: list[Any] = []

    def make_client() -> Any:
        clients.append(client_class())
        return clients[-1]

    known_hosts: Any = None if settings.verify == "ignore" else ([], [], [])
    try:
        ssh = await asyncssh.connect(
            settings.host, settings.port, username=settings.user, known_hosts=known_hosts,
            client_factory=make_client, client_keys=keys or None, agent_path=None,
            password_auth=False, kbdint_auth=False, gss_auth=False, host_based_auth=False)
    except asyncssh.HostKeyNotVerifiable as exc:
        failure = clients[0].failure if clients else None
        raise failure or settings.error(None, f"failed to validate SSH host key: {exc}") \
            from None
    except asyncssh.PermissionDenied as exc:
        if len(settings.methods) == 1:
            raise settings.error(None, f"failed to authenticate: {exc.reason}") from None
        raise settings.error(ErrorCode.AUTH_FAILED, "All provided authentication methods "
                             "with credentials were rejected by the server") from None
    except asyncssh.Error as exc:
        raise settings.error(ErrorCode.NO_CONNECT,
                             f"SSH session handshake failed: {exc}") from None
    except socket.gaierror as exc:
        raise rpc_error(f"Unable to resolve address '{settings.host}' service "
                        f"'{settings.port}': {exc.strerror}", ErrorCode.SYSTEM_ERROR) from None
    except OSError as exc:
        raise rpc_error(f"unable to connect to server at '{settings.host}:{settings.port}'"
                        f": {exc.strerror or exc}", ErrorCode.SYSTEM_ERROR) from None
    conn = Connection(**options)
    stream = ChannelStream(ssh)
    try:
        await ssh.create_session(_session_class(asyncssh, conn, stream), target.remote_command,
                                 encoding=None)
    except asyncssh.ChannelOpenError as exc:
        ssh.abort()
        raise settings.error(None, f"failed to open ssh channel: {exc.reason}") from None
    except BaseException:
        ssh.abort()
        raise
    return conn
