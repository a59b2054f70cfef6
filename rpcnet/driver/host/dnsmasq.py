"""One network's dnsmasq process: start, adopt, reload, stop, supervise.

dnsmasq daemonizes itself (as under libvirtd), so it outlives a crash or
restart of rpcnetd and guests keep their DHCP and DNS; the new rpcnetd finds
it again through its pid file. The launcher only exits once dnsmasq has
bound its sockets, with the reason on stderr when it could not. The process
is watched through a pidfd, which works the same for a process we started
and for one we adopted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from rpcnet.errors import ErrorCode, network_error

from . import netlink_filter
from .dnsmasq_conf import Paths
from .fdwait import readable
from .limits import inotify_limit_hint
from .tools import Tools, run

log = logging.getLogger(__name__)

_STOP_TIMEOUT = 5.0
_RESTART_LIMIT = 5  # restarts within _RESTART_WINDOW before giving up
_RESTART_WINDOW = 60.0


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.rstrip(b"\0").decode(errors="replace").split("\0")


class Dnsmasq:
    def __init__(self, tools: Tools, paths: Paths, network: str) -> None:
        self._tools = tools
        self.paths = paths
        self.network = network
        #: the bridge it serves: it is made deaf to other links' changes
        self.interface: str | None = None
        self.pid: int | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._restarts: list[float] = []
        #: times the supervisor restarted it since this daemon started
        self.restarts = 0
        # Held while dnsmasq is launched or stopped, so that stop() never
        # cancels a restart half-way (which could orphan a daemonizing dnsmasq).
        self._lock = asyncio.Lock()
        self._stopping = False
        #: awaited after the supervisor restarted dnsmasq (its pid changed)
        self.on_launch: Callable[[], Awaitable[None]] | None = None

    @property
    def _conf_arg(self) -> str:
        return f"--conf-file={self.paths.conf}"

    def _ours(self, pid: int) -> bool:
        """Whether ``pid`` is this network's dnsmasq (not a recycled pid)."""
        return self._conf_arg in _cmdline(pid)

    def _read_pid(self) -> int | None:
        try:
            pid = int(self.paths.pid.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self._ours(pid) else None

    async def start(self) -> int:
        """Start dnsmasq; returns its pid once it serves. Raises VirError."""
        async with self._lock:
            self._stopping = False
            return await self._launch()

    async def _launch(self) -> int:
        binary = self._tools.find("dnsmasq")
        await asyncio.to_thread(self.paths.pid.unlink, missing_ok=True)
        status, err = await run([binary, self._conf_arg])
        if status != 0:
            detail = err or f"exit status {status}"
            if "inotify" in detail and "Too many open files" in detail:
                detail += f" ({inotify_limit_hint()})"
            raise network_error(
                ErrorCode.SYSTEM_ERROR,
                f"dnsmasq for network '{self.network}' failed to start: {detail}")
        pid = await asyncio.to_thread(self._read_pid)
        if pid is None:
            raise network_error(
                ErrorCode.SYSTEM_ERROR,
                f"dnsmasq for network '{self.network}' wrote no pid file {self.paths.pid}")
        self.pid = pid
        self._hear_only_its_bridge()
        return pid

    def _hear_only_its_bridge(self) -> None:
        if self.pid is not None and self.interface is not None:
            netlink_filter.hear_only(self.pid, self.interface)

    def alive(self) -> bool:
        """Whether it runs now (read from /proc: cheap, for statistics)."""
        return self.pid is not None and self._ours(self.pid)

    async def adopt(self) -> bool:
        """Take over a dnsmasq left running by an earlier rpcnetd."""
        self.pid = await asyncio.to_thread(self._read_pid)
        self._hear_only_its_bridge()
        return self.pid is not None

    def reload(self) -> None:
        """SIGHUP: re-read the DHCP hosts and DNS hosts files."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGHUP)

    async def stop(self) -> None:
        """Stop watching and terminate dnsmasq (ours by pid file too, if not
        started by this process); tolerates an already dead one."""
        self._stopping = True
        async with self._lock:
            self.unwatch()
            pid = self.pid if self.pid is not None else await asyncio.to_thread(self._read_pid)
            self.pid = None
            if pid is not None:
                await _terminate(pid)
            await asyncio.to_thread(self.paths.pid.unlink, missing_ok=True)

    # -- supervision ---------------------------------------------------------

    def watch(self) -> None:
        """Restart dnsmasq (and log it) whenever it dies, until :meth:`unwatch`."""
        if self._watcher is None and self.pid is not None:
            self._watcher = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"dnsmasq:{self.network}")

    def unwatch(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    async def _supervise(self) -> None:
        while self.pid is not None:
            await _exited(self.pid)
            async with self._lock:
                if self._stopping:
                    return
                await self._restart()

    async def _restart(self) -> None:
        if self.pid is not None:
            tail = await asyncio.to_thread(_tail, self.paths.log)
            log.warning("dnsmasq (pid %d) of network %s died; restarting it%s", self.pid,
                        self.network, tail)
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < _RESTART_WINDOW]
        if len(self._restarts) >= _RESTART_LIMIT:
            log.error("dnsmasq of network %s died %d times in %ds; not restarting it",
                      self.network, _RESTART_LIMIT, _RESTART_WINDOW)
            self.pid = None
            return
        self._restarts.append(now)
        try:
            await self._launch()
            self.restarts += 1
            if self.on_launch is not None:
                await self.on_launch()
        except Exception as exc:
            log.error("cannot restart dnsmasq of network %s: %s", self.network, exc)
            await asyncio.sleep(1.0)


async def _exited(pid: int) -> None:
    """Return once process ``pid`` has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        await readable(fd)
    finally:
        os.close(fd)


async def _terminate(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    os.close(fd)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(_exited(pid), _STOP_TIMEOUT)
    except TimeoutError:
        log.warning("dnsmasq pid %d ignored SIGTERM; killing it", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await _exited(pid)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "; its log ends:\n" + "\n".join(text) if text else ""
