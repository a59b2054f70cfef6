"""`rpcnet net-stats` as a person runs it: one host, several hosts in one table,
`--watch` until Ctrl-C (on the command line and in the shell), a host that
is a real libvirtd, help and completion. Traffic itself is counted in
tests/host/test_metrics_host.py (a real bridge)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.test_console import RPCNET, run
from tests.integration.test_console_shell import shell
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.rpcnetd import RpcnetdPeer

pytestmark = pytest.mark.interop
HEADER = ["Name", "State", "RX", "TX", "Drops/s", "Leases", "Ports"]


def cells(line: str) -> list[str]:
    """A table row's cells (they hold single blanks at most: "1.5 KiB/s")."""
    return re.split(r"\s{2,}", line.strip())


def test_one_host(rpcnetd: RpcnetdPeer) -> None:
    start = time.monotonic()
    code, out, err = run(RPCNET, "-c", rpcnetd.uri(), "net-stats")
    assert (code, err) == (0, "")
    assert time.monotonic() - start >= 1.0  # the rates' window
    lines = out.splitlines()
    assert cells(lines[0]) == HEADER and set(lines[1]) == {"-"}
    # the in-memory driver: no bridge to count, a pool of 253 addresses
    assert cells(lines[2]) == ["default", "active", "-", "-", "-", "0/253", "0"]
    assert lines[3:] == [""]


def test_a_network_by_name_and_quiet(rpcnetd: RpcnetdPeer) -> None:
    assert run(RPCNET, "-q", "-c", rpcnetd.uri(), "net-stats", "default")[1].split() == [
        "default", "active", "-", "-", "-", "0/253", "0"]
    code, out, err = run(RPCNET, "-c", rpcnetd.uri(), "net-stats", "--network", "nosuch")
    assert (code, out) == (1, "\n")  # the blank line after each command, as virsh
    assert err == "error: Network not found: no network with matching name 'nosuch'\n"
    code, _out, err = run(RPCNET, "-c", rpcnetd.uri(), "net-stats", "--watch", "0")
    assert code == 1 and "Numeric value '0' for <watch> option" in err


def test_several_hosts_in_one_table(rpcnetd: RpcnetdPeer, tmp_path: Path) -> None:
    with RpcnetdPeer() as other:
        hosts = tmp_path / "hosts"
        hosts.write_text(f"one {rpcnetd.uri()}\ntwo {other.uri()}\n"
                         f"gone unix:///system?socket={tmp_path}/nothing\n")
        code, out, err = run(RPCNET, "--hosts", str(hosts), "net-stats")
    assert code == 1
    assert "error: gone: failed to connect to the hypervisor" in err
    rows = [cells(line) for line in out.splitlines()]
    assert rows[0] == ["Host", *HEADER]
    assert rows[2:] == [["one", "default", "active", "-", "-", "-", "0/253", "0"],
                        ["two", "default", "active", "-", "-", "-", "0/253", "0"]]


def test_watch_refreshes_until_interrupted(rpcnetd: RpcnetdPeer) -> None:
    proc = subprocess.Popen([*RPCNET, "-c", rpcnetd.uri(), "net-stats", "--watch", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen = 0
    try:
        for line in proc.stdout:  # not a terminal: one table after another
            if line.startswith("Every 1s: net-stats"):
                seen += 1
            if seen == 3:
                break
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and err == ""
    assert "\x1b" not in out


def test_a_libvirtd_host_says_it_has_no_stats(libvirtd: LibvirtdPeer) -> None:
    code, out, err = run(RPCNET, "-c", libvirtd.uri("test"), "net-stats")
    assert (code, out) == (1, "\n")  # the blank line after each command, as virsh
    assert err == ("error: this host does not serve network statistics "
                   "(it is not an rpcnetd)\n")


def test_in_the_shell_help_completion_and_ctrl_c(rpcnetd: RpcnetdPeer, tmp_path: Path) -> None:
    with shell(tmp_path, "-c", rpcnetd.uri()) as term:
        term.wait_prompt()
        assert "net-stats - network traffic, DHCP leases and ports" in term.run("help net-stat\t")
        assert term.listing("\x15net-stats --\t\t") == {"--network", "--watch"}
        assert "0/253" in term.run("\x15net-stats --network def\t")  # one name: completed
        term.send("\x15net-stats --watch 1\r")
        term.expect("Every 1s: net-stats")
        term.expect("0/253")
        term.send("\x03")
        term.wait_prompt()
        assert "default" in term.run("net-stats")  # the shell and its connection go on
        term.send("quit\r")
        assert term.end()[0] == 0
