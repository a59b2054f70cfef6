"""Load generator on the libvirt Python bindings (runs under the system python).

One process, ``--threads`` threads, one libvirt connection per thread. It
opens every connection, prints ``ready``, waits for a line on stdin, runs
the workload for ``--warmup`` + ``--duration`` seconds and prints one JSON
line: the calls finished inside the measured window and their latencies in
microseconds. Only the standard library and ``libvirt`` are imported, so it
runs where python3-libvirt is installed (``/usr/bin/python3``).

The bindings release the GIL inside every libvirt call, so threads overlap
their waits; the parent starts several of these processes when the Python
side of the calls would otherwise cap the load.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable

import libvirt  # type: ignore[import-not-found,unused-ignore]


def _ignore_errors(_ctx: object, _err: object) -> None:
    """Keep libvirt from printing every error to stderr."""


Operation = Callable[[], tuple[float, ...]]


def _operation(conn: libvirt.virConnect, workload: str) -> Operation:
    """One round of ``workload``; returns the duration of each call it made."""
    clock = time.perf_counter
    if workload == "lookup":
        def lookup() -> tuple[float, ...]:
            t0 = clock()
            net = conn.networkLookupByName("default")
            t1 = clock()
            net.isActive()
            return (t1 - t0, clock() - t1)
        return lookup
    if workload == "xml":
        net = conn.networkLookupByName("default")

        def xml() -> tuple[float, ...]:
            t0 = clock()
            net.XMLDesc(0)
            return (clock() - t0,)
        return xml
    if workload == "list":
        def list_all() -> tuple[float, ...]:
            t0 = clock()
            conn.listAllNetworks(0)
            return (clock() - t0,)
        return list_all
    raise SystemExit(f"unknown workload {workload}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workload", default="lookup")
    parser.add_argument("--warmup", type=float, default=0.2)
    parser.add_argument("--duration", type=float, default=1.0)
    args = parser.parse_args()
    libvirt.registerErrorHandler(_ignore_errors, None)
    conns = [libvirt.open(args.uri) for _ in range(args.threads)]
    ops = [_operation(conn, args.workload) for conn in conns]
    calls = [0] * len(ops)
    latencies: list[list[float]] = [[] for _ in ops]
    window: list[float] = []

    def run(index: int) -> None:
        op, lat = ops[index], latencies[index]
        start_measure, end = window
        clock = time.perf_counter
        done = 0
        while True:
            t0 = clock()
            if t0 >= end:
                break
            took = op()
            if t0 >= start_measure and clock() <= end:
                done += len(took)
                lat.extend(t * 1e6 for t in took)
        calls[index] = done

    print("ready", flush=True)
    sys.stdin.readline()
    now = time.perf_counter()
    window.extend((now + args.warmup, now + args.warmup + args.duration))
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(ops))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for conn in conns:
        conn.close()
    merged = [x for lat in latencies for x in lat]
    print(json.dumps({"calls": sum(calls), "seconds": args.duration, "latencies_us": merged}),
          flush=True)


if __name__ == "__main__":
    main()
