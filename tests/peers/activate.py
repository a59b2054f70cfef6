"""rpcnetd started by Debian's `systemd-socket-activate`, as systemd's socket
units start it, with a NOTIFY_SOCKET listener of the test's own.

`systemd-socket-activate` binds the sockets, waits for the first client,
then execs rpcnetd with LISTEN_PID/LISTEN_FDS (and LISTEN_FDNAMES when names
are given) and only the environment it is told to pass (`-E`). The sockets
stay where it bound them after rpcnetd exits, as a socket unit's do; a new
`systemd-socket-activate` on the same paths is the next activation.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from rpcnet.server.activation import LISTEN_FDS_START
from rpcnet.testing import stop_process
from tests.peers.requirements import need_executable

REPO = Path(__file__).resolve().parents[2]


class NotifyListener:
    """A datagram socket at ``path``: what the daemon tells the service manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))

    def next(self, timeout: float = 20.0) -> str:
        """The next notice (raises TimeoutError if none comes)."""
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def close(self) -> None:
        self.sock.close()


class ActivatedDaemon:
    """`systemd-socket-activate -l ADDRESS... [--fdname=...] rpcnetd ARGS`.

    ``sockets`` maps each address to listen on (a path, or HOST:PORT for
    TCP) to its descriptor name (None for no names at all); ``prefix`` runs
    the whole command under another (e.g. `ip netns exec NS`).
    """

    def __init__(self, sockets: dict[str, str | None], *args: str, log: Path,
                 notify: NotifyListener | None = None, prefix: tuple[str, ...] = (),
                 held: dict[socket.socket, str] | None = None) -> None:
        self.sockets = sockets
        self.args = args
        self.log = log
        self.notify = notify
        self.prefix = prefix
        #: listening sockets the test holds (as systemd holds a socket unit's)
        #: with their names: passed through before those of ``sockets``
        self.held = held or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self, held_fds: list[int] | None = None) -> list[str]:
        tool = need_executable("systemd-socket-activate")
        cmd = [*self.prefix, *self._pass_held(held_fds or []), tool]
        for address in self.sockets:
            cmd += ["-l", address]
        names = [*self.held.values(), *self.sockets.values()]
        if all(name is not None for name in names):
            cmd.append("--fdname=" + ":".join(name for name in names if name is not None))
        cmd += ["-E", f"PYTHONPATH={REPO}"]
        if self.notify is not None:
            cmd += ["-E", f"NOTIFY_SOCKET={self.notify.path}"]
        return [*cmd, sys.executable, "-m", "rpcnet", "-v", *self.args]

    @staticmethod
    def _pass_held(fds: list[int]) -> list[str]:
        """A shell that moves ``fds`` to descriptors 3... and execs the rest
        with LISTEN_PID set to its own pid, as systemd would."""
        if not fds:
            return []
        moves = " ".join(f"{LISTEN_FDS_START + i}<&{fd} {fd}<&-" for i, fd in enumerate(fds))
        return ["env", f"LISTEN_FDS={len(fds)}", "bash", "-c",  # dash: fds < 10 only
                f'LISTEN_PID=$$ exec "$@" {moves}', "held-sockets"]

    def start(self) -> ActivatedDaemon:
        """Bind the sockets and wait until they listen (rpcnetd itself
        starts with the first client)."""
        mark = self.log.stat().st_size if self.log.exists() else 0
        # copies above any descriptor the moves to 3... could overwrite
        fds = [fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD, 64) for sock in self.held]
        try:
            with self.log.open("ab") as log:
                self.proc = subprocess.Popen(self.command(fds), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True, pass_fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
        deadline = time.monotonic() + 20
        # it says so after listen(); a socket file alone may not listen yet
        while not all(f"Listening on {address} as" in self.text()[mark:]
                      for address in self.sockets):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"systemd-socket-activate did not listen:\n{self.text()}")
            time.sleep(0.02)
        return self

    def wait(self, timeout: float) -> int:
        """The exit status (raises subprocess.TimeoutExpired if still running)."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> int | None:
        proc, self.proc = self.proc, None
        return stop_process(proc)

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""
