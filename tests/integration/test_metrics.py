"""rpcnetd --metrics: scraped over HTTP as Prometheus does, checked by the real
promtool, counting what real clients (virsh, rpcnet's client, raw sockets) did;
and the clear errors of an address that cannot be served."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from rpcnet.client.driver import RemoteDriver
from tests.integration.test_daemon import NET_XML, _handshake_with_keepalive
from tests.peers.metrics import Samples, metrics_url, promtool_check, samples, scrape, value
from tests.peers.rpcnetd import RpcnetdPeer
from tests.peers.virsh import virsh

METRICS = ("--metrics", "127.0.0.1:0")


@pytest.fixture
def daemon() -> Iterator[RpcnetdPeer]:
    with RpcnetdPeer(extra_args=METRICS) as peer:
        yield peer


def scraped(peer: RpcnetdPeer) -> Samples:
    text = scrape(metrics_url(peer.log()))
    promtool_check(text)
    return samples(text)


def wait_for(peer: RpcnetdPeer, done: Callable[[Samples], bool], timeout: float = 10.0) -> Samples:
    """Scrape until ``done`` holds (what clients did reaches the daemon asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        found = scraped(peer)
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def calls(found: Samples, procedure: str, outcome: str = "ok", program: str = "remote") -> float:
    return value(found, "rpcnet_calls_total", program=program, procedure=procedure,
                 outcome=outcome) or 0.0


def test_off_by_default(rpcnetd: RpcnetdPeer) -> None:
    assert "serving metrics" not in rpcnetd.log()


def test_calls_by_procedure_and_outcome_with_their_latency(daemon: RpcnetdPeer,
                                                           virsh_bin: str) -> None:
    virsh(daemon.uri(), "net-list", "--all", check=True)
    assert virsh(daemon.uri(), "net-info", "nosuch").returncode != 0
    found = scraped(daemon)
    assert calls(found, "CONNECT_LIST_ALL_NETWORKS") == 1
    assert calls(found, "NETWORK_LOOKUP_BY_NAME", "VIR_ERR_NO_NETWORK") == 1
    assert calls(found, "CONNECT_OPEN") == 2
    for procedure in ("CONNECT_LIST_ALL_NETWORKS", "NETWORK_LOOKUP_BY_NAME", "AUTH_LIST"):
        labels = {"program": "remote", "procedure": procedure}
        count = value(found, "rpcnet_call_duration_seconds_count", **labels)
        inf = value(found, "rpcnet_call_duration_seconds_bucket", le="+Inf", **labels)
        seconds = value(found, "rpcnet_call_duration_seconds_sum", **labels)
        assert count == inf == sum(v for (name, lb), v in found.items() if name ==
                                   "rpcnet_calls_total" and dict(lb)["procedure"] == procedure)
        assert seconds is not None and 0 < seconds < 5 * (count or 0)
    # bounded labels: no client, serial or unknown procedure number among them
    label_names = {k for (_name, labels) in found for k, _v in labels}
    assert label_names <= {"program", "procedure", "outcome", "le", "transport", "readonly",
                           "limit", "reason", "network", "bridge", "version",
                           "libvirt_version", "python_version"}


def test_unknown_procedures_share_one_label(daemon: RpcnetdPeer) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(daemon.socket)
        _handshake_with_keepalive(sock)
        from tests.integration.test_replay import read_frame
        from tests.unit.pair import raw_call

        for number in (9999, 123456, 7777777):
            sock.sendall(raw_call(number, serial=number))
            read_frame(sock)
    found = scraped(daemon)
    assert calls(found, "unknown", "VIR_ERR_RPC") == 3


def test_clients_by_transport_and_read_only_and_the_private_program(daemon: RpcnetdPeer) -> None:
    before = value(scraped(daemon), "rpcnet_client_connections_total", transport="unix") or 0

    async def run() -> Samples:
        rw = await RemoteDriver.open(daemon.uri())
        ro = await RemoteDriver.open(daemon.uri(readonly=True))
        try:
            (stats,) = await ro.network_list_stats("default", 0)
            assert stats.name == "default" and stats.pool_size == 253
            return await asyncio.to_thread(scraped, daemon)
        finally:
            await rw.close()
            await ro.close()

    found = asyncio.run(run())
    assert value(found, "rpcnet_clients", transport="unix", readonly="false") == 1
    assert value(found, "rpcnet_clients", transport="unix", readonly="true") == 1
    assert value(found, "rpcnet_clients", transport="tls", readonly="false") == 0
    assert value(found, "rpcnet_client_connections_total", transport="unix") == before + 2
    assert calls(found, "NETWORK_LIST_STATS", program="rpcnet") == 1
    build = [labels for (name, labels) in found if name == "rpcnet_build_info"]
    assert len(build) == 1 and ("libvirt_version", "9.0.0") in build[0]


def test_networks_of_the_memory_driver(daemon: RpcnetdPeer, virsh_bin: str, tmp_path) -> None:
    xml = tmp_path / "net.xml"
    xml.write_text(NET_XML.format(name="quiet", bridge="rpcq0", prefix="10.77.0"))
    virsh(daemon.uri(), "net-define", str(xml), check=True)
    found = scraped(daemon)
    assert value(found, "rpcnet_network_active", network="default") == 1
    assert value(found, "rpcnet_network_active", network="quiet") == 0
    assert value(found, "rpcnet_network_info", network="quiet", bridge="rpcq0") == 1
    assert value(found, "rpcnet_network_dhcp_pool_size", network="default") == 253
    assert value(found, "rpcnet_network_dhcp_leases", network="default") == 0
    assert value(found, "rpcnet_network_ports", network="default") == 0
    # the in-memory driver has no bridge to count and no dnsmasq
    assert value(found, "rpcnet_network_receive_bytes_total", network="default") is None
    assert value(found, "rpcnet_network_dnsmasq_up", network="default") is None


def test_events_delivered(daemon: RpcnetdPeer, virsh_bin: str, tmp_path) -> None:
    watcher = subprocess.Popen([virsh_bin, "-c", daemon.uri(), "net-event", "--loop",
                                "--event", "lifecycle", "--timeout", "20"],
                               stdout=subprocess.PIPE, text=True)
    try:
        wait_for(daemon, lambda f: calls(f, "CONNECT_NETWORK_EVENT_REGISTER_ANY") == 1)
        xml = tmp_path / "net.xml"
        xml.write_text(NET_XML.format(name="ev", bridge="rpce0", prefix="10.78.0"))
        virsh(daemon.uri(), "net-define", str(xml), check=True)
        virsh(daemon.uri(), "net-undefine", "ev", check=True)
        found = wait_for(daemon, lambda f: value(f, "rpcnet_events_delivered_total") == 2)
        assert value(found, "rpcnet_events_delivered_total") == 2
    finally:
        watcher.terminate()
        watcher.wait(10)


def test_keepalive_drops_and_refused_clients() -> None:
    args = (*METRICS, "--keepalive-interval", "0.2", "--keepalive-count", "1",
            "--max-clients", "1")
    with RpcnetdPeer(extra_args=args) as peer, socket.socket(socket.AF_UNIX) as silent, \
            socket.socket(socket.AF_UNIX) as extra:
        silent.settimeout(5)
        silent.connect(peer.socket)
        _handshake_with_keepalive(silent)
        extra.settimeout(5)
        extra.connect(peer.socket)  # over --max-clients 1
        assert extra.recv(4) == b""  # refused: closed after the grace
        while silent.recv(28):
            pass  # PINGs go unanswered until the daemon drops it
        found = wait_for(peer, lambda f: value(f, "rpcnet_keepalive_drops_total") == 1)
    assert value(found, "rpcnet_keepalive_drops_total") == 1
    assert value(found, "rpcnet_clients_refused_total", limit="max_clients") == 1
    assert value(found, "rpcnet_clients_refused_total", limit="max_anonymous_clients") == 0


def test_garbage_at_the_endpoint_harms_neither_it_nor_the_daemon(daemon: RpcnetdPeer,
                                                                  virsh_bin: str) -> None:
    host, port = metrics_url(daemon.log())[len("http://"):].split("/")[0].rsplit(":", 1)
    for junk in (b"\x00\xff\xfe garbage\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n",
                 b"POST /metrics HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nx", b""):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(junk)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
    assert calls(scraped(daemon), "CONNECT_OPEN") == 0
    virsh(daemon.uri(), "net-list", check=True)
    assert calls(scraped(daemon), "CONNECT_OPEN") == 1


# -- an address that cannot be served stops the start, saying why ----------------------

def _start_fails(tmp_path, address: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "rpcnet.cli.rpcnetd", "--socket-dir", str(tmp_path),
         "--metrics", address], capture_output=True, text=True, timeout=60)
    assert not (tmp_path / "rpcnet-sock").exists(), "it must not have started serving"
    return result


def test_a_port_in_use(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _start_fails(tmp_path, f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"cannot start: cannot serve metrics on 127.0.0.1:{port}: Address already in use" \
        in result.stderr


def test_an_address_that_cannot_be_bound(tmp_path) -> None:
    result = _start_fails(tmp_path, "192.0.2.1:9177")  # TEST-NET-1: not this host's
    assert result.returncode == 1
    assert "cannot serve metrics on 192.0.2.1:9177: Cannot assign requested address" \
        in result.stderr


@pytest.mark.parametrize(("address", "message"), [
    ("127.0.0.1", "'127.0.0.1' has no port: give ADDR:PORT"),
    ("127.0.0.1:99999", "bad port in '127.0.0.1:99999'"),
    ("[::1:9177", "malformed address"),
])
def test_malformed_addresses(tmp_path, address: str, message: str) -> None:
    result = _start_fails(tmp_path, address)
    assert result.returncode == 2
    assert f"argument --metrics: {message}" in result.stderr

