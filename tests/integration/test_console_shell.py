"""`rpcnet` with no command: the interactive shell, driven as a person drives
it — under a real pseudo-terminal (pexpect) — and compared with virsh's
shell wherever virsh has the same feature (banner, prompt, errors, quit,
Ctrl-D, connect, Ctrl-C during `net-event --loop`, input from a pipe).

Against two rpcnetd hosts with different networks: completion of commands,
options and network names (the union over both hosts), `use`/`hosts`, the
merged output, history recalled in a later session, Ctrl-C cancelling a
command that hangs (a stopped daemon) without ending the shell, and one
connection per host for the whole session.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest

from rpcnet.client import Networks, connect
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.rpcnetd import RpcnetdPeer
from tests.peers.terminal import POLKIT, Terminal, private_env
from tests.peers.virsh import VIRSH

pytestmark = pytest.mark.interop
RPCNET = [sys.executable, "-m", "rpcnet.cli.console"]
PROMPT = "rpcnet # "


def network_xml(name: str, octet: int) -> str:
    return (f"<network><name>{name}</name><bridge name='virbr{octet}'/>"
            f"<ip address='10.{octet}.0.1' netmask='255.255.255.0'/></network>")


async def define(uri: str, name: str, octet: int) -> None:
    async with connect(uri) as drv:
        await Networks(drv).define(network_xml(name, octet))


async def undefine(uri: str, name: str) -> None:
    async with connect(uri) as drv:
        net = await Networks(drv).lookup(name)
        await net.undefine()


@pytest.fixture(scope="module")
def one() -> Iterator[RpcnetdPeer]:
    """A host with the networks default and alpha."""
    with RpcnetdPeer() as peer:
        asyncio.run(define(peer.uri(), "alpha", 71))
        yield peer


@pytest.fixture(scope="module")
def two() -> Iterator[RpcnetdPeer]:
    """A host with the networks default and beta."""
    with RpcnetdPeer() as peer:
        asyncio.run(define(peer.uri(), "beta", 72))
        yield peer


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def hosts_file(one: RpcnetdPeer, two: RpcnetdPeer, tmp_path: Path) -> Path:
    path = tmp_path / "hosts"
    path.write_text(f"one {one.uri()}\ntwo {two.uri()}\n")
    return path


def shell(home: Path, *args: str, prompt: str = PROMPT) -> Terminal:
    return Terminal(RPCNET[0], *RPCNET[1:], *args, env=private_env(home), prompt=prompt)


def normalized(text: str) -> str:
    """A transcript with the program's own name and banner title made equal."""
    return (text.replace(POLKIT.replace("\r", ""), "")
            .replace("the virtualization interactive terminal", "TITLE")
            .replace("the virtual network console", "TITLE")
            .replace("virsh", "PROGRAM").replace("rpcnet", "PROGRAM"))


# -- the same as virsh's shell ---------------------------------------------------


def piped(program: list[str], args: list[str], text: str, home: Path) -> tuple[int, str, str]:
    result = subprocess.run([*program, *args], input=text, capture_output=True, text=True,
                            env=private_env(home), timeout=60)
    return result.returncode, normalized(result.stdout), normalized(result.stderr)


@pytest.fixture(params=["rpcnetd", "libvirtd"])
def server_uri(request: pytest.FixtureRequest, one: RpcnetdPeer, virsh_bin: str) -> str:
    if request.param == "rpcnetd":
        return one.uri()
    peer: LibvirtdPeer = request.getfixturevalue("libvirtd")
    return str(peer.uri("test"))


@pytest.mark.parametrize(("args", "text"), [
    ([], "net-list --all\nbogus\nnet-info nosuch\nhelp net-info\n"
         "net-list --name; quit; net-list\n"),
    (["-q"], "net-list --all\n  \nnet-list --x\nnet-uuid nosuch\nquit\nnet-list\n"),
    (["-r"], "net-autostart default\nnet-list --all"),
], ids=["plain", "quiet", "readonly"])
def test_input_from_a_pipe_is_virsh_s(server_uri: str, home: Path, args: list[str],
                                      text: str) -> None:
    theirs = piped([VIRSH], [*args, "-c", server_uri], text, home / "virsh")
    ours = piped(RPCNET, [*args, "-c", server_uri], text, home / "rpcnet")
    assert ours == theirs
    assert theirs[0] == 0 and "net-list --all\n" in theirs[1]


def test_unreachable_host_ends_the_shell_as_virsh(virsh_bin: str, home: Path) -> None:
    bad = ["-c", "network+unix:///system?socket=/nonexistent/sock"]
    theirs = piped([VIRSH], bad, "net-list\n", home)
    assert piped(RPCNET, bad, "net-list\n", home) == theirs and theirs[0] == 1


