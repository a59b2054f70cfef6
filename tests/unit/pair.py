"""A client and a server sans-IO connection wired together: no sockets, a fake clock.

``Link`` moves the bytes each side queued to the other when asked, so a test
decides exactly what arrives when (and can hold bytes back, as a silent or
vanished peer would).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.protocol import remote
from rpcnet.protocol.connection import (
    Call,
    ClientConnection,
    Notification,
    Reply,
    ServerConnection,
)
from rpcnet.protocol.message import Framer, Header, Message, MessageType, Status, encode_frame
from rpcnet.protocol.program import Program
from rpcnet.protocol.values import NetworkRef
from rpcnet.protocol.wiretypes import decode_error

DEFAULT = NetworkRef("default", bytes(range(16)))

#: procedure number (a companion program's: (program, procedure)) -> what the
#: server application answers (or raises) for its args
Handlers = dict[int | tuple[int, int], Callable[..., Any]]


def remote_handlers() -> Handlers:
    """A tiny REMOTE server application: open, close, a lookup and is-active."""

    def lookup(name: str) -> Any:
        if name != DEFAULT.name:
            raise VirError.make(ErrorCode.NO_NETWORK, ErrorDomain.NETWORK,
                                f"no network with matching name '{name}'")
        return (DEFAULT,)

    return {
        remote.Proc.CONNECT_OPEN: lambda name, flags: None,
        remote.Proc.CONNECT_CLOSE: lambda: None,
        46: lookup,
        152: lambda net: (True,),
        42: lambda net: None,
    }


class Link:
    """The two ends and the time; nothing moves until the test says so."""

    def __init__(self, program: Program = remote.REMOTE, *, handlers: Handlers | None = None,
                 readonly: bool = False, keepalive: tuple[float, int] = (5.0, 5),
                 max_message: int | None = None, companions: tuple[Program, ...] = ()) -> None:
        limits = {} if max_message is None else {"max_message": max_message}
        self.client: ClientConnection[str] = ClientConnection(program, **limits)
        self.server = ServerConnection(program, readonly=readonly,
                                       keepalive_interval=keepalive[0],
                                       keepalive_count=keepalive[1], companions=companions,
                                       **limits)
        self.handlers = remote_handlers() if handlers is None else handlers
        self.now = 0.0
        #: every call the server application was handed
        self.calls: list[Call] = []

    # -- moving bytes -----------------------------------------------------

    def to_server(self) -> bytes:
        data = self.client.data_to_send()
        if data:
            self.server.receive_data(data, self.now)
        return data

    def to_client(self) -> bytes:
        data = self.server.data_to_send()
        if data:
            self.client.receive_data(data, self.now)
        return data

    # -- the applications -------------------------------------------------

    def serve(self) -> list[Call]:
        """Hand every call the server has to the handlers; returns the calls."""
        calls = []
        while (call := self.server.next_event()) is not None:
            calls.append(call)
            self.calls.append(call)
            self.answer(call)
        return calls

    def answer(self, call: Call) -> None:
        key = call.header.proc if call.header.prog == self.server.program.number \
            else (call.header.prog, call.header.proc)
        try:
            result = self.handlers[key](*call.args)
        except VirError as err:
            self.server.reply_error(call, err)
        else:
            self.server.reply(call, result)

    def client_events(self) -> list[Reply[str] | Notification]:
        events = []
        while (event := self.client.next_event()) is not None:
            events.append(event)
        return events

    def call(self, number: int, args: tuple[Any, ...] = (), token: str = "t",
             program: Program | None = None) -> Reply[str]:
        """One whole round trip (of a companion ``program``'s procedure if
        given); the reply the client gets."""
        self.client.send_call(number, args, token, program)
        self.to_server()
        self.serve()
        self.to_client()
        (reply,) = self.client_events()
        assert isinstance(reply, Reply)
        return reply

    def open(self, name: str = "test:///default", flags: int = 0) -> None:
        """libvirt 9.0's handshake: auth list, keepalive feature, open, features."""
        assert self.call(66).result == ([0],)
        assert self.call(60, (10,)).result == (1,)
        assert self.call(1, (name, flags)).error is None
        assert self.call(60, (14,)).result == (1,)
        assert self.call(60, (15,)).result == (1,)

    # -- time -------------------------------------------------------------

    def advance_to(self, when: float) -> None:
        """Let the time pass, firing both ends' timers as they fall due."""
        while True:
            due = [t for t in (self.client.get_timer(), self.server.get_timer())
                   if t is not None and t <= when]
            if not due:
                break
            self.now = max(self.now, min(due))
            for end in (self.client, self.server):
                timer = end.get_timer()
                if timer is not None and timer <= self.now:
                    end.handle_timer(self.now)
        self.now = when


def frames_of(data: bytes) -> list[Message]:
    """The frames in a byte string."""
    framer = Framer()
    framer.feed(data)
    messages = []
    while (message := framer.next_message()) is not None:
        messages.append(message)
    return messages


def error_of(reply: Reply[str]) -> tuple[int, int, str]:
    assert reply.error is not None, reply
    return reply.error.code, reply.error.domain, reply.error.message


def raw_call(proc: int, payload: bytes = b"", *, serial: int = 9, prog: int = remote.PROGRAM,
             vers: int = 1, mtype: int = MessageType.CALL, status: int = Status.OK) -> bytes:
    return encode_frame(Header(prog, vers, proc, mtype, serial, status), payload)


def answers_to(link: Link, data: bytes) -> list[tuple[int, int, int, str | None]]:
    """Feed raw bytes to the server; its replies as (serial, proc, status, error message)."""
    link.server.receive_data(data, link.now)
    link.serve()
    out = []
    for message in frames_of(link.server.data_to_send()):
        header = message.header
        text = decode_error(message.payload).message if header.status == Status.ERROR else None
        out.append((header.serial, header.proc, header.status, text))
    return out
