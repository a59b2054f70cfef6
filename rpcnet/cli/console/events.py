"""``net-event``: wait for lifecycle events on one host or merge many.

With one host the output is virsh's; with several, every event line is
prefixed with the host's label as it arrives, and a host whose connection
drops is reported on stderr while the others go on.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from rpcnet.cli.console.commands import command, parse_int
from rpcnet.cli.console.context import Context, Failed, interruption
from rpcnet.cli.console.grammar import Kind, Opt, Options, Source
from rpcnet.cli.console.output import Sink
from rpcnet.protocol.values import NetworkRef

EVENT_NAMES = {0: "Defined", 1: "Undefined", 2: "Started", 3: "Stopped"}


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + \
        f".{int(now * 1000) % 1000:03d}+0000"


@dataclass(slots=True)
class _Watch:
    out: Sink
    loop: bool
    timestamp: bool
    prefix: bool
    done: asyncio.Event
    count: int = 0

    def event(self, ctx: Context, net: NetworkRef, event: int) -> None:
        if not self.loop and self.count:
            return
        line = f"event 'lifecycle' for network {net.name}: {EVENT_NAMES.get(event, 'unknown')}\n"
        if self.timestamp:
            line = f"{_timestamp()}: {line}"
        if self.prefix:
            line = f"{ctx.label}: {line}"
        self.out.text(line)
        self.count += 1
        if not self.loop:
            self.done.set()


@command("net-event",
         Opt("network", Kind.STRING, "filter by network name or uuid", values=Source.NETWORK),
         Opt("event", Kind.STRING, "which event type to wait for", values=("lifecycle",)),
         Opt("loop", Kind.BOOL, "loop until timeout or interrupt, rather than one-shot"),
         Opt("timeout", Kind.INT, "timeout seconds"),
         Opt("list", Kind.BOOL, "list valid event types"),
         Opt("timestamp", Kind.BOOL, "show timestamp for each printed event"),
         help="Network Events", desc="List event types, or wait for network events to occur",
         together=lambda ctxs, o, out: watch_events(ctxs, o, out, prefix=True))
async def net_event(ctx: Context, o: Options) -> bool:
    return await watch_events([ctx], o, ctx.out, prefix=False)


async def watch_events(ctxs: list[Context], o: Options, out: Sink, *, prefix: bool) -> bool:
    """Run net-event on every context; False (exit 1) if no event arrived.
    Ctrl-C ends the wait: the shell's :class:`Interrupt` if the contexts
    have one, else SIGINT."""
    first = ctxs[0]
    if o.flag("list"):
        out.text("lifecycle\n")
        return True
    event_name = o.string("event")
    if event_name is None:
        out.error("either --list or --event <type> is required")
        return False
    if event_name != "lifecycle":
        out.error(f"unknown event type {event_name}")
        return False
    timeout = parse_int(first, o, "timeout", 0, minimum=1)
    if timeout is None:
        return False
    watch = _Watch(out, o.flag("loop"), o.flag("timestamp"), prefix, asyncio.Event())
    # as virsh, Ctrl-C counts from before the registrations (it ends the wait at once)
    with interruption(first.interrupt) as interrupted:
        registered = [r for r in await asyncio.gather(*(_register(c, o, watch) for c in ctxs))
                      if r is not None]
        if not registered:
            return False
        watchers = [asyncio.create_task(_report_loss(c, out)) for c, _ in registered]
        try:
            outcome = await _wait(watch.done, interrupted, timeout or None)
        finally:
            for task in watchers:
                task.cancel()
    if outcome:
        out.text(f"event loop {outcome}\n")
    out.text(f"events received: {watch.count}\n")
    await asyncio.gather(*(_deregister(c, cid) for c, cid in registered))
    return watch.count > 0


async def _register(ctx: Context, o: Options, watch: _Watch) -> tuple[Context, int] | None:
    net = None
    name = o.string("network")
    if name is not None:
        # virsh reports a missing network and then watches all of them
        net = await ctx.network(name)
    try:
        cid = await ctx.call(ctx.driver.connect_network_event_register_any(
            0, net, lambda _cid, n, ev, _det: watch.event(ctx, n, ev)))
    except Failed:
        return None
    return ctx, cid


async def _deregister(ctx: Context, callback_id: int) -> None:
    if not ctx.driver.closed:
        await ctx.try_call(ctx.driver.connect_network_event_deregister_any(callback_id))


async def _report_loss(ctx: Context, out: Sink) -> None:
    closed = await ctx.driver.wait_closed()
    out.error(f"{ctx.label}: {closed.message}" if ctx.label else closed.message)


async def _wait(done: asyncio.Event, interrupted: asyncio.Event,
                timeout: float | None) -> str | None:
    """None when done, else "interrupted" or "timed out"."""
    waiters = {asyncio.create_task(done.wait()): None,
               asyncio.create_task(interrupted.wait()): "interrupted"}
    finished, pending = await asyncio.wait(waiters, timeout=timeout,
                                           return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if not finished:
        return "timed out"
    return waiters[next(iter(finished))]
