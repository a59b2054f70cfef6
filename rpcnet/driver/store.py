"""Where a network service keeps its state: the :class:`Store` protocol, a
directory on disk (:class:`DiskStore`) or nowhere (:class:`NullStore`).

A store holds text the service formats; it never parses XML or decides
anything. Layout of a :class:`DiskStore` directory::

    networks/NAME.xml          persistent definition (what net-dumpxml --inactive shows)
    autostart/NAME             empty marker: start NAME when the driver loads
    status/NAME.xml            live definition of a running network (transient ones too)
    ports/NAME/UUID.xml        ports of a running network

A status file present means "running": it is written before a start is
reported and removed before a stop is. Every write is atomic (temp file in
the same directory, fsync, rename, fsync of the directory), so a crash
leaves either the old or the new file, never a torn one.

Every file access of a :class:`DiskStore` runs off the event loop; the
methods named ``*_sync`` are what it runs there.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from rpcnet.errors import ErrorCode, network_error

log = logging.getLogger(__name__)

T = TypeVar("T")

_DIRS = ("networks", "autostart", "status", "ports")


@dataclass(slots=True)
class Snapshot:
    """Raw file contents found at load time, keyed by network name."""

    configs: dict[str, str] = field(default_factory=dict)
    autostart: set[str] = field(default_factory=set)
    status: dict[str, str] = field(default_factory=dict)
    ports: dict[str, dict[str, str]] = field(default_factory=dict)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves old or new, whole."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_if_changed(path: Path, text: str) -> bool:
    """:func:`write_atomic` unless ``path`` holds ``text`` already; True when written."""
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    write_atomic(path, text)
    return True


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


class StateInUse(OSError):
    """Another process holds the state directory."""


def lock_directory(directory: Path) -> int:
    """Take ``directory`` (created if missing) for this process: one daemon
    or tool at a time edits a state. Returns the descriptor that holds the
    lock until it is closed or the process ends; raises StateInUse naming
    the holder's pid, or OSError."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StateInUse(errno.EBUSY, f"state directory '{directory}' is in use by "
                                      f"process {holder}") from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class Store(Protocol):
    """What a network service saves, by network name. Each write is whole
    when it returns, or raises :class:`~rpcnet.errors.VirError` and changed
    nothing."""

    async def load(self) -> Snapshot | None:
        """What was saved; None for a store never used before (then it is
        made ready to use)."""
        ...

    async def write_config(self, name: str, xml: str) -> None: ...

    async def delete_config(self, name: str) -> None:
        """Forget the persistent definition and its autostart mark."""
        ...

    async def set_autostart(self, name: str, autostart: bool) -> None: ...

    async def write_status(self, name: str, xml: str) -> None: ...

    async def delete_status(self, name: str) -> None:
        """Forget a running network: its status and its ports."""
        ...

    async def write_port(self, network: str, port_uuid: str, xml: str) -> None: ...

    async def delete_port(self, network: str, port_uuid: str) -> None: ...


class NullStore:
    """Keeps nothing: state lives as long as the service."""

    async def load(self) -> Snapshot | None:
        return None

    async def write_config(self, name: str, xml: str) -> None:
        pass

    async def delete_config(self, name: str) -> None:
        pass

    async def set_autostart(self, name: str, autostart: bool) -> None:
        pass

    async def write_status(self, name: str, xml: str) -> None:
        pass

    async def delete_status(self, name: str) -> None:
        pass

    async def write_port(self, network: str, port_uuid: str, xml: str) -> None:
        pass

    async def delete_port(self, network: str, port_uuid: str) -> None:
        pass


