"""The client library's side of the ssh tests, run on the client side of a
fleet (``ClientSide.python_file``); prints one JSON object.

    client_script.py events URI OTHER_URI      lifecycle events over URI
    client_script.py kill-ssh URI DAEMON_PID   a call pending, ssh killed
    client_script.py kill-session URI SSHD_PID a call pending, the far sshd killed
    client_script.py freeze URI SSHD_PID       the far side stops answering
    client_script.py close URI                 what is left after a close
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rpcnet.client import RemoteDriver, connect
from tests.peers.sshhost import descendants as children

NET = "<network><name>sshev</name><bridge name='virbr77'/></network>"


def signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


async def events(uri: str, other: str) -> dict[str, Any]:
    seen: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    async with connect(uri) as conn, connect(other) as writer:
        await conn.connect_network_event_register_any(
            0, None, lambda _cid, net, event, _detail: seen.put_nowait((net.name, event)))
        net = await writer.network_define_xml(NET)
        await writer.network_undefine(net)
        got = [await asyncio.wait_for(seen.get(), 20) for _ in range(2)]
    return {"events": got}


async def _pending_call_after(uri: str, fault: Callable[[], None], undo: Callable[[], None],
                              *, before: Callable[[], None] = lambda: None,
                              keepalive: tuple[float, int] | None = None) -> dict[str, Any]:
    """A call pending on ``uri`` when ``fault()`` strikes: how and when it ended."""
    options: dict[str, Any] = {}
    if keepalive is not None:
        options = {"keepalive_interval": keepalive[0], "keepalive_count": keepalive[1]}
    driver = await RemoteDriver.open(uri, **options)
    ssh_children = children(os.getpid())
    try:
        before()
        call = asyncio.ensure_future(driver.connect_list_all_networks(0))
        await asyncio.sleep(0.5)
        pending = not call.done()
        started = time.monotonic()
        fault()
        try:
            await asyncio.wait_for(call, 60)
            outcome = "answered"
        except Exception as exc:
            outcome = getattr(exc, "message", repr(exc))
        elapsed = time.monotonic() - started
        reaped = await _reaped(5.0)  # before anyone closes the driver
    finally:
        undo()
        await driver.close()
    return {"pending": pending, "outcome": outcome, "elapsed": elapsed,
            "had_children": len(ssh_children), "reaped_by_itself": reaped,
            "children_left": children(os.getpid())}


async def _reaped(timeout: float) -> bool:
    """True once this process has no child left (within ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while children(os.getpid()):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def kill_ssh(uri: str, daemon_pid: int) -> dict[str, Any]:
    return await _pending_call_after(
        uri, lambda: signal_all(children(os.getpid()), signal.SIGKILL),
        lambda: signal_all([daemon_pid], signal.SIGCONT),
        before=lambda: signal_all([daemon_pid], signal.SIGSTOP))


def _stop_sessions(sshd_pid: int, stopped: list[int]) -> Callable[[], None]:
    """What SIGSTOPs the sessions of ``sshd_pid`` (so the call stays pending),
    noting their pids in ``stopped``."""
    def stop() -> None:
        stopped.extend(children(sshd_pid))
        signal_all(stopped, signal.SIGSTOP)

    return stop


async def kill_session(uri: str, sshd_pid: int) -> dict[str, Any]:
    stopped: list[int] = []
    return await _pending_call_after(
        uri, lambda: signal_all(stopped, signal.SIGKILL),
        lambda: signal_all(stopped, signal.SIGCONT), before=_stop_sessions(sshd_pid, stopped))


async def freeze(uri: str, sshd_pid: int) -> dict[str, Any]:
    frozen: list[int] = []

    def end() -> None:
        signal_all(frozen, signal.SIGKILL)
        signal_all(frozen, signal.SIGCONT)

    return await _pending_call_after(uri, lambda: None, end,
                                     before=_stop_sessions(sshd_pid, frozen), keepalive=(1.0, 2))


async def close(uri: str) -> dict[str, Any]:
    conn = await RemoteDriver.open(uri)
    had = children(os.getpid())
    await conn.close()
    return {"had_children": len(had), "children_left": children(os.getpid())}


ACTIONS: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
    "events": events, "kill-ssh": kill_ssh, "kill-session": kill_session, "freeze": freeze,
    "close": close,
}


def main() -> None:
    action, uri, *rest = sys.argv[1:]
    args: list[Any] = [int(a) if a.isdigit() else a for a in rest]
    print(json.dumps(asyncio.run(ACTIONS[action](uri, *args))))


if __name__ == "__main__":
    main()
