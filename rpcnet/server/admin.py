"""The daemon as the admin program sees it: servers, their clients and limits.

libvirt's daemons are made of named servers: the daemon's own (its REMOTE
clients, named after the daemon: ``libvirtd``, ``virtnetworkd``) and
``admin`` (the admin socket's clients). :class:`Administration` gives
rpcnetd the same shape (:class:`ManagedServer`) and implements what
libvirt 9.0's admin procedures do to them, with libvirt's errors:
listing and finding clients, a client's info (its identity), closing it,
the client limits (live), the worker pool (what rpcnetd really has: one
event loop), new TLS files for new handshakes, and the idle timeout.
Logging lives in ``admin_logging.py``; the wire side in ``admin_session.py``.
"""

from __future__ import annotations

import itertools
import logging
import os
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from rpcnet.errors import (
    ErrorCode,
    ErrorDomain,
    admin_error,
    general_error,
    internal_error,
    rpc_error,
)
from rpcnet.protocol.admin import ClientRef, ServerRef, Transport
from rpcnet.protocol.typedparams import first, validate
from rpcnet.protocol.values import ParamType, TypedParam
from rpcnet.server import identity as ident
from rpcnet.server.activation import DAEMON_NAMES, Activation
from rpcnet.server.config import ServerConfig
from rpcnet.server.limits import ClientLimits
from rpcnet.server.rpcprotocol import RpcProtocol
from rpcnet.server.tls import TlsAcceptor, server_context

if TYPE_CHECKING:
    from rpcnet.server.admin_session import AdminSession
    from rpcnet.server.session import Session

log = logging.getLogger("rpcnet.server")

ADMIN_SERVER = "admin"
_UINT = ParamType.UINT

# -- typed-parameter names of libvirt-admin.h
MIN_WORKERS, MAX_WORKERS, PRIO_WORKERS = "minWorkers", "maxWorkers", "prioWorkers"
CLIENTS_MAX, CLIENTS_UNAUTH_MAX = "nclients_max", "nclients_unauth_max"
#: rpcnetd runs every call on one event loop: a pool of one worker, no priority pool
WORKERS = 1


def daemon_server_name(socket_name: str, activation: Activation | None = None) -> str:
    """The daemon's server: named after the daemon whose sockets systemd
    passed in (``virtnetworkd.socket`` -> ``virtnetworkd``), else after the
    socket name (``libvirt`` -> ``libvirtd``, ``virtnetworkd`` stays,
    ``rpcnet`` -> ``rpcnetd``), as libvirt's daemons name theirs."""
    if activation is not None and activation.names:
        first = activation.names[min(activation.names)]
        for daemon in DAEMON_NAMES:
            if first.startswith(f"{daemon}.") or first.startswith(f"{daemon}-"):
                return daemon
    return socket_name if socket_name.endswith("d") else f"{socket_name}d"


class AdministeredDaemon(Protocol):
    """What the admin program needs of the daemon (``daemon.Server``)."""

    config: ServerConfig
    #: the sockets systemd passed in, if it did
    activation: Activation | None
    #: the REMOTE clients
    sessions: set[Session]
    #: the REMOTE clients' limits, checked as each comes in
    limits: ClientLimits

    @property
    def tls_acceptors(self) -> Sequence[TlsAcceptor]:
        """The TLS listeners."""

    def set_idle_timeout(self, seconds: float) -> None:
        """Exit after ``seconds`` with no client; 0 never."""

    def client_opened(self) -> None:
        """A client outside ``sessions`` (an admin client) holds off the idle exit."""

    def client_closed(self) -> None:
        """Such a client is gone."""


@dataclass(eq=False)
class ManagedServer:
    """One of the daemon's servers: its clients, limits and TLS listeners."""

    name: str
    limits: ClientLimits
    clients: Callable[[], Iterable[RpcProtocol]]
    tls_acceptors: Callable[[], Sequence[TlsAcceptor]] = tuple

    def sorted_clients(self) -> list[RpcProtocol]:
        """The clients in the order they came (libvirt's order)."""
        return sorted(self.clients(), key=lambda client: client.client_id)

    def ref(self) -> ServerRef:
        return ServerRef(self.name)


