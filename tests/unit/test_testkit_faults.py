"""The test kit's fault plan (which faults act on which call) and its sans-IO
connection (silent keepalive, handshake calls handed out), with no sockets."""

from __future__ import annotations

import pytest

from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.protocol import keepalive, remote
from rpcnet.protocol.message import MessageType
from rpcnet.testkit.connection import FaultConnection
from rpcnet.testkit.faults import (
    Delay,
    ErrorReply,
    Fault,
    FaultPlan,
    HangUp,
    KeepaliveSilence,
    StopReading,
    procedure_numbers,
)

from .pair import Link, frames_of

LOOKUP, LIST, CREATE = 46, 283, 42
ERROR = ErrorReply(VirError(ErrorCode.NO_NETWORK, ErrorDomain.NETWORK, "gone"))


def plan_with(*faults: Fault) -> FaultPlan:
    plan = FaultPlan()
    for fault in faults:
        plan.install(fault)
    return plan


def actions(plan: FaultPlan, connection: int, procedure: int) -> list[object]:
    return [f.action for f in plan.for_call(connection, procedure)]


def test_a_fault_acts_on_its_procedures_only_and_until_cleared() -> None:
    fault = Fault(ERROR, frozenset({LOOKUP}))
    plan = plan_with(fault)
    assert actions(plan, 1, LIST) == []
    assert actions(plan, 1, LOOKUP) == [ERROR]
    assert actions(plan, 2, LOOKUP) == [ERROR]
    assert fault.hits == 2
    plan.remove(fault)
    assert actions(plan, 1, LOOKUP) == [] and fault.cleared


def test_times_counts_over_every_connection_and_a_used_up_fault_goes() -> None:
    fault = Fault(ERROR, None, times=2)
    plan = plan_with(fault)
    assert [len(plan.for_call(c, LOOKUP)) for c in (1, 2, 1)] == [1, 1, 0]
    assert plan.faults == [] and fault.hits == 2 and not fault.cleared


def test_after_counts_each_connections_selected_calls() -> None:
    hang_up = Fault(HangUp(), None, after=2)
    plan = plan_with(hang_up)
    assert [len(plan.for_call(1, n)) for n in (LOOKUP, LIST)] == [0, 0]
    assert [len(plan.for_call(2, n)) for n in (LOOKUP, LIST)] == [0, 0]
    assert actions(plan, 1, CREATE) == [HangUp()]
    assert actions(plan, 2, CREATE) == [HangUp()]


def test_one_connection_only() -> None:
    plan = plan_with(Fault(ERROR, None, connection=2))
    assert actions(plan, 1, LOOKUP) == [] and actions(plan, 2, LOOKUP) == [ERROR]


def test_delays_add_up_and_the_first_deciding_fault_wins() -> None:
    first, second = Fault(ERROR, None), Fault(HangUp(), None, after=1)
    plan = plan_with(Fault(Delay(0.5)), first, Fault(Delay(0.25)), second)
    assert actions(plan, 1, LOOKUP) == [Delay(0.5), Delay(0.25), ERROR]
    # the second deciding fault counted the call towards its `after` without acting
    assert actions(plan, 1, LOOKUP) == [Delay(0.5), Delay(0.25), ERROR]
    assert (first.hits, second.hits) == (2, 0)
    plan.remove(first)
    assert actions(plan, 1, LOOKUP) == [Delay(0.5), Delay(0.25), HangUp()]


def test_connection_faults_hold_rather_than_act_on_calls() -> None:
    silence = Fault(KeepaliveSilence(), connection=1)
    stop_now, stop_on_list = Fault(StopReading(), connection=2), Fault(StopReading(), {LIST})
    plan = plan_with(silence, stop_now, stop_on_list)
    assert plan.holds(1, KeepaliveSilence) and not plan.holds(2, KeepaliveSilence)
    assert plan.holds(2, StopReading) and not plan.holds(1, StopReading)
    assert actions(plan, 1, LOOKUP) == [] and actions(plan, 1, LIST) == [StopReading()]
    plan.remove(stop_now)
    assert not plan.holds(2, StopReading)


