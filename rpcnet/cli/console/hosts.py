"""Running commands on one host (virsh-exact) or on many at once.

Many hosts: every host is dialled and runs each command concurrently; the
outputs merge into one table whose first column is the host. A host that
fails (cannot connect, or its command fails) prints ``error: HOST: ...`` on
stderr and gets a row marked ``error``; the others are unaffected. The exit
status is 0 only if the command succeeded on every host, else 1.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from rpcnet.cli.console.context import Context
from rpcnet.cli.console.events import watch_events
from rpcnet.cli.console.grammar import Command
from rpcnet.cli.console.output import CaptureSink, TerminalSink, format_table
from rpcnet.client.driver import RemoteDriver
from rpcnet.errors import VirError

CONNECT_TIMEOUT = 30.0


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


async def _open(uri: str, readonly: bool) -> RemoteDriver:
    return await asyncio.wait_for(RemoteDriver.open(uri, readonly=readonly), CONNECT_TIMEOUT)


async def run_single(uri: str, readonly: bool, commands: list[Command], *,
                     quiet: bool = False) -> int:
    out = TerminalSink(quiet=quiet)
    try:
        driver = await _open(uri, readonly)
    except (VirError, TimeoutError) as exc:
        out.error("failed to connect to the hypervisor")
        out.error(exc.message if isinstance(exc, VirError) else "connection timed out")
        return 1
    ctx = Context(driver, out)
    ok = True
    try:
        for cmd in commands:
            ok = await cmd.definition.handler(ctx, cmd.options)
            if not ok:
                ctx.report()
            ctx.last_error = None
            out.extra("\n")
    finally:
        await driver.close()
    return 0 if ok else 1


class _HostErrors(TerminalSink):
    """Errors of one host, on stderr with the host's label."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def error(self, message: str) -> None:
        super().error(f"{self.label}: {message}")


async def run_many(hosts: list[Host], readonly: bool, commands: list[Command]) -> int:
    out = TerminalSink()
    opened = await asyncio.gather(*(_open(h.uri, readonly) for h in hosts),
                                  return_exceptions=True)
    drivers: dict[Host, RemoteDriver] = {}
    failed: dict[Host, str] = {}
    for host, result in zip(hosts, opened, strict=True):
        if isinstance(result, RemoteDriver):
            drivers[host] = result
        else:
            detail = result.message if isinstance(result, VirError) else str(result) or \
                type(result).__name__
            failed[host] = f"failed to connect to the hypervisor: {detail}"
            out.error(f"{host.label}: {failed[host]}")
    all_ok = not failed
    try:
        for cmd in commands:
            if cmd.definition.name == "net-event":
                all_ok &= await _events(drivers, cmd, out) and not failed
            else:
                all_ok &= await _merged(hosts, drivers, failed, cmd, out)
    finally:
        await asyncio.gather(*(d.close() for d in drivers.values()), return_exceptions=True)
    return 0 if all_ok else 1


async def _run_captured(host: Host, driver: RemoteDriver, cmd: Command
                        ) -> tuple[CaptureSink, bool]:
    sink = CaptureSink()
    ctx = Context(driver, sink, host.label)
    try:
        ok = await cmd.definition.handler(ctx, cmd.options)
    except VirError as exc:
        ctx.last_error, ok = exc, False
    if not ok:
        ctx.report()
    return sink, ok


async def _merged(hosts: list[Host], drivers: dict[Host, RemoteDriver], failed: dict[Host, str],
                  cmd: Command, out: TerminalSink) -> bool:
    live = [h for h in hosts if h in drivers]
    results = dict(zip(live, await asyncio.gather(
        *(_run_captured(h, drivers[h], cmd) for h in live)), strict=True))
    header: list[str] | None = None
    keys: list[str] = []
    for sink, _ok in results.values():
        header = header or sink.header
        keys += [k for k, _v in sink.pairs if k not in keys]
    columns = header or keys or ["Output"]
    rows: list[list[str]] = []
    all_ok = True
    for host in hosts:
        if host in failed:
            rows.append(_error_row(host, columns))
            continue
        sink, ok = results[host]
        all_ok &= ok
        for message in sink.errors:
            out.error(f"{host.label}: {message}")
        if not ok:
            rows.append(_error_row(host, columns))
        elif header:
            rows += [[host.label, *row] for row in sink.rows]
        elif keys:
            values = dict(sink.pairs)
            rows.append([host.label, *(values.get(k, "") for k in keys)])
        else:
            rows += [[host.label, line] for line in sink.lines()]
    out.text(format_table(["Host", *columns], rows, rstrip=True))
    return all_ok and not failed


def _error_row(host: Host, columns: list[str]) -> list[str]:
    return [host.label, "error", *([""] * (len(columns) - 1))]


async def _events(drivers: dict[Host, RemoteDriver], cmd: Command, out: TerminalSink) -> bool:
    ctxs = [Context(d, _HostErrors(h.label), h.label) for h, d in drivers.items()]
    if not ctxs:
        return False
    ok = await watch_events(ctxs, cmd.options, out, prefix=True)
    for ctx in ctxs:
        ctx.report()
    return ok
