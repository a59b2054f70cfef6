"""Faults on command, proven with real clients: the libvirt Python bindings
(a client steered line by line under /usr/bin/python3) and virsh, against
the test's in-process daemon (the plugin's fixtures), through every fault.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from rpcnet.errors import ErrorCode, ErrorDomain
from rpcnet.testkit import CallLog, Faults, InProcessDaemon, frames
from rpcnet.testkit.faults import RawReply
from tests.integration.bindings_client import BindingsClient, Lines
from tests.peers.virsh import VIRSH, run_client, virsh

pytestmark = pytest.mark.interop

NO_NETWORK, NETWORK = int(ErrorCode.NO_NETWORK), int(ErrorDomain.NETWORK)
SYSTEM_ERROR, RPC, FROM_RPC = int(ErrorCode.SYSTEM_ERROR), int(ErrorCode.RPC), 7
EOF_ERROR = [SYSTEM_ERROR, FROM_RPC, "End of file while reading data: Input/output error"]
# virConnectCloseReason and virNetworkEventLifecycleType
CLOSE_REASON_ERROR, CLOSE_REASON_KEEPALIVE = 0, 2
DEFINED, STARTED, STOPPED = 0, 2, 3
#: keepalive as the clients are told to run it: PING after 1 s, give up after 2 missed
INTERVAL, COUNT = 1, 2
#: what a timer in another process may run late by, on a busy machine
TIMER_SLACK = 1.0

Clients = Callable[..., BindingsClient]


@pytest.fixture
def bindings(system_python: str, rpcnetd_server: InProcessDaemon) -> Iterator[Clients]:
    """Opens bindings clients on the test's daemon; closes them after the test."""
    opened: list[BindingsClient] = []

    def open_client(*, event_loop: bool = False) -> BindingsClient:
        opened.append(BindingsClient(rpcnetd_server.uri(), event_loop=event_loop))
        return opened[-1]

    yield open_client
    for client in opened:
        client.close()


def connection_of(daemon: InProcessDaemon, client: BindingsClient) -> int:
    """The kit's number of the client's connection (found by its process id)."""
    (conn,) = [c.id for c in daemon.connections() if c.pid == client.pid]
    return conn


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def virsh_lines(uri: str, *cmd: str, keepalive: tuple[int, int] | None = None
                ) -> subprocess.CompletedProcess[str]:
    options = [] if keepalive is None else ["-k", str(keepalive[0]), "-K", str(keepalive[1])]
    return run_client([VIRSH, *options, "-c", uri, *cmd], timeout=60)


# -- an error for a procedure: once, N times, until cleared --------------------------


def test_bindings_raise_the_injected_error_once(bindings: Clients, rpcnetd_faults: Faults) -> None:
    fault = rpcnetd_faults.error("NETWORK_LOOKUP_BY_NAME", NO_NETWORK,
                                 "Network not found: injected by the test", domain=NETWORK,
                                 times=1)
    client = bindings()
    assert client.error("lookup", "default") == [
        NO_NETWORK, NETWORK, "Network not found: injected by the test"]
    assert client.result("lookup", "default") == "default"
    assert fault.hits == 1 and rpcnetd_faults.active() == []


def test_an_error_n_times_then_one_until_cleared(bindings: Clients,
                                                 rpcnetd_faults: Faults) -> None:
    rpcnetd_faults.error("NETWORK_GET_XML_DESC", 1, "internal error: twice", domain=NETWORK,
                         times=2)
    client = bindings()
    answers = [client.call("xml", "default") for _ in range(3)]
    assert [a.get("error") for a in answers] == [[1, NETWORK, "internal error: twice"]] * 2 + [
        None]
    assert "<name>default</name>" in answers[2]["result"]
    forever = rpcnetd_faults.error(["CONNECT_LIST_ALL_NETWORKS"], 9, "operation failed: until "
                                   "cleared")
    assert [client.error("list")[2] for _ in range(3)] == ["operation failed: until cleared"] * 3
    forever.clear()
    assert client.result("list") == ["default"]


def test_virsh_reports_the_injected_error_verbatim(virsh_bin: str, rpcnetd_uri: str,
                                                   rpcnetd_faults: Faults) -> None:
    message = "Network not found: no network with matching name 'default' (the test says so)"
    rpcnetd_faults.error("NETWORK_LOOKUP_BY_NAME", NO_NETWORK, message, domain=NETWORK)
    result = virsh(rpcnetd_uri, "net-info", "default")
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["error: failed to get network 'default'",
                                          f"error: {message}"]


def test_virsh_reports_a_refused_open_verbatim(virsh_bin: str, rpcnetd_uri: str,
                                               rpcnetd_faults: Faults) -> None:
    rpcnetd_faults.error("CONNECT_OPEN", 45, "authentication failed: not you (injected)",
                         domain=13)
    result = virsh(rpcnetd_uri, "net-list")
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["error: failed to connect to the hypervisor",
                                          "error: authentication failed: not you (injected)"]


