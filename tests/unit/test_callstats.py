"""The call observer behind the metrics, with a clock that is a number; the
outcome labels; and a network's DHCP pool size."""

from __future__ import annotations

from rpcnet.driver.stats import pool_size
from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.netxml import parse_network
from rpcnet.protocol import remote
from rpcnet.protocol.message import Header, MessageType, Status
from rpcnet.protocol.rpcnet_program import RPCNET
from rpcnet.server.callstats import BUCKETS, CallStats
from rpcnet.server.metrics import _outcome

NO_NETWORK = VirError.make(ErrorCode.NO_NETWORK, ErrorDomain.NETWORK, "no network")


def header(prog: int, proc: int) -> Header:
    return Header(prog, 1, proc, MessageType.CALL, 1, Status.OK)


def test_calls_by_procedure_outcome_and_latency_bucket() -> None:
    now = [10.0]
    stats = CallStats({"remote": remote.REMOTE, "rpcnet": RPCNET}, clock=lambda: now[0])
    lookup = remote.BY_NUMBER[46]
    stats.call_answered(header(remote.PROGRAM, 46), lookup, ("x",), 10.0 - 0.00005, None,
                        NO_NETWORK)
    stats.call_answered(header(remote.PROGRAM, 46), lookup, ("x",), 10.0 - 0.0001, ("ok",), None)
    stats.call_answered(header(remote.PROGRAM, 46), lookup, ("x",), 10.0 - 99, ("ok",), None)
    stats.call_answered(header(remote.PROGRAM, 9999), None, None, 10.0, None, NO_NETWORK)
    stats.call_answered(header(0x1234, 1), None, None, 10.0, None, NO_NETWORK)
    snap = {(c.program, c.procedure): c for c in stats.snapshot()}
    assert set(snap) == {("remote", "NETWORK_LOOKUP_BY_NAME"), ("remote", "unknown"),
                         ("unknown", "unknown")}
    calls = snap["remote", "NETWORK_LOOKUP_BY_NAME"]
    assert calls.ok == 2 and calls.errors == {ErrorCode.NO_NETWORK: 1}
    # le semantics: 0.0001 exactly is in the first bucket; 99 s is above them all
    assert calls.buckets[0] == 2 and calls.buckets[len(BUCKETS)] == 1
    assert abs(calls.seconds - (99 + 0.00015)) < 1e-9


def test_a_snapshot_is_a_copy() -> None:
    stats = CallStats({"remote": remote.REMOTE}, clock=lambda: 1.0)
    stats.call_answered(header(remote.PROGRAM, 46), remote.BY_NUMBER[46], None, 1.0, None, None)
    (first,) = stats.snapshot()
    stats.call_answered(header(remote.PROGRAM, 46), remote.BY_NUMBER[46], None, 1.0, None, None)
    assert first.ok == 1 and stats.snapshot()[0].ok == 2


def test_outcome_labels_are_libvirts_names() -> None:
    assert _outcome(ErrorCode.NO_NETWORK) == "VIR_ERR_NO_NETWORK"
    assert _outcome(4242) == "VIR_ERR_4242"


def test_pool_size_counts_ranges_and_static_hosts_outside_them() -> None:
    netdef = parse_network("""<network><name>p</name>
      <ip address='10.1.0.1' netmask='255.255.255.0'><dhcp>
        <range start='10.1.0.100' end='10.1.0.199'/>
        <host mac='52:54:00:00:00:01' ip='10.1.0.150'/>
        <host mac='52:54:00:00:00:02' ip='10.1.0.20'/>
      </dhcp></ip>
      <ip family='ipv6' address='fd00::1' prefix='64'><dhcp>
        <range start='fd00::10' end='fd00::1f'/>
      </dhcp></ip></network>""")
    assert pool_size(netdef) == 100 + 1 + 16
    assert pool_size(parse_network("<network><name>n</name></network>")) == 0