class DiskStore:
    """The files of one service's state directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, kind: str, name: str, suffix: str = ".xml") -> Path:
        return self.root / kind / f"{name}{suffix}"

    async def _run(self, func: Callable[..., T], *args: str | bool) -> T:
        """Run a file operation off the event loop; OSError becomes a VirError."""
        try:
            return await asyncio.to_thread(func, *args)
        except OSError as exc:
            raise network_error(
                ErrorCode.SYSTEM_ERROR,
                f"cannot update state under '{self.root}': {exc.strerror or exc}",
            ) from exc

    # -- the Store protocol --------------------------------------------------

    async def load(self) -> Snapshot | None:
        fresh = await self._run(self.is_fresh)
        await self._run(self.init_sync)
        return None if fresh else await self._run(self.load_sync)

    async def write_config(self, name: str, xml: str) -> None:
        await self._run(self.write_config_sync, name, xml)

    async def delete_config(self, name: str) -> None:
        await self._run(self.delete_config_sync, name)

    async def set_autostart(self, name: str, autostart: bool) -> None:
        await self._run(self.set_autostart_sync, name, autostart)

    async def write_status(self, name: str, xml: str) -> None:
        await self._run(self.write_status_sync, name, xml)

    async def delete_status(self, name: str) -> None:
        await self._run(self.delete_status_sync, name)

    async def write_port(self, network: str, port_uuid: str, xml: str) -> None:
        await self._run(self.write_port_sync, network, port_uuid, xml)

    async def delete_port(self, network: str, port_uuid: str) -> None:
        await self._run(self.delete_port_sync, network, port_uuid)

    # -- setup and load ----------------------------------------------------

    def is_fresh(self) -> bool:
        """True when the state directory has never been initialised."""
        return not (self.root / "networks").is_dir()

    def init_sync(self) -> None:
        for name in _DIRS:
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def load_sync(self) -> Snapshot:
        """Read every file; unreadable ones are logged and skipped."""
        snap = Snapshot()
        snap.configs = self._read_dir(self.root / "networks")
        snap.status = self._read_dir(self.root / "status")
        autostart = self.root / "autostart"
        if autostart.is_dir():
            snap.autostart = {p.name for p in autostart.iterdir() if not p.name.startswith(".")}
        ports = self.root / "ports"
        if ports.is_dir():
            for sub in ports.iterdir():
                if sub.is_dir():
                    snap.ports[sub.name] = self._read_dir(sub)
        return snap

    @staticmethod
    def _read_dir(directory: Path) -> dict[str, str]:
        found: dict[str, str] = {}
        if not directory.is_dir():
            return found
        for path in sorted(directory.glob("*.xml")):
            if path.name.startswith("."):
                continue
            try:
                found[path.stem] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                log.error("skipping unreadable state file %s: %s", path, exc)
        return found

    # -- writes ------------------------------------------------------------

    def write_config_sync(self, name: str, xml: str) -> None:
        write_atomic(self._path("networks", name), xml)

    def delete_config_sync(self, name: str) -> None:
        """Remove the config and the autostart mark (libvirt's DeleteConfig)."""
        removed = _unlink(self._path("autostart", name, ""))
        removed = _unlink(self._path("networks", name)) or removed
        if removed:
            fsync_dir(self.root / "networks")

    def set_autostart_sync(self, name: str, autostart: bool) -> None:
        path = self._path("autostart", name, "")
        if autostart:
            write_atomic(path, "")
        elif _unlink(path):
            fsync_dir(path.parent)

    def write_status_sync(self, name: str, xml: str) -> None:
        write_atomic(self._path("status", name), xml)

    def delete_status_sync(self, name: str) -> None:
        """Forget a running network: its status file and its ports."""
        ports = self.root / "ports" / name
        if ports.is_dir():
            for path in ports.iterdir():
                _unlink(path)
            with contextlib.suppress(OSError):
                ports.rmdir()
        if _unlink(self._path("status", name)):
            fsync_dir(self.root / "status")

    def write_port_sync(self, network: str, port_uuid: str, xml: str) -> None:
        directory = self.root / "ports" / network
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / f"{port_uuid}.xml", xml)

    def delete_port_sync(self, network: str, port_uuid: str) -> None:
        path = self.root / "ports" / network / f"{port_uuid}.xml"
        if _unlink(path):
            fsync_dir(path.parent)