# -- delayed replies -----------------------------------------------------------------


def test_bindings_wait_for_a_delayed_reply(bindings: Clients, rpcnetd_faults: Faults,
                                           rpcnetd_calls: CallLog) -> None:
    rpcnetd_faults.delay("NETWORK_GET_XML_DESC", 0.5)
    client = bindings()
    answer = client.call("xml", "default")
    assert "<name>default</name>" in answer["result"] and answer["elapsed"] >= 0.5
    (call,) = rpcnetd_calls.named("NETWORK_GET_XML_DESC")
    assert call.ok and call.duration is not None and call.duration >= 0.5
    assert call.fault == "delayed 0.5 s"


def test_virsh_waits_for_a_delayed_handshake(virsh_bin: str, rpcnetd_uri: str,
                                             rpcnetd_faults: Faults,
                                             rpcnetd_calls: CallLog) -> None:
    # answered by the connection itself, and delayed all the same
    rpcnetd_faults.delay("AUTH_LIST", 0.5)
    start = time.monotonic()
    result = virsh(rpcnetd_uri, "net-list", "--name", check=True)
    assert time.monotonic() - start >= 0.5 and result.stdout.split() == ["default"]
    (auth,) = rpcnetd_calls.named("AUTH_LIST")
    assert auth.duration is not None and auth.duration >= 0.5 and auth.result == ([0],)


# -- the connection closed: after N calls, instead of a reply, mid-reply ----------------


def test_bindings_see_the_connection_close_after_n_calls(
        bindings: Clients, rpcnetd_server: InProcessDaemon, rpcnetd_faults: Faults,
        rpcnetd_calls: CallLog) -> None:
    client = bindings()
    conn = connection_of(rpcnetd_server, client)
    rpcnetd_faults.close_after(2, connection=conn)
    assert client.result("lookup", "default") == "default"
    assert client.result("list") == ["default"]
    assert client.error("lookup", "default") == EOF_ERROR
    assert client.result("alive") == 0
    last = rpcnetd_calls.named(connection=conn)[-1]
    assert (last.procedure, last.answered, last.fault) == (
        "NETWORK_LOOKUP_BY_NAME", None, "connection closed instead of the reply")


def test_virsh_when_the_connection_drops_in_a_call(virsh_bin: str, rpcnetd_uri: str,
                                                   rpcnetd_faults: Faults) -> None:
    rpcnetd_faults.hang_up("CONNECT_LIST_ALL_NETWORKS")
    result = virsh(rpcnetd_uri, "net-list")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].endswith("rpcnet-sock due to end of file")
    assert lines[1:] == ["error: Failed to list networks",
                         "error: End of file while reading data: Input/output error"]


def test_bindings_when_the_reply_is_cut_after_k_bytes(
        bindings: Clients, rpcnetd_faults: Faults, rpcnetd_calls: CallLog) -> None:
    rpcnetd_faults.cut_reply("NETWORK_GET_XML_DESC", 100)
    client = bindings()
    assert client.error("xml", "default") == EOF_ERROR
    assert client.result("alive") == 0
    (call,) = rpcnetd_calls.named("NETWORK_GET_XML_DESC")
    assert call.ok and call.fault == "connection closed after 100 bytes of the reply"


def test_virsh_when_the_reply_is_cut_after_k_bytes(virsh_bin: str, rpcnetd_uri: str,
                                                   rpcnetd_faults: Faults) -> None:
    rpcnetd_faults.cut_reply("NETWORK_GET_XML_DESC", 40)
    result = virsh(rpcnetd_uri, "net-dumpxml", "default")
    assert result.returncode == 1 and result.stdout.strip() == ""
    assert result.stderr.splitlines()[-1] == (
        "error: End of file while reading data: Input/output error")


def test_a_fault_on_one_connection_spares_the_others(
        bindings: Clients, rpcnetd_server: InProcessDaemon, rpcnetd_faults: Faults) -> None:
    first, second = bindings(), bindings()
    rpcnetd_faults.error("NETWORK_LOOKUP_BY_NAME", NO_NETWORK, "only the first",
                         connection=connection_of(rpcnetd_server, first))
    rpcnetd_faults.close_after(0, connection=connection_of(rpcnetd_server, second))
    assert first.error("lookup", "default")[2] == "only the first"
    assert second.error("lookup", "default") == EOF_ERROR
    assert first.result("list") == ["default"] and first.result("alive") == 1


# -- keepalive silence -----------------------------------------------------------------


