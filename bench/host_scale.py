"""The host backend at scale: rpcnetd against libvirtd by number of networks.

``python -m bench host-scale`` (root; not a test). Each daemon runs alone in
a network namespace of its own (rpcnetd ``--driver host``; libvirtd 9.0
isolated as in the interop tests, restartable with its networks kept), one
after the other. For each count of running NAT + DHCP networks (1, 10,
100, 500, 1,000 by default) it measures, over one client connection
(rpcnet's, the same for both):

- net-start, net-destroy and net-update (a live DHCP host added and
  deleted) of one more network of the same kind: medians of ``--runs``;
- restart: the daemon stopped (SIGTERM) with its networks running and its
  firewall rules deleted behind its back, started again; seconds until it
  answers a call, until the firewall is back, and until every network is
  re-asserted (rpcnetd logs when; libvirtd re-adds its rules before it
  answers);
- reload: the firewall deleted again, SIGHUP, seconds until it is back and
  (rpcnetd) until every network is re-asserted.

libvirt's dnsmasq takes an inotify instance per network, so for libvirtd
the per-user limit ``fs.inotify.max_user_instances`` is raised for the run
(if lower than needed) and restored after it; rpcnetd runs with the host's
setting. The tables go to stdout and, with the JSON and an SVG plot, to
``--out`` (default bench/out/host-scale).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from rpcnet.client.blocking import connect
from rpcnet.driver.base import UpdateCommand, UpdateFlags, UpdateSection
from rpcnet.testing import answers_rpc
from tests.host.hostnet import HostDaemon
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.netns import NetNamespace

from . import host_report

COUNTS = (1, 10, 100, 500, 1000)
INOTIFY = Path("/proc/sys/fs/inotify/max_user_instances")
_PROBE = 4000  # the measured network's number, outside the background range
_HOST = "<host mac='52:54:00:77:00:01' name='upd' ip='{subnet}.77'/>"


def network_xml(n: int) -> str:
    """NAT + DHCP network number ``n`` (a /24 of its own, STP on)."""
    subnet = f"10.{128 + n // 256}.{n % 256}"
    name = "probe" if n == _PROBE else f"s{n}"
    return (f"<network><name>{name}</name><forward mode='nat'/>"
            f"<bridge name='b{name}' stp='on' delay='0'/>"
            f"<ip address='{subnet}.1' netmask='255.255.255.0'><dhcp>"
            f"<range start='{subnet}.2' end='{subnet}.254'/></dhcp></ip></network>")


def _subnet(n: int) -> str:
    return f"10.{128 + n // 256}.{n % 256}"


@dataclass
class Row:
    daemon: str
    networks: int
    start_ms: float
    destroy_ms: float
    update_ms: float
    restart_answer_s: float | None = None
    restart_firewall_s: float | None = None
    restart_done_s: float | None = None
    reload_firewall_s: float | None = None
    reload_done_s: float | None = None


class Subject(Protocol):
    """A daemon under measurement."""

    name: str
    uri: str
    ns: NetNamespace

    def restart(self) -> tuple[float, float, float]: ...
    def reload(self) -> tuple[float, float]: ...


def _until(condition: Callable[[], bool], since: float, timeout: float = 600.0) -> float:
    """Seconds from ``since`` until ``condition`` holds (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.01)
    return time.monotonic() - since


class Rpcnetd:
    name = "rpcnetd"

    def __init__(self) -> None:
        self.daemon = HostDaemon()
        self.daemon.start(timeout=60)
        self.uri, self.ns = self.daemon.uri, self.daemon.ns

    def _table(self) -> bool:
        return self.ns.run("nft", "list", "table", "inet", "rpcnet").returncode == 0

    def _forget_firewall(self) -> None:
        self.ns.run("nft", "delete", "table", "inet", "rpcnet")

    def restart(self) -> tuple[float, float, float]:
        done = self.daemon.reasserted()
        self.daemon.stop(signal.SIGTERM)
        self._forget_firewall()
        since = time.monotonic()
        self.daemon.start(timeout=600, settle=False)
        answer = time.monotonic() - since
        firewall = _until(self._table, since)
        return answer, firewall, _until(lambda: self.daemon.reasserted() > done, since)

    def reload(self) -> tuple[float, float]:
        done = self.daemon.reasserted()
        self._forget_firewall()
        assert self.daemon.proc is not None
        since = time.monotonic()
        self.daemon.proc.send_signal(signal.SIGHUP)
        firewall = _until(self._table, since)
        return firewall, _until(lambda: self.daemon.reasserted() > done, since)

    def close(self) -> None:
        self.daemon.cleanup()


_LIBVIRT_CHAINS = (("filter", "LIBVIRT_INP"), ("filter", "LIBVIRT_OUT"), ("filter", "LIBVIRT_FWO"),
                   ("filter", "LIBVIRT_FWI"), ("filter", "LIBVIRT_FWX"), ("nat", "LIBVIRT_PRT"),
                   ("mangle", "LIBVIRT_PRT"))


