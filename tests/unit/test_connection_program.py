"""A second program over the same connection classes: the tiny ADMIN table
(tests/unit/tiny_admin.py) served and called with no change to the
connection, and its rules kept apart from REMOTE's."""

from __future__ import annotations

from rpcnet.protocol import keepalive, remote
from rpcnet.protocol.connection import CLOSED_BY_CLIENT
from rpcnet.protocol.wiretypes import decode_error
from tests.unit.pair import Link, answers_to, error_of, frames_of, raw_call
from tests.unit.tiny_admin import ADMIN, DOMAIN_ADMIN, PROGRAM

LIB_VERSION = 9_000_000


def admin_link() -> Link:
    return Link(ADMIN, handlers={1: lambda flags: None, 2: lambda: None,
                                 3: lambda: (LIB_VERSION,)})


def test_open_call_and_close() -> None:
    link = admin_link()
    assert error_of(link.call(3)) == (1, 7, "internal error: connection not open")
    assert link.call(1, (0,)).error is None
    assert link.server.opened and link.client.opened
    assert link.call(1, (0,)).error is None  # a second open is ADMIN's to answer
    assert link.call(3).result == (LIB_VERSION,)
    assert link.call(2).error is None
    assert link.server.closed is CLOSED_BY_CLIENT


def test_the_programs_own_names_and_domain_answer_what_it_does_not_serve() -> None:
    link = admin_link()
    link.call(1, (0,))
    assert answers_to(link, raw_call(4, prog=PROGRAM) + raw_call(99, prog=PROGRAM, serial=10)) == [
        (9, 4, 1, "this function is not supported by the connection driver: "
                  "virAdmConnectListServers"),
        (10, 99, 1, "unknown procedure: 99")]
    link.server.receive_data(raw_call(4, prog=PROGRAM), 0)
    assert link.server.next_event() is None
    (message,) = frames_of(link.server.data_to_send())
    assert decode_error(message.payload).domain == DOMAIN_ADMIN


def test_remote_calls_are_another_program_here() -> None:
    link = admin_link()
    assert answers_to(link, raw_call(remote.Proc.AUTH_LIST)) == [
        (9, 66, 1, "Cannot find program 536903814 version 1")]


def test_no_auth_list_or_features_and_keepalive_still_answered() -> None:
    link = admin_link()
    # ADMIN has no authentication list nor feature procedure: its numbers mean other things
    assert ADMIN.auth_list is None and ADMIN.supports_feature is None
    link.server.receive_data(keepalive.PING_FRAME, 0)
    assert link.server.next_event() is None
    assert link.server.data_to_send() == keepalive.PONG_FRAME
    assert not link.server.keepalive_active