def test_keepalive_silence_closes_the_bindings_connection(
        bindings: Clients, rpcnetd_server: InProcessDaemon, rpcnetd_faults: Faults) -> None:
    client = bindings(event_loop=True)
    client.result("watch_close")
    assert client.result("keepalive", INTERVAL, COUNT) == 0
    # answered PINGs keep it open longer than interval x (count + 1)
    assert client.result("wait_close", INTERVAL * (COUNT + 1) + 1) is None
    rpcnetd_faults.silence_keepalive(connection=connection_of(rpcnetd_server, client))
    closed = client.result("wait_close", 30)
    assert closed is not None and closed["reason"] == CLOSE_REASON_KEEPALIVE
    # the last PONG came at most one interval before the silence began
    assert INTERVAL * COUNT - TIMER_SLACK <= closed["after"] <= INTERVAL * (COUNT + 1) + TIMER_SLACK


def test_keepalive_silence_disconnects_virsh(virsh_bin: str, rpcnetd_uri: str,
                                             rpcnetd_faults: Faults,
                                             rpcnetd_calls: CallLog) -> None:
    rpcnetd_faults.silence_keepalive()
    result = virsh_lines(rpcnetd_uri, "net-event", "--event", "lifecycle", "--loop",
                         "--timeout", "30", keepalive=(INTERVAL, COUNT))
    ended = time.monotonic()
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].endswith("rpcnet-sock due to keepalive timeout")
    last_reply = rpcnetd_calls[-1]
    assert last_reply.procedure == "CONNECT_NETWORK_EVENT_REGISTER_ANY"
    assert last_reply.answered is not None
    assert ended - last_reply.answered <= INTERVAL * (COUNT + 1) + TIMER_SLACK


# -- the daemon stops reading ------------------------------------------------------------


def test_a_bindings_call_waits_while_the_daemon_stops_reading(
        bindings: Clients, rpcnetd_server: InProcessDaemon, rpcnetd_faults: Faults,
        rpcnetd_calls: CallLog) -> None:
    client = bindings()
    conn = connection_of(rpcnetd_server, client)
    stop = rpcnetd_faults.stop_reading(connection=conn)
    client.send("lookup", "default")
    wait_until(lambda: rpcnetd_server.unread_bytes(conn) > 0)  # the call sits in the socket
    with pytest.raises(TimeoutError):
        client.receive(timeout=0.5)
    assert rpcnetd_calls.named("NETWORK_LOOKUP_BY_NAME") == []
    stop.clear()
    assert client.receive()["result"] == "default"
    assert rpcnetd_server.unread_bytes(conn) == 0
    assert [c.procedure for c in rpcnetd_calls.named("NETWORK_LOOKUP_BY_NAME")] == [
        "NETWORK_LOOKUP_BY_NAME"]


def test_virsh_keepalive_gives_up_on_a_daemon_that_stops_reading(
        virsh_bin: str, rpcnetd_uri: str, rpcnetd_faults: Faults) -> None:
    stop = rpcnetd_faults.stop_reading("CONNECT_LIST_ALL_NETWORKS")
    result = virsh_lines(rpcnetd_uri, "net-list", keepalive=(INTERVAL, COUNT))
    assert result.returncode == 1 and stop.hits == 1
    lines = result.stderr.splitlines()
    assert lines[0].endswith("rpcnet-sock due to keepalive timeout")
    assert lines[1:] == ["error: Failed to list networks",
                         "error: internal error: connection closed due to keepalive timeout"]


# -- events nobody caused, and for a callback already dropped ---------------------------


def test_the_bindings_get_an_unsolicited_event(bindings: Clients,
                                               rpcnetd_server: InProcessDaemon) -> None:
    client = bindings(event_loop=True)
    client.result("register", None, "mine")
    assert rpcnetd_server.send_event("default", STARTED) == 1
    assert client.result("events", 1, 10) == [["mine", "default", STARTED, 0]]


def test_an_event_for_a_dropped_callback_is_ignored_by_the_bindings(
        bindings: Clients, rpcnetd_server: InProcessDaemon, rpcnetd_calls: CallLog) -> None:
    client = bindings(event_loop=True)
    client.result("register", None, "kept")
    client.result("deregister", client.result("register", "default", "dropped"))
    kept, dropped = [r.result[0] for r in
                     rpcnetd_calls.named("CONNECT_NETWORK_EVENT_REGISTER_ANY")]
    (deregistered,) = rpcnetd_calls.named("CONNECT_NETWORK_EVENT_DEREGISTER_ANY")
    assert deregistered.arg("callback_id") == dropped
    rpcnetd_server.send_event("default", STOPPED, callback_id=dropped)
    rpcnetd_server.send_event("default", STARTED, callback_id=kept)
    assert client.result("events", 1, 10) == [["kept", "default", STARTED, 0]]
    assert client.result("alive") == 1 and client.result("list") == ["default"]


