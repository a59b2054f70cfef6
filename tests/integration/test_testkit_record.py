"""The record of every call, proven with real clients: what virsh and the
Python bindings sent, in order, decoded, with their answers and timing; and
the same record as a pcap that tshark decodes with libvirt's dissector."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpcnet.errors import ErrorCode, ErrorDomain
from rpcnet.protocol.values import NetworkRef
from rpcnet.testkit import CallLog, Faults, InProcessDaemon
from rpcnet.testkit.pcap import write_pcap
from tests.integration.bindings_client import BindingsClient
from tests.peers.requirements import need, need_executable
from tests.peers.virsh import virsh

pytestmark = pytest.mark.interop

#: what virsh net-info sends over one connection, in order
VIRSH_NET_INFO = [
    "AUTH_LIST", "CONNECT_SUPPORTS_FEATURE", "CONNECT_OPEN", "CONNECT_SUPPORTS_FEATURE",
    "CONNECT_SUPPORTS_FEATURE", "CONNECT_REGISTER_CLOSE_CALLBACK", "NETWORK_LOOKUP_BY_NAME",
    "NETWORK_IS_ACTIVE", "NETWORK_IS_PERSISTENT", "NETWORK_GET_AUTOSTART",
    "NETWORK_GET_BRIDGE_NAME", "CONNECT_UNREGISTER_CLOSE_CALLBACK", "CONNECT_CLOSE"]
#: VIR_NETWORK_PORT_CREATE_RECLAIM
RECLAIM = 1
PORT_UUID = "5b3c8f4a-1d2e-4f60-8a7b-9c0d1e2f3a4b"
PORT = (f"<networkport><uuid>{PORT_UUID}</uuid><owner><name>vm1</name>"
        "<uuid>aaaaaaaa-2222-4333-8444-555555555555</uuid></owner>"
        "<mac address='52:54:00:aa:bb:cc'/><plug type='network' bridge='virbr0'/></networkport>")


@pytest.fixture
def client(system_python: str, rpcnetd_uri: str) -> Iterator[BindingsClient]:
    with BindingsClient(rpcnetd_uri) as bindings:
        yield bindings


def test_what_virsh_called_in_order_with_arguments_answers_and_times(
        virsh_bin: str, rpcnetd_uri: str, rpcnetd_calls: CallLog) -> None:
    virsh(rpcnetd_uri, "net-info", "default", check=True)
    calls = list(rpcnetd_calls)
    assert [c.procedure for c in calls] == VIRSH_NET_INFO
    assert [c.serial for c in calls] == list(range(len(VIRSH_NET_INFO)))
    assert len({c.connection for c in calls}) == 1
    assert all(c.ok and c.answered is not None and c.received <= c.answered for c in calls)
    assert calls[1].arguments == {"feature": 10}
    assert calls[2].arguments == {"name": "network:///system", "flags": 0}
    lookup = calls[6]
    assert (lookup.number, lookup.arg("name")) == (46, "default")
    (net,) = lookup.result
    assert isinstance(net, NetworkRef) and net.name == "default"
    assert calls[7].arguments == {"net": net} and calls[7].result == (1,)
    assert calls[10].result == ("virbr0",)
    with pytest.raises(KeyError, match="has no argument 'nope'"):
        lookup.arg("nope")


def test_my_client_called_port_create_with_flags_reclaim(client: BindingsClient,
                                                         rpcnetd_calls: CallLog) -> None:
    assert client.result("port_create", "default", PORT, RECLAIM) == PORT_UUID
    (call,) = rpcnetd_calls.named("NETWORK_PORT_CREATE_XML")
    assert call.arg("flags") & RECLAIM
    assert call.arg("network").name == "default" and call.arg("xml") == PORT
    assert call.ok and call.result[0].uuid_str == PORT_UUID


def test_errors_connections_and_unknown_procedures_are_recorded(
        system_python: str, rpcnetd_server: InProcessDaemon, rpcnetd_faults: Faults,
        rpcnetd_calls: CallLog) -> None:
    rpcnetd_faults.error("NETWORK_GET_XML_DESC", 1, "internal error: no", times=1)
    with BindingsClient(rpcnetd_server.uri()) as first, \
            BindingsClient(rpcnetd_server.uri()) as second:
        assert first.error("lookup", "nosuch")[0] == ErrorCode.NO_NETWORK
        assert second.error("xml", "default")[2] == "internal error: no"
        one = rpcnetd_calls.named("NETWORK_LOOKUP_BY_NAME")[0].connection
        two = rpcnetd_calls.named("NETWORK_GET_XML_DESC")[0].connection
        assert one != two
        assert {c.id for c in rpcnetd_server.connections()} == {one, two}
    failed = rpcnetd_calls.named("NETWORK_LOOKUP_BY_NAME", connection=one)[0]
    assert failed.error is not None and not failed.ok and failed.result is None
    assert (failed.error.code, failed.error.domain) == (ErrorCode.NO_NETWORK,
                                                        ErrorDomain.NETWORK)
    injected = rpcnetd_calls.named("NETWORK_GET_XML_DESC")[0]
    assert injected.fault == "answered with error 1: internal error: no"
    # a procedure libvirt has and rpcnet does not serve is recorded under its name
    result = virsh(rpcnetd_server.uri(), "list")
    assert result.returncode == 1
    (domains,) = rpcnetd_calls.named("CONNECT_LIST_ALL_DOMAINS")
    assert domains.args is None and domains.error is not None
    assert domains.error.code == ErrorCode.NO_SUPPORT


@pytest.fixture(scope="session")
def tshark() -> str:
    """tshark with libvirt's dissector (Debian's tshark and libvirt-wireshark)."""
    path = need_executable("tshark")
    protocols = subprocess.run([path, "-G", "protocols"], capture_output=True, text=True,
                               check=False).stdout
    need("\tlibvirt\t" in protocols, "tshark has no libvirt dissector (libvirt-wireshark)")
    return path


def test_the_record_as_a_pcap_wireshark_decodes(tshark: str, virsh_bin: str, rpcnetd_uri: str,
                                                rpcnetd_faults: Faults, rpcnetd_calls: CallLog,
                                                tmp_path: Path) -> None:
    rpcnetd_faults.error("NETWORK_IS_ACTIVE", 1, "internal error: seen by wireshark")
    virsh(rpcnetd_uri, "net-info", "default")
    virsh(rpcnetd_uri, "net-dumpxml", "default", check=True)
    pcap = tmp_path / "calls.pcap"
    write_pcap(rpcnetd_calls, pcap)
    fields = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", "libvirt", "-T", "fields", "-e", "tcp.srcport",
         "-e", "libvirt.procedure", "-e", "libvirt.type", "-e", "libvirt.serial",
         "-e", "libvirt.status"], capture_output=True, text=True, check=True).stdout
    decoded = [line.split("\t") for line in fields.splitlines()]
    expected = []
    for call in rpcnetd_calls:
        port = str(40000 + call.connection)
        status = "0" if call.error is None else "1"
        expected += [[port, str(call.number), "0", str(call.serial), "0"],
                     ["16509", str(call.number), "1", str(call.serial), status]]
    assert decoded == expected
    verbose = subprocess.run([tshark, "-r", str(pcap), "-V", "-Y", "libvirt.status == 1"],
                             capture_output=True, text=True, check=True).stdout
    assert "message: internal error: seen by wireshark" in verbose
    assert "procedure: NETWORK_IS_ACTIVE (152)" in verbose
    xml = subprocess.run([tshark, "-r", str(pcap), "-V", "-Y", "libvirt.procedure == 43"],
                         capture_output=True, text=True, check=True).stdout
    assert "remote_nonnull_network" in xml and "name: default" in xml
    assert "<name>default</name>" in xml  # the reply's XML, decoded
