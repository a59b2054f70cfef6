"""bash and zsh completion for `rpcnet`: the scripts `rpcnet completion
bash|zsh` prints, run in a real bash and zsh.

The bash function is called the way bash calls it (COMP_LINE, COMP_POINT,
COMP_WORDS split at bash's word breaks, the current word as $2) and, under
a pseudo-terminal, by pressing TAB in an interactive bash and zsh; network
names come from the rpcnetd hosts named on the line being typed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpcnet.client import Networks, connect
from tests.peers.requirements import need_executable
from tests.peers.rpcnetd import RpcnetdPeer
from tests.peers.terminal import Terminal, private_env

pytestmark = pytest.mark.interop
BIN = str(Path(sys.executable).parent)  # where the venv put the `rpcnet` script


async def define(uri: str, name: str, octet: int) -> None:
    async with connect(uri) as drv:
        await Networks(drv).define(
            f"<network><name>{name}</name><bridge name='virbr{octet}'/></network>")


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[RpcnetdPeer, RpcnetdPeer]]:
    """Two hosts: default and alpha on one, default and beta on the other."""
    with RpcnetdPeer() as one, RpcnetdPeer() as two:
        asyncio.run(define(one.uri(), "alpha", 61))
        asyncio.run(define(two.uri(), "beta", 62))
        yield one, two


def rpcnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([f"{BIN}/rpcnet", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_scripts_are_shipped() -> None:
    need_executable(f"{BIN}/rpcnet")
    for shell, hook in (("bash", "complete -F _rpcnet_complete rpcnet"),
                        ("zsh", "compdef _rpcnet rpcnet")):
        result = rpcnet("completion", shell)
        assert result.returncode == 0 and hook in result.stdout
        assert f"--complete {shell}" in result.stdout
    assert rpcnet("completion", "fish").returncode == 1


def bash_complete(words: list[str], *, home: Path) -> list[str]:
    """COMPREPLY for a command line whose words (split at bash's word breaks,
    the last being completed) are ``words``."""
    bash = need_executable("bash")
    line = "".join(w if w in ("=", ":") or prev in ("=", ":") else " " + w
                   for prev, w in zip(["", *words], words, strict=False)).lstrip()
    script = rpcnet("completion", "bash").stdout + (
        'COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; shift\n'
        'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))\n'
        '_rpcnet_complete rpcnet "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    result = subprocess.run([bash, "--norc", "--noprofile", "-c", script, "bash", line, *words],
                            capture_output=True, text=True, timeout=60,
                            env=private_env(home, path=BIN))
    assert result.returncode == 0 and result.stderr == ""
    return [w for w in result.stdout.split("\n") if w]


def test_bash_commands_and_options(home: Path) -> None:
    assert bash_complete(["rpcnet", "net-li"], home=home) == ["net-list"]
    assert bash_complete(["rpcnet", "-r", "help", "net-port-d"], home=home) == [
        "net-port-delete", "net-port-dumpxml"]
    assert bash_complete(["rpcnet", "net-list", "--n"], home=home) == [
        "--name", "--no-autostart"]
    assert "--hosts" in bash_complete(["rpcnet", "-"], home=home)
    assert bash_complete(["rpcnet", "net-update", "x", "add", "dns-s"], home=home) == [
        "dns-srv"]


def test_bash_names_from_the_hosts_on_the_line(hosts: tuple[RpcnetdPeer, RpcnetdPeer],
                                               home: Path, tmp_path: Path) -> None:
    one, two = hosts
    assert bash_complete(["rpcnet", "-c", one.uri(), "-c", two.uri(), "net-info", ""],
                         home=home) == ["alpha", "beta", "default"]
    assert bash_complete(["rpcnet", "-c", one.uri(), "net-start", ""], home=home) == ["alpha"]
    # bash breaks words at '=': the reply is for the part after it
    assert bash_complete(["rpcnet", "--connect", "=", two.uri(), "net-info", "--network", "=",
                          "b"], home=home) == ["beta"]
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text(f"one {one.uri()}\ntwo {two.uri()}\n")
    assert bash_complete(["rpcnet", "--hosts", str(hosts_file), "net-dumpxml", "--network",
                          ""], home=home) == ["alpha", "beta", "default"]
    assert bash_complete(["rpcnet", "--hosts", str(hosts_file), "use", "t"],
                         home=home) == ["two"]
    assert bash_complete(["rpcnet", "--hosts", str(tmp_path / "ho")], home=home) == [
        str(hosts_file)]


def test_bash_gives_up_on_unreachable_hosts(home: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    assert bash_complete(["rpcnet", "-c", f"network+unix:///system?socket={tmp_path}/none",
                          "net-info", ""], home=home) == []
    assert time.monotonic() - started < 20


def test_tab_in_an_interactive_bash(hosts: tuple[RpcnetdPeer, RpcnetdPeer], home: Path) -> None:
    one, _two = hosts
    home.mkdir(parents=True, exist_ok=True)
    rc = home / "bashrc"
    rc.write_text("PS1='bash$ '\nbind 'set enable-bracketed-paste off'\n"
                  "source <(rpcnet completion bash)\n")
    with Terminal(need_executable("bash"), "--rcfile", str(rc), "-i",
                  env=private_env(home, path=BIN), prompt="bash$ ") as term:
        term.wait_prompt()
        out = term.run(f"rpcnet -c '{one.uri()}' net-in\tal\t")  # net-info alpha
        assert out.startswith("Name:           alpha\n")
        assert term.listing(f"rpcnet -c '{one.uri()}' net-dumpxml \t\t") == {"alpha", "default"}
        term.send("\x15exit\r")
        term.end()


ZSH_INSTALLS = {
    # the script sourced after compinit, or autoloaded from $fpath by compinit
    "sourced": "autoload -Uz compinit && compinit -u -d $HOME/.zcompdump\n"
               "source <(rpcnet completion zsh)\n",
    "fpath": "rpcnet completion zsh > $HOME/_rpcnet\nfpath=($HOME $fpath)\n"
             "autoload -Uz compinit && compinit -u -d $HOME/.zcompdump\n",
}


@pytest.mark.parametrize("install", sorted(ZSH_INSTALLS))
def test_tab_in_an_interactive_zsh(hosts: tuple[RpcnetdPeer, RpcnetdPeer], home: Path,
                                   install: str) -> None:
    zsh = need_executable("zsh")
    one, two = hosts
    home.mkdir(parents=True, exist_ok=True)
    (home / ".zshrc").write_text(ZSH_INSTALLS[install] + "PS1='zsh%% '\n"
                                 "unset zle_bracketed_paste\n")
    env = private_env(home, path=BIN) | {"ZDOTDIR": str(home)}
    with Terminal(zsh, "-i", env=env, prompt="zsh% ") as term:
        term.wait_prompt()
        uris = f"-c '{one.uri()}' -c '{two.uri()}'"
        out = term.run(f"rpcnet {uris} net-in\tbe\t")  # net-info beta: only two has it
        assert f"error: {one.uri()}: failed to get network 'beta'\n" in out
        assert [row.split()[:2] for row in out.splitlines() if "beta" in row.split()] == [
            [two.uri(), "beta"]]
        term.send("exit\r")
        term.end()
    assert os.path.exists(home / ".zcompdump")