def test_virsh_prints_an_unsolicited_event_and_ignores_one_for_no_callback(
        virsh_bin: str, rpcnetd_server: InProcessDaemon, rpcnetd_calls: CallLog) -> None:
    watcher = subprocess.Popen([VIRSH, "-c", rpcnetd_server.uri(), "net-event", "--event",
                                "lifecycle", "--loop", "--timeout", "60"],
                               stdout=subprocess.PIPE, text=True, env={"LC_ALL": "C"})
    assert watcher.stdout is not None
    lines = Lines(watcher.stdout)
    try:
        rpcnetd_calls.wait_for("CONNECT_NETWORK_EVENT_REGISTER_ANY")
        # virsh maps the daemon's callback id once it has the reply, so an
        # event right behind the reply can be lost: repeat until one is printed
        printed = _first_line_while(lambda: rpcnetd_server.send_event("default", STARTED), lines)
        assert printed == "event 'lifecycle' for network default: Started\n"
        assert rpcnetd_server.send_event("default", DEFINED, callback_id=77) == 1
        assert rpcnetd_server.send_event("default", STOPPED) == 1
        rest = []
        while not rest or rest[-1] != "event 'lifecycle' for network default: Stopped\n":
            rest.append(lines.next(30))
    finally:
        watcher.kill()
        watcher.wait()
    assert set(rest[:-1]) <= {printed}  # more Started events while repeating; never Defined


def _first_line_while(send: Callable[[], object], lines: Lines) -> str | None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        send()
        try:
            return lines.next(0.2)
        except TimeoutError:
            continue
    raise AssertionError("virsh printed no event in 30 s")


# -- malformed and oversized frames ------------------------------------------------------

MALFORMED = {
    "truncated payload": (frames.truncated_payload_reply(),
                          [RPC, FROM_RPC, "Unable to decode message payload"], 1),
    "header cut short": (frames.bad_length_reply(),
                         [RPC, FROM_RPC, "Unable to decode message header"], 0),
    "length below 4": (frames.bad_length_reply(2), [
        RPC, FROM_RPC, "packet 2 bytes received from server too small, want 4"], 0),
    "oversized": (frames.oversized_reply(), [
        RPC, FROM_RPC, "packet 33554433 bytes received from server too large, want 33554432"],
        0),
}


@pytest.mark.parametrize("kind", MALFORMED)
def test_bindings_meet_a_malformed_or_oversized_reply(bindings: Clients, rpcnetd_faults: Faults,
                                                      kind: str) -> None:
    frame, error, alive_after = MALFORMED[kind]
    rpcnetd_faults.bad_reply("NETWORK_GET_XML_DESC", frame, times=1)
    client = bindings()
    assert client.error("xml", "default") == error
    assert client.result("alive") == alive_after


def test_bindings_meet_a_reply_to_no_call(bindings: Clients, rpcnetd_faults: Faults,
                                          rpcnetd_calls: CallLog) -> None:
    rpcnetd_faults.bad_reply("NETWORK_GET_XML_DESC", frames.wrong_serial_reply(1000))
    client = bindings()
    code, domain, message = client.error("xml", "default")
    (call,) = rpcnetd_calls.named("NETWORK_GET_XML_DESC")
    assert (code, domain) == (RPC, FROM_RPC)
    assert message == (f"no call waiting for reply with prog 536903814 vers 1 "
                       f"serial {call.serial + 1000}")


def test_an_unsolicited_oversized_frame_closes_the_bindings_connection(
        bindings: Clients, rpcnetd_server: InProcessDaemon) -> None:
    client = bindings(event_loop=True)
    client.result("watch_close")
    assert rpcnetd_server.send_frame(frames.oversized_frame(),
                                     connection=connection_of(rpcnetd_server, client)) == 1
    closed = client.result("wait_close", 10)
    assert closed is not None and closed["reason"] == CLOSE_REASON_ERROR


@pytest.mark.parametrize(("procedure", "command", "frame", "last_line"), [
    ("CONNECT_LIST_ALL_NETWORKS", ["net-list"], frames.oversized_reply(),
     "error: packet 33554433 bytes received from server too large, want 33554432"),
    ("NETWORK_GET_XML_DESC", ["net-dumpxml", "default"], frames.truncated_payload_reply(),
     "error: Unable to decode message payload"),
], ids=["oversized", "truncated payload"])
def test_virsh_meets_a_malformed_or_oversized_reply(
        virsh_bin: str, rpcnetd_uri: str, rpcnetd_faults: Faults, procedure: str,
        command: list[str], frame: RawReply, last_line: str) -> None:
    rpcnetd_faults.bad_reply(procedure, frame)
    result = virsh(rpcnetd_uri, *command)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == last_line