def test_fault_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        Fault(ERROR, after=-1)
    with pytest.raises(ValueError):
        Fault(ERROR, times=0)
    with pytest.raises(ValueError):
        Fault(KeepaliveSilence(), frozenset({LOOKUP}))


def test_procedures_by_name_or_number() -> None:
    assert procedure_numbers(None) is None
    assert procedure_numbers("NETWORK_LOOKUP_BY_NAME") == {LOOKUP}
    assert procedure_numbers(["remote_proc_connect_list_all_networks", 42]) == {LIST, CREATE}
    # a procedure of libvirt's that rpcnet answers "unsupported" can still be chosen
    assert procedure_numbers("DOMAIN_CREATE") == {9}
    with pytest.raises(ValueError, match="NO_SUCH"):
        procedure_numbers("NO_SUCH")


def test_waiting_for_hits() -> None:
    fault = Fault(ERROR)
    with pytest.raises(TimeoutError):
        fault.wait(1, timeout=0.01)
    plan_with(fault).for_call(1, LOOKUP)
    fault.wait(1, timeout=0.01)


# -- the sans-IO connection ---------------------------------------------------


def fault_link() -> Link:
    link = Link(keepalive=(5.0, 2))
    link.server = FaultConnection(remote.REMOTE, keepalive_interval=5.0, keepalive_count=2)
    server = link.server
    for number in (remote.Proc.AUTH_LIST, remote.Proc.CONNECT_SUPPORTS_FEATURE):
        proc = remote.BY_NUMBER[number]
        link.handlers[number] = lambda *args, proc=proc: server.handshake_result(proc, args)
    return link


def test_handshake_calls_come_out_and_are_answered_as_the_plain_connection_does() -> None:
    link, plain = fault_link(), Link()
    link.open()
    plain.open()
    assert [c.procedure.name for c in link.calls[:2]] == ["AUTH_LIST", "CONNECT_SUPPORTS_FEATURE"]
    assert link.server.keepalive_active  # asking feature 10 started it, as in the plain one
    for number, args in ((60, (14,)), (60, (99,)), (66, ())):
        assert link.call(number, args) == plain.call(number, args)


def test_silent_keepalive_sends_no_pong_and_no_ping_and_never_drops_the_client() -> None:
    link = fault_link()
    link.open()
    assert isinstance(link.server, FaultConnection)
    link.server.silence_keepalive(True, link.now)
    link.server.receive_data(keepalive.PING_FRAME, link.now)
    assert link.server.next_event() is None and link.server.data_to_send() == b""
    assert link.server.get_timer() is None
    link.server.handle_timer(100.0)
    assert link.server.closed is None and link.server.data_to_send() == b""
    link.now = 100.0
    link.server.silence_keepalive(False, link.now)
    assert link.server.get_timer() == 105.0  # the silence clock starts again now
    link.server.handle_timer(105.0)
    (ping,) = frames_of(link.server.data_to_send())
    assert (ping.header.prog, ping.header.proc, ping.header.type) == (
        keepalive.PROGRAM, keepalive.PING, MessageType.MESSAGE)
    link.server.receive_data(keepalive.PING_FRAME, 106.0)
    assert link.server.next_event() is None
    assert frames_of(link.server.data_to_send())[0].header.proc == keepalive.PONG


def test_keepalive_asked_while_silent_starts_only_when_the_silence_ends() -> None:
    link = fault_link()
    assert isinstance(link.server, FaultConnection)
    link.server.silence_keepalive(True, 0.0)
    assert link.call(60, (10,)).result == (1,)
    assert link.server.get_timer() is None
    link.server.silence_keepalive(False, 1.0)
    assert link.server.get_timer() == 6.0
