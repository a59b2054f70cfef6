"""The host's DNS servers for every network's dnsmasq, kept by one watcher.

libvirt lets each dnsmasq read and watch the host's resolv.conf, one
inotify instance per network (see :mod:`.dnsmasq_conf`). Here rpcnetd
writes the nameservers of resolv.conf into one ``servers-file`` that every
dnsmasq forwarding upstream names, and watches resolv.conf itself: when its
nameservers change it rewrites the file and has those dnsmasq re-read it
(SIGHUP), as they would have re-read resolv.conf.

The watch is one inotify instance on resolv.conf (modified in place, as a
bind mount of it is) and on the directories of its path and of its target
when it is a symlink (replaced by rename, as resolvconf and
systemd-resolved do). If no inotify instance can be had, because the
per-user limit ``fs.inotify.max_user_instances`` is reached, the warning
names that limit and the file is polled instead (every 2 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
from collections.abc import Callable
from pathlib import Path

from rpcnet.driver.store import write_if_changed

from .fdwait import readable
from .limits import inotify_limit_hint

log = logging.getLogger(__name__)

RESOLV_CONF = Path("/etc/resolv.conf")
POLL_INTERVAL = 2.0
_DEBOUNCE = 0.05
_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF = 0x400, 0x800
_FILE_EVENTS = _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_DELETE_SELF | _IN_MOVE_SELF
_DIR_EVENTS = _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE


def servers_file(resolv_conf: str) -> str:
    """``server=`` lines for the nameservers of ``resolv_conf``, in its
    order (dnsmasq runs with strict-order, as under libvirt)."""
    lines = []
    for line in resolv_conf.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            lines.append(f"server={words[1]}")
    return "".join(f"{line}\n" for line in lines)


class Upstream:
    """The servers file at ``path``, kept current from ``resolv_conf``."""

    def __init__(self, path: Path, resolv_conf: Path = RESOLV_CONF) -> None:
        self.path = path
        self.resolv_conf = resolv_conf
        #: called (no arguments) after the file changed
        self.on_change: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None

    def _refresh_sync(self) -> bool:
        try:
            text = servers_file(self.resolv_conf.read_text(errors="replace"))
        except OSError:
            text = ""  # no resolv.conf: no upstream, as dnsmasq would find
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not write_if_changed(self.path, text):
            return False
        self.path.chmod(0o644)  # dnsmasq re-reads it after dropping root
        return True

    async def refresh(self) -> bool:
        """Rewrite the file if resolv.conf's nameservers changed; True if so."""
        return await asyncio.to_thread(self._refresh_sync)

    def watch(self) -> None:
        """Keep the file current (and call :attr:`on_change`) until :meth:`close`."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="upstream")

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _changed(self) -> None:
        try:
            changed = await self.refresh()
        except OSError as exc:
            log.error("cannot write %s: %s", self.path, exc)
            return
        if changed:
            log.info("upstream DNS servers in %s changed; reloading dnsmasq", self.resolv_conf)
            if self.on_change is not None:
                self.on_change()

    async def _run(self) -> None:
        try:
            watcher = _Inotify()
        except OSError as exc:
            detail = inotify_limit_hint() if exc.errno == errno.EMFILE else str(exc)
            log.warning("cannot watch %s (%s); polling it every %.0f s instead",
                        self.resolv_conf, detail, POLL_INTERVAL)
            await self._poll()
            return
        with contextlib.closing(watcher):
            while True:
                self._arm(watcher)
                await self._changed()
                await watcher.wait()
                await asyncio.sleep(_DEBOUNCE)  # let a burst of writes settle
                watcher.drain()

    def _arm(self, watcher: _Inotify) -> None:
        """(Re-)add the watches: after a rename the path is another inode."""
        paths = {self.resolv_conf.parent}
        with contextlib.suppress(OSError):
            paths.add(self.resolv_conf.resolve().parent)
        for directory in paths:
            watcher.add(directory, _DIR_EVENTS)
        watcher.add(self.resolv_conf, _FILE_EVENTS)

    async def _poll(self) -> None:
        last: tuple[int, int, int] | None = None
        while True:
            try:
                st = os.stat(self.resolv_conf)
                now: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
            except OSError:
                now = None
            if now != last:
                last = now
                await self._changed()
            await asyncio.sleep(POLL_INTERVAL)


class _Inotify:
    """One non-blocking inotify instance read from the event loop."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self.fd: int = fd

    def add(self, path: Path, mask: int) -> None:
        """Watch ``path``; a path that does not exist (yet) is skipped."""
        self._libc.inotify_add_watch(self.fd, os.fsencode(path), mask)

    async def wait(self) -> None:
        await readable(self.fd)

    def drain(self) -> None:
        """Discard the pending events: any of them means "look again"."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fd, 65536):
                pass

    def close(self) -> None:
        os.close(self.fd)
