"""The Prometheus endpoint, ``rpcnetd --metrics ADDR:PORT`` (prometheus-client).

Theory of operation: prometheus-client's HTTP server runs on a thread of its
own. At each scrape, :class:`DaemonMetrics` (a custom collector) has the event
loop take a :class:`Snapshot` (the networks' statistics read at that moment,
copies of the call and daemon counters, the clients connected) and turns it
into metric families on the HTTP thread. Nothing runs on a timer: between
scrapes the daemon pays only for the call observer
(:class:`~rpcnet.server.callstats.CallStats`) and a few plain counters.

Labels are bounded: per procedure, error code, transport, limit, reason and
network, never per client or serial. The networks are those of
``network:///system`` (the daemon's ``network`` driver).
"""

from __future__ import annotations

import asyncio
import logging
import platform
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from rpcnet.errors import ErrorCode, VirError
from rpcnet.protocol.connection import CallObserver
from rpcnet.protocol.values import NetworkStats
from rpcnet.server.callstats import BUCKETS, SESSION_PROGRAMS, CallStats, ProcedureCalls
from rpcnet.server.counters import DaemonCounters
from rpcnet.server.session import LIB_VERSION
from rpcnet.server.tls import describe_address, parse_listen_address

if TYPE_CHECKING:
    from rpcnet.server.daemon import Server
    from rpcnet.server.rpcprotocol import RpcProtocol

log = logging.getLogger("rpcnet.server")

#: how long a scrape waits for the event loop's snapshot
SCRAPE_TIMEOUT = 10.0
#: the libvirt version rpcnetd answers as (CONNECT_GET_LIB_VERSION), as text
LIBVIRT_VERSION = f"{LIB_VERSION // 1_000_000}.{LIB_VERSION // 1000 % 1000}.{LIB_VERSION % 1000}"
_TRANSPORTS = ("unix", "tls")
_LINK = (  # NetworkStats.link field, metric name, help
    ("rx_bytes", "rpcnet_network_receive_bytes", "Bytes the network's bridge received"),
    ("tx_bytes", "rpcnet_network_transmit_bytes", "Bytes the network's bridge sent"),
    ("rx_packets", "rpcnet_network_receive_packets", "Packets the network's bridge received"),
    ("tx_packets", "rpcnet_network_transmit_packets", "Packets the network's bridge sent"),
    ("rx_dropped", "rpcnet_network_receive_drop", "Received packets the bridge dropped"),
    ("tx_dropped", "rpcnet_network_transmit_drop", "Packets to send the bridge dropped"),
)


def parse_metrics_address(text: str) -> tuple[str, int]:
    """``ADDR:PORT`` or ``[V6]:PORT`` -> (host, port); the port is required
    (0: any free port, which the log names). Raises ValueError."""
    return parse_listen_address(text, default_port=None, any_port=True)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape reports, taken on the event loop."""

    calls: list[ProcedureCalls]
    counters: DaemonCounters
    #: clients connected, by (transport, read-only)
    clients: dict[tuple[str, bool], int]
    #: None when they could not be read
    networks: list[NetworkStats] | None


class DaemonMetrics:
    """The collector of one daemon's metrics (a prometheus-client collector)."""

    def __init__(self) -> None:
        self.calls = CallStats(SESSION_PROGRAMS)
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._build = {"version": _version(), "libvirt_version": LIBVIRT_VERSION,
                       "python_version": platform.python_version()}

    def attach(self, server: Server) -> None:
        """Watch ``server``'s calls from now on; call on its event loop."""
        self._server = server
        self._loop = asyncio.get_running_loop()
        server.call_observers.append(self.observer_for)

    def observer_for(self, _client: RpcProtocol) -> CallObserver:
        """The call-observer factory: one :class:`CallStats` for every client."""
        return self.calls

    async def snapshot(self) -> Snapshot:
        server = self._server
        assert server is not None
        networks: list[NetworkStats] | None = None
        driver = server.drivers.get("network")
        if driver is not None:
            try:
                networks = await driver.network_list_stats(None, 0)
            except VirError as exc:
                log.warning("metrics: cannot read the networks' statistics: %s", exc.message)
        clients = Counter((s.transport_name, s.readonly) for s in server.sessions)
        return Snapshot(self.calls.snapshot(), server.counters.copy(), dict(clients), networks)

    # -- prometheus-client's side (the HTTP thread) --------------------------------

    def collect(self) -> Iterator[Metric]:
        build = InfoMetricFamily("rpcnet_build", "rpcnetd's version and what it answers as")
        build.add_metric([], self._build)
        yield build
        if self._loop is None:
            return  # not serving yet
        future = asyncio.run_coroutine_threadsafe(self.snapshot(), self._loop)
        try:
            snap = future.result(SCRAPE_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise
        yield from _call_families(snap.calls)
        yield from _daemon_families(snap)
        if snap.networks is not None:
            yield from _network_families(snap.networks)


def _version() -> str:
    try:
        return metadata.version("rpcnet")
    except metadata.PackageNotFoundError:
        return "unknown"


def _outcome(code: int) -> str:
    try:
        return f"VIR_ERR_{ErrorCode(code).name}"
    except ValueError:
        return f"VIR_ERR_{code}"


def _call_families(calls: list[ProcedureCalls]) -> Iterator[Metric]:
    total = CounterMetricFamily("rpcnet_calls", "Calls answered, by procedure and outcome "
                                "(ok, or the libvirt error code of the error reply)",
                                labels=["program", "procedure", "outcome"])
    latency = HistogramMetricFamily("rpcnet_call_duration_seconds",
                                    "Time from a call's arrival to its reply",
                                    labels=["program", "procedure"])
    for c in calls:
        if c.ok:
            total.add_metric([c.program, c.procedure, "ok"], c.ok)
        for code, count in sorted(c.errors.items()):
            total.add_metric([c.program, c.procedure, _outcome(code)], count)
        cumulative, buckets = 0, []
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), c.buckets, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        latency.add_metric([c.program, c.procedure], buckets, c.seconds)
    yield total
    yield latency