def transcript(program: list[str], args: list[str], keys: list[str], home: Path) -> str:
    prompt = "virsh" if program == [VIRSH] else "rpcnet"
    with Terminal(program[0], *program[1:], *args, env=private_env(home),
                  prompt=prompt) as term:
        term.expect(f"{prompt} [#>] ")
        for key in keys:
            term.send(key)
            if key.endswith("\r") and not key.startswith(("quit", "exit")):
                term.expect(f"{prompt} [#>] ")
        status, _rest = term.end()
        assert status == 0
        return normalized(term.transcript)


@pytest.mark.parametrize(("args", "keys"), [
    ([], ["net-list\r", "bogus\r", "net-info nosuch\r", "net-list --x\r", "help quit\r",
          "quit\r"]),
    (["-r"], ["net-autostart default\r", "\x04"]),
    (["-q"], ["connect {test}\r", "net-list --name\r", "connect network+unix:///system?socket=/nonexistent/sock\r",
              "net-list --name\r", "exit\r"]),
], ids=["plain", "readonly-ctrl-d", "connect"])
def test_terminal_session_is_virsh_s(one: RpcnetdPeer, virsh_bin: str, home: Path,
                                     args: list[str], keys: list[str]) -> None:
    keys = [k.format(test=one.uri("test")) for k in keys]
    args = [*args, "-c", one.uri()]
    theirs = transcript([VIRSH], args, keys, home / "virsh")
    ours = transcript(RPCNET, args, keys, home / "rpcnet")
    assert ours == theirs


EVENT = re.compile(r"(?:\w+: )?event 'lifecycle' for network ev\d+: Defined\r\n")
RECEIVED = re.compile(r"events received: (\d+)")


async def first_event(term: Terminal, uri: str, defined: list[str], prefix: str = "") -> None:
    """Define networks ev0, ev1, ... on ``uri`` until ``term`` shows the event
    of one: the proof that its wait for events has begun (a network defined
    before that is never reported)."""
    for i in range(30):
        name = f"ev{i}"
        await define(uri, name, 80 + i)
        defined.append(name)
        try:
            term.expect(f"{prefix}event 'lifecycle' for network {name}: Defined\r\n", timeout=2)
            return
        except pexpect.TIMEOUT:
            continue
    raise AssertionError(f"no event reached the terminal: {term.transcript!r}")


def interrupted_wait(term: Terminal) -> str:
    """Ctrl-C; check what the wait reports against the events it showed."""
    term.interrupt()
    out = term.wait_prompt()
    shown = len(EVENT.findall(term.transcript))
    assert out == f"^Cevent loop interrupted\nevents received: {shown}\n\n"
    return out


async def test_ctrl_c_ends_net_event_as_in_virsh(one: RpcnetdPeer, virsh_bin: str,
                                                 home: Path) -> None:
    transcripts = []
    for program, name in (([VIRSH], "virsh"), (RPCNET, "rpcnet")):
        defined: list[str] = []
        try:
            with Terminal(program[0], *program[1:], "-c", one.uri(),
                          env=private_env(home / name), prompt=f"{name} # ") as term:
                term.wait_prompt()
                term.send("net-event --event lifecycle --loop\r")
                term.expect("--loop\r\n")
                await first_event(term, one.uri(), defined)
                interrupted_wait(term)
                term.send("quit\r")
                assert term.end()[0] == 0
                transcripts.append(RECEIVED.sub("events received: N", EVENT.sub(
                    "", normalized(term.transcript))))
        finally:
            for net in defined:
                await undefine(one.uri(), net)
    assert transcripts[0] == transcripts[1]


# -- completion, several hosts, history -------------------------------------------


def test_completion_of_commands_options_and_names(one: RpcnetdPeer, home: Path) -> None:
    with shell(home, "-c", one.uri()) as term:
        term.wait_prompt()
        assert term.run("net-li\t --na\t").startswith("default\n")  # net-list --name
        assert term.listing("net-list --a\t\t") == {"--all", "--autostart"}
        assert term.run("\x15net-info al\t").startswith("Name:           alpha\n")
        assert term.listing("net-dumpxml \t\t") == {"alpha", "default"}
        assert "net-update - update parts" in term.run("\x15help net-upd\t")


