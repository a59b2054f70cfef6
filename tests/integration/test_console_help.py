"""`rpcnet help ...` and `rpcnet COMMAND --help` print what virsh 9.0 prints.

Every command rpcnet shares with virsh — the net-* commands and the shell's
connect/quit/exit/help — is asked for its help both ways (`help NAME` and
`NAME --help`) and compared with virsh byte for byte (stdout, stderr, exit
status), as are the errors of help itself and the group listing.
"""

from __future__ import annotations

import subprocess

import pytest

from rpcnet.cli.console.catalog import COMMANDS
from tests.integration.test_console import RPCNET, Outcome, finish, run, start
from tests.peers.rpcnetd import RpcnetdPeer
from tests.peers.virsh import VIRSH

pytestmark = pytest.mark.interop
OURS = {"hosts", "use", "net-stats"}  # rpcnet's own: virsh has no such commands
SHARED = sorted(set(COMMANDS) - OURS)


def both(*args: str) -> tuple[Outcome, Outcome]:
    procs = [start([VIRSH], *args), start(RPCNET, *args)]
    theirs, ours = map(finish, procs)
    return theirs, ours


def test_every_shared_command_is_virsh_s(virsh_bin: str) -> None:
    assert "net-update" in SHARED and "connect" in SHARED
    procs = [(args, start([VIRSH], *args), start(RPCNET, *args))
             for name in SHARED for args in (["help", name], [name, "--help"])]
    differences = []
    for args, theirs_proc, ours_proc in procs:
        theirs, ours = finish(theirs_proc), finish(ours_proc)
        assert theirs[0] == 0 and "  SYNOPSIS\n" in theirs[1], f"virsh {args}: {theirs}"
        if ours != theirs:
            differences.append(f"{' '.join(args)}:\n  virsh  {theirs!r}\n  rpcnet {ours!r}")
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("args", [
    ["help", "networking"], ["help", "bogus"], ["help", "net-info", "extra", "--bogus"],
    ["help", "--command", "net-list"], ["help", "--help"], ["net-info", "--help", "--bogus"],
    ["net-info", "a", "b", "--help"], ["net-info", "--help=1"], ["net-update", "x", "--help"],
    ["net-list", "--all", "--help", "--help"], ["help net-uuid; net-name --help"], ["quit"],
    ["help quit; quit; help exit"],
], ids=lambda a: " ".join(a))
def test_help_edges(virsh_bin: str, args: list[str]) -> None:
    theirs, ours = both(*args)
    assert ours == theirs


def test_help_with_a_host(rpcnetd: RpcnetdPeer, virsh_bin: str) -> None:
    """With -c the host is dialled first, as virsh does, even for help."""
    theirs, ours = both("-c", rpcnetd.uri(), "net-event", "--help")
    assert ours == theirs and ours[0] == 0
    bad = "network+unix:///system?socket=/nonexistent/sock"
    theirs, ours = both("-c", bad, "help")
    assert ours == theirs and ours[0] == 1


def test_networking_group_is_virsh_s_without_net_edit(virsh_bin: str) -> None:
    theirs, ours = both("help", "network")
    assert ours[0] == theirs[0] == 0 and ours[2] == theirs[2] == ""
    virsh_lines = theirs[1].splitlines(keepends=True)
    assert [line for line in virsh_lines if "net-edit" not in line] == \
        ours[1].splitlines(keepends=True)


def test_help_lists_the_groups(virsh_bin: str) -> None:
    """`help` prints "Grouped commands:", virsh's Networking group and
    rpcnet's own group, whose lines for virsh's commands are virsh's."""
    ours = run(RPCNET, "help")
    assert ours[0] == 0 and ours[2] == ""
    network = run(RPCNET, "help", "network")[1]  # the group, a blank line, a blank line
    assert ours[1].startswith("Grouped commands:\n\n" + network)
    own = ours[1][len("Grouped commands:\n\n" + network):]
    assert own.endswith("\n\n\n")
    assert own.startswith(" Rpcnet itself (help keyword 'rpcnet'):\n")
    virsh_itself = subprocess.run([VIRSH, "help", "virsh"], capture_output=True, text=True,
                                  check=True).stdout.splitlines()
    for name in ("exit", "help", "quit", "connect"):
        (line,) = [x for x in virsh_itself if x.split()[:1] == [name]]
        assert line + "\n" in own
    for name in OURS:
        assert f"\n    {name:<30} " in own
