"""Faults the test kit's daemon injects: what, to which calls, how often (data; no I/O).

A :class:`Fault` is an action with a selector. Call faults act on the calls
they select: the procedures (None: every procedure), the connection (None:
every connection), ``after`` (that many selected calls of each connection
pass untouched first) and ``times`` (how many calls it acts on in all, None:
until cleared). Connection faults (:class:`KeepaliveSilence`, and
:class:`StopReading` with no procedure and no ``after``) hold from the moment
they are installed, for the connections they select, until cleared.

For each call the :class:`FaultPlan` returns the faults that act on it, in
the order they were installed: every :class:`Delay` that matches (their
seconds add up), then the first fault that decides the answer; a later
deciding fault still counts the call towards its ``after`` but does not act.
The plan lives on the daemon's event loop; only ``hits`` is read elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rpcnet.errors import VirError
from rpcnet.protocol import remote


@dataclass(frozen=True, slots=True)
class Delay:
    """Answer the call ``seconds`` later (then as usual, or as another fault says)."""

    seconds: float

    def describe(self) -> str:
        return f"delayed {self.seconds:g} s"


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """Answer the call with ``error`` instead of running it."""

    error: VirError

    def describe(self) -> str:
        return f"answered with error {self.error.code}: {self.error.message}"


@dataclass(frozen=True, slots=True)
class HangUp:
    """Close the connection instead of answering the call."""

    def describe(self) -> str:
        return "connection closed instead of the reply"


@dataclass(frozen=True, slots=True)
class CutReply:
    """Send the first ``after_bytes`` bytes of the call's reply frame, then close."""

    after_bytes: int

    def describe(self) -> str:
        return f"connection closed after {self.after_bytes} bytes of the reply"


#: the genuine reply frame (length word, header, payload) -> what is sent instead
FrameMaker = Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class RawReply:
    """Send ``make(reply frame)`` in place of the call's reply (malformed,
    oversized: see :mod:`rpcnet.testkit.frames`)."""

    make: FrameMaker
    name: str

    def describe(self) -> str:
        return f"reply replaced by {self.name}"


@dataclass(frozen=True, slots=True)
class StopReading:
    """Stop reading the connection (the kernel's buffers fill, the client's
    writes block). Triggered by a call, that call is held unanswered; either
    way reading and the held call resume when the fault is cleared."""

    def describe(self) -> str:
        return "daemon stopped reading"


@dataclass(frozen=True, slots=True)
class KeepaliveSilence:
    """Neither answer the client's PINGs nor send PINGs of our own."""

    def describe(self) -> str:
        return "keepalive silent"


Action = Delay | ErrorReply | HangUp | CutReply | RawReply | StopReading | KeepaliveSilence
#: which calls a fault selects: procedure names or numbers, one or several; None: every call
Procedures = str | int | Iterable[str | int] | None


@dataclass(eq=False)
class Fault:
    """One installed fault; ``hits`` counts the calls it acted on."""

    action: Action
    procedures: frozenset[int] | None = None
    connection: int | None = None
    after: int = 0
    times: int | None = None
    hits: int = 0
    cleared: bool = False
    _seen: dict[int, int] = field(default_factory=dict, repr=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)
    #: set by whoever installed it: removes it from its plan (thread-safe)
    _remove: Callable[[Fault], None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.after < 0 or (self.times is not None and self.times < 1):
            raise ValueError("after must be >= 0 and times >= 1 (or None: until cleared)")
        if isinstance(self.action, KeepaliveSilence) and (self.procedures or self.after):
            raise ValueError("keepalive silence holds for whole connections")

    @property
    def holds_connections(self) -> bool:
        """Does it hold for whole connections, rather than act on calls?"""
        return isinstance(self.action, KeepaliveSilence) or (
            isinstance(self.action, StopReading) and self.procedures is None
            and self.after == 0)

    def selects(self, connection: int) -> bool:
        return not self.cleared and (self.connection is None or self.connection == connection)

    def describe(self) -> str:
        return self.action.describe()

    def clear(self) -> None:
        """Remove this fault from its daemon (no more calls are acted on;
        a connection fault ends; a held call is answered)."""
        if self._remove is not None:
            self._remove(self)
        else:
            self.cleared = True

    def wait(self, hits: int = 1, timeout: float = 10.0) -> None:
        """Block until the fault acted on ``hits`` calls; raises TimeoutError."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.hits >= hits, timeout):
                raise TimeoutError(f"{self.describe()}: {self.hits} of {hits} hits "
                                   f"after {timeout} s")

    def _hit(self) -> None:
        with self._changed:
            self.hits += 1
            self._changed.notify_all()


class FaultPlan:
    """The faults installed on one daemon, consulted by its sessions (on its loop)."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def install(self, fault: Fault) -> None:
        self.faults.append(fault)

    def remove(self, fault: Fault) -> None:
        fault.cleared = True
        if fault in self.faults:
            self.faults.remove(fault)

    def clear(self) -> None:
        for fault in list(self.faults):
            self.remove(fault)

    def for_call(self, connection: int, procedure: int) -> list[Fault]:
        """The faults that act on this call (delays first, at most one other)."""
        if not self.faults:
            return []
        acting: list[Fault] = []
        decided = False
        for fault in list(self.faults):
            if fault.holds_connections or not fault.selects(connection):
                continue
            if fault.procedures is not None and procedure not in fault.procedures:
                continue
            seen = fault._seen[connection] = fault._seen.get(connection, 0) + 1
            deciding = not isinstance(fault.action, Delay)
            if seen <= fault.after or (deciding and decided):
                continue
            decided = decided or deciding
            fault._hit()
            if fault.times is not None and fault.hits >= fault.times:
                self.faults.remove(fault)  # used up; not cleared: a held call stays held
            acting.append(fault)
        acting.sort(key=lambda f: not isinstance(f.action, Delay))
        return acting

    def holds(self, connection: int, kind: type[KeepaliveSilence | StopReading]) -> bool:
        """Is a connection fault of ``kind`` on for ``connection``?"""
        return any(f.holds_connections and isinstance(f.action, kind) and f.selects(connection)
                   for f in self.faults)


def procedure_numbers(procedures: Procedures) -> frozenset[int] | None:
    """Procedure names (``NETWORK_CREATE``, ``REMOTE_PROC_NETWORK_CREATE``) or
    numbers as a set of numbers; None stays None (every procedure). Raises
    ValueError for a name libvirt 9.0's REMOTE program does not have."""
    if procedures is None:
        return None
    if isinstance(procedures, str | int):
        procedures = [procedures]
    numbers = set()
    for item in procedures:
        if isinstance(item, int):
            numbers.add(item)
            continue
        name = item.upper().removeprefix("REMOTE_PROC_")
        number = _BY_NAME.get(name)
        if number is None:
            raise ValueError(f"no procedure {item!r} in libvirt's REMOTE program")
        numbers.add(number)
    return frozenset(numbers)


_BY_NAME = {name: number for number, name in remote.ALL_NAMES.items()}