class Administration:
    """The admin program's view of one daemon, and what its calls do to it."""

    def __init__(self, daemon: AdministeredDaemon) -> None:
        self.daemon = daemon
        config = daemon.config
        #: the admin socket's clients, and their ids (the daemon counts its own)
        self.admin_sessions: set[AdminSession] = set()
        self._admin_ids = itertools.count(1)
        self.servers = {
            server.name: server for server in (
                ManagedServer(daemon_server_name(config.socket_name, daemon.activation),
                              daemon.limits,
                              lambda: daemon.sessions, lambda: daemon.tls_acceptors),
                ManagedServer(ADMIN_SERVER, ClientLimits(config.admin_max_clients, 0),
                              lambda: self.admin_sessions),
            )}
        self.admin_server = self.servers[ADMIN_SERVER]

    # -- the admin socket's own clients ----------------------------------------

    def admit(self, session: AdminSession) -> str | None:
        """Count an admin client in; returns why it is refused, or None.

        As libvirtd, only the daemon's own user may administer it."""
        peer = session.peer_info
        uid = peer.uid if peer is not None else None
        if uid != os.geteuid():
            pid = peer.credentials[0] if peer is not None and peer.credentials else None
            return f"Disallowing client {pid} with uid {uid}"
        refusal = self.admin_server.limits.refusal(len(self.admin_sessions))
        if refusal is None:
            session.client_id = next(self._admin_ids)
            self.admin_sessions.add(session)
            self.daemon.client_opened()
        return refusal

    def forget(self, session: AdminSession) -> None:
        if session in self.admin_sessions:
            self.admin_sessions.discard(session)
            self.daemon.client_closed()

    # -- servers ------------------------------------------------------------------

    def server(self, name: str, *, domain: ErrorDomain = ErrorDomain.RPC) -> ManagedServer:
        """The server called ``name``; libvirt's error names it otherwise (in
        the daemon's words, or the admin handlers' when ``domain`` is ADMIN)."""
        server = self.servers.get(name)
        if server is not None:
            return server
        if domain is ErrorDomain.ADMIN:
            raise admin_error(ErrorCode.NO_SERVER, f"no server with matching name '{name}' found")
        raise rpc_error(f"No server named '{name}'", ErrorCode.NO_SERVER)

    def list_servers(self) -> list[ServerRef]:
        # libvirt lists its hash table's order, seeded at random per process
        return [server.ref() for server in self.servers.values()]

    # -- clients ------------------------------------------------------------------

    @staticmethod
    def client(server: ManagedServer, client_id: int, *,
               domain: ErrorDomain = ErrorDomain.RPC) -> RpcProtocol:
        for client in server.clients():
            if client.client_id == client_id:
                return client
        if domain is ErrorDomain.ADMIN:
            raise admin_error(ErrorCode.NO_CLIENT,
                              f"no client with matching id '{client_id}' found")
        raise rpc_error(f"No client with matching ID '{client_id}'", ErrorCode.NO_CLIENT)

    @staticmethod
    def client_ref(server: ManagedServer, client: RpcProtocol) -> ClientRef:
        transport = client.peer_info.transport if client.peer_info is not None else Transport.UNIX
        return ClientRef(server.ref(), client.client_id, client.connected_at, int(transport))

    @staticmethod
    def client_info(client: RpcProtocol) -> list[TypedParam]:
        """What libvirtd tells of a client: read-only or not, then its
        identity (the UNIX peer's, or the address and certificate DN of a
        remote one), whether taken from the socket or set by the client."""
        identity = client.identity
        params = [TypedParam("readonly", ParamType.BOOLEAN, client.conn.readonly)]

        def add(key: str, name: str, kind: int) -> None:
            value = identity.get(key)
            if value is None:
                return
            if kind == ParamType.INT:  # uid_t, gid_t, pid_t: 32 bits, as C converts them
                value = (int(value) + 2**31) % 2**32 - 2**31
            params.append(TypedParam(name, kind, value))

        add(ident.SASL_USER_NAME, "sasl_user_name", ParamType.STRING)
        local = client.peer_info is None or client.peer_info.transport is Transport.UNIX
        if not local:
            assert client.peer_info is not None
            params.append(TypedParam("sock_addr", ParamType.STRING, client.peer_info.address))
            add(ident.X509_DNAME, "x509_dname", ParamType.STRING)
        else:
            add(ident.UNIX_USER_ID, "unix_user_id", ParamType.INT)
            add(ident.USER_NAME, "unix_user_name", ParamType.STRING)
            add(ident.UNIX_GROUP_ID, "unix_group_id", ParamType.INT)
            add(ident.GROUP_NAME, "unix_group_name", ParamType.STRING)
            add(ident.PROCESS_ID, "unix_process_id", ParamType.INT)
        add(ident.SELINUX_CONTEXT, "selinux_context", ParamType.STRING)
        return params

    @staticmethod
    def close_client(client: RpcProtocol) -> None:
        log.info("closing client %s: disconnected by an administrator", client.peer)
        client.close()

    # -- limits and the worker pool -------------------------------------------------

    @staticmethod
    def client_limits(server: ManagedServer) -> list[TypedParam]:
        limits = server.limits
        return [TypedParam(CLIENTS_MAX, _UINT, limits.max_clients),
                TypedParam("nclients", _UINT, sum(1 for _ in server.clients())),
                TypedParam(CLIENTS_UNAUTH_MAX, _UINT, limits.max_unauth),
                TypedParam("nclients_unauth", _UINT, limits.unauth)]

    @staticmethod
    def set_client_limits(server: ManagedServer, params: Sequence[TypedParam]) -> None:
        validate(params, {CLIENTS_MAX: _UINT, CLIENTS_UNAUTH_MAX: _UINT})
        maximum, unauth = first(params, CLIENTS_MAX), first(params, CLIENTS_UNAUTH_MAX)
        server.limits.change(None if maximum is None else int(maximum.value),
                             None if unauth is None else int(unauth.value))
        log.info("client limits of server %s set to %d (%d unauthenticated)", server.name,
                 server.limits.max_clients, server.limits.max_unauth)

    def threadpool(self, server: ManagedServer) -> list[TypedParam]:
        """The worker pool: one event loop runs every call; it is busy with
        this very call when the admin server is asked."""
        free = 0 if server is self.admin_server else WORKERS
        return [TypedParam(MIN_WORKERS, _UINT, WORKERS), TypedParam(MAX_WORKERS, _UINT, WORKERS),
                TypedParam("nWorkers", _UINT, WORKERS), TypedParam("freeWorkers", _UINT, free),
                TypedParam(PRIO_WORKERS, _UINT, 0), TypedParam("jobQueueDepth", _UINT, 0)]

    @staticmethod
    def set_threadpool(params: Sequence[TypedParam]) -> None:
        """Accepts only what the pool is; libvirt's own checks come first."""
        validate(params, {MIN_WORKERS: _UINT, MAX_WORKERS: _UINT, PRIO_WORKERS: _UINT})
        wanted = {name: int(param.value) for name in (MIN_WORKERS, MAX_WORKERS, PRIO_WORKERS)
                  if (param := first(params, name)) is not None}
        minimum = wanted.get(MIN_WORKERS, WORKERS)
        maximum = wanted.get(MAX_WORKERS, WORKERS)
        if minimum > maximum:
            raise general_error(ErrorCode.INVALID_ARG,
                                "minWorkers cannot be larger than maxWorkers")
        if maximum == 0:
            raise general_error(ErrorCode.INVALID_ARG,
                                "maxWorkers must not be switched from zero to non-zero "
                                "and vice versa")
        if (minimum, maximum, wanted.get(PRIO_WORKERS, 0)) != (WORKERS, WORKERS, 0):
            raise admin_error(ErrorCode.OPERATION_UNSUPPORTED,
                              "rpcnetd runs every call on one event loop: its worker pool "
                              "has one worker and no priority workers, which cannot change")

    # -- TLS and the daemon -------------------------------------------------------

    @staticmethod
    def update_tls_files(server: ManagedServer) -> None:
        """New handshakes use the certificate files as they are now; open
        connections keep theirs. Nothing changes if a file cannot be used."""
        acceptors = server.tls_acceptors()
        if not acceptors:
            raise internal_error(ErrorDomain.RPC,
                                 "no tls service found, unable to update tls files")
        try:
            contexts = [server_context(acceptor.config.credentials) for acceptor in acceptors]
        except (OSError, ssl.SSLError) as exc:
            raise rpc_error(f"Unable to reload the TLS files: {exc}",
                            ErrorCode.SYSTEM_ERROR) from None
        for acceptor, context in zip(acceptors, contexts, strict=True):
            acceptor.context = context
        log.info("server %s: TLS files reloaded for new connections", server.name)

    def set_daemon_timeout(self, seconds: int) -> None:
        log.info("idle timeout set to %d seconds%s", seconds, " (never)" if not seconds else "")
        self.daemon.set_idle_timeout(seconds)
