"""Our own daemon, `rpcnetd`, as a real process on temporary sockets.

The project's tests use the same server the public test kit
(`rpcnet.testing`) gives other projects, with string socket paths, `-v`
logging and a log tail for failure messages.
"""

from __future__ import annotations

from pathlib import Path

from rpcnet.testing import RpcnetdServer


class RpcnetdPeer(RpcnetdServer):
    """`rpcnetd --socket-dir TMP -v` (in-memory driver) started as a child process."""

    def __init__(self, *, state_dir: Path | None = None, extra_args: tuple[str, ...] = (),
                 ready_timeout: float = 20.0) -> None:
        super().__init__(state_dir=state_dir, extra_args=("-v", *extra_args),
                         ready_timeout=ready_timeout)

    @property
    def socket(self) -> str:  # type: ignore[override]
        return str(self.dir / "rpcnet-sock")

    @property
    def socket_ro(self) -> str:  # type: ignore[override]
        return str(self.dir / "rpcnet-sock-ro")

    def cleanup(self) -> None:
        self.close()
