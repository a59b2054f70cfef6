"""The call-observer seam: every answered call is heard once, whoever answered it."""

from __future__ import annotations

from typing import Any

from rpcnet.errors import ErrorCode, VirError
from rpcnet.protocol.message import Header, MessageType, Status, encode_frame
from rpcnet.protocol.program import Procedure
from rpcnet.server.observers import FanOut

from .pair import Link


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[int, int, str | None, Any, int | None, float]] = []

    def call_answered(self, header: Header, procedure: Procedure | None,
                      args: tuple[Any, ...] | None, received: float,
                      result: Any, error: VirError | None) -> None:
        self.seen.append((header.serial, header.proc,
                          procedure.name if procedure else None, result if error is None else args,
                          error.code if error else None, received))


def _link() -> tuple[Link, Recorder]:
    link = Link()
    recorder = Recorder()
    link.server.observer = recorder
    return link, recorder


def test_handshake_application_calls_and_errors_are_each_heard_once() -> None:
    link, rec = _link()
    link.now = 7.0
    link.open()
    link.call(46, ("default",))
    link.call(46, ("nosuch",))
    procs = [(p, code) for _s, _n, p, _r, code, _t in rec.seen]
    assert procs == [("AUTH_LIST", None), ("CONNECT_SUPPORTS_FEATURE", None),
                     ("CONNECT_OPEN", None), ("CONNECT_SUPPORTS_FEATURE", None),
                     ("CONNECT_SUPPORTS_FEATURE", None), ("NETWORK_LOOKUP_BY_NAME", None),
                     ("NETWORK_LOOKUP_BY_NAME", ErrorCode.NO_NETWORK)]
    assert [s for s, *_ in rec.seen] == list(range(7))
    assert rec.seen[-1][3] == ("nosuch",)  # the arguments of the failed call
    assert {t for *_, t in rec.seen} == {7.0}


def test_calls_refused_by_the_connection_are_heard() -> None:
    link, rec = _link()
    link.call(46, ("default",))  # before open
    header = Header(0x20008086, 1, 9999, MessageType.CALL, 5, Status.OK)
    link.server.receive_data(encode_frame(header, b""), link.now)
    assert link.server.next_event() is None
    assert [(p, n, code) for _s, n, p, _r, code, _t in rec.seen] == [
        ("NETWORK_LOOKUP_BY_NAME", 46, ErrorCode.INTERNAL_ERROR), (None, 9999, ErrorCode.RPC)]


def test_no_observer_hears_nothing_and_a_fan_out_tells_each() -> None:
    link = Link()
    link.open()
    first, second = Recorder(), Recorder()
    link.server.observer = FanOut([first, second])
    link.call(46, ("default",))
    assert len(first.seen) == len(second.seen) == 1
