"""``net-stats``: each network's traffic, DHCP leases and ports, for one host
or many in one table, once or refreshed (``--watch SECONDS``).

The counters come over the host's own RPC connection (rpcnet's program,
``NETWORK_LIST_STATS``), not from the metrics endpoint. Rates need two
readings: a single run reads twice, one second apart; ``--watch N`` reads
every N seconds and shows the rates since the reading before. A host that
is not an rpcnetd (libvirtd answers "Cannot find program") is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from rpcnet.cli.console.commands import command, parse_int
from rpcnet.cli.console.context import Context, Failed, interruption
from rpcnet.cli.console.grammar import Kind, Opt, Options, Source
from rpcnet.cli.console.hosts import error_row
from rpcnet.cli.console.output import Sink, TerminalSink
from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.protocol.values import NetworkStats

#: seconds between the two readings of a single run
WINDOW = 1.0
COLUMNS = ["Name", "State", "RX", "TX", "Drops/s", "Leases", "Ports"]
_CLEAR = "\x1b[H\x1b[2J"
_UNITS = ("B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s")


@dataclass(frozen=True, slots=True)
class Reading:
    """One host's counters and when they were read."""

    at: float
    networks: dict[str, NetworkStats]


def rate(value: float) -> str:
    """Bytes per second, in binary units: ``1.5 KiB/s``."""
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.0f} {_UNITS[unit]}" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


def row(now: NetworkStats, before: NetworkStats | None, seconds: float) -> list[str]:
    """A network's cells: rates over ``seconds`` since ``before``."""
    if not now.active:
        return [now.name, "inactive", "-", "-", "-", "-", "-"]
    state = "active"
    if now.dnsmasq is not None and not now.dnsmasq.up:
        state = "active, dnsmasq down"
    rx = tx = drops = "-"
    link, old = now.link, before.link if before is not None and before.active else None
    if link is not None and old is not None and seconds > 0 and link.rx_bytes >= old.rx_bytes \
            and link.tx_bytes >= old.tx_bytes:  # else the bridge was made anew between
        rx = rate((link.rx_bytes - old.rx_bytes) / seconds)
        tx = rate((link.tx_bytes - old.tx_bytes) / seconds)
        dropped = link.rx_dropped + link.tx_dropped - old.rx_dropped - old.tx_dropped
        drops = f"{max(dropped, 0) / seconds:.0f}"
    leases = f"{now.leases}/{now.pool_size}" if now.pool_size else "-"
    return [now.name, state, rx, tx, drops, leases, str(now.ports)]


def _explain(err: VirError) -> VirError:
    """libvirtd's answer to rpcnet's program, said as what it means."""
    if err.domain == ErrorDomain.RPC and "Cannot find program" in err.message:
        return VirError(ErrorCode.NO_SUPPORT, ErrorDomain.RPC,
                        "this host does not serve network statistics (it is not an rpcnetd)")
    return err


async def read(ctx: Context, name: str | None) -> Reading | None:
    """The host's counters now; None once the failure is reported."""
    try:
        stats = await ctx.call(ctx.driver.network_list_stats(name, 0))
    except Failed:
        if ctx.last_error is not None:
            ctx.last_error = _explain(ctx.last_error)
        ctx.report()
        return None
    return Reading(time.monotonic(), {s.name: s for s in sorted(stats, key=lambda s: s.name)})


def table_rows(ctx: Context, now: Reading | None, before: Reading | None, *,
               prefix: bool) -> list[list[str]]:
    if now is None:
        return [error_row(ctx.label, COLUMNS)] if prefix else []
    seconds = now.at - before.at if before is not None else 0.0
    rows = [row(stats, before.networks.get(stats.name) if before is not None else None,
                seconds) for stats in now.networks.values()]
    return [[ctx.label, *cells] for cells in rows] if prefix else rows


@command("net-stats",
         Opt("network", Kind.STRING, "network name", values=Source.NETWORK),
         Opt("watch", Kind.INT, "refresh every SECONDS until interrupted"),
         help="network traffic, DHCP leases and ports",
         desc="Prints, for each network (or the one named), the traffic rates of its\n"
              "    bridge, DHCP leases in use out of its pool, and ports in use. Rates are\n"
              "    over one second, or over the --watch interval (rpcnetd only).",
         group="rpcnet", together=lambda ctxs, o, out: show_stats(ctxs, o, out, prefix=True))
async def net_stats(ctx: Context, o: Options) -> bool:
    return await show_stats([ctx], o, ctx.out, prefix=False)


async def show_stats(ctxs: list[Context], o: Options, out: Sink, *, prefix: bool) -> bool:
    """net-stats on every context; False (exit 1) if a host could not answer.
    With ``--watch`` Ctrl-C ends it (the shell's :class:`Interrupt` if the
    contexts have one, else SIGINT)."""
    watch = parse_int(ctxs[0], o, "watch", 0, minimum=1)
    if watch is None:
        return False
    name = o.string("network")
    header = ["Host", *COLUMNS] if prefix else COLUMNS
    terminal = isinstance(out, TerminalSink) and out.stdout.isatty()
    with interruption(ctxs[0].interrupt) as interrupted:
        before = await asyncio.gather(*(read(ctx, name) for ctx in ctxs))
        if not any(before):
            return False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(interrupted.wait(), watch or WINDOW)
            if interrupted.is_set():
                return all(before)
            now = await _read_again(ctxs, name, before, failed_too=bool(watch))
            rows = [r for ctx, new, old in zip(ctxs, now, before, strict=True)
                    for r in table_rows(ctx, new, old, prefix=prefix)]
            if watch:
                clock = time.strftime("%Y-%m-%d %H:%M:%S")
                out.text(f"{_CLEAR if terminal else ''}Every {watch}s: net-stats   {clock}\n\n")
            out.table(header, rows)
            if not watch:
                return all(now)
            out.text("\n")
            if not any(now):
                return False
            before = now


async def _read_again(ctxs: list[Context], name: str | None, before: list[Reading | None], *,
                      failed_too: bool) -> list[Reading | None]:
    """Every host's next reading; a host that failed the one before is asked
    again only if ``failed_too`` (else its failure would be reported twice)."""
    asked = [i for i, old in enumerate(before) if failed_too or old is not None]
    now: list[Reading | None] = [None] * len(ctxs)
    for i, reading in zip(asked, await asyncio.gather(*(read(ctxs[i], name) for i in asked)),
                          strict=True):
        now[i] = reading
    return now