def test_several_hosts(one: RpcnetdPeer, two: RpcnetdPeer, hosts_file: Path,
                       home: Path) -> None:
    """Names from both hosts, the merged table, and `use` narrowing both;
    one connection per host for the whole session."""
    connects = [peer.log().count("client connected") for peer in (one, two)]
    with shell(home, "--hosts", str(hosts_file), prompt="rpcnet (one,two) # ") as term:
        assert "'hosts' to see the 2 hosts" in term.wait_prompt()
        assert term.listing("net-info \t\t") == {"alpha", "beta", "default"}
        table = term.run("\x15net-list --all").splitlines()
        assert table[0].split() == ["Host", "Name", "State", "Autostart", "Persistent"]
        assert [r.split()[:2] for r in table[2:] if r] == [
            ["one", "alpha"], ["one", "default"], ["two", "beta"], ["two", "default"]]
        term.prompt = "rpcnet (two) # "
        assert term.run("use two") == "\n"
        assert [r.split()[:2] for r in term.run("net-list --all").splitlines()[2:] if r] == [
            ["two", "beta"], ["two", "default"]]
        assert term.listing("net-info \t\t") == {"beta", "default"}
        hosts = term.run("\x15hosts").splitlines()
        assert [[h.split()[0], *h.split()[2:]] for h in hosts[2:] if h] == [
            ["one", "connected", "no"], ["two", "connected", "yes"]]
        assert term.run("use three") == "error: no host labelled 'three'\n\n"
        term.prompt = "rpcnet (one,two) # "
        assert term.run("use --all") == "\n"
        term.send("quit\r")
        assert term.end()[0] == 0
    assert [peer.log().count("client connected") - before
            for peer, before in zip((one, two), connects, strict=True)] == [1, 1]


async def test_events_of_several_hosts_stop_on_ctrl_c(hosts_file: Path, two: RpcnetdPeer,
                                                      home: Path) -> None:
    defined: list[str] = []
    try:
        with shell(home, "--hosts", str(hosts_file), prompt="rpcnet (one,two) # ") as term:
            term.wait_prompt()
            term.send("net-event --event lifecycle --loop\r")
            term.expect("--loop\r\n")
            await first_event(term, two.uri(), defined, prefix="two: ")
            interrupted_wait(term)
            assert defined[-1] in term.run("net-list --all --name").split()
    finally:
        for net in defined:
            await undefine(two.uri(), net)


def test_history_is_kept_across_sessions(one: RpcnetdPeer, home: Path) -> None:
    with shell(home, "-c", one.uri()) as term:
        term.wait_prompt()
        term.run("net-uuid alpha")
        term.run("net-list --name")
        term.send("quit\r")
        term.end()
    history = home / "state" / "rpcnet" / "history"
    assert history.read_text().splitlines() == ["net-uuid alpha", "net-list --name", "quit"]
    assert history.stat().st_mode & 0o777 == 0o600
    with shell(home, "-c", one.uri()) as term:
        term.wait_prompt()
        term.send("\x1b[A\x1b[A\x1b[A\r")  # three lines up: net-uuid alpha
        # (readline redraws the recalled lines with backspaces)
        assert term.wait_prompt().endswith(" \x08\n" + _uuid(one, "alpha") + "\n\n")


def _uuid(peer: RpcnetdPeer, name: str) -> str:
    return subprocess.run([*RPCNET, "-c", peer.uri(), "net-uuid", name], check=True,
                          capture_output=True, text=True).stdout.strip()


def unread_at(path: str) -> bool:
    """Bytes wait unread on a connection the server at UNIX socket ``path`` accepted."""
    listing = subprocess.run(["ss", "-xnH"], capture_output=True, text=True, check=True).stdout
    return any(f" {path} " in line and int(line.split()[2]) > 0
               for line in listing.splitlines())


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{condition} still false after {timeout} s"
        time.sleep(0.02)


def test_ctrl_c_cancels_a_command_not_the_shell(rpcnetd: RpcnetdPeer, home: Path) -> None:
    """A command waiting on a stopped daemon is cancelled by Ctrl-C; the
    shell and its one connection go on once the daemon does."""
    connects_before = rpcnetd.log().count("client connected")
    with shell(home, "-c", rpcnetd.uri()) as term:
        term.wait_prompt()
        term.send("\x03")  # at the prompt: the line is dropped, the shell stays
        term.wait_prompt()
        assert rpcnetd.proc is not None
        os.kill(rpcnetd.proc.pid, signal.SIGSTOP)
        try:
            term.send("net-list --name\r")
            wait_until(lambda: unread_at(rpcnetd.socket))  # the call is on its way
            term.interrupt()
            assert term.wait_prompt(timeout=10) == "net-list --name\n^C\n"
        finally:
            os.kill(rpcnetd.proc.pid, signal.SIGCONT)
        assert term.run("net-list --name") == "default\n\n"
        assert term.run("net-info default").startswith("Name:           default\n")
        term.send("\x04")
        assert term.end()[0] == 0
    assert rpcnetd.log().count("client connected") - connects_before == 1


def test_a_restarted_daemon_is_dialled_again(rpcnetd: RpcnetdPeer, home: Path) -> None:
    """As virsh: the next command reconnects and says so on stderr."""
    with shell(home, "-c", rpcnetd.uri()) as term:
        term.wait_prompt()
        assert term.run("net-list --name") == "default\n\n"
        rpcnetd.restart()
        assert term.run("net-list --name") == \
            "error: Reconnected to the hypervisor\ndefault\n\n"
        assert term.run("net-list --name") == "default\n\n"
        term.send("quit\r")
        assert term.end()[0] == 0
