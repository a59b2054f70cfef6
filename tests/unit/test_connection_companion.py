"""A companion program on a REMOTE connection: rpcnet's own program served
beside REMOTE, sharing its open and read-only state, kept apart by identity
from REMOTE's procedures of the same numbers."""

from __future__ import annotations

import inspect
from typing import Any

from rpcnet.driver.base import NetworkDriver
from rpcnet.errors import VirError
from rpcnet.protocol import remote
from rpcnet.protocol.connection import Reply, ServerConnection
from rpcnet.protocol.rpcnet_program import NETWORK_STATS, PROCEDURES, PROGRAM, RPCNET, Proc
from rpcnet.protocol.values import DnsmasqState, LinkCounters, NetworkStats
from tests.unit.pair import Link, answers_to, error_of, raw_call

STATS = NetworkStats(name="default", active=True, bridge="virbr0",
                     link=LinkCounters(2**40, 5, 6, 7, 8, 9), leases=1, pool_size=253, ports=2,
                     dnsmasq=DnsmasqState(up=True, restarts=3))
LIST_STATS = (PROGRAM, Proc.NETWORK_LIST_STATS)


def stats_link(**kwargs: Any) -> Link:
    link = Link(companions=(RPCNET,), **kwargs)
    link.handlers[LIST_STATS] = lambda name, flags: ([STATS],)
    return link


def call_stats(link: Link, name: str | None = None, flags: int = 0) -> Reply[str]:
    return link.call(Proc.NETWORK_LIST_STATS, (name, flags), "stats", RPCNET)


def test_a_companion_call_after_open_reaches_the_application() -> None:
    link = stats_link()
    link.open()
    reply = call_stats(link)
    assert reply.result == ([STATS],) and reply.token == "stats"
    (call,) = link.calls[-1:]
    assert call.header.prog == PROGRAM and call.procedure is PROCEDURES[0]


def test_its_calls_need_remotes_open() -> None:
    link = stats_link()
    assert error_of(call_stats(link)) == (1, 7, "internal error: connection not open")


def test_a_procedure_numbered_as_remotes_open_neither_opens_nor_makes_read_only() -> None:
    link = stats_link()
    link.open(flags=0)
    assert Proc.NETWORK_LIST_STATS == remote.Proc.CONNECT_OPEN
    # flags 1 would be VIR_CONNECT_RO to CONNECT_OPEN
    call_stats(link, None, 1)
    assert not link.server.readonly
    assert link.call(remote.Proc.CONNECT_OPEN, ("test:///default", 0)).error is not None


def test_read_only_connections_may_ask() -> None:
    link = stats_link(readonly=True)
    link.open()
    assert call_stats(link).error is None


def test_unknown_procedures_and_versions_of_the_companion() -> None:
    link = stats_link()
    link.open()
    assert answers_to(link, raw_call(7, prog=PROGRAM) + raw_call(1, prog=PROGRAM, vers=2,
                                                                  serial=10)) == [
        (9, 7, 1, "unknown procedure: 7"),
        (10, 1, 1, f"Cannot find program {PROGRAM} version 2")]


def test_without_the_companion_the_program_is_unknown_as_libvirtd_says() -> None:
    link = Link()
    link.open()
    assert answers_to(link, raw_call(1, prog=PROGRAM)) == [
        (9, 1, 1, "Cannot find program 1919968110 version 1")]
    assert not link.server.closed


def test_a_companion_cannot_have_calls_the_connection_answers() -> None:
    try:
        ServerConnection(remote.REMOTE, companions=(remote.REMOTE,))
    except ValueError:
        return
    raise AssertionError("REMOTE's handshake procedures accepted in a companion")


def test_observers_hear_companion_calls() -> None:
    link = stats_link()
    heard: list[tuple[int, str | None, VirError | None]] = []

    class Observer:
        def call_answered(self, header: Any, procedure: Any, args: Any, received: float,
                          result: Any, error: VirError | None) -> None:
            heard.append((header.prog, procedure and procedure.name, error))

    link.server.observer = Observer()
    link.open()
    call_stats(link)
    assert heard[-1] == (PROGRAM, "NETWORK_LIST_STATS", None)


def test_stats_encode_and_decode_with_and_without_the_optional_parts() -> None:
    bare = NetworkStats("isolated", False, None, None, 0, 0, 0, None)
    for value in (STATS, bare):
        assert NETWORK_STATS.decode(NETWORK_STATS.encode(value)) == value


def test_every_row_names_a_driver_method_taking_its_arguments() -> None:
    for proc in PROCEDURES:
        assert proc.method is not None
        method = getattr(NetworkDriver, proc.method)
        params = list(inspect.signature(method).parameters)[1:]
        assert len(params) == len(proc.args.fields or ()), proc.name
