"""The console's pieces without sockets: virsh's grammar and table layout,
global options and the hosts file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpcnet.cli.console import UsageError, parse_globals
from rpcnet.cli.console import events as _events  # noqa: F401  (registers net-event)
from rpcnet.cli.console.commands import COMMANDS
from rpcnet.cli.console.grammar import ParseError, parse_line, split_script
from rpcnet.cli.console.hosts import Host, read_hosts_file
from rpcnet.cli.console.output import CaptureSink, format_table


def parse_error(*args: str) -> tuple[str, ...]:
    with pytest.raises(ParseError) as exc:
        parse_line(list(args), COMMANDS)
    return exc.value.messages


def test_split_script_quotes_and_separators() -> None:
    assert split_script("net-list --all; net-info 'a b';net-uuid \"x\\\"y\"\nnet-name z") == [
        ["net-list", "--all"], ["net-info", "a b"], ["net-uuid", 'x"y'], ["net-name", "z"]]
    assert split_script("net-update n add ip-dhcp-host \"<host mac='1'/>\"") == [
        ["net-update", "n", "add", "ip-dhcp-host", "<host mac='1'/>"]]
    assert split_script("  ;  # comment\n net-list") == [["net-list"]]


def test_positional_and_named_options() -> None:
    (cmd,) = parse_line(["net-update", "--xml", "<x/>", "n", "add", "ip", "3", "--live"],
                        COMMANDS)
    assert cmd.options.values == {"xml": "<x/>", "network": "n", "command": "add",
                                  "section": "ip", "parent-index": "3", "live": True}
    (cmd,) = parse_line(["net-info", "--network=a=b"], COMMANDS)
    assert cmd.options.values == {"network": "a=b"}
    (cmd,) = parse_line(["net-info", "--", "--odd"], COMMANDS)
    assert cmd.options.values == {"network": "--odd"}
    (cmd,) = parse_line(["net-event", "mynet", "lifecycle"], COMMANDS)
    assert cmd.options.values == {"network": "mynet", "event": "lifecycle"}


def test_virsh_parse_errors() -> None:
    assert parse_error("bogus") == ("unknown command: 'bogus'",)
    assert parse_error("net-list", "--x") == ("command 'net-list' doesn't support option --x",)
    assert parse_error("net-info", "a", "b") == ("unexpected data 'b'",)
    assert parse_error("net-info") == ("command 'net-info' requires <network> option",)
    assert parse_error("net-list", "--all=1") == ("invalid '=' after option --all",)
    assert parse_error("net-list", "--all", "--all") == ("option --all already seen",)
    assert parse_error("net-event", "--timeout") == ("expected syntax: --timeout <number>",)
    assert parse_error("net-dumpxml", "n", "//ip") == ("unexpected data '//ip'",)
    assert parse_error("net-update", "n", "add") == (
        "command 'net-update' requires <section> option",
        "command 'net-update' requires <xml> option")
    assert parse_error("net-list; bogus") == ("unknown command: 'bogus'",)


def test_table_layout_is_virsh_s() -> None:
    assert format_table(["Name", "State"], [["default", "active"]]) == (
        " Name      State\n"
        "-------------------\n"
        " default   active\n")
    assert format_table(["UUID"], []) == " UUID\n-------\n"
    assert format_table(["Host", "A", "B"], [["h", "error", ""]], rstrip=True).endswith(
        " h      error\n")


def test_capture_sink_keeps_structure() -> None:
    sink = CaptureSink()
    sink.text("a\n\nb\n")
    sink.record([("Name", "x")])
    sink.error("boom")
    assert (sink.lines(), sink.pairs, sink.errors) == (["a", "b"], [("Name", "x")], ["boom"])


def test_global_options() -> None:
    g = parse_globals(["-c", "u1", "--connect=u2", "-cu3", "-r", "--hosts", "f", "net-list",
                       "-c"])
    assert (g.uris, g.hosts_file, g.readonly, g.command) == (
        ["u1", "u2", "u3"], "f", True, ["net-list", "-c"])
    with pytest.raises(UsageError):
        parse_globals(["--nope", "net-list"])
    with pytest.raises(UsageError):
        parse_globals(["-c"])


def test_hosts_file(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("# fleet\n\nnetwork:///system\n  web1  test+unix:///default?socket=/s\n"
                    "   # indented comment\n")
    assert read_hosts_file(str(path)) == [
        Host("network:///system", "network:///system"),
        Host("web1", "test+unix:///default?socket=/s")]
