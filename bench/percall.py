"""The Python path of one call, in process: ``python -m bench.percall``.

No sockets and no second process, so the figures move little on a busy
machine (unlike ``python -m bench``): the daemon's side is a ``Session``
over a fake transport, fed one call per chunk as a closed-loop client sends
them (framing, the sans-IO connection, the driver, the reply); the client's
side is a ``Connection`` over a fake byte stream answered with a
precomputed reply (encode, future, frame, decode). Each figure is the best
of ``--rounds`` rounds of ``--calls`` calls, in microseconds per call.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rpcnet.cli import run_coroutine
from rpcnet.cli.rpcnetd import build_drivers
from rpcnet.client.connection import Connection
from rpcnet.driver.base import NetworkDriver
from rpcnet.errors import VirError
from rpcnet.protocol import remote
from rpcnet.protocol.message import Header, MessageType, Status, encode_frame, reply_frame
from rpcnet.protocol.values import NetworkRef
from rpcnet.server.callstats import SESSION_PROGRAMS, CallStats
from rpcnet.server.config import ServerConfig
from rpcnet.server.counters import DaemonCounters
from rpcnet.server.session import Session


class _Transport:
    """Collects what the session writes; never pushes back."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += 1

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class _Daemon:
    """What a session needs of its daemon (``session.SessionServer``)."""

    def __init__(self, config: ServerConfig, drivers: dict[str, NetworkDriver]) -> None:
        self.config = config
        self.privileged = True
        self.call_observers: list[Any] = []
        self.counters = DaemonCounters()
        self._drivers = drivers

    def admit(self, session: Session) -> str | None:
        return None

    def forget(self, session: Session) -> None: ...

    def driver_for(self, key: str) -> NetworkDriver:
        return self._drivers[key]


def _call(proc: int, args: tuple[Any, ...], serial: int) -> bytes:
    payload = remote.BY_NUMBER[proc].args.encode(args)
    return encode_frame(Header(remote.PROGRAM, remote.VERSION, proc, MessageType.CALL, serial,
                               Status.OK), payload)


def _best(rounds: int, calls: int, run: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


async def _session(drivers: dict[str, NetworkDriver], config: ServerConfig,
                   metrics: bool) -> tuple[Session, _Transport]:
    """An opened session of ``test:///default``; with ``metrics`` its calls are
    observed as ``rpcnetd --metrics`` observes them."""
    daemon = _Daemon(config, drivers)
    if metrics:
        stats = CallStats(SESSION_PROGRAMS)
        daemon.call_observers.append(lambda _session: stats)
    session = Session(daemon, readonly_socket=False)
    transport = _Transport()
    session.connection_made(transport)  # type: ignore[arg-type]
    session.data_received(_call(66, (), 0) + _call(60, (10,), 1)
                          + _call(1, ("test:///default", 0), 2))
    return session, transport


async def server_side(rounds: int, calls: int) -> dict[str, float]:
    """The daemon's figures, without and with the metrics' call observer: the
    two sessions take turns round by round, so drift on the machine hits both."""
    config = ServerConfig(socket_dir=Path(tempfile.gettempdir()))
    drivers = await build_drivers(config)  # the daemon's own, in memory
    net = await drivers["test"].network_lookup_by_name("default")
    sessions = {"": await _session(drivers, config, False),
                " +metrics": await _session(drivers, config, True)}
    workloads = {
        "daemon: lookup-by-name": [_call(46, ("default",), n) for n in range(calls)],
        "daemon: is-active": [_call(152, (net,), n) for n in range(calls)],
        "daemon: get-xml-desc": [_call(43, (net, 0), n) for n in range(calls)],
        "daemon: list-all (1 net)": [_call(283, (1, 0), n) for n in range(calls)],
    }
    best = {f"{name}{suffix}": float("inf") for name in workloads for suffix in sessions}
    for _ in range(rounds):
        for name, frames in workloads.items():
            for suffix, (session, transport) in sessions.items():
                before = transport.written
                start = time.perf_counter()
                for frame in frames:
                    session.data_received(frame)
                took = time.perf_counter() - start
                assert transport.written - before == calls, "a call went unanswered"
                best[f"{name}{suffix}"] = min(best[f"{name}{suffix}"], took)
    for session, _transport in sessions.values():
        session.connection_lost(None)
    return {name: seconds / calls * 1e6 for name, seconds in best.items()}


class _Stream:
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


async def client_side(rounds: int, calls: int) -> dict[str, float]:
    ret = remote.BY_NUMBER[46].ret.encode((NetworkRef("default", bytes(range(16))),))
    replies = [reply_frame(Header(remote.PROGRAM, remote.VERSION, 46, MessageType.CALL, serial,
                                  Status.OK), Status.OK, ret) for serial in range(calls)]

    def run() -> None:
        conn = Connection()  # serials start again at 0
        conn.attach(_Stream())
        call, feed = conn.call, conn.feed
        for reply in replies:
            future = call(46, ("default",))
            feed(reply)
            future.result()

    return {"client: lookup-by-name": _best(rounds, calls, run)}


def observer_side(rounds: int, calls: int) -> dict[str, float]:
    """What the metrics add to a call, alone: one ``call_answered`` of the
    observer ``rpcnetd --metrics`` installs (a lookup answered, then one refused)."""
    stats = CallStats(SESSION_PROGRAMS)
    header = Header(remote.PROGRAM, remote.VERSION, 46, MessageType.CALL, 1, Status.OK)
    proc, now = remote.BY_NUMBER[46], time.monotonic()
    error = remote.decode_error(remote.encode_error(VirError.make(43, 19, "no network")))
    answered = stats.call_answered

    def ok() -> None:
        for _ in range(calls):
            answered(header, proc, ("default",), now, None, None)

    def failed() -> None:
        for _ in range(calls):
            answered(header, proc, ("default",), now, None, error)

    return {"metrics: one call observed": _best(rounds, calls, ok),
            "metrics: one error observed": _best(rounds, calls, failed)}


async def measure(rounds: int, calls: int) -> dict[str, float]:
    return {**await server_side(rounds, calls), **observer_side(rounds, calls),
            **await client_side(rounds, calls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    figures = run_coroutine(measure(args.rounds, args.calls))
    for name, micros in figures.items():
        print(f"{name:35s} {micros:6.2f} us per call")


if __name__ == "__main__":
    main()
