"""What every test daemon shares: rpcnetd's two sockets in a private directory."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import TracebackType
from typing import Self


class DaemonDir:
    """A daemon listening in ``dir`` under rpcnetd's socket names: its sockets,
    URIs and life as a context manager (``close`` removes ``dir``)."""

    #: a short path: UNIX socket paths are limited to 107 bytes
    dir: Path

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
        """Start listening; returns when clients can connect."""
        raise NotImplementedError

    def stop(self) -> int | None:
        """Stop the daemon (what a process exited with; None in process)."""
        raise NotImplementedError

    def restart(self) -> Self:
        """Stop and start again (state is kept only with a state directory)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the daemon and remove its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
