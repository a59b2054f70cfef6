"""Notifications from the kernel when an nftables table of a family changes.

One netlink socket in multicast group NFNLGRP_NFTABLES hears every
nftables transaction in the namespace, iptables-nft's included. The watcher
reads only each message's header and family and calls back, at most once
per burst, when a table of a family it cares about changed; its callback
decides what to look at. (pyroute2 reads such sockets with its own asyncio
endpoint, which uvloop, the daemon's loop, does not support; the header is
all that is needed here.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable, Collection

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NFNLGRP_NFTABLES = 7
NFNL_SUBSYS_NFTABLES = 10
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_NFGEN_FAMILY = _HEADER.size  # nfgenmsg's first byte: the family


def families(data: bytes) -> set[int]:
    """The families of the nftables messages in one netlink datagram."""
    found = set()
    offset = 0
    while offset + _HEADER.size < len(data):
        length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size:
            break
        if kind >> 8 == NFNL_SUBSYS_NFTABLES:
            found.add(data[offset + _NFGEN_FAMILY])
        offset += (length + 3) & ~3
    return found


class TableWatcher:
    """Calls ``changed()`` after tables of ``families`` changed, once per
    burst of changes (``settle`` seconds without one)."""

    def __init__(self, families_: Collection[int], changed: Callable[[], Awaitable[None]],
                 settle: float = 0.05) -> None:
        self._families = set(families_)
        self._changed = changed
        self._settle = settle
        self._sock: socket.socket | None = None
        self._pending: asyncio.Event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Listen; raises OSError when the socket cannot be had."""
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK
                             | socket.SOCK_CLOEXEC, NETLINK_NETFILTER)
        try:
            sock.bind((0, 0))
            sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTABLES)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        loop = asyncio.get_running_loop()
        loop.add_reader(sock.fileno(), self._readable)
        self._task = loop.create_task(self._run(), name="nftables-events")

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def _readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:  # ENOBUFS: messages were lost; look anyway
                self._pending.set()
                continue
            if families(data) & self._families:
                self._pending.set()

    async def _run(self) -> None:
        while True:
            await self._pending.wait()
            while self._pending.is_set():  # until a burst of changes is over
                self._pending.clear()
                await asyncio.sleep(self._settle)
            await self._changed()
