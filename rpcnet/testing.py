"""A pytest plugin: a real ``rpcnetd`` to test libvirt client code against.

Installed with rpcnet and loaded by pytest on its own (entry point
``pytest11: rpcnet``). Each test that asks for one of these fixtures gets a
fresh daemon — in-memory driver, sockets in a private temporary directory,
nothing touched outside it — as a child process:

``rpcnetd_uri``          ``network+unix:///system?socket=...`` (read-write)
``rpcnetd_ro_uri``       the same on the read-only socket
``rpcnetd_test_uri``     ``test+unix:///default?socket=...`` (libvirt's test driver)
``rpcnetd_test_ro_uri``  the same on the read-only socket
``rpcnetd_server``       the :class:`RpcnetdServer` behind them (stop, restart, log)
``rpcnetd_shared_server`` one daemon for the whole session (faster; state is shared)

Outside pytest, :class:`RpcnetdServer` is a context manager::

    with RpcnetdServer() as server:
        conn = libvirt.open(server.uri())
"""

from __future__ import annotations

import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

__all__ = ["RpcnetdServer", "answers_rpc", "wait_until_serving"]


def answers_rpc(path: str | Path, timeout: float = 1.0) -> bool:
    """True once a daemon answers AUTH_LIST (the first call of every libvirt
    client) on the UNIX socket at ``path``."""
    header = struct.pack(">IIiiIi", 0x20008086, 1, 66, 0, 0, 0)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(struct.pack(">I", 4 + len(header)) + header)
            reply = sock.recv(4096)
    except OSError:
        return False
    return len(reply) >= 24 and struct.unpack(">iI", reply[16:24]) == (1, 0)


def wait_until_serving(proc: subprocess.Popen[bytes], path: str | Path, timeout: float,
                       log: Callable[[], str], what: str = "rpcnetd") -> None:
    """Wait until the server ``proc`` answers on ``path``; raises RuntimeError
    (with ``log()``) if it exits or is not ready within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log()}")
        if answers_rpc(path):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} not ready after {timeout} s:\n{log()}")


def stop_process(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM,
                 timeout: float = 10.0) -> int | None:
    """Send ``sig`` to ``proc`` if it still runs, wait for it (SIGKILL after
    ``timeout`` seconds); its exit status, None without a process."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return proc.returncode


class RpcnetdServer:
    """``rpcnetd --socket-dir DIR`` (in-memory driver) as a child process."""

    def __init__(self, *, state_dir: Path | None = None, extra_args: tuple[str, ...] = (),
                 ready_timeout: float = 20.0) -> None:
        # A short path: UNIX socket paths are limited to 107 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="rpcnetd-"))
        self.state_dir = state_dir
        self.extra_args = extra_args
        self.ready_timeout = ready_timeout
        self.log_path = self.dir / "rpcnetd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.dir / "rpcnet-sock"

    @property
    def socket_ro(self) -> Path:
        return self.dir / "rpcnet-sock-ro"

    def uri(self, driver: str = "network", *, readonly: bool = False) -> str:
        """``network+unix:///system?socket=...`` or, for ``driver="test"``, the test driver."""
        path = "default" if driver == "test" else "system"
        return f"{driver}+unix:///{path}?socket={self.socket_ro if readonly else self.socket}"

    def start(self) -> Self:
        """Start the daemon and wait until it answers; raises RuntimeError if it does not."""
        args = [sys.executable, "-m", "rpcnet", "--socket-dir", str(self.dir)]
        if self.state_dir is not None:
            args += ["--state-dir", str(self.state_dir)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([*args, *self.extra_args], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(self.proc, self.socket, self.ready_timeout, self.log)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop the daemon with ``sig``; returns its exit status (None if not running)."""
        proc, self.proc = self.proc, None
        return stop_process(proc, sig)

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:]) or "(no log)"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        """Stop the daemon and remove its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@pytest.fixture
def rpcnetd_server() -> Iterator[RpcnetdServer]:
    """A fresh rpcnetd for this test."""
    with RpcnetdServer() as server:
        yield server


@pytest.fixture(scope="session")
def rpcnetd_shared_server() -> Iterator[RpcnetdServer]:
    """One rpcnetd for the whole session; tests see each other's networks."""
    with RpcnetdServer() as server:
        yield server


@pytest.fixture
def rpcnetd_uri(rpcnetd_server: RpcnetdServer) -> str:
    return rpcnetd_server.uri("network")


@pytest.fixture
def rpcnetd_ro_uri(rpcnetd_server: RpcnetdServer) -> str:
    return rpcnetd_server.uri("network", readonly=True)


@pytest.fixture
def rpcnetd_test_uri(rpcnetd_server: RpcnetdServer) -> str:
    return rpcnetd_server.uri("test")


@pytest.fixture
def rpcnetd_test_ro_uri(rpcnetd_server: RpcnetdServer) -> str:
    return rpcnetd_server.uri("test", readonly=True)
