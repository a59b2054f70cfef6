"""Run our own daemon, `rpcnetd`, as a real process on temporary sockets."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.peers.libvirtd import _answers_rpc


class RpcnetdPeer:
    """`rpcnetd --socket-dir TMP` (in-memory driver) started as a child process."""

    def __init__(self, *, state_dir: Path | None = None, extra_args: tuple[str, ...] = (),
                 ready_timeout: float = 20.0) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="rpcnetd-")
        self.dir = Path(self._tmp.name)
        self.state_dir = state_dir
        self.extra_args = extra_args
        self.ready_timeout = ready_timeout
        self.log_path = self.dir / "rpcnetd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> str:
        return str(self.dir / "rpcnet-sock")

    @property
    def socket_ro(self) -> str:
        return str(self.dir / "rpcnet-sock-ro")

    def uri(self, driver: str = "network", *, readonly: bool = False) -> str:
        path = "default" if driver == "test" else "system"
        sock = self.socket_ro if readonly else self.socket
        return f"{driver}+unix:///{path}?socket={sock}"

    def start(self) -> Self:
        args = [sys.executable, "-m", "rpcnet", "--socket-dir", str(self.dir), "-v"]
        if self.state_dir is not None:
            args += ["--state-dir", str(self.state_dir)]
        args += list(self.extra_args)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rpcnetd exited {self.proc.returncode}:\n{self.log_tail()}")
            if _answers_rpc(self.socket):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"rpcnetd not ready after {self.ready_timeout}s:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop the daemon with `sig`; returns its exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cleanup(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cleanup()
