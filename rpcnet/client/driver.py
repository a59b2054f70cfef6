"""``RemoteDriver``: the NetworkDriver interface over a libvirt-protocol connection.

Its methods are generated from the procedure tables (REMOTE's, and
rpcnet's own program's, whose calls a libvirtd answers "Cannot find
program"), so a remote host is driven through exactly the interface the
daemon serves. Event callbacks
get local ids. As libvirt's own remote driver does, callbacks for the same
event and network share one server-side registration (libvirtd refuses a
second one: "event callback already tracked"); the driver registers those
again after :meth:`RemoteDriver.reconnect`, which a :class:`ReconnectPolicy`
runs by itself (with exponential backoff) whenever the connection drops.
Calls made while the connection is down fail with ``ConnectionClosed``;
they are not queued, because a retried write could run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rpcnet.client.connection import Connection, ConnectionClosed
from rpcnet.client.ssh_command import SshTarget
from rpcnet.client.tls import ClientCredentials, client_context
from rpcnet.client.uri import RemoteUri
from rpcnet.driver.base import LifecycleCallback, NetworkDriver
from rpcnet.errors import ErrorCode, VirError, general_error, remote_error
from rpcnet.protocol import remote, rpcnet_program
from rpcnet.protocol.program import CallStyle, Procedure, Program
from rpcnet.protocol.remote import Feature, Proc
from rpcnet.protocol.values import NetworkRef, TypedParam

log = logging.getLogger("rpcnet.client")


@dataclass(frozen=True, slots=True)
class LifecycleEventRecord:
    """One network lifecycle event as the async iterator yields it."""

    network: NetworkRef
    event: int
    detail: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectPolicy:
    """Automatic reconnection: delays grow from ``initial`` by ``factor`` up to
    ``maximum`` seconds; ``attempts`` bounds the tries per outage (None: forever)."""

    initial: float = 0.1
    maximum: float = 5.0
    factor: float = 2.0
    attempts: int | None = None

    def delays(self) -> Iterator[float]:
        delay, tries = self.initial, itertools.count(1)
        while self.attempts is None or next(tries) <= self.attempts:
            yield delay
            delay = min(delay * self.factor, self.maximum)


@dataclass(slots=True)
class _ServerCallback:
    """One registration on the server, fanned out to local callbacks."""

    event_id: int
    net: NetworkRef | None
    server_id: int
    callbacks: dict[int, LifecycleCallback]


def _key(event_id: int, net: NetworkRef | None) -> tuple[int, bytes | None]:
    return event_id, net.uuid if net is not None else None


class RemoteDriver(NetworkDriver):
    """A :class:`NetworkDriver` whose every call goes to a remote server."""

    def __init__(self, uri: RemoteUri, connection: Connection, *, readonly: bool,
                 keepalive_interval: float, keepalive_count: int,
                 reconnect: ReconnectPolicy | None = None) -> None:
        self.uri = uri
        self.readonly = readonly
        self.reconnect_policy = reconnect
        self._conn = connection
        self._keepalive = (keepalive_interval, keepalive_count)
        self._groups: dict[tuple[int, bytes | None], _ServerCallback] = {}
        self._group_of: dict[int, _ServerCallback] = {}
        self._by_server_id: dict[int, _ServerCallback] = {}
        self._events_lock = asyncio.Lock()
        self._local_ids = itertools.count()
        self._update_order_ok: bool | None = None
        self._user_closed = False
        self._final: ConnectionClosed | None = None
        self._streams: set[asyncio.Queue[LifecycleEventRecord | ConnectionClosed]] = set()
        self._reconnect_listeners: list[Callable[[], None]] = []
        self._identity: list[TypedParam] | None = None
        self._connected = asyncio.Event()
        self._bind(connection)
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    # -- connection management ----------------------------------------------

    @classmethod
    async def open(cls, uri: str, *, readonly: bool = False,
                   keepalive_interval: float | None = None,
                   keepalive_count: int | None = None,
                   reconnect: ReconnectPolicy | bool | None = None,
                   identity: Mapping[str, str | int] | None = None) -> RemoteDriver:
        """Dial ``uri`` and do the handshake; raises :class:`VirError` on failure.

        ``reconnect=True`` (or a :class:`ReconnectPolicy`) reconnects by
        itself after the connection drops and registers every event callback
        again. ``identity``: speak for someone else from the start
        (:meth:`set_identity`).
        """
        parsed = RemoteUri.parse(uri)
        interval = keepalive_interval if keepalive_interval is not None else \
            parsed.float_param("keepalive_interval", 5.0)
        count = keepalive_count if keepalive_count is not None else \
            int(parsed.float_param("keepalive_count", 5))
        policy = ReconnectPolicy() if reconnect is True else reconnect or None
        conn = await _dial(parsed, readonly, interval, count)
        driver = cls(parsed, conn, readonly=readonly, keepalive_interval=interval,
                     keepalive_count=count, reconnect=policy)
        if identity is not None:
            try:
                await driver.set_identity(identity)
            except BaseException:
                await driver.close()
                raise
        return driver

    async def set_identity(self, identity: Mapping[str, str | int]) -> None:
        """Act for someone else (``virConnectSetIdentity``), as libvirt's QEMU
        driver forwards a guest owner's identity: keys such as ``user-name``,
        ``unix-user-id``, ``process-id`` (:data:`remote.IDENTITY_PARAMS`).
        It replaces the identity the server took from the connection, also
        after a reconnect. Raises ValueError for an unknown key and
        :class:`VirError` if the server refuses it."""
        params = identity_parameters(identity)
        await self._conn.call(Proc.CONNECT_SET_IDENTITY, (params, 0))
        self._identity = params

    def _bind(self, connection: Connection) -> None:
        self._conn = connection
        connection.event_handler = self._dispatch_event
        self._update_order_ok = None
        self._connected.set()

    @property
    def connection(self) -> Connection:
        return self._conn

    @property
    def closed(self) -> bool:
        return self._conn.closed

    async def wait_closed(self) -> ConnectionClosed:
        return await self._conn.wait_closed()

    async def wait_connected(self) -> None:
        """Return once a connection is up (at once unless a reconnect is pending)."""
        await self._connected.wait()

    def add_reconnect_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every successful automatic or manual reconnect."""
        self._reconnect_listeners.append(listener)

    async def reconnect(self) -> None:
        """Dial again and register every event callback again on the new connection.

        Raises :class:`VirError` if the server cannot be reached."""
        if self._user_closed:
            raise ConnectionClosed("connection closed by the client")
        old = self._conn
        conn = await _dial(self.uri, self.readonly, *self._keepalive)
        async with self._events_lock:
            groups = list(self._groups.values())
            try:
                if self._identity is not None:
                    await conn.call(Proc.CONNECT_SET_IDENTITY, (self._identity, 0))
                server_ids = [
                    (await conn.call(Proc.CONNECT_NETWORK_EVENT_REGISTER_ANY,
                                     (group.event_id, group.net)))[0]
                    for group in groups]
            except BaseException:
                await conn.close()
                raise
            self._by_server_id.clear()
            for group, server_id in zip(groups, server_ids, strict=True):
                group.server_id = server_id
                self._by_server_id[server_id] = group
            self._bind(conn)
        # The old connection closes only now, so the watcher sees it replaced.
        with contextlib.suppress(VirError):
            await old.close()
        if self._watcher.done():
            self._final = None
            self._watcher = asyncio.get_running_loop().create_task(self._watch())
        for listener in list(self._reconnect_listeners):
            try:
                listener()
            except Exception:
                log.exception("reconnect listener failed")

    async def _watch(self) -> None:
        """Reconnect after drops (if a policy says so); end event streams otherwise."""
        while True:
            conn = self._conn
            closed = await conn.wait_closed()
            if self._conn is not conn:
                continue
            self._connected.clear()
            if self._user_closed or self.reconnect_policy is None:
                break
            log.info("connection to %s lost (%s); reconnecting", self.uri.uri, closed.message)
            if not await self._reconnect_with_backoff(self.reconnect_policy):
                break
        self._final = closed
        for stream in self._streams:
            stream.put_nowait(closed)

    async def _reconnect_with_backoff(self, policy: ReconnectPolicy) -> bool:
        for delay in policy.delays():
            await asyncio.sleep(delay)
            if self._user_closed:
                return False
            try:
                await self.reconnect()
            except VirError as exc:
                log.debug("reconnect to %s failed: %s", self.uri.uri, exc.message)
                continue
            return True
        return False

    async def close(self) -> None:
        self._user_closed = True
        await self._conn.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watcher

    async def __aenter__(self) -> RemoteDriver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- events -----------------------------------------------------------

    async def connect_network_event_register_any(
        self, event_id: int, net: NetworkRef | None, callback: LifecycleCallback
    ) -> int:
        async with self._events_lock:
            group = self._groups.get(_key(event_id, net))
            if group is None:
                (server_id,) = await self._conn.call(Proc.CONNECT_NETWORK_EVENT_REGISTER_ANY,
                                                     (event_id, net))
                group = _ServerCallback(event_id, net, server_id, {})
                self._groups[_key(event_id, net)] = group
                self._by_server_id[server_id] = group
            local_id = next(self._local_ids)
            group.callbacks[local_id] = callback
            self._group_of[local_id] = group
            return local_id

    async def connect_network_event_deregister_any(self, callback_id: int) -> None:
        async with self._events_lock:
            group = self._group_of.get(callback_id)
            if group is None:
                raise general_error(ErrorCode.INVALID_ARG,
                                    f"could not find event callback {callback_id} for deletion")
            if len(group.callbacks) == 1:
                if not self._conn.closed:  # else the next reconnect just leaves it out
                    await self._conn.call(Proc.CONNECT_NETWORK_EVENT_DEREGISTER_ANY,
                                          (group.server_id,))
                del self._groups[_key(group.event_id, group.net)]
                self._by_server_id.pop(group.server_id, None)
            del group.callbacks[callback_id]
            del self._group_of[callback_id]

    def _dispatch_event(self, server_id: int, net: NetworkRef, event: int, detail: int) -> None:
        group = self._by_server_id.get(server_id)
        if group is None:
            return
        for local_id, callback in list(group.callbacks.items()):
            try:
                callback(local_id, net, event, detail)
            except Exception:
                log.exception("lifecycle callback %s failed", local_id)

    async def lifecycle_events(self, net: NetworkRef | None = None
                               ) -> AsyncIterator[LifecycleEventRecord]:
        """Yield lifecycle events (of ``net`` or all networks).

        Across automatic reconnects the stream goes on; it ends when the
        client closes the driver and raises ``ConnectionClosed`` when the
        connection is lost for good."""
        queue: asyncio.Queue[LifecycleEventRecord | ConnectionClosed] = asyncio.Queue()
        callback_id = await self.connect_network_event_register_any(
            0, net, lambda _cid, n, ev, det: queue.put_nowait(LifecycleEventRecord(n, ev, det)))
        self._streams.add(queue)
        if self._final is not None:
            queue.put_nowait(self._final)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, ConnectionClosed):
                    if self._user_closed:
                        return
                    raise item
                yield item
        finally:
            self._streams.discard(queue)
            if not self._conn.closed:
                with contextlib.suppress(VirError):
                    await self.connect_network_event_deregister_any(callback_id)

    # -- the network update order quirk ---------------------------------------

    async def network_update(self, net: NetworkRef, command: int, section: int,
                             parent_index: int, xml: str, flags: int) -> None:
        if self._update_order_ok is None:
            self._update_order_ok = await self._conn.supports(
                Feature.NETWORK_UPDATE_HAS_CORRECT_ORDER)
        if not self._update_order_ok:  # pre-7.2 servers read the two fields swapped
            command, section = section, command
        await self._conn.call(Proc.NETWORK_UPDATE,
                              (net, command, section, parent_index, xml, flags))


