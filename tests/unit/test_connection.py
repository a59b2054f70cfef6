"""The sans-IO RPC connection, both ends wired together (tests/unit/pair.py):
no sockets, the time is a number. Each behaviour of docs/architecture.md and
wire-facts.md that the protocol layer owns is checked here, and the replies a
real libvirtd gave to captured clients are reproduced byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rpcnet.errors import ErrorCode, ErrorDomain, VirError, internal_error, rpc_error
from rpcnet.protocol import keepalive, remote
from rpcnet.protocol.connection import (
    CLOSED_BY_CLIENT,
    KEEPALIVE_TIMEOUT,
    Call,
    ClientConnection,
    LocalProtocolError,
    Notification,
    Reply,
    ServerConnection,
)
from rpcnet.protocol.message import Header, MessageType, Status
from rpcnet.protocol.wiretypes import decode_error
from rpcnet.protocol.xdr import XdrError
from tests.unit.pair import DEFAULT, Link, answers_to, error_of, frames_of, raw_call
from tests.unit.vectors import frames

NOT_OPEN = (1, 7, "internal error: connection not open")
#: libvirtd's answer before the open to calls it routes to the "hypervisor" driver
HYPERVISOR_NOT_OPEN = (1, 7, "internal error: hypervisor connection not open")


# -- the handshake ---------------------------------------------------------


def test_handshake_of_a_libvirt_9_client() -> None:
    link = Link()
    assert not link.server.opened and not link.client.opened
    link.open()
    assert link.server.opened and link.client.opened
    # the application saw the open, nothing else of the handshake
    assert [call.procedure.name for call in link.calls] == ["CONNECT_OPEN"]
    assert link.call(60, (16,)).result == (1,)  # NETWORK_UPDATE_HAS_CORRECT_ORDER
    assert link.call(60, (99,)).result == (0,)


def test_keepalive_feature_works_before_open_and_starts_the_servers_pings() -> None:
    link = Link()
    assert link.server.get_timer() is None
    assert link.call(60, (10,)).result == (1,)
    assert link.server.keepalive_active and link.server.get_timer() == 5.0
    assert error_of(link.call(60, (14,))) == HYPERVISOR_NOT_OPEN


def test_calls_before_open_are_refused_but_auth_and_open_pass() -> None:
    link = Link()
    assert error_of(link.call(46, ("default",))) == NOT_OPEN
    # libvirtd's "hypervisor" calls say so, the network driver's do not
    assert error_of(link.call(remote.Proc.CONNECT_GET_URI)) == HYPERVISOR_NOT_OPEN
    assert error_of(link.call(remote.Proc.CONNECT_SET_IDENTITY, ([], 0))) == HYPERVISOR_NOT_OPEN
    # procedures of libvirt outside the table: "not open" first, "not supported" later
    assert answers_to(link, raw_call(23) + raw_call(67, serial=10) + raw_call(126, serial=11)) == [
        (9, 23, 1, HYPERVISOR_NOT_OPEN[2]), (10, 67, 1, NOT_OPEN[2]),  # DOMAIN_LOOKUP_BY_NAME, SASL
        (11, 126, 1, NOT_OPEN[2])]  # CONNECT_NUM_OF_INTERFACES
    assert link.calls == []
    link.open()
    assert link.call(46, ("default",)).result == (DEFAULT,)


def test_a_close_before_the_open_is_answered_and_closes() -> None:
    link = Link()
    assert link.call(remote.Proc.CONNECT_CLOSE).error is None
    assert link.server.closed is CLOSED_BY_CLIENT


def test_a_second_open_is_refused() -> None:
    link = Link()
    link.open()
    assert error_of(link.call(1, ("test:///default", 0))) == (
        1, 7, "internal error: connection already open")
    assert len(link.calls) == 1


def test_a_failed_open_leaves_the_connection_closed_to_calls() -> None:
    link = Link()

    def refuse(name: str, flags: int) -> None:
        raise VirError.make(ErrorCode.NO_CONNECT, ErrorDomain.NONE, name)

    link.handlers[1] = refuse
    assert error_of(link.call(1, ("bogus:///", 0))) == (
        5, 0, "no connection driver available for bogus:///")
    assert not link.server.opened and not link.client.opened
    assert error_of(link.call(46, ("default",))) == NOT_OPEN


def test_unknown_procedures_get_libvirts_answers() -> None:
    link = Link()
    link.open()
    replies = answers_to(link, raw_call(23) + raw_call(9999, serial=10)
                         + raw_call(315, serial=11) + raw_call(362, serial=12))
    assert replies == [
        (9, 23, 1, "this function is not supported by the connection driver: "
                   "virDomainLookupByName"),
        (10, 9999, 1, "unknown procedure: 9999"),
        # events, in the table or known by name, are not calls
        (11, 315, 1, "unknown procedure: 315"),
        (12, 362, 1, "unknown procedure: 362")]


def test_unknown_program_or_version_is_answered_with_the_calls_own_header() -> None:
    link = Link()
    link.server.receive_data(raw_call(1, prog=0x11223344, serial=2)
                             + raw_call(66, vers=2, serial=3), 0)
    assert link.server.next_event() is None
    messages = frames_of(link.server.data_to_send())
    assert [m.header for m in messages] == [
        Header(0x11223344, 1, 1, MessageType.REPLY, 2, Status.ERROR),
        Header(remote.PROGRAM, 2, 66, MessageType.REPLY, 3, Status.ERROR)]
    assert [decode_error(m.payload).message for m in messages] == [
        "Cannot find program 287454020 version 1", "Cannot find program 536903814 version 2"]


def test_odd_message_types_and_statuses() -> None:
    link = Link()
    link.open()
    replies = answers_to(link, b"".join(
        raw_call(283, bytes(8), mtype=mtype, serial=5)
        for mtype in (MessageType.REPLY, MessageType.MESSAGE, MessageType.STREAM, 7, -1)))
    assert replies == []  # ignored, as libvirtd ignores them
    assert answers_to(link, raw_call(46, bytes(4), mtype=MessageType.CALL_WITH_FDS)) == [
        (9, 46, 1, "file descriptor passing is not supported")]
    assert answers_to(link, raw_call(52, status=Status.ERROR)) == [
        (9, 52, 1, "Unexpected message status 1")]


def test_undecodable_payloads_are_answered_and_trailing_bytes_tolerated() -> None:
    link = Link()
    link.open()
    bad_string = (0xFFFFFFFF).to_bytes(4, "big")
    assert answers_to(link, raw_call(46, bad_string)) == [
        (9, 46, 1, "Unable to decode message payload")]
    name = remote.BY_NUMBER[46].args.encode(("default",))
    assert answers_to(link, raw_call(46, name + b"junk")) == [(9, 46, 0, None)]


def test_reused_serials_are_each_answered() -> None:
    link = Link()
    link.open()
    replies = answers_to(link, raw_call(152, remote.BY_NUMBER[152].args.encode((DEFAULT,)),
                                        serial=7) * 3)
    assert [serial for serial, *_ in replies] == [7, 7, 7]


# -- read-only ------------------------------------------------------------


def test_a_read_only_socket_denies_write_calls() -> None:
    link = Link(readonly=True)
    link.open()
    assert error_of(link.call(42, (DEFAULT,))) == (
        29, 19, "operation forbidden: read only access prevents virNetworkDestroy")
    assert link.call(46, ("default",)).result == (DEFAULT,)
    assert [call.procedure.name for call in link.calls] == ["CONNECT_OPEN",
                                                           "NETWORK_LOOKUP_BY_NAME"]


def test_opening_read_only_makes_the_connection_read_only() -> None:
    link = Link()
    link.open(flags=remote.CONNECT_RO)
    assert link.server.readonly
    assert error_of(link.call(42, (DEFAULT,)))[:2] == (29, 19)


def test_the_read_only_check_comes_after_decoding_and_the_open_check() -> None:
    link = Link(readonly=True)
    assert error_of(link.call(42, (DEFAULT,))) == NOT_OPEN
    link.open()
    assert answers_to(link, raw_call(42, b"\x00")) == [
        (9, 42, 1, "Unable to decode message payload")]


# -- calls, replies, errors, events -----------------------------------------


def test_replies_out_of_order_reach_their_callers() -> None:
    link = Link()
    link.open()
    for token, name in (("a", "default"), ("b", "nosuch"), ("c", "default")):
        link.client.send_call(46, (name,), token)
    assert link.client.in_flight == 3
    link.to_server()
    calls = []
    while (call := link.server.next_event()) is not None:
        calls.append(call)
    for call in reversed(calls):
        link.answer(call)
    link.to_client()
    events = link.client_events()
    assert [(e.token, e.result) for e in events if isinstance(e, Reply)] == [
        ("c", (DEFAULT,)), ("b", None), ("a", (DEFAULT,))]
    assert error_of(events[1]) == (43, 19, "Network not found: no network with matching name "
                                           "'nosuch'")
    assert link.client.in_flight == 0


def test_an_error_keeps_every_field() -> None:
    link = Link()
    link.open()

    def fail(net: object) -> None:
        raise VirError.invalid_flags(ErrorDomain.NETWORK, 4, "f")

    link.handlers[152] = fail
    err = link.call(152, (DEFAULT,)).error
    assert err is not None
    assert (err.code, err.domain, err.str1, err.str2, err.int1, err.int2) == (
        8, 19, "f", "flags", 0, 0)


def test_a_result_that_does_not_encode_queues_nothing() -> None:
    link = Link()
    link.open()
    link.client.send_call(46, ("default",), "t")
    link.to_server()
    call = link.server.next_event()
    assert call is not None
    with pytest.raises(XdrError):
        link.server.reply(call, ("not a network handle",))
    assert link.server.data_to_send() == b""
    link.server.reply_error(call, internal_error(ErrorDomain.RPC, "unexpected failure"))
    link.to_client()
    assert error_of(link.client_events()[0])[:2] == (1, 7)


def test_events_reach_the_client_with_serial_1() -> None:
    link = Link()
    link.open()
    link.server.send_message(remote.Proc.NETWORK_EVENT_LIFECYCLE, (3, DEFAULT, 2, 0))
    data = link.to_client()
    (message,) = frames_of(data)
    assert message.header == Header(remote.PROGRAM, 1, 315, MessageType.MESSAGE, 1, Status.OK)
    (event,) = link.client_events()
    assert isinstance(event, Notification)
    assert (event.procedure.name, event.args) == ("NETWORK_EVENT_LIFECYCLE", (3, DEFAULT, 2, 0))


def test_the_client_ignores_messages_it_does_not_know_and_an_undecodable_event() -> None:
    link = Link()
    link.client.receive_data(
        raw_call(315, b"\x00", mtype=MessageType.MESSAGE)       # undecodable event
        + raw_call(46, mtype=MessageType.MESSAGE)               # not an event
        + raw_call(315, mtype=MessageType.MESSAGE, prog=0x20008087)  # QEMU's program
        + raw_call(1, mtype=MessageType.STREAM), 0)
    assert link.client_events() == []
    assert link.client.closed is None


def test_calls_the_program_does_not_have_are_refused_locally() -> None:
    client: ClientConnection[None] = ClientConnection(remote.REMOTE)
    for number in (9999, 315):
        with pytest.raises(LocalProtocolError):
            client.send_call(number, (), None)
    with pytest.raises(XdrError):
        client.send_call(46, (17,), None)
    assert client.data_to_send() == b"" and client.in_flight == 0


# -- keepalive --------------------------------------------------------------


def test_server_pings_a_silent_client_and_the_pong_keeps_it_alive() -> None:
    link = Link()
    link.open()
    link.advance_to(5.0)
    assert link.server.data_to_send() == keepalive.PING_FRAME
    link.client.receive_data(keepalive.PING_FRAME, link.now)
    assert link.client_events() == []
    assert link.client.data_to_send() == keepalive.PONG_FRAME
    link.server.receive_data(keepalive.PONG_FRAME, 5.1)
    assert link.server.next_event() is None
    assert link.server.get_timer() == pytest.approx(10.1)
    link.advance_to(10.0)
    assert link.server.data_to_send() == b""


def test_a_silent_client_is_dropped_after_five_pings_at_30_seconds() -> None:
    link = Link()
    link.open()
    pings = []
    for second in range(1, 31):
        link.advance_to(float(second))
        if link.server.data_to_send() == keepalive.PING_FRAME:
            pings.append(second)
    assert pings == [5, 10, 15, 20, 25]
    assert link.server.closed is KEEPALIVE_TIMEOUT and KEEPALIVE_TIMEOUT.abort
    assert link.server.get_timer() is None


def test_any_input_counts_as_life() -> None:
    link = Link()
    link.open()
    link.advance_to(4.0)
    link.call(46, ("default",))  # at t=4
    link.advance_to(8.9)
    assert link.server.data_to_send() == b""
    link.advance_to(9.0)
    assert link.server.data_to_send() == keepalive.PING_FRAME


def test_no_keepalive_without_the_feature_or_with_interval_0() -> None:
    link = Link()
    link.call(1, ("test:///default", 0))
    link.advance_to(100.0)
    assert link.server.data_to_send() == b"" and link.server.closed is None
    off = Link(keepalive=(0.0, 5))
    off.call(60, (10,))
    assert not off.server.keepalive_active and off.server.get_timer() is None


def test_the_server_answers_a_clients_ping_without_the_feature() -> None:
    link = Link()
    link.client.start_keepalive(2.0, 3, now=0.0)
    link.advance_to(2.0)
    assert link.to_server() == keepalive.PING_FRAME
    assert link.server.next_event() is None
    assert link.to_client() == keepalive.PONG_FRAME
    assert link.client_events() == []
    assert not link.server.keepalive_active


def test_a_client_whose_server_stopped_answering_closes() -> None:
    link = Link()
    link.client.start_keepalive(5.0, 2, now=0.0)
    link.advance_to(20.0)
    assert link.client.data_to_send() == keepalive.PING_FRAME * 2
    assert link.client.closed is KEEPALIVE_TIMEOUT
    assert link.client.closed.reason == "connection closed due to keepalive timeout"


# -- the end --------------------------------------------------------------


def test_close_is_answered_then_the_connection_takes_nothing_more() -> None:
    link = Link()
    link.open()
    link.client.send_call(remote.Proc.CONNECT_CLOSE, (), "close")
    link.client.send_call(46, ("default",), "after")
    link.to_server()
    link.serve()
    assert link.server.closed is CLOSED_BY_CLIENT and not CLOSED_BY_CLIENT.abort
    link.to_client()
    assert [e.token for e in link.client_events() if isinstance(e, Reply)] == ["close"]
    link.server.receive_data(keepalive.PING_FRAME, 1.0)
    assert link.server.next_event() is None and link.server.data_to_send() == b""
    assert link.client.fail_pending() == ["after"]


@pytest.mark.parametrize("length", [0, 3, 4, 27])
def test_a_malformed_length_closes_without_an_answer(length: int) -> None:
    link = Link()
    link.server.receive_data(length.to_bytes(4, "big") + bytes(24), 0)
    assert link.server.next_event() is None
    assert link.server.closed is not None
    assert link.server.data_to_send() == b""


def test_an_oversized_call_is_answered_with_the_reason_then_closed() -> None:
    link = Link(max_message=1000)
    link.open()
    big = raw_call(41, (2000).to_bytes(4, "big") + b"x" * 2000, serial=42)
    assert answers_to(link, big[:28]) == [
        (42, 41, 1, "packet 2032 bytes received from client too large, want 1004")]
    assert link.server.closed is not None and not link.server.closed.abort


def test_garbage_from_the_server_closes_the_client() -> None:
    link = Link()
    link.client.send_call(66, (), "pending")
    link.client.receive_data(bytes(8), 0)
    assert link.client_events() == []
    closed = link.client.closed
    assert closed is not None and closed.abort
    assert closed.reason == "protocol error from server: frame length 0 out of range"
    assert link.client.fail_pending() == ["pending"]
    with pytest.raises(LocalProtocolError):
        link.client.send_call(66, (), "later")


def test_a_reply_nobody_asked_for_closes_the_client() -> None:
    link = Link()
    link.client.receive_data(raw_call(66, mtype=MessageType.REPLY, serial=77), 0)
    assert link.client_events() == []
    assert link.client.closed is not None
    assert link.client.closed.reason == "reply with unknown serial 77"


def test_an_undecodable_reply_fails_only_its_call() -> None:
    link = Link()
    link.client.send_call(66, (), "t")
    link.client.receive_data(raw_call(66, b"\x00\x00", mtype=MessageType.REPLY, serial=0), 0)
    (reply,) = link.client_events()
    assert isinstance(reply, Reply)
    assert error_of(reply)[:2] == (39, 7) and "cannot decode reply to AUTH_LIST" in error_of(
        reply)[2]
    assert link.client.closed is None


def test_a_refused_client_gets_the_reason_to_its_first_call_then_is_closed() -> None:
    link = Link()
    link.server.refuse(rpc_error("Too many active clients (3), dropping connection"),
                       now=0.0, grace=2.0)
    assert link.server.get_timer() == 2.0
    link.server.receive_data(keepalive.PING_FRAME, 0.5)
    assert link.server.next_event() is None and link.server.data_to_send() == b""
    assert error_of(link.call(66)) == (39, 7, "Too many active clients (3), dropping connection")
    assert link.server.closed is not None and not link.server.closed.abort
    silent = ServerConnection(remote.REMOTE)
    silent.refuse(rpc_error("no"), now=0.0, grace=2.0)
    silent.handle_timer(1.9)
    assert silent.closed is None
    silent.handle_timer(2.0)
    assert silent.closed is not None


def test_input_after_the_end_is_dropped() -> None:
    link = Link()
    link.server.close("connection lost")
    link.server.receive_data(raw_call(66), 1.0)
    assert link.server.next_event() is None and link.server.data_to_send() == b""
    link.server.send_message(315, (0, DEFAULT, 0, 0))
    assert link.server.data_to_send() == b""


# -- any chunking; what a real libvirtd answered ---------------------------------


@given(st.lists(st.integers(1, 40), min_size=1, max_size=20))
def test_any_chunking_yields_the_same_calls(cuts: list[int]) -> None:
    stream = b"".join(f.raw for f in frames("b_virsh_network_lifecycle") if f.direction == "c2s")
    calls = [f for f in frames("b_virsh_network_lifecycle") if f.direction == "c2s"]
    handshake = {remote.Proc.AUTH_LIST, remote.Proc.CONNECT_SUPPORTS_FEATURE}
    expected = [int.from_bytes(f.raw[20:24], "big") for f in calls
                if int.from_bytes(f.raw[12:16], "big") not in handshake]
    server = ServerConnection(remote.REMOTE)
    seen, pos = [], 0
    for cut in cuts * (len(stream) // sum(cuts) + 1):
        server.receive_data(stream[pos : pos + cut], 0)
        pos += cut
        while (call := server.next_event()) is not None:
            seen.append(call.header.serial)
            if call.header.proc == remote.Proc.CONNECT_OPEN:
                server.reply(call, None)
        if pos >= len(stream):
            break
    # every call reaches the application but those of the handshake
    assert seen == expected and len(expected) > 20


@pytest.mark.parametrize("capture", [
    "a_virsh_test_net_list",
    "d_python_test_driver",
    "h_raw_client_edge_cases",
    "i_raw_client_no_keepalive_feature",
])
def test_replies_match_libvirtd_byte_for_byte(capture: str) -> None:
    """Replay what a real client sent; the application answers what libvirtd
    answered, everything else is the connection's own and must be identical."""
    server = ServerConnection(remote.REMOTE)
    sent = b""
    expected = b""
    for frame in frames(capture):
        mtype = int.from_bytes(frame.raw[16:20], "big", signed=True)
        if frame.direction == "c2s":
            server.receive_data(frame.raw, 0)
            while (call := server.next_event()) is not None:
                _answer_like_libvirtd(server, call, capture)
            sent += server.data_to_send()
        elif mtype == MessageType.REPLY:
            expected += frame.raw
    assert sent.hex() == expected.hex()


def _answer_like_libvirtd(server: ServerConnection, call: Call, capture: str) -> None:
    header = call.header
    recorded = next(
        f.raw for f in frames(capture)
        if f.direction == "s2c" and int.from_bytes(f.raw[12:16], "big") == header.proc
        and int.from_bytes(f.raw[20:24], "big") == header.serial
        and int.from_bytes(f.raw[16:20], "big") == MessageType.REPLY)
    (message,) = frames_of(recorded)
    if message.header.status == Status.OK:
        server.reply(call, call.procedure.ret.decode(message.payload))
    else:
        server.reply_error(call, decode_error(message.payload))


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_any_bytes_never_break_either_end(data: bytes) -> None:
    server = ServerConnection(remote.REMOTE)
    server.receive_data(raw_call(66, serial=0) + data, 0)
    while (call := server.next_event()) is not None:
        server.reply_error(call, internal_error(ErrorDomain.RPC, "x"))
    for message in frames_of(server.data_to_send()):
        assert message.header.type == MessageType.REPLY
    client: ClientConnection[int] = ClientConnection(remote.REMOTE)
    client.send_call(66, (), 0)
    client.receive_data(data, 0)
    while client.next_event() is not None:
        pass
