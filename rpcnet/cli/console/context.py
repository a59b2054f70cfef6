"""What a command runs with: one host's driver, an output sink, virsh's
"last error" — a failed libvirt call is remembered, and printed after the
command's own message only if the command as a whole fails — and, in the
shell, the Ctrl-C of the user."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from rpcnet.cli.console.output import Sink
from rpcnet.client.driver import RemoteDriver
from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.protocol.values import NetworkRef, PortRef

T = TypeVar("T")
#: virsh's VSH_MAX_XML_FILE
MAX_XML_FILE = 10 * 1024 * 1024


class Failed(Exception):
    """A libvirt call failed; its error is already the context's last error."""


class Interrupt:
    """Ctrl-C in the shell, for a command that waits (net-event, net-stats
    --watch): it ends the wait, as virsh's does. The shell cancels any other
    command."""

    def __init__(self) -> None:
        self._waiting: asyncio.Event | None = None

    @contextlib.contextmanager
    def waiting(self) -> Iterator[asyncio.Event]:
        """Around a wait that Ctrl-C ends: the event it sets."""
        self._waiting = event = asyncio.Event()
        try:
            yield event
        finally:
            self._waiting = None

    def end_wait(self) -> bool:
        """Ctrl-C (on the event loop): True if it ended a wait, False if the
        command is to be cancelled (no wait, or a second Ctrl-C)."""
        if self._waiting is None or self._waiting.is_set():
            return False
        self._waiting.set()
        return True


@contextlib.contextmanager
def interruption(interrupt: Interrupt | None) -> Iterator[asyncio.Event]:
    """The event Ctrl-C sets while a wait lasts."""
    if interrupt is not None:
        with interrupt.waiting() as event:
            yield event
        return
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, event.set)
    try:
        yield event
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)


@dataclass(slots=True)
class Context:
    driver: RemoteDriver
    out: Sink
    label: str = ""
    last_error: VirError | None = None
    #: the shell's Ctrl-C; None on the command line (SIGINT itself)
    interrupt: Interrupt | None = None

    async def call(self, awaitable: Awaitable[T]) -> T:
        """Await a driver call; on :class:`VirError` remember it and raise :class:`Failed`."""
        try:
            return await awaitable
        except VirError as exc:
            self.last_error = exc
            raise Failed from exc

    async def try_call(self, awaitable: Awaitable[T]) -> T | None:
        try:
            return await self.call(awaitable)
        except Failed:
            return None

    def report(self) -> None:
        """virsh's vshReportError: print the remembered error once."""
        if self.last_error is not None:
            self.out.error(self.last_error.message)
            self.last_error = None

    async def network(self, name: str, *, by_uuid: bool = True,
                      by_name: bool = True) -> NetworkRef | None:
        """virsh's network lookup: by UUID if ``name`` looks like one, then by name."""
        net = None
        if by_uuid and len(name) == 36:
            try:
                uuid = UUID(name).bytes
            except ValueError:
                uuid = None
            if uuid is not None:
                net = await self.try_call(self.driver.network_lookup_by_uuid(uuid))
        if net is None and by_name:
            net = await self.try_call(self.driver.network_lookup_by_name(name))
        if net is None:
            self.out.error(f"failed to get network '{name}'")
        return net

    async def port(self, network: str, uuid_text: str) -> PortRef | None:
        """The port ``uuid_text`` of network ``network``, or None once the
        missing network or port has been reported, as virsh does."""
        net = await self.network(network)
        if net is None:
            return None
        try:
            uuid = UUID(uuid_text).bytes
        except ValueError:
            port = None
        else:
            port = await self.try_call(self.driver.network_port_lookup_by_uuid(net, uuid))
        if port is None:
            self.out.error(f"failed to get network port '{uuid_text}'")
        return port

    def read_file(self, path: str) -> str | None:
        """virFileReadAll: the file's text, or None with libvirt's error remembered."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            self.last_error = _system_error(f"Failed to open file '{path}'", exc)
            return None
        try:
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(MAX_XML_FILE + 1)
        except OSError as exc:
            self.last_error = _system_error(f"Failed to read file '{path}'", exc)
            return None
        if len(data) > MAX_XML_FILE:
            self.last_error = VirError(
                ErrorCode.INTERNAL_ERROR, ErrorDomain.NONE, f"File '{path}' is too large"
            )
            return None
        return data.decode("utf-8", errors="replace")


def _system_error(what: str, exc: OSError) -> VirError:
    # virsh reports it with the bare message: no template, no str1/str2
    detail = f"{what}: {os.strerror(exc.errno or 0)}"
    return VirError(ErrorCode.SYSTEM_ERROR, ErrorDomain.NONE, detail)
