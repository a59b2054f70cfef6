"""The fan-out's progress line: on a terminal only, after a delay, erased."""

from __future__ import annotations

import asyncio
import io

from rpcnet.cli.console.output import TerminalSink
from rpcnet.cli.console.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


async def shows(stream: io.StringIO, tail: str) -> None:
    """Wait (5 s at most) until what ``stream`` got ends with ``tail``."""
    async with asyncio.timeout(5):
        while not stream.getvalue().endswith(tail):
            await asyncio.sleep(0.01)


async def test_nothing_when_stderr_is_no_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(3, stream, delay=0)
    progress.host_done(True)
    await asyncio.sleep(0.05)
    progress.stop()
    assert stream.getvalue() == ""


async def test_a_quick_fan_out_leaves_no_trace() -> None:
    stream = Tty()
    progress = Progress(2, stream, delay=10)
    progress.host_done(True)
    progress.host_done(False)
    progress.stop()
    assert stream.getvalue() == ""


async def test_counts_drawn_in_place_then_erased() -> None:
    stream = Tty()
    progress = Progress(3, stream, delay=0)
    await shows(stream, "0/3 hosts done, 0 failed")
    assert stream.getvalue() == "\r\x1b[K0/3 hosts done, 0 failed"
    progress.host_done(True)
    progress.host_done(False)
    await shows(stream, "\r\x1b[K2/3 hosts done, 1 failed")
    progress.stop()
    assert stream.getvalue().endswith("\r\x1b[K2/3 hosts done, 1 failed\r\x1b[K")
    await asyncio.sleep(0.15)
    assert stream.getvalue().endswith("failed\r\x1b[K")  # no redraw after the end


async def test_errors_go_above_the_line() -> None:
    stream = Tty()
    sink = TerminalSink(io.StringIO(), stream)
    progress = Progress(2, stream, delay=0)
    sink.status = progress
    await shows(stream, "0/2 hosts done, 0 failed")
    progress.host_done(False)
    sink.error("web2: failed to connect to the hypervisor: connection timed out")
    progress.stop()
    assert stream.getvalue() == (
        "\r\x1b[K0/2 hosts done, 0 failed\r\x1b[K"
        "error: web2: failed to connect to the hypervisor: connection timed out\n"
        "\r\x1b[K1/2 hosts done, 1 failed\r\x1b[K")
