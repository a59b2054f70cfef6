"""The completion engine without sockets: what TAB offers for each part of a
command, from the grammar, local paths and a fixed table of host answers
(the answers of real hosts are tested in tests/integration/test_console_shell.py
and test_console_completion.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpcnet.cli.console.catalog import COMMANDS
from rpcnet.cli.console.completion import (
    Completion,
    complete_line,
    escape,
    for_segment,
    paths,
)
from rpcnet.cli.console.grammar import Options, Source, split_partial
from rpcnet.cli.console.shell_completion import _globals, bash_quote


class Table:
    """What the hosts would answer, and what they were asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[Source, dict[str, object]]] = []

    async def values(self, source: Source, options: Options) -> list[str]:
        self.asked.append((source, dict(options.values)))
        return {Source.NETWORK: ["default", "lab", "my net"],
                Source.ACTIVE_NETWORK: ["default"],
                Source.INACTIVE_NETWORK: ["lab"],
                Source.PORT: ["3f1d0b1e-2a4b-4c6d-8e9f-0a1b2c3d4e87"],
                Source.HOST: ["web1", "web2"]}.get(source, [])


async def offered(line: str, table: Table | None = None) -> list[str]:
    return (await complete_line(line, COMMANDS, table or Table())).candidates


async def test_commands() -> None:
    assert await offered("net-li") == ["net-list"]
    assert await offered("net-port-d") == ["net-port-delete", "net-port-dumpxml"]
    assert "quit" in await offered("") and "net-update" in await offered("")
    assert await offered("net-list; net-inf") == ["net-info"]
    assert await offered("bogus ") == []


async def test_options_not_yet_given() -> None:
    assert await offered("net-list --a") == ["--all", "--autostart"]
    assert "--all" not in await offered("net-list --all --")
    assert await offered("net-list ") == await offered("net-list --")
    assert await offered("net-dumpxml x --x") == ["--xpath"]
    assert await offered("use a --") == ["--all", "--host"]  # an ARGV option repeats


async def test_positional_values_come_from_the_hosts() -> None:
    table = Table()
    assert await offered("net-info ", table) == ["default", "lab", "my net"]
    assert await offered("net-info l", table) == ["lab"]
    assert await offered("net-start ", table) == ["lab"]
    assert await offered("net-destroy --network ", table) == ["default"]
    assert await offered("net-info --network=d", table) == ["--network=default"]
    assert await offered("net-info default ", table) == []  # nothing more to fill
    assert await offered("use web1 ", table) == ["web1", "web2"]
    assert {s for s, _ in table.asked} == {Source.NETWORK, Source.ACTIVE_NETWORK,
                                           Source.INACTIVE_NETWORK, Source.HOST}


async def test_ports_of_the_network_typed() -> None:
    table = Table()
    assert await offered("net-port-delete lab ", table) == [
        "3f1d0b1e-2a4b-4c6d-8e9f-0a1b2c3d4e87"]
    assert table.asked == [(Source.PORT, {"network": "lab"})]


async def test_fixed_choices_and_commands() -> None:
    assert await offered("net-update x add-") == ["add-first", "add-last"]
    assert await offered("net-update x add ip-dhcp-") == ["ip-dhcp-host", "ip-dhcp-range"]
    assert await offered("net-event --event ") == ["lifecycle"]
    assert await offered("help net-up") == ["net-update"]
    assert await offered("net-event --timeout ") == []  # a number: nothing to offer


async def test_after_double_dash_only_data() -> None:
    assert await offered("net-info -- ") == ["default", "lab", "my net"]
    assert await offered("net-list -- ") == []


def test_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "net.xml").write_text("<network/>")
    (tmp_path / "nets").mkdir()
    (tmp_path / ".hidden").write_text("")
    monkeypatch.chdir(tmp_path)
    assert paths("ne") == ["net.xml", "nets/"]
    assert paths("") == ["net.xml", "nets/"]
    assert paths(".h") == [".hidden"]
    assert paths(f"{tmp_path}/net.") == [f"{tmp_path}/net.xml"]
    assert paths("nosuch/x") == []


def test_partial_lines() -> None:
    assert split_partial("net-info 'my n") == (["net-info"], "my n", 9)
    assert split_partial("net-list; ") == ([], "", 10)


def test_front_ends_replace_their_own_segment() -> None:
    found = Completion("--network=d", 9, ["--network=default"])
    line = "net-info --network=d"
    assert for_segment(found, line, "--network=d", escape) == ["--network=default"]
    assert for_segment(found, line, "d", bash_quote) == ["default"]  # bash splits at '='
    spaced = Completion("my n", 9, ["my net"])
    assert for_segment(spaced, "net-info my\\ n", "my\\ n", escape) == ["my\\ net"]
    assert for_segment(spaced, "net-info my\\ n", "n", escape) == ["net"]
    assert bash_quote("a b$c") == "a\\ b\\$c"


def test_global_options_before_the_command() -> None:
    g, rest = _globals(["-c", "u1", "--connect=u2", "-cu3", "-r", "--hosts", "f", "net-info"])
    assert (g.uris, g.hosts_file, g.readonly, rest) == (["u1", "u2", "u3"], "f", True,
                                                        ["net-info"])
    assert _globals(["-c"])[1] is None
    assert _globals(["-q", "--", "-x"])[1] == ["-x"]
