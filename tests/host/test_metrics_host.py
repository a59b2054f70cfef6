"""A real Prometheus scrapes `rpcnetd --driver host`: a guest's pings through a
network's bridge show as its bytes rising, a DHCP client (busybox udhcpc) as
its leases going from 0 to 1; dnsmasq killed shows as a restart; and
`rpcnet net-stats` shows the same traffic as rates, over the daemon's own
connection.

Namespaces: the daemon's, a guest's on its bridge, and a monitor's where
Prometheus runs, linked to the daemon's by a veth (TEST-NET-2 addresses).
Prometheus's own HTTP API is queried from inside the monitor's namespace.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.host.hostnet import Guest, HostDaemon, ip
from tests.host.test_nat_dhcp import nat_xml
from tests.integration.test_console import RPCNET, run
from tests.peers.metrics import promtool_check, samples, scrape, value
from tests.peers.netns import NetNamespace, _in_netns
from tests.peers.requirements import need_executable
from tests.peers.virsh import virsh

DAEMON_ADDR, MONITOR_ADDR, PORT = "198.51.100.1", "198.51.100.2", 9177
PROMETHEUS_WEB = "127.0.0.1:9090"
SCRAPE_CONFIG = """global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: rpcnetd
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['{target}']
"""


class Prometheus:
    """Debian's prometheus server in a namespace of its own."""

    def __init__(self, monitor: NetNamespace, target: str, workdir: Path) -> None:
        binary = need_executable("prometheus")
        self.monitor = monitor
        config = workdir / "prometheus.yml"
        config.write_text(SCRAPE_CONFIG.format(target=target))
        self.log = workdir / "prometheus.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(monitor.exec_args(
                binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={PROMETHEUS_WEB}"), stdout=log, stderr=subprocess.STDOUT)

    def get(self, path: str) -> dict[str, object]:
        def fetch() -> bytes:
            with urllib.request.urlopen(f"http://{PROMETHEUS_WEB}{path}", timeout=5) as answer:
                return bytes(answer.read())

        return dict(json.loads(_in_netns(self.monitor.path, fetch)))

    def query(self, promql: str) -> float | None:
        """The query's single value now, None while there is none."""
        try:
            answer = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        except OSError:
            return None  # not serving yet
        assert answer["status"] == "success", answer
        result = answer["data"]["result"]  # type: ignore[index]
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, promql: str, holds: Callable[[float], bool],
                 timeout: float = 60.0) -> float:
        """Poll ``promql`` until its value satisfies ``holds``; returns it."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            last = self.query(promql)
            if last is not None and holds(last):
                return last
            time.sleep(0.5)
        raise AssertionError(f"{promql}: last value {last} after {timeout} s\n"
                             f"{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def monitored(host_tools: None) -> Iterator[tuple[HostDaemon, Prometheus]]:
    """rpcnetd --driver host serving metrics on a veth towards a monitor
    namespace, and Prometheus scraping it from there."""
    daemon = HostDaemon("--metrics", f"{DAEMON_ADDR}:{PORT}")
    monitor = NetNamespace("rpcnet-mon")
    workdir = Path(tempfile.mkdtemp(prefix="rpcnet-prom-"))
    prometheus = None
    try:
        monitor.create()
        ip("link", "add", "mon0", "netns", daemon.ns.name, "type", "veth",
           "peer", "name", "eth0", "netns", monitor.name)
        ip("-n", daemon.ns.name, "addr", "add", f"{DAEMON_ADDR}/24", "dev", "mon0")
        ip("-n", daemon.ns.name, "link", "set", "mon0", "up")
        ip("-n", monitor.name, "addr", "add", f"{MONITOR_ADDR}/24", "dev", "eth0")
        ip("-n", monitor.name, "link", "set", "eth0", "up")
        daemon.start()
        prometheus = Prometheus(monitor, f"{DAEMON_ADDR}:{PORT}", workdir)
        yield daemon, prometheus
    finally:
        if prometheus is not None:
            prometheus.stop()
        monitor.delete()
        daemon.cleanup()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


def network_and_guest(daemon: HostDaemon, guests: Callable[..., Guest], tmp_path: Path) -> Guest:
    """NAT network mon1 (bridge rpcmon1, 10.64.0.0/24, a pool of 51 + 1 static
    host) and a guest on it."""
    virsh(daemon.uri, "net-create", str(nat_xml(tmp_path, "mon1", 64)), check=True)
    return guests(daemon, "rpcmon1", "52:54:00:00:40:11")


def test_prometheus_sees_traffic_leases_and_dnsmasq_restarts(
    monitored: tuple[HostDaemon, Prometheus], guests: Callable[..., Guest], tmp_path: Path,
) -> None:
    daemon, prometheus = monitored
    guest = network_and_guest(daemon, guests, tmp_path)
    net = '{network="mon1"}'
    prometheus.wait_for('up{job="rpcnetd"}', lambda v: v == 1)
    assert prometheus.wait_for(f"rpcnet_network_active{net}", lambda v: True) == 1
    assert prometheus.wait_for(f"rpcnet_network_dhcp_pool_size{net}", lambda v: True) == 52
    assert prometheus.wait_for(f"rpcnet_network_dnsmasq_up{net}", lambda v: True) == 1

    # leases in use: 0, then 1 once the guest's DHCP client got its address
    assert prometheus.wait_for(f"rpcnet_network_dhcp_leases{net}", lambda v: True) == 0
    leased = guest.dhcp(tmp_path)
    prometheus.wait_for(f"rpcnet_network_dhcp_leases{net}", lambda v: v == 1)

    # bytes: the guest pings the bridge's address, 20 echo requests of 1,000 bytes
    received = prometheus.wait_for(f"rpcnet_network_receive_bytes_total{net}", lambda v: True)
    sent = prometheus.wait_for(f"rpcnet_network_transmit_bytes_total{net}", lambda v: True)
    res = guest.ns.run("/usr/bin/busybox", "ping", "-c", "20", "-s", "1000", "-W", "2",
                       "10.64.0.1", timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    prometheus.wait_for(f"rpcnet_network_receive_bytes_total{net}",
                        lambda v: v >= received + 20 * 1000)
    prometheus.wait_for(f"rpcnet_network_transmit_bytes_total{net}",
                        lambda v: v >= sent + 20 * 1000)
    prometheus.wait_for(f"rpcnet_network_receive_packets_total{net}", lambda v: v >= 20)
    assert prometheus.wait_for(f"rate(rpcnet_network_receive_bytes_total{net}[1m])",
                               lambda v: True) > 0

    # dnsmasq dies: its supervisor restarts it, and the restart is counted
    (pid,) = daemon.pids_of("mon1/dnsmasq.conf")
    os.kill(pid, signal.SIGKILL)
    prometheus.wait_for(f"rpcnet_network_dnsmasq_restarts_total{net}", lambda v: v == 1)
    prometheus.wait_for(f"rpcnet_network_dnsmasq_up{net}", lambda v: v == 1)
    assert 100 <= int(leased.ip) % 256 <= 150


def test_net_stats_shows_the_rates_of_a_real_bridge(
    monitored: tuple[HostDaemon, Prometheus], guests: Callable[..., Guest], tmp_path: Path,
) -> None:
    daemon, _prometheus = monitored
    guest = network_and_guest(daemon, guests, tmp_path)
    guest.dhcp(tmp_path)
    pinging = threading.Thread(target=guest.ns.run, args=(
        "/usr/bin/busybox", "ping", "-c", "8", "-s", "1000", "10.64.0.1"), kwargs={"timeout": 30})
    pinging.start()
    try:
        code, out, err = run(RPCNET, "-c", daemon.uri, "net-stats", "mon1")
    finally:
        pinging.join()
    assert (code, err) == (0, "")
    cells = re.split(r"\s{2,}", out.splitlines()[2].strip())
    name, state, rx, tx, drops, leases, ports = cells
    assert (name, state, leases, ports) == ("mon1", "active", "1/52", "0")
    # at least one echo request and its reply (1,028 bytes each) in the 1 s window
    assert re.fullmatch(r"\d+(\.\d)? (B|KiB)/s", rx) and rx != "0 B/s", rx
    assert re.fullmatch(r"\d+(\.\d)? (B|KiB)/s", tx) and tx != "0 B/s", tx
    assert drops == "0"
    # the same counters, read straight from the endpoint, inside the daemon's namespace
    text = _in_netns(daemon.ns.path, lambda: scrape(f"http://{DAEMON_ADDR}:{PORT}/metrics"))
    promtool_check(text)  # with the kernel counters and dnsmasq's metrics too
    found = samples(text)
    assert (value(found, "rpcnet_network_receive_bytes_total", network="mon1") or 0) > 8000
    assert value(found, "rpcnet_network_info", network="mon1", bridge="rpcmon1") == 1