def identity_parameters(identity: Mapping[str, str | int]) -> list[TypedParam]:
    """``identity`` as CONNECT_SET_IDENTITY's typed parameters; ValueError
    for a key libvirt does not know."""
    params = []
    for key, value in identity.items():
        kind = remote.IDENTITY_PARAMS.get(key)
        if kind is None:
            raise ValueError(f"unknown identity parameter '{key}'")
        params.append(TypedParam(key, kind, value))
    return params


async def _dial(uri: RemoteUri, readonly: bool, interval: float, count: int) -> Connection:
    options: dict[str, Any] = {"keepalive_interval": interval, "keepalive_count": count}
    if uri.transport == "tls":
        context = client_context(ClientCredentials.for_user(uri.pki_dir),
                                 verify=not uri.no_verify)
        conn = await Connection.open_tls(uri.host, uri.tcp_port, context, **options)
    elif uri.transport == "unix":
        conn = await Connection.open_unix(uri.socket_path(readonly=readonly), **options)
    elif uri.transport == "ssh":
        target = SshTarget.from_uri(uri, readonly=readonly)
        conn = await Connection.open_process(target.ssh_argv(), **options)
    elif uri.transport in ("libssh", "libssh2"):
        from rpcnet.client import libssh

        conn = await libssh.open_connection(SshTarget.from_uri(uri, readonly=readonly),
                                            **options)
    else:
        raise remote_error(ErrorCode.NO_SUPPORT,
                           f"transport '{uri.transport}' (not yet implemented)")
    try:
        await conn.handshake(uri.open_name, readonly=readonly)
    except BaseException:
        await conn.abort()  # a timed-out host would not answer a close call either
        raise
    return conn


