"""A fresh rpcnetd in the test's own process, ready in about a millisecond.

:class:`InProcessDaemon` runs rpcnetd's server (the daemon's own in-memory
drivers, ``network:///system`` and ``test:///default``, on UNIX sockets in a
private temporary directory) on the kit's loop thread. Clients in other
processes (virsh, the libvirt bindings) and in this one reach it through
its sockets exactly as they reach rpcnetd. On top it offers what only the
test kit has: :attr:`~InProcessDaemon.faults` (faults on command),
:attr:`~InProcessDaemon.calls` (the record of every call) and a few things
the daemon can be told to send on its own.
"""

from __future__ import annotations

import itertools
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from rpcnet.errors import VirError
from rpcnet.protocol.values import NetworkRef
from rpcnet.server.config import ServerConfig
from rpcnet.testkit.control import Faults
from rpcnet.testkit.faults import FaultPlan
from rpcnet.testkit.loop import LoopThread, shared_loop
from rpcnet.testkit.record import CallLog
from rpcnet.testkit.session import FaultSession, KitServer
from rpcnet.testkit.sockets import DaemonDir


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """One client connection of the daemon, as the kit numbers it."""

    id: int
    #: ``unix pid=... uid=... gid=...``
    peer: str
    #: the client's process id (from the socket's credentials), None if unknown
    pid: int | None
    readonly: bool
    #: the URI the client opened (None before CONNECT_OPEN)
    uri: str | None


class InProcessDaemon(DaemonDir):
    """rpcnetd's server on the kit's loop thread, with faults and a call log.

    ``settings`` are :class:`~rpcnet.server.config.ServerConfig` fields
    (``keepalive_interval=1``, ``max_clients=2``, ...). Faults installed and
    calls recorded survive :meth:`restart`; connection numbers keep counting.
    """

    def __init__(self, *, state_dir: Path | None = None, loop: LoopThread | None = None,
                 **settings: Any) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="rpcnetd-"))
        self.state_dir = state_dir
        self.settings = settings
        self.calls = CallLog()
        self._plan = FaultPlan()
        self._loop = loop if loop is not None else shared_loop()
        self.faults = Faults(self._plan, self._loop, self._faults_changed)
        self._ids = itertools.count(1)
        self._server: KitServer | None = None

    # -- life -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> Self:
        """Listen on the sockets; returns when clients can connect."""
        if self._server is None:
            self._server = self._loop.run(self._start())
        return self

    async def _start(self) -> KitServer:
        from rpcnet.cli.rpcnetd import build_drivers

        config = ServerConfig(socket_dir=self.dir, state_dir=self.state_dir, **self.settings)
        server = KitServer(config, await build_drivers(config), self._plan, self.calls, self._ids)
        try:
            await server.start()
        except BaseException:
            await server.stop()
            raise
        return server

    def stop(self) -> None:
        """Drop every client, remove the sockets, close the drivers."""
        server, self._server = self._server, None
        if server is not None:
            self._loop.run(server.stop())

    # -- clients ----------------------------------------------------------

    def connections(self) -> list[ClientInfo]:
        """The client connections open now, oldest first."""
        return self._loop.call(self._connections)

    def _connections(self) -> list[ClientInfo]:
        return [ClientInfo(s.id, s.peer, _pid(s.peer), s.readonly, s.uri)
                for s in self._sessions(None)]

    def unread_bytes(self, connection: int) -> int:
        """Bytes the client sent that wait, unread, in the daemon's socket
        (what a client writes while the daemon stops reading piles up here)."""
        def count() -> int:
            sessions = self._sessions(connection)
            if not sessions:
                raise KeyError(f"no connection {connection}")
            return sessions[0].unread_bytes()
        return self._loop.call(count)

    def disconnect(self, connection: int | None = None) -> int:
        """Close one connection (None: all) now; returns how many were closed."""
        def close_them() -> int:
            sessions = self._sessions(connection)
            for session in sessions:
                session.close()
            return len(sessions)
        return self._loop.call(close_them)

    def send_event(self, network: str, event: int, detail: int = 0, *,
                   callback_id: int | None = None, connection: int | None = None,
                   uuid: bytes | None = None) -> int:
        """Send a network lifecycle event nobody caused, as the daemon sends
        events (a MESSAGE with serial 1). It goes to ``callback_id`` (which may
        be one the client never registered, or dropped already) or, if None,
        to every callback each selected connection has registered. ``uuid``
        defaults to the network's, if the connection's driver has it, else
        zeros. Returns how many events were sent."""
        return self._loop.run(self._send_event(network, event, detail, callback_id,
                                               connection, uuid))

    async def _send_event(self, network: str, event: int, detail: int,
                          callback_id: int | None, connection: int | None,
                          uuid: bytes | None) -> int:
        sent = 0
        for session in self._sessions(connection):
            ids = list(session.callbacks) if callback_id is None else [callback_id]
            if not ids:
                continue
            net = NetworkRef(network, uuid if uuid is not None else await _uuid_of(
                session, network))
            for cb in ids:
                session.send_event(cb, net, event, detail)
                sent += 1
        return sent

    def send_frame(self, data: bytes, *, connection: int | None = None) -> int:
        """Write ``data`` as it is (a malformed or oversized frame, see
        :mod:`rpcnet.testkit.frames`) to one connection or all; returns how many."""
        def send() -> int:
            sessions = self._sessions(connection)
            for session in sessions:
                session.send_raw(data)
            return len(sessions)
        return self._loop.call(send)

    def _sessions(self, connection: int | None) -> list[FaultSession]:
        server = self._server
        if server is None:
            return []
        return [s for i, s in sorted(server.clients.items())
                if connection is None or i == connection]

    def _faults_changed(self) -> None:
        if self._server is not None:
            self._server.faults_changed()


async def _uuid_of(session: FaultSession, name: str) -> bytes:
    if session.driver is None:
        return bytes(16)
    try:
        return (await session.driver.network_lookup_by_name(name)).uuid
    except VirError:
        return bytes(16)


def _pid(peer: str) -> int | None:
    match = re.search(r"pid=(\d+)", peer)
    return int(match.group(1)) if match else None
