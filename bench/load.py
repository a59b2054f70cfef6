"""The two load generators: rpcnet's async client and the libvirt Python bindings.

Both run a workload on ``conns`` connections, each connection doing one
call after another (a closed loop), for a warm-up and then a measured
window, and return a :class:`Sample`: calls finished in the window and the
latency of each.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rpcnet.client.driver import RemoteDriver

SYSTEM_PYTHON = "/usr/bin/python3"
BINDINGS_SCRIPT = Path(__file__).with_name("bindings_load.py")
#: connections handshaking at once; both daemons refuse more than 20
#: connected-but-not-opened clients (max_anonymous_clients)
OPEN_BATCH = 16

WORKLOADS = {
    "lookup": "lookup-by-name + is-active",
    "list": "list-all-networks",
    "xml": "get-xml-desc",
}


@dataclass(frozen=True, slots=True)
class Sample:
    calls: int
    seconds: float
    latencies_us: Sequence[float]

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies_us:
            return float("nan")
        if len(self.latencies_us) == 1:
            return self.latencies_us[0]
        return statistics.quantiles(self.latencies_us, n=100, method="inclusive")[int(q) - 1]


async def open_many(uri: str, count: int) -> list[RemoteDriver]:
    """``count`` connections, opened at most :data:`OPEN_BATCH` at a time."""
    drivers: list[RemoteDriver] = []
    for start in range(0, count, OPEN_BATCH):
        batch = min(OPEN_BATCH, count - start)
        drivers += await asyncio.gather(*(RemoteDriver.open(uri)
                                          for _ in range(batch)))
    return drivers


async def close_all(drivers: Sequence[RemoteDriver]) -> None:
    await asyncio.gather(*(driver.close() for driver in drivers))


async def _worker(driver: RemoteDriver, workload: str, start: float, end: float,
                  latencies: list[float]) -> int:
    clock = time.perf_counter
    ref = await driver.network_lookup_by_name("default")
    done = 0
    while True:
        t0 = clock()
        if t0 >= end:
            return done
        if workload == "lookup":
            ref = await driver.network_lookup_by_name("default")
            t1 = clock()
            await driver.network_is_active(ref)
            took: tuple[float, ...] = (t1 - t0, clock() - t1)
        elif workload == "xml":
            await driver.network_get_xml_desc(ref, 0)
            took = (clock() - t0,)
        else:
            await driver.connect_list_all_networks(0)
            took = (clock() - t0,)
        if t0 >= start and clock() <= end:
            done += len(took)
            latencies.extend(t * 1e6 for t in took)


async def run_workers(drivers: Sequence[RemoteDriver], workload: str, warmup: float,
                      duration: float) -> Sample:
    """Run ``workload`` on every one of ``drivers`` at once."""
    latencies: list[float] = []
    now = time.perf_counter()
    start, end = now + warmup, now + warmup + duration
    counts = await asyncio.gather(*(_worker(d, workload, start, end, latencies)
                                    for d in drivers))
    return Sample(sum(counts), duration, latencies)


async def rpcnet_load(uri: str, conns: int, workload: str, warmup: float,
                      duration: float) -> Sample:
    """Run ``workload`` on ``conns`` connections of rpcnet's own client, in this process."""
    drivers = await open_many(uri, conns)
    try:
        return await run_workers(drivers, workload, warmup, duration)
    finally:
        await close_all(drivers)


def bindings_available() -> bool:
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", "import libvirt"],
                              capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False


LOADGEN_COMMANDS = {
    "bindings": [SYSTEM_PYTHON, str(BINDINGS_SCRIPT)],
    "rpcnet": [sys.executable, "-m", "bench.client_load"],
}


async def spawned_load(loadgen: str, uri: str, conns: int, workload: str, warmup: float,
                       duration: float, processes: int) -> Sample:
    """Run ``workload`` on ``conns`` connections spread over up to ``processes``
    load generator processes (``bindings``: threads of the libvirt Python
    bindings; ``rpcnet``: tasks of rpcnet's async client). The processes open
    their connections first and start together."""
    nproc = max(1, min(conns, processes))
    shares = [conns // nproc + (1 if i < conns % nproc else 0) for i in range(nproc)]
    procs: list[asyncio.subprocess.Process] = []
    try:
        for share in shares:  # one after the other: the daemons admit 20 unopened clients
            proc = await asyncio.create_subprocess_exec(
                *LOADGEN_COMMANDS[loadgen], "--uri", uri, "--threads", str(share),
                "--workload", workload, "--warmup", str(warmup), "--duration", str(duration),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 28)
            procs.append(proc)
            assert proc.stdout is not None
            line = await proc.stdout.readline()
            if line.strip() != b"ready":
                raise RuntimeError(f"{loadgen} load generator failed to start ({line!r})")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
        calls, latencies = 0, []
        for proc in procs:
            assert proc.stdout is not None
            result = json.loads(await proc.stdout.readline())
            calls += result["calls"]
            latencies += result["latencies_us"]
            await proc.wait()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    return Sample(calls, duration, latencies)


def system_python_version() -> str:
    code = "import sys, libvirt; print(sys.version.split()[0], libvirt.getVersion())"
    out = subprocess.run([SYSTEM_PYTHON, "-c", code], capture_output=True, text=True,
                         check=False).stdout.split()
    return f"python {out[0]}, libvirt-python {out[1]}" if len(out) == 2 else "?"
