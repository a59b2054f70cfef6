"""The console's own commands, run once rather than on each host: virsh's
``help``, ``quit``, ``exit`` and ``connect`` (same options and help text),
and rpcnet's ``hosts`` and ``use`` for sessions with several hosts."""

from __future__ import annotations

from collections.abc import Callable

from rpcnet.cli.console.commands import COMMANDS
from rpcnet.cli.console.grammar import (
    HELP,
    ConsoleCommand,
    ConsoleHandler,
    Kind,
    Opt,
    Options,
    Source,
)
from rpcnet.cli.console.help import all_help, command_help, find_group, group_help
from rpcnet.cli.console.session import Session

GROUP = "rpcnet"


def console_command(name: str, *opts: Opt, help: str, desc: str = ""
                    ) -> Callable[[ConsoleHandler], ConsoleHandler]:
    def register(run: ConsoleHandler) -> ConsoleHandler:
        COMMANDS[name] = ConsoleCommand(name=name, opts=opts, help=help, desc=desc, group=GROUP,
                                        run=run)
        return run
    return register


async def _quit(session: Session, o: Options) -> bool:
    session.quit()
    return True


console_command("exit", help="quit this interactive terminal")(_quit)


@console_command(
    HELP, Opt("command", Kind.STRING, "Prints global help, command specific help, or help for a "
              "group of related commands", values=Source.COMMAND),
    help="print help",
    desc="Prints global help, command specific help, or help for a\n"
         "    group of related commands")
async def help_command(session: Session, o: Options) -> bool:
    name = o.string("command")
    if not name:
        session.out.text(all_help(COMMANDS))
        return True
    definition = COMMANDS.get(name)
    if definition is not None:
        session.out.text(command_help(definition))
        return True
    group = find_group(name)
    if group is not None:
        session.out.text(group_help(group, COMMANDS))
        return True
    session.out.error(f"command or command group '{name}' doesn't exist")
    return False


console_command("quit", help="quit this interactive terminal")(_quit)


@console_command(
    "connect", Opt("name", Kind.STRING, "hypervisor connection URI"),
    Opt("readonly", Kind.BOOL, "read-only connection"),
    help="(re)connect to hypervisor",
    desc="Connect to local hypervisor. This is built-in command after shell start up.")
async def connect(session: Session, o: Options) -> bool:
    return await session.connect(o.string("name"), o.flag("readonly"))


@console_command(
    "hosts", help="list the hosts of this console",
    desc="Lists every host with its URI, its connection and whether commands run on it\n"
         "    (see 'use').")
async def hosts(session: Session, o: Options) -> bool:
    rows = [[h.label, h.uri, session.state(h), "yes" if h in session.active else "no"]
            for h in session.hosts]
    session.out.table(["Host", "URI", "State", "Active"], rows)
    return True


@console_command(
    "use", Opt("all", Kind.BOOL, "run commands on every host again"),
    Opt("host", Kind.ARGV, "label of a host to run commands on", values=Source.HOST),
    help="choose the hosts that commands run on",
    desc="Following commands run only on the hosts labelled; 'use --all' makes every\n"
         "    host active again.")
async def use(session: Session, o: Options) -> bool:
    labels = o.strings("host")
    if not labels and not o.flag("all"):
        session.out.error("command 'use' requires <host> option")
        return False
    problem = session.use([] if o.flag("all") else labels)
    if problem is not None:
        session.out.error(problem)
        return False
    return True