def _stub(proc: Procedure, program: Program | None = None) -> Callable[..., Awaitable[Any]]:
    """The method calling ``proc`` (of a companion ``program`` if given)."""
    number, style, has_ret = proc.number, proc.style, proc.ret_fields > 0

    if style is CallStyle.PLAIN:
        async def plain(self: RemoteDriver, *args: Any) -> Any:
            ret = await self._conn.call(number, args, program)
            return ret[0] if has_ret else None
        return plain
    if style is CallStyle.LIST_ALL:
        async def list_all(self: RemoteDriver, *args: Any) -> Any:
            items, _count = await self._conn.call(number, (*args[:-1], 1, args[-1]))
            return items
        return list_all
    if style is CallStyle.GET_PARAMETERS:
        async def get_parameters(self: RemoteDriver, port: Any, flags: int) -> Any:
            params, _nparams = await self._conn.call(
                number, (port, remote.PORT_PARAMETERS_MAX, flags))
            return params
        return get_parameters
    raise AssertionError(proc.name)


def _install_stubs() -> None:
    companion = rpcnet_program.RPCNET
    for proc, program in [*((p, None) for p in remote.PROCEDURES),
                          *((p, companion) for p in rpcnet_program.PROCEDURES)]:
        if proc.method is None or proc.method in RemoteDriver.__dict__:
            continue
        stub = _stub(proc, program)
        stub.__name__ = stub.__qualname__ = proc.method
        stub.__doc__ = f"{proc.api} over the wire (procedure {proc.number})."
        setattr(RemoteDriver, proc.method, stub)


_install_stubs()