def _daemon_families(snap: Snapshot) -> Iterator[Metric]:
    counters = snap.counters
    clients = GaugeMetricFamily("rpcnet_clients", "Clients connected now",
                                labels=["transport", "readonly"])
    for transport in sorted({*_TRANSPORTS, *(t for t, _ro in snap.clients)}):
        for readonly in (False, True):
            clients.add_metric([transport, str(readonly).lower()],
                               snap.clients.get((transport, readonly), 0))
    yield clients
    yield _by_label("rpcnet_client_connections", "Client connections accepted",
                    "transport", counters.connections, _TRANSPORTS)
    yield _by_label("rpcnet_clients_refused", "Clients turned away by a limit", "limit",
                    counters.refused, ("max_clients", "max_anonymous_clients"))
    yield _by_label("rpcnet_tls_handshake_failures",
                    "TLS clients that did not get through (handshake failed, no "
                    "certificate, DN not allowed)", "reason", counters.tls_failures,
                    ("handshake", "no_certificate", "dn_not_allowed"))
    yield CounterMetricFamily("rpcnet_events_delivered", "Event messages sent to clients",
                              value=counters.events_delivered)
    yield CounterMetricFamily("rpcnet_keepalive_drops",
                              "Clients dropped for not answering keepalive",
                              value=counters.keepalive_drops)


def _by_label(name: str, documentation: str, label: str, counts: dict[str, int],
              always: Iterable[str]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value in sorted({*always, *counts}):
        family.add_metric([value], counts.get(value, 0))
    return family


def _network_families(networks: list[NetworkStats]) -> Iterator[Metric]:
    def gauge(name: str, documentation: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, documentation, labels=["network"])

    info = GaugeMetricFamily("rpcnet_network_info", "A network and its bridge (always 1)",
                             labels=["network", "bridge"])
    active = gauge("rpcnet_network_active", "1 if the network runs")
    leases = gauge("rpcnet_network_dhcp_leases", "DHCP leases in use")
    pool = gauge("rpcnet_network_dhcp_pool_size", "Addresses DHCP may hand out")
    ports = gauge("rpcnet_network_ports", "Ports in use (virNetworkPort objects)")
    dnsmasq_up = gauge("rpcnet_network_dnsmasq_up", "1 if the network's dnsmasq runs")
    restarts = CounterMetricFamily("rpcnet_network_dnsmasq_restarts",
                                   "Times the network's dnsmasq died and the daemon restarted it",
                                   labels=["network"])
    link: dict[str, CounterMetricFamily] = {
        field: CounterMetricFamily(name, documentation, labels=["network"])
        for field, name, documentation in _LINK}
    for net in networks:
        labels = [net.name]
        info.add_metric([net.name, net.bridge or ""], 1)
        active.add_metric(labels, int(net.active))
        pool.add_metric(labels, net.pool_size)
        if net.active:
            leases.add_metric(labels, net.leases)
            ports.add_metric(labels, net.ports)
        if net.link is not None:
            for field, family in link.items():
                family.add_metric(labels, getattr(net.link, field))
        if net.dnsmasq is not None:
            dnsmasq_up.add_metric(labels, int(net.dnsmasq.up))
            restarts.add_metric(labels, net.dnsmasq.restarts)
    yield from (info, active, *link.values(), leases, pool, ports, dnsmasq_up, restarts)


class MetricsEndpoint:
    """The HTTP server of ``--metrics``: ``/metrics`` (any path, in fact) in
    Prometheus's text format, from its own thread."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.metrics = DaemonMetrics()
        self._server: Any = None

    def start(self) -> None:
        """Bind and serve; raises OSError saying where it could not."""
        registry = CollectorRegistry()
        registry.register(self.metrics)
        ProcessCollector(registry=registry)
        try:
            self._server, _thread = start_http_server(self.port, self.host, registry)
        except OSError as exc:
            raise OSError(f"cannot serve metrics on {self.host}:{self.port}: "
                          f"{exc.strerror or exc}") from None
        self.port = self._server.server_port
        log.info("serving metrics on http://%s/metrics", describe_address((self.host, self.port)))

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await asyncio.to_thread(server.shutdown)
            server.server_close()
