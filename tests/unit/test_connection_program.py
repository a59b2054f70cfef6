"""A second program over the same connection classes: libvirt's ADMIN
program (rpcnet/protocol/admin.py) served and called with no change to the
connection, and its rules kept apart from REMOTE's. The answers checked here
are libvirtd 9.0's on its admin socket."""

from __future__ import annotations

from rpcnet.errors import ErrorDomain
from rpcnet.protocol import keepalive, remote
from rpcnet.protocol.admin import ADMIN, PROGRAM, Proc, ServerRef
from rpcnet.protocol.connection import CLOSED_BY_CLIENT
from rpcnet.protocol.wiretypes import decode_error
from tests.unit.pair import Link, answers_to, frames_of, raw_call

LIB_VERSION = 9_000_000


def admin_link() -> Link:
    return Link(ADMIN, handlers={
        Proc.CONNECT_OPEN: lambda flags: None, Proc.CONNECT_CLOSE: lambda: None,
        Proc.CONNECT_GET_LIB_VERSION: lambda: (LIB_VERSION,),
        Proc.CONNECT_LIST_SERVERS: lambda need, flags: ([ServerRef("admin")], 1)})


def test_nothing_needs_an_open_first_and_open_may_come_again() -> None:
    link = admin_link()
    # libvirtd's admin handlers reach the daemon through the client itself
    assert link.call(Proc.CONNECT_GET_LIB_VERSION).result == (LIB_VERSION,)
    assert link.call(Proc.CONNECT_LIST_SERVERS, (1, 0)).result == ([ServerRef("admin")], 1)
    assert link.call(Proc.CONNECT_OPEN, (0,)).error is None
    assert link.server.opened and link.client.opened
    assert link.call(Proc.CONNECT_OPEN, (0,)).error is None  # a second open is ADMIN's to answer
    assert link.call(Proc.CONNECT_CLOSE).error is None
    assert link.server.closed is CLOSED_BY_CLIENT


def test_unknown_procedures_and_payloads_get_libvirtds_answers() -> None:
    link = admin_link()
    assert answers_to(link, raw_call(99, prog=PROGRAM) + raw_call(0, prog=PROGRAM, serial=10)
                      + raw_call(Proc.CONNECT_LIST_SERVERS, b"\0\0\0", prog=PROGRAM,
                                 serial=11)) == [
        (9, 99, 1, "unknown procedure: 99"), (10, 0, 1, "unknown procedure: 0"),
        (11, 4, 1, "Unable to decode message payload")]
    link.server.receive_data(raw_call(99, prog=PROGRAM), 0)
    assert link.server.next_event() is None
    (message,) = frames_of(link.server.data_to_send())
    assert decode_error(message.payload).domain == ErrorDomain.RPC


def test_remote_calls_are_another_program_here() -> None:
    link = admin_link()
    assert answers_to(link, raw_call(remote.Proc.AUTH_LIST)) == [
        (9, 66, 1, "Cannot find program 536903814 version 1")]
    assert answers_to(link, raw_call(3, prog=PROGRAM, vers=2)) == [
        (9, 3, 1, "Cannot find program 110102160 version 2")]


def test_no_auth_list_or_features_and_keepalive_still_answered() -> None:
    link = admin_link()
    # ADMIN has no authentication list nor feature procedure: its numbers mean other things
    assert ADMIN.auth_list is None and ADMIN.supports_feature is None
    link.server.receive_data(keepalive.PING_FRAME, 0)
    assert link.server.next_event() is None
    assert link.server.data_to_send() == keepalive.PONG_FRAME
    assert not link.server.keepalive_active


def test_the_admin_errors_carry_the_admin_domain() -> None:
    assert ADMIN.api_error_domain("CONNECT_OPEN") == ErrorDomain.ADMIN
    assert ADMIN.api_name("SERVER_UPDATE_TLS_FILES") == "virAdmServerUpdateTlsFiles"
    assert ADMIN.api_name("SERVER_GET_THREADPOOL_PARAMETERS") == (
        "virAdmServerGetThreadPoolParameters")
