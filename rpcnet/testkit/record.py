"""The record of every call the test kit's daemon received.

It is written through the daemon's call-observer seam
(``Server.call_observers``): each session gets a :class:`_Recorder`, which
hears of every call the moment it is answered, whoever answered it. A call
the kit hung up on instead of answering is added by the session itself.
The log is appended to on the daemon's loop and read from any thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rpcnet.errors import VirError
from rpcnet.protocol import remote
from rpcnet.protocol.connection import Call, CallObserver
from rpcnet.protocol.message import Header
from rpcnet.protocol.program import Procedure

if TYPE_CHECKING:
    from rpcnet.server.rpcprotocol import RpcProtocol
    from rpcnet.testkit.session import FaultSession


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call as the daemon received and answered it.

    ``args`` are the decoded arguments in wire order (None if they did not
    decode, or the procedure is unknown); ``result`` the decoded return
    struct of a successful call, ``error`` the error it was answered with.
    Times are the daemon loop's clock (``time.monotonic``); ``answered`` is
    None for a call that got no reply (the kit hung up instead)."""

    #: the kit's number for the client connection (``InProcessDaemon.connections``)
    connection: int
    serial: int
    program: int
    version: int
    number: int
    #: libvirt's name of the procedure (``NETWORK_PORT_CREATE_XML``), None if unknown
    procedure: str | None
    args: tuple[Any, ...] | None
    result: Any
    error: VirError | None
    received: float
    answered: float | None
    #: what the kit did to the call, if a fault acted on it
    fault: str | None = None

    @property
    def ok(self) -> bool:
        """Answered, and not with an error."""
        return self.answered is not None and self.error is None

    @property
    def duration(self) -> float | None:
        """Seconds from arrival to answer (None: never answered)."""
        return None if self.answered is None else self.answered - self.received

    @property
    def arguments(self) -> dict[str, Any]:
        """The arguments by their names in libvirt's XDR (``{"net": ..., "flags": 1}``)."""
        proc = remote.BY_NUMBER.get(self.number)
        if proc is None or self.args is None:
            return {}
        return {name: value for (name, _type), value in zip(proc.args.fields, self.args,
                                                               strict=False)}

    def arg(self, name: str) -> Any:
        """One argument by name; raises KeyError if the procedure has none so called."""
        arguments = self.arguments
        if name not in arguments:
            raise KeyError(f"{self.procedure} has no argument {name!r} "
                           f"(it has {', '.join(arguments) or 'none'})")
        return arguments[name]


class CallLog:
    """Every call one daemon received, in the order they came in."""

    def __init__(self) -> None:
        self._records: list[CallRecord] = []
        self._changed = threading.Condition()
        #: add to a record's times to get the wall clock (``time.time``)
        self.wall_offset = time.time() - time.monotonic()

    # -- reading (any thread) ------------------------------------------------

    def snapshot(self) -> list[CallRecord]:
        with self._changed:
            records = list(self._records)
        records.sort(key=lambda r: r.received)  # stable: one chunk's calls keep their order
        return records

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._changed:
            return len(self._records)

    def __getitem__(self, index: int) -> CallRecord:
        return self.snapshot()[index]

    def named(self, *procedures: str, connection: int | None = None) -> list[CallRecord]:
        """The calls of these procedures (all calls if none given), optionally of one
        connection."""
        wanted = {p.upper().removeprefix("REMOTE_PROC_") for p in procedures}
        return [r for r in self.snapshot()
                if (not wanted or r.procedure in wanted)
                and (connection is None or r.connection == connection)]

    def names(self, connection: int | None = None) -> list[str]:
        """The procedure names called, in order (``"#<number>"`` for unknown ones)."""
        return [r.procedure or f"#{r.number}" for r in self.named(connection=connection)]

    def wait_for(self, procedure: str | None = None, *, count: int = 1,
                 connection: int | None = None, timeout: float = 10.0) -> CallRecord:
        """Block until the ``count``-th call of ``procedure`` (any, if None) is in
        the log and return it; raises TimeoutError."""
        names = () if procedure is None else (procedure,)
        with self._changed:
            found = self._changed.wait_for(
                lambda: len(self.named(*names, connection=connection)) >= count, timeout)
        if not found:
            raise TimeoutError(f"{count} call(s) of {procedure or 'any procedure'} not seen "
                               f"in {timeout} s; calls so far: {self.names()}")
        return self.named(*names, connection=connection)[count - 1]

    def clear(self) -> None:
        with self._changed:
            self._records.clear()

    # -- writing (the daemon's loop) ----------------------------------------------

    def add(self, record: CallRecord) -> None:
        with self._changed:
            self._records.append(record)
            self._changed.notify_all()

    def observer_for(self, client: RpcProtocol) -> CallObserver:
        """The call-observer factory (``Server.call_observers``) of the kit's daemon."""
        from rpcnet.testkit.session import FaultSession

        assert isinstance(client, FaultSession)
        return _Recorder(self, client)

    def unanswered(self, session: FaultSession, call: Call, fault: str) -> None:
        """``call`` got no reply: the kit closed the connection instead."""
        header = call.header
        self.add(CallRecord(session.id, header[4], header[0], header[1], header[2],
                            call.procedure.name, call.args, None, None, call.received, None,
                            fault))


class _Recorder:
    """Observes one session's calls for the log."""

    __slots__ = ("log", "session")

    def __init__(self, log: CallLog, session: FaultSession) -> None:
        self.log = log
        self.session = session

    def call_answered(self, header: Header, procedure: Procedure | None,
                      args: tuple[Any, ...] | None, received: float,
                      result: Any, error: VirError | None) -> None:
        session = self.session
        name = procedure.name if procedure is not None else (
            remote.ALL_NAMES.get(header[2]) if header[0] == remote.PROGRAM else None)
        self.log.add(CallRecord(session.id, header[4], header[0], header[1], header[2], name,
                                args, result if error is None else None, error, received,
                                session.now(), session.notes.pop(header[4], None)))
