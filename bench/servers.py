"""The servers under load: rpcnetd, a real libvirtd and the ceiling server.

Each is a separate process on a UNIX socket; the benchmark needs its URI
(``test:///default`` driver) and its PID (for memory and CPU figures).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Protocol

from rpcnet.testing import wait_until_serving
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.rpcnetd import RpcnetdPeer


class Target(Protocol):
    name: str

    @property
    def uri(self) -> str: ...

    @property
    def pid(self) -> int: ...

    def stop(self) -> None: ...


class Rpcnetd:
    name = "rpcnetd"

    def __init__(self) -> None:
        self._peer = RpcnetdPeer().start()

    @property
    def uri(self) -> str:
        return self._peer.uri("test")

    @property
    def pid(self) -> int:
        assert self._peer.proc is not None
        return self._peer.proc.pid

    def stop(self) -> None:
        self._peer.cleanup()


class RpcnetdWithMetrics(Rpcnetd):
    """rpcnetd with ``--metrics`` on loopback, scraped every ``interval``
    seconds for as long as it runs (as a Prometheus would, but more often
    than Prometheus's default 15 s); keeps how long each scrape took."""

    name = "rpcnetd+metrics"

    def __init__(self, interval: float = 1.0) -> None:
        from tests.peers.metrics import metrics_url  # needs prometheus-client, as --metrics does

        self._peer = RpcnetdPeer(extra_args=("--metrics", "127.0.0.1:0")).start()
        self.url = metrics_url(self._peer.log())
        #: seconds each scrape took, in order
        self.scrapes: list[float] = []
        self._stopping = threading.Event()
        self._scraper = threading.Thread(target=self._scrape_every, args=(interval,),
                                         name="scraper", daemon=True)
        self._scraper.start()

    def _scrape_every(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=30) as answer:
                    answer.read()
            except OSError:
                continue
            self.scrapes.append(time.perf_counter() - start)

    def stop(self) -> None:
        self._stopping.set()
        self._scraper.join()
        super().stop()


class Libvirtd:
    """libvirtd 9.0 in its own namespaces, with its default limits and workers."""

    name = "libvirtd"

    def __init__(self) -> None:
        self._peer = LibvirtdPeer().start()

    @property
    def uri(self) -> str:
        return self._peer.uri("test")

    @property
    def pid(self) -> int:
        pid = self._peer.pid
        assert pid is not None, "libvirtd is not running"
        return pid

    def stop(self) -> None:
        self._peer.stop()


class Ceiling:
    """``bench.ceiling``: replies with precomputed bytes."""

    name = "ceiling"

    def __init__(self, ready_timeout: float = 20.0) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="rpcnet-ceiling-")
        self.socket = str(Path(self._tmp.name) / "sock")
        self._proc = subprocess.Popen([sys.executable, "-m", "bench.ceiling",
                                       "--socket", self.socket])
        try:
            wait_until_serving(self._proc, self.socket, ready_timeout, lambda: "",
                               what="the ceiling server")
        except RuntimeError:
            self.stop()
            raise

    @property
    def uri(self) -> str:
        return f"test+unix:///default?socket={self.socket}"

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._tmp.cleanup()


def rss_bytes(pid: int) -> int:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
