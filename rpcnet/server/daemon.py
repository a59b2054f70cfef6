"""The daemon: drivers, listeners, the set of sessions, and clean shutdown.

Listening sockets have a role (:class:`~rpcnet.server.activation.Role`):
read-write, read-only, admin or TLS. The daemon creates its UNIX sockets
itself, or serves the ones systemd passed in (then it creates and removes
no socket file); either way each goes through :meth:`Server.serve_socket`,
and :attr:`Server.listeners` holds them by role. The admin role is served by
:attr:`Server.admin_session_factory`, once an admin program provides one.

The daemon tells the service manager when it is ready, reloading and
stopping (:mod:`rpcnet.server.notify`) and exits on its own after
``idle_timeout`` seconds with no client (:mod:`rpcnet.server.idle`).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import itertools
import logging
import os
import signal
import socket
from collections.abc import Callable, Mapping
from pathlib import Path

from rpcnet.driver.base import NetworkDriver
from rpcnet.errors import ErrorCode, general_error
from rpcnet.server.activation import Activation, Role
from rpcnet.server.config import ServerConfig, privileged
from rpcnet.server.counters import DaemonCounters
from rpcnet.server.idle import IdleTimer
from rpcnet.server.limits import ClientLimits
from rpcnet.server.notify import Notifier
from rpcnet.server.observers import ObserverFactory
from rpcnet.server.session import Session
from rpcnet.server.tls import TlsAcceptor, TlsListenerConfig

log = logging.getLogger("rpcnet.server")


class Server:
    """Serves a fixed set of drivers (keyed ``network`` and ``test``) to clients.

    ``activation``: the sockets systemd passed in (else the daemon creates
    its own); ``tls``: the TLS settings for a passed-in TLS socket;
    ``notifier``: where readiness goes (default: nowhere).
    """

    def __init__(self, config: ServerConfig, drivers: Mapping[str, NetworkDriver], *,
                 activation: Activation | None = None, tls: TlsListenerConfig | None = None,
                 notifier: Notifier | None = None) -> None:
        self.config = config
        self.drivers = dict(drivers)
        self.privileged = privileged()
        self.sessions: set[Session] = set()
        #: the clients' limits, changed live by the admin program
        self.limits = ClientLimits(config.max_clients, config.max_anonymous_clients)
        self._client_ids = itertools.count(1)
        #: each new session asks these for observers of its calls (observers.py)
        self.call_observers: list[ObserverFactory] = []
        self.counters = DaemonCounters()
        self.activation = activation
        self.notifier = notifier if notifier is not None else Notifier(None)
        #: the listening sockets by role, created here or passed in
        self.listeners: dict[Role, list[socket.socket]] = {}
        #: what serves the admin role; until an admin program sets it, an admin
        #: socket is neither created nor served
        self.admin_session_factory: Callable[[], asyncio.Protocol] | None = None
        #: set when the daemon should exit (a signal or the idle timeout)
        self.quit = asyncio.Event()
        self.quit_reason = ""
        self._tls = tls
        self._servers: list[asyncio.AbstractServer] = []
        self._socket_paths: list[Path] = []
        self._tls_acceptors: list[TlsAcceptor] = []
        self._other_clients = 0
        self._idle = IdleTimer(self._idle_exit, config.idle_timeout)

    def driver_for(self, key: str) -> NetworkDriver:
        driver = self.drivers.get(key)
        if driver is None:
            raise general_error(ErrorCode.NO_CONNECT, f"{key}:///")
        return driver

    def admit(self, session: Session) -> str | None:
        """Count a new client in; returns why it is refused, or None.

        As in libvirtd with authentication "none", a client is authenticated
        as soon as its transport is up: only TLS handshakes still in progress
        count against ``max_anonymous_clients`` (see ``listen_tls``).
        """
        refusal = self.limits.refusal(len(self.sessions))
        if refusal is not None:
            self.counters.refuse("max_clients")
            return refusal
        session.client_id = next(self._client_ids)
        self.sessions.add(session)
        self._idle.update(busy=True)
        return None

    def forget(self, session: Session) -> None:
        self.sessions.discard(session)
        self._update_idle()

    def client_opened(self) -> None:
        """A client not in :attr:`sessions` (an admin client) holds off the idle exit."""
        self._other_clients += 1
        self._idle.update(busy=True)

    def client_closed(self) -> None:
        self._other_clients -= 1
        self._update_idle()

    def set_idle_timeout(self, seconds: float) -> None:
        """Exit after ``seconds`` with no client; 0 never. Takes effect at
        once (the admin program's CONNECT_SET_DAEMON_TIMEOUT)."""
        self._idle.set_timeout(seconds)

    def request_exit(self, reason: str) -> None:
        if not self.quit.is_set():
            self.quit_reason = reason
            self.quit.set()

    def _update_idle(self) -> None:
        if not self.quit.is_set():
            self._idle.update(busy=bool(self.sessions) or self._other_clients > 0)

    def _idle_exit(self) -> None:
        log.info("no client for %g seconds, exiting", self._idle.timeout)
        self.request_exit("idle timeout")

    def session_factory(self, *, readonly: bool) -> Callable[[], Session]:
        return lambda: Session(self, readonly_socket=readonly)

    async def start(self) -> None:
        """Serve the passed-in sockets, or create the read-write and
        read-only UNIX sockets (and the admin one, if an admin program is
        there); then count idle time."""
        cfg = self.config
        if self.activation is not None:
            for role, socks in self.activation.sockets.items():
                for sock in socks:
                    await self.serve_socket(role, sock)
        else:
            cfg.socket_dir.mkdir(parents=True, exist_ok=True)
            own = [(Role.RW, cfg.rw_socket, cfg.rw_socket_mode),
                   (Role.RO, cfg.ro_socket, cfg.ro_socket_mode)]
            if self.admin_session_factory is not None:
                own.append((Role.ADMIN, cfg.admin_socket, cfg.admin_socket_mode))
            for role, path, mode in own:
                await self.serve_socket(role, self._bind_unix(path, mode))
        self._update_idle()

    def _bind_unix(self, path: Path, mode: int) -> socket.socket:
        """A listening UNIX socket at ``path`` (replacing a stale one) with
        ``mode`` and the configured group; removed again by :meth:`stop`."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o777 & ~mode)
        try:
            sock.bind(str(path))
        except BaseException:
            sock.close()
            raise
        finally:
            os.umask(old_umask)
        self._socket_paths.append(path)
        os.chmod(path, mode)
        if self.config.socket_group:
            os.chown(path, -1, grp.getgrnam(self.config.socket_group).gr_gid)
        return sock

    async def serve_socket(self, role: Role, sock: socket.socket) -> None:
        """Serve one listening socket in ``role``."""
        self.listeners.setdefault(role, []).append(sock)
        if role is Role.TLS:
            if self._tls is None:
                raise ValueError("a TLS socket needs TLS settings")
            await self.listen_tls(self._tls, sockets=[sock])
            return
        factory = self._session_factory(role)
        where = sock.getsockname() or "an unnamed socket"
        if factory is None:
            log.warning("not serving the admin socket %s: rpcnetd has no admin program", where)
            return
        server = await asyncio.get_running_loop().create_unix_server(
            factory, sock=sock, backlog=self.config.max_queued_clients)
        self._servers.append(server)
        log.info("listening on %s%s", where, " (read-only)" if role is Role.RO else "")

    def _session_factory(self, role: Role) -> Callable[[], asyncio.Protocol] | None:
        if role is Role.ADMIN:
            return self.admin_session_factory
        return self.session_factory(readonly=role is Role.RO)

    async def listen_tls(self, tls: TlsListenerConfig,
                         sockets: list[socket.socket] | None = None) -> None:
        """Listen for libvirt TLS clients on ``tls.host:tls.port``, or on
        ``sockets`` already listening.

        Raises ssl.SSLError if the credentials cannot be loaded and OSError
        if the address cannot be bound.
        """
        acceptor = TlsAcceptor(tls, lambda: Session(self, readonly_socket=False, secure=True,
                                                    transport_name="tls"), self.limits,
                               counters=self.counters)
        await acceptor.start(sockets)
        self._tls_acceptors.append(acceptor)

    @property
    def tls_acceptors(self) -> list[TlsAcceptor]:
        """The TLS listeners (their certificates)."""
        return self._tls_acceptors

    async def reload(self) -> None:
        """Have every driver re-assert what runs (SIGHUP)."""
        log.info("reloading")
        self.notifier.reloading()
        for driver in self.drivers.values():
            try:
                await driver.reload()
            except Exception:
                log.exception("reloading driver")
        self.notifier.ready()

    async def stop(self) -> None:
        """Stop listening, drop clients, remove the sockets it created (not
        passed-in ones), close the drivers."""
        self.notifier.stopping()
        self._idle.cancel()
        for server in self._servers:
            server.close()
        for acceptor in self._tls_acceptors:
            acceptor.close()
        for session in list(self.sessions):
            session.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        for path in self._socket_paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        for driver in self.drivers.values():
            try:
                await driver.close()
            except Exception:
                log.exception("closing driver")
        for socks in self.listeners.values():
            for sock in socks:
                sock.close()
        self.listeners.clear()
        self._servers.clear()
        self._socket_paths.clear()
        self._tls_acceptors.clear()


async def serve_until_signalled(server: Server) -> None:
    """Run ``server`` until SIGTERM, SIGINT or its idle timeout, then stop it
    cleanly; SIGHUP reloads, as it does libvirtd. READY=1 goes to the
    service manager once it serves."""
    loop = asyncio.get_running_loop()
    reloads: set[asyncio.Task[None]] = set()

    def reload() -> None:
        task = loop.create_task(server.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.request_exit, "signal received")
    loop.add_signal_handler(signal.SIGHUP, reload)
    try:
        await server.start()
        server.notifier.ready()
        await server.quit.wait()
        log.info("%s, shutting down", server.quit_reason)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        for task in reloads:
            task.cancel()
        await server.stop()