class Libvirtd:
    name = "libvirtd"

    def __init__(self) -> None:
        self.peer = LibvirtdPeer(restartable=True, ready_timeout=120).start()
        self.uri, self.ns = self.peer.uri("network"), self.peer.namespace

    def _rules(self) -> int:
        text = self.ns.run("iptables-save").stdout + self.ns.run("ip6tables-save").stdout
        return sum(1 for line in text.splitlines() if line.startswith("-A LIBVIRT_"))

    def _forget_firewall(self) -> int:
        """Flush libvirt's chains; the number of rules they held."""
        held = self._rules()
        for tool in ("iptables", "ip6tables"):
            for table, chain in _LIBVIRT_CHAINS:
                self.ns.run(tool, "-w", "-t", table, "-F", chain)
        return held

    def restart(self) -> tuple[float, float, float]:
        held = self._forget_firewall()
        since = self.peer.restart()
        answer = _until(lambda: answers_rpc(self.peer.socket), since)
        firewall = _until(lambda: self._rules() >= held, since)
        return answer, firewall, max(answer, firewall)

    def reload(self) -> tuple[float, float]:
        held = self._forget_firewall()
        pid = self.peer.pid
        assert pid is not None
        since = time.monotonic()
        os.kill(pid, signal.SIGHUP)
        firewall = _until(lambda: self._rules() >= held, since)
        return firewall, firewall

    def close(self) -> None:
        self.peer.stop()


@contextlib.contextmanager
def inotify_headroom(needed: int) -> Iterator[None]:
    """``fs.inotify.max_user_instances`` at least ``needed`` for the block;
    back to what it was after (unless someone else changed it meanwhile)."""
    before = int(INOTIFY.read_text())
    if before >= needed:
        yield
        return
    INOTIFY.write_text(f"{needed}\n")
    progress(f"fs.inotify.max_user_instances raised from {before} to {needed} for this run")
    try:
        yield
    finally:
        if int(INOTIFY.read_text()) == needed:
            INOTIFY.write_text(f"{before}\n")
            progress(f"fs.inotify.max_user_instances restored to {before}")


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def per_call(conn: Any, runs: int) -> tuple[float, float, float]:
    """Median net-start, net-destroy and net-update (live DHCP host added,
    then deleted: two calls, halved) of the probe network, in ms."""
    starts, stops, updates = [], [], []
    host = _HOST.format(subnet=_subnet(_PROBE))
    for _ in range(runs + 1):  # the first round warms caches and is dropped
        t0 = time.perf_counter()
        net = conn.network_create_xml(network_xml(_PROBE))
        t1 = time.perf_counter()
        for command in (UpdateCommand.ADD_LAST, UpdateCommand.DELETE):
            conn.network_update(net, command, UpdateSection.IP_DHCP_HOST, -1, host,
                                UpdateFlags.AFFECT_LIVE)
        t2 = time.perf_counter()
        conn.network_destroy(net)
        t3 = time.perf_counter()
        starts.append(t1 - t0)
        updates.append((t2 - t1) / 2)
        stops.append(t3 - t2)
    return _median_ms(starts[1:]), _median_ms(stops[1:]), _median_ms(updates[1:])


def measure(subject: Subject, counts: list[int], runs: int, restart_from: int) -> list[Row]:
    rows = []
    running = 0
    for count in counts:
        t0 = time.monotonic()
        with connect(subject.uri, timeout=600) as conn:
            while running < count:
                conn.network_create_xml(network_xml(running))
                running += 1
            progress(f"{subject.name}: {count} networks running ({time.monotonic() - t0:.0f} s)")
            start, destroy, update = per_call(conn, runs)
        row = Row(subject.name, count, start, destroy, update)
        if count >= restart_from:
            row.restart_answer_s, row.restart_firewall_s, row.restart_done_s = subject.restart()
            row.reload_firewall_s, row.reload_done_s = subject.reload()
        progress(f"  {row}")
        rows.append(row)
    return rows


def run(counts: list[int], runs: int, libvirtd_max: int, restart_from: int,
        with_libvirtd: bool) -> list[Row]:
    rows: list[Row] = []
    progress(f"fs.inotify.max_user_instances is {INOTIFY.read_text().strip()} for rpcnetd")
    ours = Rpcnetd()
    try:
        rows += measure(ours, counts, runs, restart_from)
    finally:
        ours.close()
    theirs_counts = [c for c in counts if c <= libvirtd_max]
    if with_libvirtd and theirs_counts:
        with inotify_headroom(max(theirs_counts) + 512):
            theirs = Libvirtd()
            try:
                rows += measure(theirs, theirs_counts, runs, restart_from)
            finally:
                theirs.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench host-scale",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default=",".join(map(str, COUNTS)),
                        help="running networks to measure at, ascending (default %(default)s)")
    parser.add_argument("--runs", type=int, default=9, help="rounds per median (default 9)")
    parser.add_argument("--libvirtd-max", type=int, default=max(COUNTS),
                        help="largest count to measure libvirtd at (default: all)")
    parser.add_argument("--restart-from", type=int, default=1,
                        help="measure restart and reload from this count on (default 1)")
    parser.add_argument("--no-libvirtd", action="store_true", help="rpcnetd only")
    parser.add_argument("--out", type=Path, default=Path("bench/out/host-scale"),
                        help="directory for host-scale.{md,json,svg} (default %(default)s)")
    args = parser.parse_args(argv)
    counts = sorted({int(c) for c in args.counts.split(",")})
    started = time.monotonic()
    rows = run(counts, args.runs, args.libvirtd_max, args.restart_from, not args.no_libvirtd)
    text = host_report.tables(rows, counts, time.monotonic() - started)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "host-scale.md").write_text(text)
    (args.out / "host-scale.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    (args.out / "host-scale.svg").write_text(host_report.plot(rows, counts))
    progress(f"wrote {args.out}/host-scale.md, .json and .svg")
    return 0
