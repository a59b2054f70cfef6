"""Throwaway named network namespaces for tests (`ip netns add`).

Everything here acts on the named namespace only (`ip -n NAME`, `ip netns
exec NAME`, `setns` in a short-lived thread); nothing touches the network
namespace of the test process itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

IP = "/usr/sbin/ip"
NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_T = TypeVar("_T")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([IP, *args], capture_output=True, text=True, timeout=30, check=check)


class NetNamespace:
    """A named network namespace that this process created and will delete."""

    def __init__(self, prefix: str = "rpcnet") -> None:
        self.name = f"{prefix}-{secrets.token_hex(4)}"
        self._created = False

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def create(self) -> None:
        """Add the namespace and bring its loopback up."""
        _ip("netns", "add", self.name)
        self._created = True
        _ip("-n", self.name, "link", "set", "lo", "up")

    def exists(self) -> bool:
        return self.path.exists()

    def exec_args(self, *cmd: str) -> list[str]:
        """Argument list running `cmd` inside the namespace."""
        return [IP, "netns", "exec", self.name, *cmd]

    def run(self, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run `cmd` inside the namespace; text output, never raises on exit code."""
        env = {**os.environ, "LC_ALL": "C"}
        return subprocess.run(
            self.exec_args(*cmd), capture_output=True, text=True, timeout=timeout, env=env
        )

    def link_names(self) -> list[str]:
        """Names of the links inside the namespace."""
        out = _ip("-n", self.name, "-o", "link", "show").stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]

    def pids(self) -> list[int]:
        """Live (non-zombie) processes whose network namespace is this one."""
        if not self.exists():
            return []
        res = _ip("netns", "pids", self.name, check=False)
        return [int(p) for p in res.stdout.split()]

    def commands(self) -> dict[int, str]:
        """Command lines (space-joined) of the processes in the namespace."""
        found = {}
        for pid in self.pids():
            try:
                raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            found[pid] = raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        return found

    def kill_all(self, timeout: float = 5.0) -> list[int]:
        """SIGKILL every process in the namespace; return the ones still alive."""
        deadline = time.monotonic() + timeout
        while (left := self.pids()) and time.monotonic() < deadline:
            for pid in left:
                _signal(pid, signal.SIGKILL)
            time.sleep(0.05)
        return self.pids()

    def delete(self) -> None:
        """Kill what runs inside, then remove the namespace (idempotent)."""
        if not self._created or not self.exists():
            return
        left = self.kill_all()
        _ip("netns", "del", self.name)
        self._created = False
        if left:
            raise RuntimeError(f"processes {left} survived in netns {self.name}")

    def connect_tcp(self, host: str, port: int, timeout: float = 5.0) -> socket.socket:
        """A TCP socket connected from inside the namespace to (host, port)."""
        return _in_netns(self.path, lambda: socket.create_connection((host, port), timeout))


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _in_netns(ns_path: Path, fn: Callable[[], _T]) -> _T:
    """Run `fn` on a fresh thread that first joins the namespace at `ns_path`."""
    result: list[_T] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(ns_path, os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {ns_path}: {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work, name=f"netns:{ns_path.name}")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]
