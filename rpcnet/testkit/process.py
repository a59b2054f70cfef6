"""rpcnetd as a child process, for tests that want a real separate daemon.

:class:`RpcnetdServer` starts ``python -m rpcnet`` (the in-memory driver) on
sockets in a private temporary directory and waits until it answers. It has
no faults and no call record: rpcnetd itself has no way to be given them
(see :class:`rpcnet.testkit.InProcessDaemon` for those).
"""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

from rpcnet.testkit.sockets import DaemonDir

__all__ = ["RpcnetdServer", "answers_rpc", "stop_process", "wait_until_serving"]


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


class RpcnetdServer(DaemonDir):
    """``rpcnetd --socket-dir DIR`` (in-memory driver) as a child process."""

    def __init__(self, *, state_dir: Path | None = None, extra_args: tuple[str, ...] = (),
                 ready_timeout: float = 20.0) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="rpcnetd-"))
        self.state_dir = state_dir
        self.extra_args = extra_args
        self.ready_timeout = ready_timeout
        self.log_path = self.dir / "rpcnetd.log"
        self.proc: subprocess.Popen[bytes] | None = None

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

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:]) or "(no log)"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""
