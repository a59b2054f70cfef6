"""The ssh transports against hosts with sshd and rpcnetd at libvirt's
socket names (reached through libvirt's own virt-ssh-helper), with virsh over
the same URIs as the reference: answers, writes, events, and what is left
behind when a connection closes, its ssh is killed, the far side dies or
stops answering."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.peers.sshhost import SshFleet, SshHost, ssh_uri
from tests.ssh.conftest import run_script

pytestmark = pytest.mark.host

TRANSPORTS = ["ssh", "libssh", "libssh2"]
NET = "<network><name>oversh</name><bridge name='virbr66'/></network>"


def wait_for(condition: object, timeout: float = 20.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("command", [
    ["net-list", "--all"], ["net-info", "default"], ["net-dumpxml", "default"],
    ["net-info", "nosuch"], ["-r", "net-destroy", "default"], ["-r", "net-list", "--all"],
], ids=" ".join)
def test_virsh_and_rpcnet_answer_alike(fleet: SshFleet, transport: str,
                                       command: list[str]) -> None:
    target = ssh_uri(fleet.hosts[0], transport)
    theirs = fleet.client.virsh(target, *command)
    ours = fleet.client.rpcnet("-c", target, *command)
    assert (ours.returncode, ours.stdout, ours.stderr) == \
        (theirs.returncode, theirs.stdout, theirs.stderr)
    assert theirs.stdout or theirs.stderr


def test_known_hosts_and_keyfile_parameters(fleet: SshFleet) -> None:
    host = fleet.hosts[0]
    params = "known_hosts=/root/.ssh/known_hosts&keyfile=/root/.ssh/id_ed25519&sshauth=privkey"
    for transport in ("libssh", "libssh2"):
        for client in ("virsh", "rpcnet"):
            args = ["-c", ssh_uri(host, transport, params), "net-list", "--name"]
            result = fleet.client.rpcnet(*args) if client == "rpcnet" else \
                fleet.client.virsh(*args[1:])
            assert (result.returncode, result.stdout) == (0, "default\n\n"), result.stderr


def test_writes_cross_ssh(fleet: SshFleet, tmp_path: Path) -> None:
    host, xml = fleet.hosts[0], tmp_path / "net.xml"
    xml.write_text(NET)
    defined = fleet.client.rpcnet("-c", ssh_uri(host, "ssh"), "net-define", str(xml))
    assert defined.returncode == 0, defined.stderr
    try:
        listed = fleet.client.virsh(ssh_uri(host, "ssh"), "net-list", "--all", "--name")
        assert listed.stdout.split() == ["default", "oversh"]
    finally:
        gone = fleet.client.rpcnet("-c", ssh_uri(host, "libssh"), "net-undefine", "oversh")
        assert gone.returncode == 0, gone.stderr


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_events_over_ssh(fleet: SshFleet, transport: str) -> None:
    host = fleet.hosts[1]
    other = f"network+unix:///system?socket={host.run_dir}/virtnetworkd-sock"
    result = run_script(fleet.client, "events", ssh_uri(host, transport), other)
    assert result["events"] == [["sshev", 0], ["sshev", 1]]  # defined, undefined


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_closing_leaves_nothing_behind(fleet: SshFleet, transport: str) -> None:
    host = fleet.hosts[1]
    result = run_script(fleet.client, "close", ssh_uri(host, transport))
    assert result["had_children"] == (1 if transport == "ssh" else 0)
    assert result["children_left"] == []
    wait_for(lambda: host.session_pids() == [])  # the far side's session ended too


def test_ssh_killed_mid_call_fails_the_call_at_once(fleet: SshFleet) -> None:
    host = fleet.hosts[2]
    assert host.rpcnetd is not None
    result = run_script(fleet.client, "kill-ssh", ssh_uri(host, "ssh"), host.rpcnetd.pid)
    assert result["pending"] and result["had_children"] == 1
    assert result["outcome"] == "End of file while reading data: Input/output error"
    assert result["elapsed"] < 5.0  # not the keepalive timeout (30 s by default)
    assert result["reaped_by_itself"] and result["children_left"] == []
    wait_for(lambda: host.session_pids() == [])


def session_fault(fleet: SshFleet, action: str, transport: str) -> tuple[SshHost, dict[str, Any]]:
    """client_script.py ACTION against hosts[2]'s sessions over ``transport``:
    the host and the script's result, checked to have had a call pending and
    to have left no ssh child behind."""
    host = fleet.hosts[2]
    assert host.sshd is not None
    result = run_script(fleet.client, action, ssh_uri(host, transport), host.sshd.pid)
    assert result["pending"]
    assert result["reaped_by_itself"] and result["children_left"] == []
    return host, result


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_far_side_dying_mid_call_fails_the_call_at_once(fleet: SshFleet,
                                                        transport: str) -> None:
    _host, result = session_fault(fleet, "kill-session", transport)
    assert result["outcome"].startswith(("End of file while reading data",
                                         "Cannot recv data")), result["outcome"]
    assert result["elapsed"] < 5.0  # not the keepalive timeout (30 s by default)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_keepalive_finds_a_host_that_stopped_answering(fleet: SshFleet,
                                                        transport: str) -> None:
    host, result = session_fault(fleet, "freeze", transport)
    assert result["outcome"] == "connection closed due to keepalive timeout"
    assert result["elapsed"] < 15.0  # interval 1 s, count 2: 3 s of silence
    wait_for(lambda: host.session_pids() == [])


def test_virsh_reaches_rpcnetd_through_libvirts_virt_ssh_helper(fleet: SshFleet,
                                                                tmp_path: Path) -> None:
    """Issue 10, part 7: nothing on the far side but rpcnetd at virtnetworkd's
    socket; libvirt's own helper proxies the session, events included."""
    host, xml = fleet.hosts[0], tmp_path / "net.xml"
    xml.write_text(NET)
    watcher = subprocess.Popen(
        fleet.client.args("/usr/bin/virsh", "-c", ssh_uri(host, "ssh"), "net-event", "--event",
                          "lifecycle", "--loop", "--timeout", "60"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=fleet.client.env())
    local = f"network+unix:///system?socket={host.run_dir}/virtnetworkd-sock"
    lines: queue.Queue[str] = queue.Queue()
    assert watcher.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout or ()],
                     daemon=True).start()
    try:
        wait_for(lambda: any(line.endswith("virt-ssh-helper network:///system")
                             for line in host.processes().values()))
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while "event 'lifecycle' for network oversh: Defined\n" not in seen:
            assert time.monotonic() < deadline, seen  # until virsh has registered
            fleet.client.rpcnet("-c", local, "net-define", str(xml))
            fleet.client.rpcnet("-c", local, "net-undefine", "oversh")
            with contextlib.suppress(queue.Empty):
                while True:
                    seen.append(lines.get(timeout=0.5))
    finally:
        watcher.kill()
        watcher.communicate(timeout=10)
    wait_for(lambda: host.session_pids() == [])
