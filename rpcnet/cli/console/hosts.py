"""Hosts: the hosts file, dialling one, and a command on many at once.

Many hosts: every host runs each command concurrently; the outputs merge
into one table whose first column is the host. A host that fails (cannot
connect, or its command fails) prints ``error: HOST: ...`` on stderr and
gets a row marked ``error: REASON`` (the last line of the reason); the
others are unaffected.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from rpcnet.cli.console.context import Context, Interrupt
from rpcnet.cli.console.grammar import Command, HostCommand, Options
from rpcnet.cli.console.output import CaptureSink, TerminalSink, format_table
from rpcnet.client.driver import RemoteDriver
from rpcnet.errors import VirError

#: Seconds one host gets to connect (``--connect-timeout``).
CONNECT_TIMEOUT = 30.0
#: Connections being opened at once (``--parallel``).
DEFAULT_PARALLEL = 32
DEFAULT_URI = "network:///system"


@dataclass(frozen=True, slots=True)
class Host:
    label: str
    uri: str


def read_hosts_file(path: str) -> list[Host]:
    """One host per line: ``URI`` or ``LABEL URI``; blank lines and ``#`` comments skipped."""
    hosts = []
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip() if raw.lstrip().startswith("#") else raw.strip()
        if not line:
            continue
        fields = line.split()
        hosts.append(Host(fields[0], fields[1]) if len(fields) > 1 else Host(line, line))
    return hosts


def default_uri() -> str:
    """The host when none is given: $LIBVIRT_DEFAULT_URI, else network:///system."""
    return os.environ.get("LIBVIRT_DEFAULT_URI") or DEFAULT_URI


async def open_host(uri: str, readonly: bool, timeout: float = CONNECT_TIMEOUT) -> RemoteDriver:
    """Dial ``uri``; raises VirError or TimeoutError."""
    return await asyncio.wait_for(RemoteDriver.open(uri, readonly=readonly), timeout)


def failure_detail(exc: BaseException) -> str:
    """What a failed :func:`open_host` says."""
    if isinstance(exc, VirError):
        return exc.message
    if isinstance(exc, TimeoutError):
        return "connection timed out"
    return str(exc) or type(exc).__name__


class _HostErrors(TerminalSink):
    """Errors of one host, on stderr with the host's label."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def error(self, message: str) -> None:
        super().error(f"{self.label}: {message}")


Result = tuple[CaptureSink, bool]


async def run_handler(definition: HostCommand, ctx: Context, options: Options) -> bool:
    """Run a host command in ``ctx``; if it fails, its error (also one it
    raised) is reported as virsh reports it. True if it succeeded."""
    try:
        ok = await definition.handler(ctx, options)
    except VirError as exc:
        ctx.last_error, ok = exc, False
    if not ok:
        ctx.report()
    return ok


async def run_captured(host: Host, driver: RemoteDriver, cmd: Command) -> Result:
    """Run ``cmd`` on one host of many; its output kept for the merged view."""
    sink = CaptureSink()
    definition = cmd.definition
    assert isinstance(definition, HostCommand)
    return sink, await run_handler(definition, Context(driver, sink, host.label), cmd.options)


def print_merged(hosts: list[Host], results: dict[Host, Result], failed: dict[Host, str],
                 out: TerminalSink) -> bool:
    """One table of every host's output (a failed host's row says why);
    True if every host succeeded."""
    header: list[str] | None = None
    keys: list[str] = []
    for sink, _ok in results.values():
        header = header or sink.header
        keys += [k for k, _v in sink.pairs if k not in keys]
    columns = header or keys or ["Output"]
    rows: list[list[str]] = []
    reasons: dict[int, str] = {}
    all_ok = True
    for host in hosts:
        if host in failed:
            reasons[len(rows)] = failed[host]
            rows.append(error_row(host.label, columns))
            continue
        sink, ok = results[host]
        all_ok &= ok
        for message in sink.errors:
            out.error(f"{host.label}: {message}")
        if not ok:
            reasons[len(rows)] = sink.errors[-1] if sink.errors else "failed"
            rows.append(error_row(host.label, columns))
        elif header:
            rows += [[host.label, *row] for row in sink.rows]
        elif keys:
            values = dict(sink.pairs)
            rows.append([host.label, *(values.get(k, "") for k in keys)])
        else:
            rows += [[host.label, line] for line in sink.lines()]
    lines = format_table(["Host", *columns], rows, rstrip=True).splitlines(keepends=True)
    for index, reason in reasons.items():  # after the widths, so a reason widens nothing
        lines[index + 2] = f"{lines[index + 2].rstrip()}: {_one_line(reason)}\n"
    out.text("".join(lines))
    return all_ok and not failed


def error_row(label: str, columns: list[str]) -> list[str]:
    """The row of a host that failed, in a table of ``columns`` after the host's."""
    return [label, "error", *([""] * (len(columns) - 1))]


def _one_line(reason: str) -> str:
    """The last line of a reason (ssh's verdict ends its banners)."""
    reason = reason.removeprefix("failed to connect to the hypervisor: ")
    lines = [line for line in reason.splitlines() if line.strip()]
    return lines[-1].strip() if lines else reason


async def run_together(drivers: dict[Host, RemoteDriver], cmd: Command, out: TerminalSink,
                       interrupt: Interrupt | None) -> bool:
    """A command that runs on several hosts as one (``HostCommand.together``:
    net-event's merged stream, net-stats's one table) on every host of
    ``drivers``; each host's errors carry its label."""
    definition = cmd.definition
    assert isinstance(definition, HostCommand) and definition.together is not None
    ctxs = [Context(d, _HostErrors(h.label), h.label, interrupt=interrupt)
            for h, d in drivers.items()]
    if not ctxs:
        return False
    ok = await definition.together(ctxs, cmd.options, out)
    for ctx in ctxs:
        ctx.report()
    return ok
