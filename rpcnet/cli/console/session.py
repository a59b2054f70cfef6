"""A console session: its hosts, their connections and the commands run on them.

A connection is opened once per host and kept for the whole session (the
shell, or one command line), reopened only when it drops. With one host
given by ``-c`` (or none: the default URI) the session is virsh's: output,
errors and exit status byte for byte, connecting at start when the URI was
named and at the first command that needs it otherwise. With several hosts
each command runs on every *active* host at once and the outputs merge
(:mod:`rpcnet.cli.console.hosts`); ``use`` narrows the active hosts. Each
host is dialled and then runs the command on its own, so a slow host delays
only itself; at most ``parallel`` connections are being opened at once, each
given ``connect_timeout`` seconds, and on a terminal stderr shows how many
hosts are done (:mod:`rpcnet.cli.console.progress`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from rpcnet.cli.console.context import Context, Interrupt
from rpcnet.cli.console.grammar import Command, ConsoleCommand, HostCommand, Options, Source
from rpcnet.cli.console.hosts import (
    CONNECT_TIMEOUT,
    DEFAULT_PARALLEL,
    Host,
    Result,
    default_uri,
    failure_detail,
    open_host,
    print_merged,
    run_captured,
    run_handler,
    run_together,
)
from rpcnet.cli.console.names import NetworkNames, port_uuids
from rpcnet.cli.console.output import TerminalSink
from rpcnet.cli.console.progress import Progress
from rpcnet.client.driver import RemoteDriver
from rpcnet.errors import VirError

#: how long completion waits for the hosts' answers
COMPLETION_TIMEOUT = 1.0


class Session:
    """The hosts of one console run and their open connections."""

    def __init__(self, hosts: list[Host], *, readonly: bool, single: bool,
                 quiet: bool = False, interactive: bool = False,
                 parallel: int = DEFAULT_PARALLEL,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.hosts = hosts
        self.active = list(hosts)
        self.readonly = readonly
        #: virsh-exact output (one host named by -c, or the default URI)
        self.single = single
        self.interactive = interactive
        self.out = TerminalSink(quiet=quiet)
        self.interrupt = Interrupt()
        self.quitting = False
        self._drivers: dict[Host, RemoteDriver] = {}
        self._opening: dict[Host, asyncio.Task[RemoteDriver]] = {}
        #: hosts whose last dial failed, with why
        self._failed: dict[Host, str] = {}
        self._names = NetworkNames()
        self.connect_timeout = connect_timeout
        self._slots = asyncio.Semaphore(parallel)

    # -- connections --------------------------------------------------------

    async def open(self) -> bool:
        """Dial every host now, reporting failures; True if all answered."""
        if self.single:
            return await self._single_driver() is not None
        _drivers, failed = await self._many_drivers(self.hosts, retry=True)
        return not failed

    async def warm_up(self) -> None:
        """Dial the active hosts quietly and fetch what completion offers (the
        shell, at start: a failure is reported by the first command instead)."""
        idle = [h for h in self.active if h not in self._drivers]
        await asyncio.gather(*(self._dial(h) for h in idle), return_exceptions=True)
        self._names.refresh(self._live(self.active))

    async def close(self) -> None:
        for task in self._opening.values():
            task.cancel()
        self._names.cancel()
        drivers, self._drivers = list(self._drivers.values()), {}
        await asyncio.gather(*(d.close() for d in drivers), return_exceptions=True)

    def state(self, host: Host) -> str:
        """connected, disconnected, failed or not connected."""
        driver = self._drivers.get(host)
        if host in self._failed:
            return "failed"
        if driver is None:
            return "not connected"
        return "disconnected" if driver.closed else "connected"

    async def _dial(self, host: Host) -> RemoteDriver:
        """Open ``host`` (one dial at a time per host); raises as :func:`open_host`."""
        task = self._opening.get(host)
        if task is None:
            task = asyncio.create_task(self._open(host))
            self._opening[host] = task
            task.add_done_callback(lambda _t: self._opening.pop(host, None))
        driver = await asyncio.shield(task)
        old = self._drivers.get(host)
        if old is not driver:
            self._drivers[host] = driver
            self._failed.pop(host, None)
            if old is not None:
                await old.close()
        return driver

    async def _open(self, host: Host) -> RemoteDriver:
        async with self._slots:  # the timeout starts once the host's turn comes
            return await open_host(host.uri, self.readonly, self.connect_timeout)

    def _live(self, hosts: list[Host]) -> list[RemoteDriver]:
        return [d for h in hosts if (d := self._drivers.get(h)) is not None and not d.closed]

    async def _single_driver(self) -> RemoteDriver | None:
        """The connection, dialled now if needed, with virsh's messages."""
        host = self.hosts[0]
        old = self._drivers.get(host)
        if old is not None and not old.closed:
            return old
        try:
            driver = await self._dial(host)
        except (VirError, OSError) as exc:
            self._failed[host] = failure_detail(exc)
            self.out.error("Failed to reconnect to the hypervisor" if old is not None
                           else "failed to connect to the hypervisor")
            self.out.error(self._failed[host])
            return None
        if old is not None:
            self.out.error("Reconnected to the hypervisor")
        return driver

    async def _connected(self, host: Host, *, retry: bool) -> RemoteDriver | None:
        """``host``'s live connection, dialled if it has none; None (reported on
        stderr, kept in ``_failed``) if the dial fails. A host that failed
        before is dialled again only if ``retry``."""
        driver = self._drivers.get(host)
        if driver is not None and not driver.closed:
            return driver
        if host in self._failed and not retry:
            return None
        try:
            return await self._dial(host)
        except Exception as exc:  # one host's trouble, whatever it is, is its own
            self._failed[host] = f"failed to connect to the hypervisor: {failure_detail(exc)}"
            self.out.error(f"{host.label}: {self._failed[host]}")
            return None

    async def _many_drivers(self, hosts: list[Host], *, retry: bool
                            ) -> tuple[dict[Host, RemoteDriver], dict[Host, str]]:
        """Live connections of ``hosts`` (dialling those without one) and the
        failed hosts, each counted in the progress line as its dial ends."""
        with self._progress(len(hosts)) as progress:
            async def one(host: Host) -> RemoteDriver | None:
                driver = await self._connected(host, retry=retry)
                progress.host_done(driver is not None)
                return driver

            drivers = await asyncio.gather(*(one(h) for h in hosts))
        live = {h: d for h, d in zip(hosts, drivers, strict=True) if d is not None}
        return live, {h: self._failed[h] for h in hosts if h not in live}

    @contextlib.contextmanager
    def _progress(self, total: int) -> Iterator[Progress]:
        """A progress line on stderr (if a terminal) for the fan-out within."""
        progress = Progress(total, self.out.stderr)
        self.out.status = progress
        try:
            yield progress
        finally:
            progress.stop()
            self.out.status = None

    # -- running commands ---------------------------------------------------

    async def run(self, commands: list[Command]) -> bool:
        """Run parsed commands in order, as virsh runs a command line: with one
        host the verdict of the last, with several whether all succeeded."""
        all_ok = ok = True
        try:
            for cmd in commands:
                ok = await self._run(cmd)
                all_ok &= ok
                if self.quitting:
                    break
                if self.single or self.interactive:
                    self.out.extra("\n")
        finally:
            if self.interactive:
                self._names.refresh(self._live(self.active))
        return ok if self.single else all_ok

    async def _run(self, cmd: Command) -> bool:
        definition = cmd.definition
        if isinstance(definition, ConsoleCommand):
            return await definition.run(self, cmd.options)
        assert isinstance(definition, HostCommand)
        if self.single:
            return await self._run_single(definition, cmd.options)
        if definition.together is not None:
            drivers, failed = await self._many_drivers(self.active, retry=self.interactive)
            interrupt = self.interrupt if self.interactive else None
            return await run_together(drivers, cmd, self.out, interrupt) and not failed
        return await self._fan_out(cmd)

    async def _fan_out(self, cmd: Command) -> bool:
        """``cmd`` on every active host, each as soon as it is connected; one table."""
        hosts = self.active
        with self._progress(len(hosts)) as progress:
            async def one(host: Host) -> Result | None:
                driver = await self._connected(host, retry=self.interactive)
                result = None if driver is None else await run_captured(host, driver, cmd)
                progress.host_done(result is not None and result[1])
                return result

            results = await asyncio.gather(*(one(h) for h in hosts))
        done = {h: r for h, r in zip(hosts, results, strict=True) if r is not None}
        failed = {h: self._failed[h] for h in hosts if h not in done}
        return print_merged(hosts, done, failed, self.out)

    async def _run_single(self, definition: HostCommand, options: Options) -> bool:
        driver = await self._single_driver()
        if driver is None:
            return False
        ctx = Context(driver, self.out, interrupt=self.interrupt if self.interactive else None)
        return await run_handler(definition, ctx, options)

    # -- what the console's own commands do ------------------------------------

    async def connect(self, uri: str | None, readonly: bool) -> bool:
        """virsh's ``connect``: to ``uri`` (then this is a one-host session),
        or again to the same hosts. On failure the hosts stay as they were."""
        readonly = readonly or (uri is None and self.readonly)
        await self.close()
        self._failed.clear()
        if uri is None:
            self.readonly = readonly
            return await self.open()
        host = Host(uri or default_uri(), uri or default_uri())
        try:
            driver = await open_host(host.uri, readonly, self.connect_timeout)
        except (VirError, OSError) as exc:
            self.out.error("failed to connect to the hypervisor")
            self.out.error(failure_detail(exc))
            return False
        self.hosts, self.active, self.single, self.readonly = [host], [host], True, readonly
        self._drivers = {host: driver}
        return True

    def use(self, labels: list[str]) -> str | None:
        """Make the hosts labelled ``labels`` (all if empty) the active ones;
        the error message if a label is unknown (nothing changes then)."""
        known = {h.label for h in self.hosts}
        unknown = [label for label in labels if label not in known]
        if unknown:
            return f"no host labelled '{unknown[0]}'"
        self.active = [h for h in self.hosts if not labels or h.label in labels]
        return None

    def quit(self) -> None:
        self.quitting = True

    # -- completion ---------------------------------------------------------------

    async def values(self, source: Source, options: Options) -> list[str]:
        """What completion offers for an option fed from ``source``: network
        names and UUIDs (the union over the active hosts), ports, host labels."""
        if source is Source.HOST:
            return [h.label for h in self.hosts]
        drivers = self._live(self.active)
        if source is Source.PORT:
            network = options.string("network")
            if network is None:
                return []
            return await port_uuids(drivers, network, COMPLETION_TIMEOUT)
        return self._names.select(await self._names.get(drivers, COMPLETION_TIMEOUT), source)

    async def open_quietly(self, timeout: float) -> None:
        """Dial the active hosts, saying nothing (completion from the command line)."""
        idle = [h for h in self.active if h not in self._drivers]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(
                *(self._dial(h) for h in idle), return_exceptions=True), timeout)
