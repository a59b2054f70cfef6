"""One client of the admin socket: the ADMIN program's calls answered.

The asyncio side is :class:`~rpcnet.server.rpcprotocol.RpcProtocol`'s and the
protocol's decisions are the sans-IO connection's, as for REMOTE
(``session.py``). Each procedure here checks what libvirtd 9.0 checks, in
its order (the server named, the client, then the flags, then the
parameters), and leaves what it means to
:class:`~rpcnet.server.admin.Administration` and, for logging, to
``admin_logging.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from rpcnet.errors import ErrorDomain, VirError, rpc_error
from rpcnet.protocol.admin import ADMIN, ClientRef, Proc, ServerRef
from rpcnet.protocol.connection import Call, ServerConnection
from rpcnet.protocol.values import TypedParam
from rpcnet.server import admin_logging
from rpcnet.server.admin import Administration
from rpcnet.server.rpcprotocol import RpcProtocol
from rpcnet.server.session import LIB_VERSION

if TYPE_CHECKING:
    from rpcnet.server.daemon import Server

log = logging.getLogger("rpcnet.server")


def serve_admin(server: Server) -> Administration:
    """Give ``server`` the admin program: its admin socket (created or
    passed in) is served from now on."""
    admin = Administration(server)
    server.admin_session_factory = lambda: AdminSession(admin)
    return admin


def _check_flags(flags: int, function: str) -> None:
    if flags:
        raise VirError.invalid_flags(ErrorDomain.ADMIN, flags, function)


class AdminSession(RpcProtocol):
    """The server side of one admin client."""

    def __init__(self, admin: Administration) -> None:
        config = admin.daemon.config
        super().__init__(
            ServerConnection(ADMIN, max_message=config.max_message,
                             keepalive_interval=config.admin_keepalive_interval,
                             keepalive_count=config.admin_keepalive_count),
            max_requests=config.admin_max_client_requests,
            max_backlog=config.max_client_backlog)
        self.admin = admin
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        refusal = self.admin.admit(self)
        if refusal is not None:
            self._refused = True
            log.warning("refusing admin client %s: %s", self.peer, refusal)
            self.conn.refuse(rpc_error(refusal), self._loop.time(),
                             self.admin.daemon.config.refusal_grace)
            self._arm_timer()
            return
        log.info("admin client connected: %s", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self._refused:
            log.info("admin client disconnected: %s", self.peer)
        self.admin.forget(self)

    def answer(self, call: Call) -> Awaitable[Any]:
        return _HANDLERS[call.header[2]](self, *call.args)

    # -- the connection and the daemon ------------------------------------------

    async def _open(self, flags: int) -> None:
        _check_flags(flags, "adminDispatchConnectOpen")

    async def _close(self) -> None:
        return None  # the reply is all; the connection closes after it

    async def _lib_version(self) -> Any:
        return (LIB_VERSION,)

    async def _list_servers(self, need_results: int, flags: int) -> Any:
        _check_flags(flags, "adminConnectListServers")
        servers = self.admin.list_servers()
        return (servers if need_results else [], len(servers))

    async def _lookup_server(self, name: str, _flags: int) -> Any:
        # libvirt 9.0 checks these flags against themselves: any are accepted
        return (self.admin.server(name).ref(),)

    async def _set_daemon_timeout(self, timeout: int, flags: int) -> None:
        _check_flags(flags, "adminConnectSetDaemonTimeout")
        self.admin.set_daemon_timeout(timeout)

    # -- a server's worker pool, clients and limits ---------------------------

    async def _get_threadpool(self, srv: ServerRef, flags: int) -> Any:
        server = self.admin.server(srv.name)
        _check_flags(flags, "adminServerGetThreadPoolParameters")
        return (self.admin.threadpool(server),)

    async def _set_threadpool(self, srv: ServerRef, params: list[TypedParam], flags: int) -> None:
        self.admin.server(srv.name, domain=ErrorDomain.ADMIN)
        _check_flags(flags, "adminServerSetThreadPoolParameters")
        self.admin.set_threadpool(params)

    async def _list_clients(self, srv: ServerRef, need_results: int, flags: int) -> Any:
        server = self.admin.server(srv.name)
        _check_flags(flags, "adminServerListClients")
        clients = server.sorted_clients()
        refs = [self.admin.client_ref(server, client) for client in clients]
        return (refs if need_results else [], len(refs))

    async def _lookup_client(self, srv: ServerRef, client_id: int, flags: int) -> Any:
        server = self.admin.server(srv.name)
        _check_flags(flags, "adminServerLookupClient")
        return (self.admin.client_ref(server, self.admin.client(server, client_id)),)

    async def _client_info(self, clnt: ClientRef, flags: int) -> Any:
        server = self.admin.server(clnt.server.name, domain=ErrorDomain.ADMIN)
        client = self.admin.client(server, clnt.id, domain=ErrorDomain.ADMIN)
        _check_flags(flags, "adminClientGetInfo")
        return (self.admin.client_info(client),)

    async def _close_client(self, clnt: ClientRef, flags: int) -> None:
        server = self.admin.server(clnt.server.name)
        client = self.admin.client(server, clnt.id)
        _check_flags(flags, "adminClientClose")
        self.admin.close_client(client)

    async def _get_client_limits(self, srv: ServerRef, flags: int) -> Any:
        server = self.admin.server(srv.name)
        _check_flags(flags, "adminServerGetClientLimits")
        return (self.admin.client_limits(server),)

    async def _set_client_limits(self, srv: ServerRef, params: list[TypedParam],
                                 flags: int) -> None:
        server = self.admin.server(srv.name, domain=ErrorDomain.ADMIN)
        _check_flags(flags, "adminServerSetClientLimits")
        self.admin.set_client_limits(server, params)

    async def _update_tls_files(self, srv: ServerRef, flags: int) -> None:
        server = self.admin.server(srv.name)
        _check_flags(flags, "adminServerUpdateTlsFiles")
        self.admin.update_tls_files(server)

    # -- logging ------------------------------------------------------------------

    async def _get_outputs(self, flags: int) -> Any:
        _check_flags(flags, "adminConnectGetLoggingOutputs")
        return admin_logging.outputs()

    async def _get_filters(self, flags: int) -> Any:
        _check_flags(flags, "adminConnectGetLoggingFilters")
        return admin_logging.filters()

    async def _set_outputs(self, outputs: str | None, flags: int) -> None:
        _check_flags(flags, "adminConnectSetLoggingOutputs")
        admin_logging.set_outputs(outputs)

    async def _set_filters(self, filters: str | None, flags: int) -> None:
        _check_flags(flags, "adminConnectSetLoggingFilters")
        admin_logging.set_filters(filters)


#: What answers each procedure of the ADMIN program, by number.
_HANDLERS: dict[int, Callable[..., Awaitable[Any]]] = {
    Proc.CONNECT_OPEN: AdminSession._open,
    Proc.CONNECT_CLOSE: AdminSession._close,
    Proc.CONNECT_GET_LIB_VERSION: AdminSession._lib_version,
    Proc.CONNECT_LIST_SERVERS: AdminSession._list_servers,
    Proc.CONNECT_LOOKUP_SERVER: AdminSession._lookup_server,
    Proc.SERVER_GET_THREADPOOL_PARAMETERS: AdminSession._get_threadpool,
    Proc.SERVER_SET_THREADPOOL_PARAMETERS: AdminSession._set_threadpool,
    Proc.SERVER_LIST_CLIENTS: AdminSession._list_clients,
    Proc.SERVER_LOOKUP_CLIENT: AdminSession._lookup_client,
    Proc.CLIENT_GET_INFO: AdminSession._client_info,
    Proc.CLIENT_CLOSE: AdminSession._close_client,
    Proc.SERVER_GET_CLIENT_LIMITS: AdminSession._get_client_limits,
    Proc.SERVER_SET_CLIENT_LIMITS: AdminSession._set_client_limits,
    Proc.CONNECT_GET_LOGGING_OUTPUTS: AdminSession._get_outputs,
    Proc.CONNECT_GET_LOGGING_FILTERS: AdminSession._get_filters,
    Proc.CONNECT_SET_LOGGING_OUTPUTS: AdminSession._set_outputs,
    Proc.CONNECT_SET_LOGGING_FILTERS: AdminSession._set_filters,
    Proc.SERVER_UPDATE_TLS_FILES: AdminSession._update_tls_files,
    Proc.CONNECT_SET_DAEMON_TIMEOUT: AdminSession._set_daemon_timeout,
}
assert set(_HANDLERS) == {int(proc) for proc in Proc}
