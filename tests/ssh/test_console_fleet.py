"""The console against ssh hosts at fleet scale: one table from hosts reached
over +ssh, +libssh, +libssh2 and a UNIX socket; failing hosts marked with the
reason while every other host answers and nothing hangs; the cap on
connections opened at once; progress on a terminal only; events merged."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.sshhost import SshFleet, SshHost, ssh_uri

pytestmark = pytest.mark.host

RPCNET = [sys.executable, "-m", "rpcnet.cli.console"]


@pytest.fixture(scope="module")
def fleet(ssh_tools: None) -> Iterator[SshFleet]:
    with SshFleet(5) as made:
        yield made


def hosts_file(path: Path, entries: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{label} {uri}\n" for label, uri in entries))
    return path


def table(stdout: str) -> dict[str, str]:
    """Host label -> the rest of its (first) row."""
    rows: dict[str, str] = {}
    for line in stdout.splitlines()[2:]:
        label, _, rest = line.strip().partition(" ")
        rows.setdefault(label, rest.strip())
    return rows


def ssh_processes(fleet: SshFleet) -> list[str]:
    return [c for c in fleet.client.ns.commands().values() if c.startswith("ssh ")]


def test_one_table_over_every_transport(fleet: SshFleet, tmp_path: Path) -> None:
    one, two, three, four = fleet.hosts[:4]
    path = hosts_file(tmp_path / "hosts", [
        ("a", ssh_uri(one)), ("b", ssh_uri(two, "libssh")), ("c", ssh_uri(three, "libssh2")),
        ("d", f"network+unix:///system?socket={four.run_dir}/virtnetworkd-sock")])
    result = fleet.client.rpcnet("--hosts", str(path), "net-list", "--all")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0].split() == \
        ["Host", "Name", "State", "Autostart", "Persistent"]
    assert table(result.stdout) == {label: "default   active   yes         yes"
                                    for label in "abcd"}
    assert ssh_processes(fleet) == []


def test_failing_hosts_are_marked_and_the_others_answer(fleet: SshFleet,
                                                        tmp_path: Path) -> None:
    good, refused, frozen, no_daemon, frozen_too = fleet.hosts
    refused.authorize()
    no_daemon.stop_rpcnetd()
    frozen.freeze()
    frozen_too.freeze()
    try:
        path = hosts_file(tmp_path / "hosts", [
            ("good", ssh_uri(good)), ("good2", ssh_uri(good, "libssh")),
            ("unknown", ssh_uri("nosuch")), ("refused", ssh_uri(refused)),
            ("hangs", ssh_uri(frozen)), ("hangs2", ssh_uri(frozen_too, "libssh")),
            ("nodaemon", ssh_uri(no_daemon))])
        started = time.monotonic()
        result = fleet.client.rpcnet("--hosts", str(path), "--connect-timeout", "3",
                                     "net-list", "--all")
        elapsed = time.monotonic() - started
    finally:
        frozen.freeze(False)
        frozen_too.freeze(False)
        no_daemon.start_rpcnetd()
        refused.authorize(fleet.client.public_key)
    assert result.returncode == 1
    rows = table(result.stdout)
    assert rows["good"] == rows["good2"] == "default   active   yes         yes"
    # "Cannot recv data" or "End of file while reading data", as ssh ends before or after
    # reading the first call
    assert rows["unknown"].startswith("error: ")
    assert "ssh: Could not resolve hostname nosuch" in rows["unknown"]
    assert "root@host02: Permission denied (publickey)." in rows["refused"]
    assert rows["hangs"] == rows["hangs2"] == "error: connection timed out"
    assert rows["nodaemon"].startswith("error: End of file while reading data: "
                                       "virt-ssh-helper: cannot connect to")
    failed = [line.split(":")[1].strip() for line in result.stderr.splitlines()]
    assert sorted(failed) == sorted(["unknown", "refused", "hangs", "hangs2", "nodaemon"])
    assert elapsed < 30  # the connect timeout, not ssh's own, bounds a hanging host
    assert ssh_processes(fleet) == []


def _max_ssh_at_once(fleet: SshFleet, proc: subprocess.Popen[str]) -> int:
    most = 0
    while proc.poll() is None:
        most = max(most, len(ssh_processes(fleet)))
        time.sleep(0.02)
    return most


@pytest.mark.parametrize("parallel", [1, 3])
def test_parallel_caps_the_connections_opened_at_once(fleet: SshFleet, tmp_path: Path,
                                                      parallel: int) -> None:
    hanging = fleet.hosts[2:5]
    for host in hanging:
        host.freeze()
    try:
        path = hosts_file(tmp_path / "hosts", [(h.name, ssh_uri(h)) for h in hanging])
        started = time.monotonic()
        proc = subprocess.Popen(
            fleet.client.args(*RPCNET, "--hosts", str(path), "--parallel", str(parallel),
                              "--connect-timeout", "2", "net-list"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=fleet.client.env())
        most = _max_ssh_at_once(fleet, proc)
        elapsed = time.monotonic() - started
        _out, err = proc.communicate(timeout=60)
    finally:
        for host in hanging:
            host.freeze(False)
    assert proc.returncode == 1 and err.count("connection timed out") == 3
    assert most == parallel
    if parallel == 1:
        assert elapsed >= 6  # three 2-second timeouts, one after the other


def test_progress_shows_on_a_terminal_only(fleet: SshFleet, tmp_path: Path) -> None:
    good, frozen = fleet.hosts[0], fleet.hosts[2]
    path = hosts_file(tmp_path / "hosts", [("good", ssh_uri(good)), ("slow", ssh_uri(frozen))])
    args = fleet.client.args(*RPCNET, "--hosts", str(path), "--connect-timeout", "2",
                             "net-list")
    frozen.freeze()
    try:
        controller, terminal = pty.openpty()
        with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=terminal, text=True,
                              env=fleet.client.env()) as proc:
            os.close(terminal)
            shown = b""
            while select.select([controller], [], [], 30)[0]:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the pty's other end is closed
                    break
                if not chunk:
                    break
                shown += chunk
            stdout = proc.communicate(timeout=30)[0]
        os.close(controller)
        piped = fleet.client.rpcnet("--hosts", str(path), "--connect-timeout", "2", "net-list")
    finally:
        frozen.freeze(False)
    text = shown.decode()
    assert "\r\x1b[K1/2 hosts done, 0 failed" in text  # while the slow host is dialled
    assert text.endswith("\r\x1b[K")  # erased at the end
    assert "error: slow: failed to connect to the hypervisor: connection timed out" in text
    assert "hosts done" not in stdout
    assert stdout == piped.stdout and "slow   error: connection timed out" in stdout
    assert piped.stderr == ("error: slow: failed to connect to the hypervisor: "
                            "connection timed out\n")


def test_events_merge_across_ssh_hosts(fleet: SshFleet, tmp_path: Path) -> None:
    one, two, three = fleet.hosts[:3]
    keepalive = "keepalive_interval=1&keepalive_count=2"
    path = hosts_file(tmp_path / "hosts", [
        ("one", ssh_uri(one)), ("two", ssh_uri(two, "libssh")),
        ("three", ssh_uri(three, "ssh", keepalive))])
    xml = tmp_path / "net.xml"
    proc = subprocess.Popen(
        fleet.client.args(*RPCNET, "--hosts", str(path), "net-event", "--event", "lifecycle",
                          "--loop"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=fleet.client.env())
    assert proc.stdout is not None and proc.stderr is not None

    def see_event(label: str, host: SshHost, name: str) -> None:
        """Define and undefine ``name`` on ``host`` until the console prints its event."""
        xml.write_text(f"<network><name>{name}</name></network>")
        local = f"network+unix:///system?socket={host.run_dir}/virtnetworkd-sock"
        expected = f"{label}: event 'lifecycle' for network {name}: Defined\n"
        deadline = time.monotonic() + 30
        while True:  # (until the console has registered on that host)
            assert fleet.client.rpcnet("-c", local, "net-define", str(xml)).returncode == 0
            assert fleet.client.rpcnet("-c", local, "net-undefine", name).returncode == 0
            assert proc.stdout is not None
            while select.select([proc.stdout], [], [], 0.5)[0]:
                if proc.stdout.readline() == expected:
                    return
            assert time.monotonic() < deadline

    try:
        see_event("one", one, "ev1")
        see_event("two", two, "ev2")
        see_event("three", three, "ev3")
        three.freeze()
        for pid in three.session_pids():
            os.kill(pid, signal.SIGSTOP)  # the host stops answering
        assert select.select([proc.stderr], [], [], 30)[0]  # keepalive found it
        assert proc.stderr.readline() == \
            "error: three: connection closed due to keepalive timeout\n"
        assert proc.poll() is None  # and the others go on
        see_event("one", one, "ev4")
    finally:
        for pid in three.session_pids():
            os.kill(pid, signal.SIGCONT)
        three.freeze(False)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
