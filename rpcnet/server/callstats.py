"""Calls by procedure and outcome, and how long they took: the call
observer (``server/observers.py``) behind the metrics endpoint.

One :class:`CallStats` serves every connection of the daemon (its labels are
per procedure, never per client). It is on the per-call path, so it only
bumps integers: a dict look-up by the procedure object, an ``ok`` count or
an error count by code, and a latency bucket found by bisection. Cumulative
buckets and label strings are made at scrape time, from a :meth:`snapshot`.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rpcnet.errors import VirError
from rpcnet.protocol.message import Header
from rpcnet.protocol.program import Procedure, Program
from rpcnet.protocol.remote import REMOTE
from rpcnet.protocol.rpcnet_program import RPCNET

#: upper bounds of the latency buckets, in seconds (a call of the in-memory
#: driver takes tens of microseconds; a network start on the host, 100s of ms)
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
           0.5, 1.0, 2.5, 5.0, 10.0)
_FIRST_BOUND = BUCKETS[0]
UNKNOWN = "unknown"
#: the programs a daemon's session serves (``session.py``), by the name their
#: calls are labelled with
SESSION_PROGRAMS: Mapping[str, Program] = {"remote": REMOTE, "rpcnet": RPCNET}


@dataclass(slots=True)
class ProcedureCalls:
    """The calls of one procedure."""

    program: str
    procedure: str
    ok: int = 0
    #: error replies by libvirt error code
    errors: dict[int, int] = field(default_factory=dict)
    #: calls per latency bucket (the last: above every bound)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    seconds: float = 0.0

    def copy(self) -> ProcedureCalls:
        return ProcedureCalls(self.program, self.procedure, self.ok, dict(self.errors),
                              list(self.buckets), self.seconds)


class CallStats:
    """A :class:`~rpcnet.protocol.connection.CallObserver` that counts.

    ``programs`` are the programs it may hear of, by the name their calls
    are labelled with (``{"remote": REMOTE}``); ``clock`` must be the one the daemon's
    connections get as ``now`` when data arrives (``time.monotonic``, not the
    event loop's clock: see ``RpcProtocol.data_received``).
    """

    __slots__ = ("_by_procedure", "_clock", "_program_names", "_unknown")

    def __init__(self, programs: Mapping[str, Program],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._program_names = {program.number: name for name, program in programs.items()}
        # by id(): a Procedure's own hash would hash every field, per call;
        # the tables' procedures live as long as the program
        self._by_procedure: dict[int, ProcedureCalls] = {}
        for name, program in programs.items():
            for proc in program.procedures.values():
                self._by_procedure[id(proc)] = ProcedureCalls(name, proc.name)
        #: calls of unknown procedures (or programs), by program name
        self._unknown: dict[str, ProcedureCalls] = {}

    def call_answered(self, header: Header, procedure: Procedure | None,
                      args: tuple[Any, ...] | None, received: float,
                      result: Any, error: VirError | None) -> None:
        elapsed = self._clock() - received
        calls = self._by_procedure.get(id(procedure))
        if calls is None:
            calls = self._other(header)
        if error is None:
            calls.ok += 1
        else:
            errors = calls.errors
            errors[error.code] = errors.get(error.code, 0) + 1
        # most calls are quick: their bucket without a bisection
        calls.buckets[0 if elapsed <= _FIRST_BOUND else bisect_left(BUCKETS, elapsed)] += 1
        calls.seconds += elapsed

    def _other(self, header: Header) -> ProcedureCalls:
        program = self._program_names.get(header[0], UNKNOWN)
        calls = self._unknown.get(program)
        if calls is None:
            calls = self._unknown[program] = ProcedureCalls(program, UNKNOWN)
        return calls

    def snapshot(self) -> list[ProcedureCalls]:
        """Copies of the procedures called at least once."""
        every = [*self._by_procedure.values(), *self._unknown.values()]
        return [calls.copy() for calls in every if calls.ok or calls.errors]
