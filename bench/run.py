"""Run the whole benchmark: ``python -m bench [--quick]``.

One run starts rpcnetd (in-memory driver), a real libvirtd (test driver,
isolated in its own namespaces) and the ceiling server, drives the same
load against each in turn (cell by cell, so drift on the machine hits all
three alike) and prints absolute figures and ratios. The ``test:///default``
state of libvirtd resets when its last connection closes, so a keeper
connection stays open to each server for the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import platform
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from rpcnet.cli import run_coroutine
from rpcnet.client.driver import RemoteDriver

from . import report
from .load import Sample, bindings_available, rpcnet_load, spawned_load
from .scale import ConnectionsResult, define_networks, many_connections, raw_list_all_seconds
from .servers import Ceiling, Libvirtd, Rpcnetd, RpcnetdWithMetrics, Target, rss_bytes

_CPUS = os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class Plan:
    conns: Sequence[int]
    warmup: float
    duration: float
    networks: Sequence[int]  # defined networks for the list-all workloads
    scale_networks: int
    idle_connections: int
    idle_seconds: float
    fan_out_rounds: int
    #: processes per load generator (each of the two alike), as many as CPUs
    #: by default, so that the load saturates the servers; ``--processes 1``
    #: measures each generator as one program (see docs/performance.md)
    load_processes: int
    latency_conns: Sequence[int]


FULL = Plan(conns=(1, 4, 16, 64), warmup=0.3, duration=1.0, networks=(10, 1000),
            scale_networks=10_000, idle_connections=1000, idle_seconds=10.0,
            fan_out_rounds=3, load_processes=_CPUS, latency_conns=(1, 64))
QUICK = Plan(conns=(2,), warmup=0.02, duration=0.1, networks=(10, 100),
             scale_networks=300, idle_connections=20, idle_seconds=0.3,
             fan_out_rounds=1, load_processes=_CPUS, latency_conns=(2,))


@dataclass
class Results:
    plan: Plan
    #: (workload, load generator, connections) -> server name -> sample
    throughput: dict[tuple[str, str, int], dict[str, Sample]] = field(default_factory=dict)
    #: server -> figures of the scale phase
    scale: dict[str, dict[str, float]] = field(default_factory=dict)
    connections: dict[str, ConnectionsResult] = field(default_factory=dict)
    servers: list[str] = field(default_factory=list)
    loadgens: list[str] = field(default_factory=list)
    #: seconds each scrape of rpcnetd+metrics took (``--metrics``)
    scrapes: list[float] = field(default_factory=list)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def run_cells(results: Results, targets: Sequence[Target], workload: str,
                    label: str) -> None:
    plan = results.plan
    for loadgen in results.loadgens:
        for conns in plan.conns:
            row = results.throughput.setdefault((label, loadgen, conns), {})
            for target in targets:
                row[target.name] = await spawned_load(
                    loadgen, target.uri, conns, workload, plan.warmup, plan.duration,
                    plan.load_processes)
            progress(f"  {label:<10} {loadgen:<8} {conns:>3} conns: " + "  ".join(
                f"{name} {s.rate:,.0f}/s" for name, s in row.items()))


async def run(plan: Plan, with_libvirtd: bool, with_bindings: bool,
              with_metrics: bool = False) -> Results:
    results = Results(plan)
    results.loadgens = (["bindings"] if with_bindings else []) + ["rpcnet"]
    targets: list[Target] = []
    keepers: list[RemoteDriver] = []
    try:
        progress("starting servers")
        targets.append(Rpcnetd())
        if with_metrics:
            targets.append(RpcnetdWithMetrics())
        if with_libvirtd:
            targets.append(Libvirtd())
        targets.append(Ceiling())
        results.servers = [t.name for t in targets]
        keepers = [await RemoteDriver.open(t.uri) for t in targets]
        await _throughput(results, targets, keepers)
        daemons = [t for t in targets if t.name != "ceiling"]
        daemon_keepers = [k for t, k in zip(targets, keepers, strict=True) if t in daemons]
        for target in daemons:
            progress(f"{target.name}: {plan.idle_connections} idle connections, event fan-out")
            results.connections[target.name] = await many_connections(
                target.uri, target.pid, plan.idle_connections, plan.idle_seconds,
                plan.fan_out_rounds, first_name=50_000)
        await _scale(results, daemons, daemon_keepers)
    finally:
        for keeper in keepers:
            await keeper.close()
        for target in targets:
            target.stop()
            if isinstance(target, RpcnetdWithMetrics):
                results.scrapes = target.scrapes
    return results


async def _throughput(results: Results, targets: Sequence[Target],
                      keepers: Sequence[RemoteDriver]) -> None:
    plan = results.plan
    progress("throughput (1 network defined)")
    await run_cells(results, targets, "lookup", "lookup")
    await run_cells(results, targets, "xml", "xml")
    defined = 1  # the test driver's "default"
    for total in plan.networks:
        progress(f"defining networks up to {total}")
        await asyncio.gather(*(define_networks(k, defined, total - defined) for k in keepers))
        defined = total
        await run_cells(results, targets, "list", f"list{total}")


async def _scale(results: Results, daemons: Sequence[Target],
                 keepers: Sequence[RemoteDriver]) -> None:
    plan = results.plan
    start = plan.networks[-1]
    for target, keeper in zip(daemons, keepers, strict=True):
        progress(f"{target.name}: defining networks up to {plan.scale_networks}")
        rss0 = rss_bytes(target.pid)
        t0 = time.perf_counter()
        await define_networks(keeper, start, plan.scale_networks - start)
        define_rate = (plan.scale_networks - start) / (time.perf_counter() - t0)
        rss1 = rss_bytes(target.pid)
        figures = results.scale.setdefault(target.name, {})
        figures["define_rate"] = define_rate
        figures["rss_per_network"] = (rss1 - rss0) / (plan.scale_networks - start)
        figures["rss"] = rss1
        figures["list_raw_ms"] = 1000 * await raw_list_all_seconds(target.uri, 5)
        rpc = await rpcnet_load(target.uri, 1, "list", 0.0, 1.0)
        figures["list_rpcnet_ms"] = rpc.percentile(50) / 1000
        if "bindings" in results.loadgens:
            sample = await spawned_load("bindings", target.uri, 1, "list", 0.0, 1.0, 1)
            figures["list_bindings_ms"] = sample.percentile(50) / 1000


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of a few seconds (CI): proves the harness works")
    parser.add_argument("--duration", type=float, default=None,
                        help="measured seconds per cell (default 1.0, quick 0.2)")
    parser.add_argument("--processes", type=int, default=None,
                        help="processes per load generator, the connections spread over "
                             f"them (default: one per CPU, {_CPUS} here)")
    parser.add_argument("--no-libvirtd", action="store_true",
                        help="skip the libvirtd peer (needs root and libvirtd)")
    parser.add_argument("--no-bindings", action="store_true",
                        help="skip the libvirt Python bindings load generator")
    parser.add_argument("--metrics", action="store_true",
                        help="also run rpcnetd with --metrics, scraped every second, beside "
                             "the plain one (cell by cell, as the other servers)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    changes = {"duration": args.duration, "load_processes": args.processes}
    plan = dataclasses.replace(plan, **{k: v for k, v in changes.items() if v is not None})
    with_bindings = not args.no_bindings and bindings_available()
    if not with_bindings and not args.no_bindings:
        progress("libvirt Python bindings not found under /usr/bin/python3: skipping them")
    _raise_fd_limit()
    machine = _machine()
    started = time.monotonic()
    results = run_coroutine(run(plan, not args.no_libvirtd, with_bindings, args.metrics))
    print(report.render(results, machine, time.monotonic() - started))
    return 0


def _machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} CPUs ({cpu}), python {platform.python_version()}, "
            f"load average before the run {load:.2f}")
