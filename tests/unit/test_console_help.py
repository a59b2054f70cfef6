"""The console grammar's help side without sockets: virsh's --help and
``help`` parsing rules, option kinds, and vshCmddefHelp's layout rules for
every option kind (the net-* texts themselves are compared with virsh in
tests/integration/test_console_help.py)."""

from __future__ import annotations

import pytest

from rpcnet.cli.console.catalog import COMMANDS
from rpcnet.cli.console.grammar import (
    CommandDef,
    HostCommand,
    Kind,
    Opt,
    ParseError,
    parse_command,
    parse_line,
)
from rpcnet.cli.console.help import GROUPS, all_help, command_help, find_group, group_help


def parsed(*tokens: str) -> tuple[str, dict[str, object]]:
    (cmd,) = parse_line(list(tokens), COMMANDS)
    return cmd.definition.name, cmd.options.values


def test_kinds_are_distinct() -> None:
    assert len({k.value for k in Kind}) == len(Kind)
    assert [k.placeholder for k in (Kind.DATA, Kind.STRING, Kind.INT)] == [
        "string", "string", "number"]


def test_help_option_becomes_help_command() -> None:
    assert parsed("net-update", "--help") == ("help", {"command": "net-update"})
    assert parsed("net-info", "x", "--help", "--help") == ("help", {"command": "net-info"})
    assert parsed("help", "--help") == ("help", {"command": "help"})
    # parse errors still come first, as in virsh
    for tokens, message in [(["net-info", "--help", "--bogus"],
                             "command 'net-info' doesn't support option --bogus"),
                            (["net-info", "a", "b", "--help"], "unexpected data 'b'"),
                            (["net-info", "--help=1"], "invalid '=' after option --help")]:
        with pytest.raises(ParseError) as exc:
            parse_line(tokens, COMMANDS)
        assert exc.value.messages == (message,)


def test_help_ignores_what_it_does_not_know() -> None:
    assert parsed("help", "net-info", "extra", "--bogus") == ("help", {"command": "net-info"})
    assert parsed("help", "--bogus=1", "--command", "net-list") == (
        "help", {"command": "net-list"})
    assert parsed("help") == ("help", {})


def test_argv_takes_every_remaining_word() -> None:
    assert parsed("use", "a", "b", "--host", "c") == ("use", {"host": ["a", "b", "c"]})
    assert parsed("use", "--all") == ("use", {"all": True})


def test_required_options_named_by_kind() -> None:
    must = HostCommand(name="x", help="x", handler=_never,
                       opts=(Opt("n", Kind.INT, required=True), Opt("d", Kind.DATA, required=True)))
    with pytest.raises(ParseError) as exc:
        parse_command(["x"], {"x": must})
    assert exc.value.messages == ("command 'x' requires --n option",
                                  "command 'x' requires <d> option")


async def _never(*_args: object) -> bool:
    raise AssertionError("not run")


def definition(*opts: Opt, desc: str = "") -> CommandDef:
    return HostCommand(name="demo", help="a demo", desc=desc, opts=opts, handler=_never)


def test_layout_of_every_kind() -> None:
    text = command_help(definition(
        Opt("net", Kind.DATA, "the network", required=True),
        Opt("count", Kind.INT, "how many", required=True),
        Opt("flag", Kind.BOOL, "a flag"),
        Opt("name", Kind.STRING, "a name"),
        Opt("limit", Kind.INT, "a limit"),
        Opt("xpath", Kind.STRING, "by name only", positional=False),
        Opt("rest", Kind.ARGV, "the rest"),
        desc="Does things."))
    assert text == (
        "  NAME\n"
        "    demo - a demo\n"
        "\n  SYNOPSIS\n"
        "    demo <net> <count> [--flag] [--name <string>] [--limit <number>]"
        " [--xpath <string>] [[--rest] <string>]...\n"
        "\n  DESCRIPTION\n"
        "    Does things.\n"
        "\n  OPTIONS\n"
        "    [--net] <string>  the network\n"
        "    [--count] <number>  how many\n"
        "    --flag           a flag\n"
        "    --name <string>  a name\n"
        "    --limit <number>  a limit\n"
        "    --xpath <string>  by name only\n"
        "    [--rest] <string>  the rest\n"
        "\n")


def test_argv_after_options_taken_only_by_name() -> None:
    text = command_help(definition(Opt("xpath", Kind.STRING, "x", positional=False),
                                   Opt("rest", Kind.ARGV, "the rest", required=True)))
    assert "    demo [--xpath <string>] <rest>...\n" in text
    assert "    <rest>           the rest\n" in text


def test_no_options_no_description() -> None:
    assert command_help(definition()) == (
        "  NAME\n    demo - a demo\n\n  SYNOPSIS\n    demo\n\n")


def test_groups_list_every_command_once() -> None:
    listed = [c.name for g in GROUPS for c in g.commands(COMMANDS)]
    assert sorted(listed) == sorted(COMMANDS)
    network = find_group("network")
    assert network is not None and find_group("Networking") is network
    assert group_help(network, COMMANDS).splitlines()[1].split() == [
        "net-autostart", "autostart", "a", "network"]
    assert all_help(COMMANDS).startswith("Grouped commands:\n\n Networking (help keyword ")


def test_a_new_command_shows_up_in_its_group() -> None:
    commands = dict(COMMANDS, **{"net-zz": HostCommand(name="net-zz", opts=(), help="new",
                                                       handler=_never)})
    network = find_group("network")
    assert network is not None
    assert group_help(network, commands).endswith(f"    {'net-zz':<30} new\n")
