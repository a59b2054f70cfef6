"""``help``, ``help COMMAND``, ``help GROUP`` and ``COMMAND --help``, laid
out as virsh 9.0 lays them out (its vshCmddefHelp and group listings), from
the same command definitions the parser uses.

rpcnet has two groups: virsh's "Networking" (help keyword ``network``) and
its own commands, where virsh has "Virsh itself" (keyword ``virsh``). So
``help`` with no command prints "Grouped commands:" and these two groups
only; ``help network`` prints virsh's networking listing without
``net-edit``, which rpcnet does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpcnet.cli.console.grammar import CommandDef, Kind, Opt


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    keyword: str
    #: listing order (virsh's, for its commands); others follow as registered
    order: tuple[str, ...] = ()

    def commands(self, commands: dict[str, CommandDef]) -> list[CommandDef]:
        mine = [c for c in commands.values() if c.group == self.keyword]
        rank = {name: i for i, name in enumerate(self.order)}
        return sorted(mine, key=lambda c: rank.get(c.name, len(rank)))


GROUPS = (
    Group("Networking", "network", (
        "net-autostart", "net-create", "net-define", "net-destroy", "net-dhcp-leases",
        "net-dumpxml", "net-edit", "net-event", "net-info", "net-list", "net-name", "net-start",
        "net-undefine", "net-update", "net-uuid", "net-port-list", "net-port-create",
        "net-port-dumpxml", "net-port-delete")),
    Group("Rpcnet itself", "rpcnet"),
)


def find_group(name: str) -> Group | None:
    """The group called ``name`` or with help keyword ``name``."""
    return next((g for g in GROUPS if name in (g.name, g.keyword)), None)


def group_help(group: Group, commands: dict[str, CommandDef]) -> str:
    lines = [f" {group.name} (help keyword '{group.keyword}'):\n"]
    lines += [f"    {c.name:<30} {c.help}\n" for c in group.commands(commands)]
    return "".join(lines)


def all_help(commands: dict[str, CommandDef]) -> str:
    return "Grouped commands:\n\n" + "".join(group_help(g, commands) + "\n" for g in GROUPS)


def command_help(definition: CommandDef) -> str:
    """NAME, SYNOPSIS, DESCRIPTION (if any) and OPTIONS (if any)."""
    out = ["  NAME\n", f"    {definition.name} - {definition.help}\n",
           "\n  SYNOPSIS\n", f"    {definition.name}"]
    # virsh writes the ARGV option as "[--name] <string>" once any option before it
    # can be given by position
    by_position = False
    for opt in definition.opts:
        out.append(" " + _synopsis(opt, by_position))
        by_position |= opt.kind in (Kind.INT, Kind.STRING, Kind.DATA) and opt.positional
    out.append("\n")
    if definition.desc:
        out.append(f"\n  DESCRIPTION\n    {definition.desc}\n")
    if definition.opts:
        out.append("\n  OPTIONS\n")
        out += [f"    {_option(opt, by_position):<15}  {opt.help}\n" for opt in definition.opts]
    out.append("\n")
    return "".join(out)


#: per kind: (SYNOPSIS if required, SYNOPSIS if not, OPTIONS if required, OPTIONS if not)
_LAYOUT = {
    Kind.BOOL: ("[--{}]", "[--{}]", "--{}", "--{}"),
    Kind.INT: ("<{}>", "[--{} <number>]", "[--{}] <number>", "--{} <number>"),
    Kind.STRING: ("[--{} <string>]", "[--{} <string>]", "--{} <string>", "--{} <string>"),
    Kind.DATA: ("<{}>", "[<{}>]", "[--{}] <string>", "[--{}] <string>"),
}
_ARGV_BY_POSITION = ("{{[--{}] <string>}}...", "[[--{}] <string>]...", "[--{}] <string>",
                     "[--{}] <string>")
_ARGV = ("<{}>...", "[<{}>]...", "<{}>", "<{}>")


def _layout(opt: Opt, by_position: bool) -> tuple[str, ...]:
    if opt.kind is Kind.ARGV:
        return _ARGV_BY_POSITION if by_position else _ARGV
    return _LAYOUT[opt.kind]


def _synopsis(opt: Opt, by_position: bool) -> str:
    return _layout(opt, by_position)[0 if opt.required else 1].format(opt.name)


def _option(opt: Opt, by_position: bool) -> str:
    return _layout(opt, by_position)[2 if opt.required else 3].format(opt.name)
