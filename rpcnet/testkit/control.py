"""Faults on command: the test's side of an in-process daemon's fault plan.

Every method may be called from any thread (the test's, or a loop of the
test's own); it builds a :class:`~rpcnet.testkit.faults.Fault`, hands it to
the daemon's loop and returns once the daemon acts on it, so the next call
a client makes already meets it. There is no socket: only code in the
process that started the daemon can reach this object.

Scope, for every method: ``connection`` (the kit's number of one client
connection, see ``InProcessDaemon.connections`` and ``CallRecord.connection``;
None: every connection, also those made later), ``after`` (that many of
each connection's selected calls pass first) and ``times`` (how many calls
it acts on in all; None: until cleared). ``procedures`` takes names
(``"NETWORK_CREATE"``) or numbers, one or several; None selects every call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict, Unpack

from rpcnet.errors import ErrorDomain, ErrorLevel, VirError
from rpcnet.testkit.faults import (
    Action,
    CutReply,
    Delay,
    ErrorReply,
    Fault,
    FaultPlan,
    HangUp,
    KeepaliveSilence,
    Procedures,
    RawReply,
    StopReading,
    procedure_numbers,
)
from rpcnet.testkit.loop import LoopThread


class Scope(TypedDict, total=False):
    connection: int | None
    after: int
    times: int | None


class Faults:
    """Install and clear the faults of one in-process daemon."""

    def __init__(self, plan: FaultPlan, loop: LoopThread, changed: Callable[[], None]) -> None:
        self._plan = plan
        self._loop = loop
        #: tells the daemon's connections (on its loop) that the plan changed
        self._changed = changed

    def add(self, action: Action, procedures: Procedures = None, **scope: Unpack[Scope]) -> Fault:
        """Install ``action`` for the calls (or connections) selected."""
        fault = Fault(action, procedure_numbers(procedures), **scope)
        fault._remove = self._remove
        self._loop.call(self._install, fault)
        return fault

    # -- one method per kind of fault ------------------------------------------

    def delay(self, procedures: Procedures, seconds: float, **scope: Unpack[Scope]) -> Fault:
        """Answer the selected calls ``seconds`` late."""
        return self.add(Delay(seconds), procedures, **scope)

    def error(self, procedures: Procedures, code: int, message: str, *,
              domain: int = ErrorDomain.NONE, level: int = ErrorLevel.ERROR,
              **scope: Unpack[Scope]) -> Fault:
        """Answer the selected calls with libvirt error ``code`` of ``domain``
        and ``message`` (sent verbatim; virsh prints ``error: <message>``)
        instead of running them."""
        return self.add(ErrorReply(VirError(code, domain, message, level=level, str1=message)),
                        procedures, **scope)

    def hang_up(self, procedures: Procedures = None, **scope: Unpack[Scope]) -> Fault:
        """Close the connection when a selected call comes, instead of answering it."""
        return self.add(HangUp(), procedures, **scope)

    def close_after(self, calls: int, *, connection: int | None = None,
                    times: int | None = None) -> Fault:
        """Answer ``calls`` calls of each connection, then close it when the
        next one comes (that call gets no reply)."""
        return self.add(HangUp(), None, connection=connection, after=calls, times=times)

    def cut_reply(self, procedures: Procedures, after_bytes: int,
                  **scope: Unpack[Scope]) -> Fault:
        """Send only the first ``after_bytes`` bytes of the reply, then close
        (a truncated frame, the connection dropped mid-reply)."""
        return self.add(CutReply(after_bytes), procedures, **scope)

    def bad_reply(self, procedures: Procedures, frame: RawReply,
                  **scope: Unpack[Scope]) -> Fault:
        """Send a malformed or oversized frame in place of the reply
        (``frame`` from :mod:`rpcnet.testkit.frames`)."""
        return self.add(frame, procedures, **scope)

    def silence_keepalive(self, *, connection: int | None = None) -> Fault:
        """Neither answer PINGs nor send any, until cleared."""
        return self.add(KeepaliveSilence(), None, connection=connection)

    def stop_reading(self, procedures: Procedures = None, **scope: Unpack[Scope]) -> Fault:
        """Stop reading from the connection, until cleared. With ``procedures``
        or ``after``, from the call that triggers it, which is held unanswered
        until then; else at once (for new connections: as they connect)."""
        return self.add(StopReading(), procedures, **scope)

    # -- the plan --------------------------------------------------------------

    def active(self) -> list[Fault]:
        """The faults installed and not cleared or used up."""
        return self._loop.call(lambda: list(self._plan.faults))

    def clear(self) -> None:
        """Remove every fault: the daemon behaves normally again."""
        self._loop.call(self._clear_all)

    def _install(self, fault: Fault) -> None:
        self._plan.install(fault)
        self._changed()

    def _remove(self, fault: Fault) -> None:
        self._loop.call(self._uninstall, fault)

    def _uninstall(self, fault: Fault) -> None:
        self._plan.remove(fault)
        self._changed()

    def _clear_all(self) -> None:
        self._plan.clear()
        self._changed()
