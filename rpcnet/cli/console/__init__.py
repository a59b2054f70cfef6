"""``rpcnet``: a virsh-like console for virtual networks on one or many hosts.

    rpcnet -c URI net-list --all              # output and exit code as virsh's
    rpcnet -c URI1 -c URI2 net-list --all     # one table, a Host column first
    rpcnet --hosts hosts.txt net-event --loop --event lifecycle
    rpcnet -c URI                             # an interactive shell, as virsh's
    rpcnet help net-update                    # virsh's help, byte for byte

Global options: ``-c/--connect URI`` (repeatable; else $LIBVIRT_DEFAULT_URI,
else network:///system), ``--hosts FILE`` (one ``URI`` or ``LABEL URI`` per
line, ``#`` comments), ``-r/--readonly``, ``-q/--quiet`` (as virsh: no headers, no
confirmations), ``--parallel N`` (connections opened at once),
``--connect-timeout SECONDS`` (per host), ``-h/--help``. With several hosts
the exit status is 0 only if the command succeeded on every host.
``rpcnet completion bash|zsh`` prints a shell completion script.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rpcnet.cli import run_coroutine

if TYPE_CHECKING:
    from rpcnet.cli.console.grammar import Command
    from rpcnet.cli.console.session import Session

USAGE = """\
usage: rpcnet [-c URI]... [--hosts FILE] [-r] [-q] [--parallel N]
              [--connect-timeout SECONDS] [COMMAND [ARGS...]]
       rpcnet [-c URI]... 'COMMAND [ARGS]; COMMAND [ARGS]...'
       rpcnet completion bash|zsh

Without a command, an interactive shell (as virsh's): line editing, history,
TAB completion of commands, options and network names; 'help' lists the
commands, 'help COMMAND' (or 'COMMAND --help') explains one.

Commands (virsh syntax):
{commands}
With one host the output and exit status are virsh's. With several (-c more
than once, or --hosts FILE with one 'URI' or 'LABEL URI' per line) every host
runs the command at once and the results merge into one table with a Host
column; a failing host is reported on stderr and as a row marked 'error:'
with the reason. The exit status is then 0 only if every host succeeded.
At most N connections (--parallel, default {parallel}) are opened at once,
each given --connect-timeout seconds (default {timeout:g}); on a terminal
stderr shows how many hosts are done and how many failed. 'net-event --loop'
merges the live events of all hosts, each line prefixed with its host.
In the shell, 'hosts' lists the hosts and 'use LABEL...' picks those that
commands run on.
"""


class UsageError(Exception):
    pass


@dataclass(slots=True)
class GlobalOptions:
    uris: list[str] = field(default_factory=list)
    hosts_file: str | None = None
    readonly: bool = False
    quiet: bool = False
    help: bool = False
    parallel: int | None = None
    connect_timeout: float | None = None
    command: list[str] = field(default_factory=list)

    def set(self, option: str, value: str) -> None:
        """An option that takes a value; raises UsageError for a bad one."""
        if option in ("-c", "--connect"):
            self.uris.append(value)
        elif option == "--hosts":
            self.hosts_file = value
        elif option == "--parallel":
            self.parallel = _number(option, value, int)
        else:
            self.connect_timeout = _number(option, value, float)


#: the global options that take a value
WITH_VALUE = ("-c", "--connect", "--hosts", "--parallel", "--connect-timeout")


def _number(option: str, value: str, kind: type[int] | type[float]) -> Any:
    try:
        number = kind(value)
    except ValueError:
        number = 0
    if not number > 0:
        raise UsageError(f"option '{option}' takes a positive number, not '{value}'")
    return number


def parse_globals(argv: list[str]) -> GlobalOptions:
    """Options before the command, getopt style (``-cURI``, ``--connect=URI``)."""
    g = GlobalOptions()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg[:2], "", arg[2:])
        i += 1
        if name in WITH_VALUE:
            if not eq and not value:
                if i >= len(argv):
                    raise UsageError(f"option '{name}' requires an argument")
                value, i = argv[i], i + 1
            g.set(name, value)
        elif name in ("-r", "--readonly") and not value:
            g.readonly = True
        elif name in ("-q", "--quiet") and not value:
            g.quiet = True
        elif name in ("-h", "--help") and not value:
            g.help = True
        else:
            raise UsageError(f"unrecognized option '{arg}'")
    g.command = argv[i:]
    return g


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["pki"]:  # `rpcnet pki ...`: certificates for the TLS transport
        from rpcnet.cli.pki import main as pki_main

        return pki_main(args[1:])
    if args[:1] in (["completion"], ["--complete"]):
        from rpcnet.cli.console import shell_completion

        return shell_completion.main(args)
    # the console says what went wrong itself, per host; the library's log
    # lines (a keepalive timeout, say) would reach stderr unlabelled
    logging.getLogger("rpcnet").addHandler(logging.NullHandler())
    try:
        g = parse_globals(args)
    except UsageError as exc:
        sys.stderr.write(f"rpcnet: {exc}\n")
        return 1
    from rpcnet.cli.console.catalog import COMMANDS
    from rpcnet.cli.console.grammar import ParseError, parse_line

    if g.help:
        from rpcnet.cli.console.hosts import CONNECT_TIMEOUT, DEFAULT_PARALLEL

        listing = "".join(f"  {c.name:<18} {c.help}\n" for c in COMMANDS.values())
        sys.stdout.write(USAGE.format(commands=listing, parallel=DEFAULT_PARALLEL,
                                      timeout=CONNECT_TIMEOUT))
        return 0
    try:
        commands = parse_line(g.command, COMMANDS) if g.command else []
    except ParseError as exc:
        sys.stderr.write("".join(f"error: {m}\n" for m in exc.messages))
        return 1
    try:
        session = make_session(g, interactive=not g.command)
    except OSError as exc:
        sys.stderr.write(f"error: cannot read hosts file '{g.hosts_file}': {exc.strerror}\n")
        return 1
    # as virsh: a host named on the command line must answer before anything
    # runs; the default one is dialled when a command first needs it
    eager = bool(g.uris) or g.hosts_file is not None
    if not g.command:
        from rpcnet.cli.console.shell import run_shell

        return run_shell(session, eager=eager)
    try:
        return run_coroutine(_run_once(session, commands, eager=eager))
    except KeyboardInterrupt:
        return 130


def make_session(g: GlobalOptions, *, interactive: bool) -> Session:
    """The hosts the global options name; raises OSError for an unreadable hosts file."""
    from rpcnet.cli.console.hosts import Host, default_uri, read_hosts_file
    from rpcnet.cli.console.session import Session

    hosts = [Host(uri, uri) for uri in g.uris]
    if g.hosts_file is not None:
        hosts += read_hosts_file(g.hosts_file)
    single = len(hosts) <= 1 and g.hosts_file is None
    if not hosts:
        hosts = [Host(default_uri(), default_uri())]
    limits: dict[str, Any] = {}
    if g.parallel is not None:
        limits["parallel"] = g.parallel
    if g.connect_timeout is not None:
        limits["connect_timeout"] = g.connect_timeout
    return Session(hosts, readonly=g.readonly, single=single, quiet=g.quiet,
                   interactive=interactive, **limits)


async def _run_once(session: Session, commands: list[Command], *, eager: bool) -> int:
    try:
        if eager and not await session.open() and session.single:
            return 1
        return 0 if await session.run(commands) else 1
    finally:
        await session.close()
