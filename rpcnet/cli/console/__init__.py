"""``rpcnet``: a virsh-like console for virtual networks on one or many hosts.

    rpcnet -c URI net-list --all              # output and exit code as virsh's
    rpcnet -c URI1 -c URI2 net-list --all     # one table, a Host column first
    rpcnet --hosts hosts.txt net-event --loop --event lifecycle

Global options: ``-c/--connect URI`` (repeatable; else $LIBVIRT_DEFAULT_URI,
else network:///system), ``--hosts FILE`` (one ``URI`` or ``LABEL URI`` per
line, ``#`` comments), ``-r/--readonly``, ``-q/--quiet`` (as virsh: no headers, no
confirmations), ``-h/--help``. With several hosts
the exit status is 0 only if the command succeeded on every host.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

DEFAULT_URI = "network:///system"
USAGE = """\
usage: rpcnet [-c URI]... [--hosts FILE] [-r] [-q] COMMAND [ARGS...]
       rpcnet [-c URI]... 'COMMAND [ARGS]; COMMAND [ARGS]...'

Commands (virsh syntax):
{commands}
With one host the output and exit status are virsh's. With several (-c more
than once, or --hosts FILE with one 'URI' or 'LABEL URI' per line) every host
runs the command at once and the results merge into one table with a Host
column; a failing host is reported on stderr and as a row marked 'error'.
The exit status is then 0 only if every host succeeded. 'net-event --loop'
merges the live events of all hosts, each line prefixed with its host.
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
    command: list[str] = field(default_factory=list)


_WITH_VALUE = {"-c": "uris", "--connect": "uris", "--hosts": "hosts_file"}


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
        if name in _WITH_VALUE:
            if not eq and not value:
                if i >= len(argv):
                    raise UsageError(f"option '{name}' requires an argument")
                value, i = argv[i], i + 1
            if _WITH_VALUE[name] == "uris":
                g.uris.append(value)
            else:
                g.hosts_file = value
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
    try:
        g = parse_globals(args)
    except UsageError as exc:
        sys.stderr.write(f"rpcnet: {exc}\n")
        return 1
    from rpcnet.cli.console import events as _events  # noqa: F401  (registers net-event)
    from rpcnet.cli.console.commands import COMMANDS
    from rpcnet.cli.console.grammar import ParseError, parse_line

    if g.help or not g.command or g.command == ["help"]:
        listing = "".join(f"  {c.name:<18} {c.help}\n" for c in COMMANDS.values())
        (sys.stdout if g.help or g.command else sys.stderr).write(USAGE.format(commands=listing))
        return 0 if g.help or g.command else 1
    try:
        commands = parse_line(g.command, COMMANDS)
    except ParseError as exc:
        sys.stderr.write("".join(f"error: {m}\n" for m in exc.messages))
        return 1
    from rpcnet.cli.console.hosts import Host, read_hosts_file, run_many, run_single

    hosts = [Host(uri, uri) for uri in g.uris]
    if g.hosts_file is not None:
        try:
            hosts += read_hosts_file(g.hosts_file)
        except OSError as exc:
            sys.stderr.write(f"error: cannot read hosts file '{g.hosts_file}': "
                             f"{exc.strerror}\n")
            return 1
    if not hosts:
        uri = os.environ.get("LIBVIRT_DEFAULT_URI") or DEFAULT_URI
        hosts = [Host(uri, uri)]
    if len(hosts) == 1 and g.hosts_file is None:
        runner = run_single(hosts[0].uri, g.readonly, commands, quiet=g.quiet)
    else:
        runner = run_many(hosts, g.readonly, commands)
    try:
        return _run(runner)
    except KeyboardInterrupt:
        return 130


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
