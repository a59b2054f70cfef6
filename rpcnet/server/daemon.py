"""The daemon: drivers, listeners, the set of sessions, and clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import grp
import logging
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

from rpcnet.driver.base import NetworkDriver
from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.server.config import ServerConfig, privileged
from rpcnet.server.counters import DaemonCounters
from rpcnet.server.observers import ObserverFactory
from rpcnet.server.session import Session
from rpcnet.server.tls import TlsAcceptor, TlsListenerConfig

log = logging.getLogger("rpcnet.server")


class Server:
    """Serves a fixed set of drivers (keyed ``network`` and ``test``) to clients."""

    def __init__(self, config: ServerConfig, drivers: Mapping[str, NetworkDriver]) -> None:
        self.config = config
        self.drivers = dict(drivers)
        self.privileged = privileged()
        self.sessions: set[Session] = set()
        #: each new session asks these for observers of its calls (observers.py)
        self.call_observers: list[ObserverFactory] = []
        self.counters = DaemonCounters()
        self._servers: list[asyncio.AbstractServer] = []
        self._socket_paths: list[Path] = []
        self._tls_acceptors: list[TlsAcceptor] = []

    def driver_for(self, key: str) -> NetworkDriver:
        driver = self.drivers.get(key)
        if driver is None:
            raise VirError.make(ErrorCode.NO_CONNECT, ErrorDomain.NONE, f"{key}:///")
        return driver

    def admit(self, session: Session) -> str | None:
        """Count a new client in; returns why it is refused, or None.

        As in libvirtd with authentication "none", a client is authenticated
        as soon as its transport is up: only TLS handshakes still in progress
        count against ``max_anonymous_clients`` (see ``listen_tls``).
        """
        if len(self.sessions) >= self.config.max_clients:
            self.counters.refuse("max_clients")
            return f"Too many active clients ({self.config.max_clients}), dropping connection"
        self.sessions.add(session)
        return None

    def forget(self, session: Session) -> None:
        self.sessions.discard(session)

    def session_factory(self, *, readonly: bool) -> Callable[[], Session]:
        return lambda: Session(self, readonly_socket=readonly)

    async def start(self) -> None:
        """Create the read-write and read-only UNIX sockets and listen."""
        cfg = self.config
        cfg.socket_dir.mkdir(parents=True, exist_ok=True)
        for path, mode, readonly in ((cfg.rw_socket, cfg.rw_socket_mode, False),
                                     (cfg.ro_socket, cfg.ro_socket_mode, True)):
            await self._listen_unix(path, mode, readonly=readonly)

    async def _listen_unix(self, path: Path, mode: int, *, readonly: bool) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        old_umask = os.umask(0o777 & ~mode)
        try:
            server = await asyncio.get_running_loop().create_unix_server(
                self.session_factory(readonly=readonly), str(path), backlog=1024)
        finally:
            os.umask(old_umask)
        os.chmod(path, mode)
        if self.config.socket_group:
            os.chown(path, -1, grp.getgrnam(self.config.socket_group).gr_gid)
        self._servers.append(server)
        self._socket_paths.append(path)
        log.info("listening on %s%s", path, " (read-only)" if readonly else "")

    async def listen_tls(self, tls: TlsListenerConfig) -> None:
        """Listen for libvirt TLS clients on ``tls.host:tls.port``.

        Raises ssl.SSLError if the credentials cannot be loaded and OSError
        if the address cannot be bound.
        """
        tls = dataclasses.replace(tls, max_handshaking=self.config.max_anonymous_clients)
        acceptor = TlsAcceptor(tls, lambda: Session(self, readonly_socket=False, secure=True,
                                                    transport_name="tls"),
                               counters=self.counters)
        await acceptor.start()
        self._tls_acceptors.append(acceptor)

    async def reload(self) -> None:
        """Have every driver re-assert what runs (SIGHUP)."""
        log.info("reloading")
        for driver in self.drivers.values():
            try:
                await driver.reload()
            except Exception:
                log.exception("reloading driver")

    async def stop(self) -> None:
        """Stop listening, drop clients, remove the sockets, close the drivers."""
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
        self._servers.clear()
        self._socket_paths.clear()
        self._tls_acceptors.clear()


async def serve_until_signalled(server: Server) -> None:
    """Run ``server`` until SIGTERM or SIGINT, then stop it cleanly; SIGHUP
    reloads, as it does libvirtd."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reloads: set[asyncio.Task[None]] = set()

    def reload() -> None:
        task = loop.create_task(server.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload)
    await server.start()
    try:
        await stop.wait()
        log.info("signal received, shutting down")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        for task in reloads:
            task.cancel()
        await server.stop()
