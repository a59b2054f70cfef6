"""The `rpcnet` console with one host must print what `virsh` prints.

Each case runs virsh and rpcnet with the same arguments against the same
server — rpcnetd and a real libvirtd, test:///default and network:///system
— and compares stdout, stderr and the exit code byte for byte. Scripts (one
argument holding `cmd; cmd; ...`) end where they started, so the two runs
meet the same state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpcnet.client import Networks, connect
from tests.peers.libvirtd import LibvirtdPeer
from tests.peers.rpcnetd import RpcnetdPeer
from tests.peers.virsh import VIRSH, run_client

pytestmark = pytest.mark.interop
RPCNET = [sys.executable, "-m", "rpcnet.cli.console"]
NAME, UUID = "rpcv1", "9a1c3e5f-7b2d-4f6a-8c0e-1d3f5a7b9c01"
NET_XML = f"""<network>
  <name>{NAME}</name>
  <uuid>{UUID}</uuid>
  <bridge name='virbr87' stp='on' delay='0'/>
  <mac address='52:54:00:87:00:01'/>
  <ip address='10.87.0.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.87.0.10' end='10.87.0.99'/>
    </dhcp>
  </ip>
</network>
"""
PORT_UUID = "3f1d0b1e-2a4b-4c6d-8e9f-0a1b2c3d4e87"
PORT_XML = f"""<networkport>
  <uuid>{PORT_UUID}</uuid>
  <owner>
    <name>vm87</name>
    <uuid>11111111-2222-3333-4444-555555555587</uuid>
  </owner>
  <mac address='52:54:00:aa:87:01'/>
</networkport>
"""
HOST = "<host mac='52:54:00:00:87:07' name='g7' ip='10.87.0.7'/>"
Outcome = tuple[int, str, str]


@pytest.fixture(scope="module")
def rpcnetd_peer() -> Iterator[RpcnetdPeer]:
    with RpcnetdPeer() as peer:
        yield peer


@pytest.fixture(params=[("rpcnetd", "test"), ("rpcnetd", "network"),
                        ("libvirtd", "test"), ("libvirtd", "network")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def uri(request: pytest.FixtureRequest, virsh_bin: str) -> str:
    kind, driver = request.param
    peer = request.getfixturevalue("rpcnetd_peer" if kind == "rpcnetd" else "libvirtd")
    return str(peer.uri(driver))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("console")
    paths = {"net": d / "net.xml", "port": d / "port.xml", "bad": d / "bad.xml",
             "host": d / "host.xml"}
    paths["net"].write_text(NET_XML)
    paths["port"].write_text(PORT_XML)
    paths["bad"].write_text("<network><name>rpcvbad</name><ip address='x'/></network>\n")
    paths["host"].write_text(HOST + "\n")
    return {k: str(v) for k, v in paths.items()} | {"missing": str(d / "missing.xml"),
                                                    "dir": str(d)}


def start(program: list[str], *args: str, env: dict[str, str] | None = None
          ) -> subprocess.Popen[str]:
    return subprocess.Popen([*program, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "LC_ALL": "C", "LANG": "C",
                                            **(env or {})})


def finish(proc: subprocess.Popen[str]) -> Outcome:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def run(program: list[str], *args: str, env: dict[str, str] | None = None) -> Outcome:
    return finish(start(program, *args, env=env))


def same(*args: str, env: dict[str, str] | None = None, stateless: bool = True) -> Outcome:
    """Run virsh and rpcnet with ``args`` (at once if ``stateless``); assert
    identical outcomes; return it."""
    if stateless:
        theirs, ours = map(finish, [start([VIRSH], *args, env=env),
                                    start(RPCNET, *args, env=env)])
    else:
        theirs, ours = run([VIRSH], *args, env=env), run(RPCNET, *args, env=env)
    assert ours == theirs, f"rpcnet {args!r} differs from virsh"
    return ours


QUERIES = [
    ["net-list"], ["net-list", "--all"], ["net-list", "--inactive"], ["net-list", "--name"],
    ["net-list", "--uuid", "--all"], ["net-list", "--persistent"], ["net-list", "--transient"],
    ["net-list", "--autostart"], ["net-list", "--no-autostart", "--all"],
    ["net-list", "--name", "--uuid"], ["net-list", "--table", "--all"],
    ["net-info", "nosuch"], ["net-uuid", "nosuch"], ["net-name", "nosuch"],
    ["net-name", "00000000-0000-0000-0000-00000000abcd"], ["net-dumpxml", "nosuch"],
    ["net-start", "nosuch"], ["net-destroy", "nosuch"], ["net-undefine", "nosuch"],
    ["net-autostart", "nosuch"], ["net-dhcp-leases", "nosuch"], ["net-port-list", "nosuch"],
    ["net-port-dumpxml", "nosuch", PORT_UUID], ["net-port-delete", "nosuch", PORT_UUID],
    ["net-update", "nosuch", "add", "ip-dhcp-host", HOST], ["net-event", "--list"],
    ["net-event"], ["net-event", "--event", "bogus"],
    ["net-event", "--event", "lifecycle", "--timeout", "0"],
    ["net-event", "--event", "lifecycle", "--timeout", "x"],
    ["net-dhcp-leases", "nosuch", "52:54:00:00:00:01"],
]
#: run one by one too, for their exit codes (a script exits as its last command)
EXIT_CODE_CASES = [
    ["net-list", "--all"], ["net-info", "nosuch"], ["net-name", "nosuch"],
    ["net-list", "--name", "--uuid"], ["net-port-dumpxml", "nosuch", PORT_UUID],
    ["net-update", "nosuch", "add", "ip-dhcp-host", HOST], ["net-event", "--list"],
    ["net-event"], ["net-event", "--event", "lifecycle", "--timeout", "0"],
]
#: refused before connecting, so the server does not matter
SYNTAX_ERRORS = [
    ["bogus-command"], ["net-info"], ["net-info", "a", "b"], ["net-list", "--bogus"],
    ["net-list", "--all=yes"], ["net-list", "--all", "--all"], ["net-info", "--network"],
    ["net-update", "x", "add"], ["net-event", "--timeout"], ["net-info nosuch; net-list --x"],
    ["net-update", "x", "add", "ip-dhcp-host", "<host/>", "0", "extra"],
    ["net-dumpxml", "nosuch", "//ip"],
]


def all_same(uri: str, cases: list[list[str]]) -> None:
    """Run every case with virsh and rpcnet at once; list every difference."""
    procs = [(args, start([VIRSH], "-c", uri, *args), start(RPCNET, "-c", uri, *args))
             for args in cases]
    differences = []
    for args, virsh_proc, rpcnet_proc in procs:
        theirs, ours = finish(virsh_proc), finish(rpcnet_proc)
        if ours != theirs:
            differences.append(f"{' '.join(args)}:\n  virsh  {theirs!r}\n  rpcnet {ours!r}")
    assert not differences, "\n".join(differences)


def test_exit_codes(uri: str) -> None:
    all_same(uri, EXIT_CODE_CASES)


def test_syntax_errors(rpcnetd_peer: RpcnetdPeer, virsh_bin: str) -> None:
    all_same(rpcnetd_peer.uri(), SYNTAX_ERRORS)


@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["plain", "quiet"])
def test_queries_and_errors(uri: str, quiet: list[str]) -> None:
    quoted = [" ".join(f'"{a}"' if " " in a else a for a in q) for q in QUERIES]
    same(*quiet, "-c", uri, "; ".join(quoted))


def lifecycle_script(f: dict[str, str]) -> str:
    h = f'"{HOST}"'
    return "; ".join([
        f"net-define {f['net']}", f"net-define {f['net']}", "net-list --all", f"net-info {NAME}",
        f"net-uuid {NAME}", f"net-name {UUID}", f"net-info {UUID}", f"net-dumpxml {NAME}",
        f"net-dumpxml {NAME} --inactive", f"net-autostart {NAME}", "net-list --autostart --all",
        f"net-autostart {NAME} --disable", f"net-start {NAME}", f"net-start {NAME}",
        f"net-info {NAME}", f"net-dhcp-leases {NAME}",
        f"net-dhcp-leases {NAME} --mac 52:54:00:00:87:07", f"net-dhcp-leases {NAME} --mac xx",
        f"net-update {NAME} add ip-dhcp-host {h} --live --config",
        f"net-update {NAME} add-last ip-dhcp-host {h} --live",
        f"net-dumpxml {NAME}",
        f"net-update {NAME} delete ip-dhcp-host {f['host']} --current",
        f"net-update {NAME} modify ip-dhcp-host {h} --parent-index 0",
        f"net-update {NAME} bogus ip-dhcp-host {h}", f"net-update {NAME} add bogus {h}",
        f"net-update {NAME} add ip-dhcp-host {f['missing']}",
        f"net-update {NAME} add ip-dhcp-host {h} --current --config",
        f"net-update {NAME} add ip-dhcp-host {h} --parent-index x",
        f"net-port-create {NAME} {f['port']}", f"net-port-create {NAME} {f['port']}",
        f"net-port-list {NAME}", f"net-port-list {NAME} --uuid",
        f"net-port-list {NAME} --uuid --table", f"net-port-dumpxml {NAME} {PORT_UUID}",
        f"net-port-delete {NAME} {PORT_UUID}", f"net-port-dumpxml {NAME} {PORT_UUID}",
        f"net-port-delete {NAME} not-a-uuid", f"net-port-create {NAME} {f['missing']}",
        f"net-destroy {NAME}", f"net-destroy {UUID}", f"net-port-list {NAME}",
        f"net-update {NAME} delete ip-dhcp-host {h}", f"net-info {NAME}",
        f"net-undefine {UUID}", f"net-undefine {NAME}", f"net-create {f['net']}",
        "net-list --transient", f"net-undefine {NAME}", f"net-autostart {NAME}",
        f"net-destroy {NAME}", f"net-info {NAME}", f"net-define {f['bad']}",
        f"net-create {f['bad']}", f"net-define {f['missing']}", f"net-create {f['dir']}",
        "net-list --all",
    ])


@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["plain", "quiet"])
def test_lifecycle_script(uri: str, files: dict[str, str], quiet: list[str]) -> None:
    same(*quiet, "-c", uri, lifecycle_script(files), stateless=False)


@pytest.mark.parametrize("args", [["net-define", "{net}"], ["net-create", "{bad}"],
                                  ["net-define", "{missing}"]], ids=lambda a: a[0])
def test_file_commands_exit_codes(uri: str, files: dict[str, str], args: list[str]) -> None:
    try:
        same("-c", uri, *(a.format(**files) for a in args), stateless=False)
    finally:
        run(RPCNET, "-c", uri, f"net-destroy {NAME}; net-undefine {NAME}")


def test_read_only(uri: str) -> None:
    same("-r", "-c", uri, "net-list --all; net-autostart default; net-define /dev/null")
    same("-r", "-c", uri, "net-autostart", "default")


def test_default_uri_from_environment(uri: str) -> None:
    same("net-list", "--all", "--name", env={"LIBVIRT_DEFAULT_URI": uri})


def test_connection_failure(virsh_bin: str, tmp_path: Path) -> None:
    bad = f"network+unix:///system?socket={tmp_path}/nosuch-sock"
    same("-c", bad, "net-list")
    same("-c", bad, "bogus")


@pytest.fixture(params=["rpcnetd", "libvirtd"])
def network_uri(request: pytest.FixtureRequest, virsh_bin: str) -> str:
    peer = request.getfixturevalue("rpcnetd_peer" if request.param == "rpcnetd" else "libvirtd")
    return str(peer.uri("network"))


async def test_event_output(network_uri: str) -> None:
    """The same lines for the same events. Each watcher is known to listen once
    it printed a probe network's event (a fixed wait missed the first events
    under load); the probes are left out of the comparison."""
    uri = network_uri
    args = ["-c", uri, "net-event", "--event", "lifecycle", "--loop"]
    env = {**os.environ, "LC_ALL": "C"}
    procs = [await asyncio.create_subprocess_exec(*prog, *args, env=env,
                                                  stdout=asyncio.subprocess.PIPE,
                                                  stderr=asyncio.subprocess.PIPE)
             for prog in ([VIRSH], RPCNET)]
    seen: list[list[str]] = [[], []]

    async def read_until(name: str, count: int) -> None:
        for lines, proc in zip(seen, procs, strict=True):
            assert proc.stdout is not None
            while sum(name in line for line in lines) < count:
                lines.append((await proc.stdout.readline()).decode())

    async with connect(uri) as drv:
        async with asyncio.timeout(60):
            while True:  # until both print the probe's events
                probe = await Networks(drv).define(NET_XML.replace(NAME, "rpcprobe"))
                await probe.undefine()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await read_until("rpcprobe", 1)
                        break
        net = await Networks(drv).define(NET_XML)
        await net.start()
        await net.destroy()
        await net.undefine()
        async with asyncio.timeout(60):
            await read_until(f"for network {NAME}:", 4)
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    outputs = [((await p.communicate())[0].decode(), p.returncode) for p in procs]
    theirs, ours = ([line for line in [*lines, *out.splitlines(keepends=True)]
                     if "rpcprobe" not in line and not line.startswith("events received")]
                    for lines, (out, _code) in zip(seen, outputs, strict=True))
    assert ours == theirs
    assert [code for _out, code in outputs] == [0, 0]
    assert sum(f"for network {NAME}:" in line for line in theirs) == 4
    for lines, (out, _code) in zip(seen, outputs, strict=True):
        events = sum(line.startswith("event 'lifecycle'") for line in lines)
        assert f"events received: {events}\n" in out


def test_event_timeout_and_missing_network(network_uri: str) -> None:
    outcome = same("-c", network_uri, "net-event", "--event", "lifecycle", "--network",
                   "nosuch", "--timeout", "1")
    assert outcome[0] == 1 and "event loop timed out" in outcome[1]


def test_interrupted_event_loop(network_uri: str) -> None:
    procs = [start(prog, "-c", network_uri, "net-event", "--event", "lifecycle", "--loop")
             for prog in ([VIRSH], RPCNET)]
    time.sleep(0.5)
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    theirs, ours = map(finish, procs)
    assert ours == theirs
    assert theirs[1] == "event loop interrupted\nevents received: 0\n\n"


def test_startup_is_fast(rpcnetd_peer: RpcnetdPeer) -> None:
    result = run_client([*RPCNET[:1], "-X", "importtime", *RPCNET[1:], "-c",
                         rpcnetd_peer.uri(), "net-list"], check=True)
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert not imported & {"lxml", "lxml.etree", "pyroute2", "cryptography", "rpcnet.netxml",
                           "rpcnet.server", "rpcnet.driver.memory"}


async def test_leases_table_with_real_leases(libvirtd: LibvirtdPeer, virsh_bin: str,
                                             files: dict[str, str]) -> None:
    """libvirtd reads leases from its dnsmasq status file; write one into its
    private /var/lib/libvirt and compare the tables (and the client's leases)."""
    uri = libvirtd.uri("network")
    expiry = int(time.time()) + 3600
    leases = [{"ip-address": "10.87.0.5", "mac-address": "52:54:00:00:87:05",
               "hostname": "guest5", "client-id": "01:52:54:00:00:87:05", "expiry-time": expiry},
              {"ip-address": "10.87.0.6", "mac-address": "52:54:00:00:87:03",
               "expiry-time": expiry}]
    async with connect(uri) as drv:
        net = await Networks(drv).define(NET_XML)
        try:
            await net.start()
            assert libvirtd.pid is not None
            subprocess.run(["nsenter", "-t", str(libvirtd.pid), "-m", "sh", "-c",
                            "cat > /var/lib/libvirt/dnsmasq/virbr87.status"],
                           input=json.dumps(leases), text=True, check=True)
            got = await net.leases()
            assert [(le.mac, le.ipaddr, le.prefix, le.hostname, le.clientid, le.expirytime)
                    for le in got] == [
                ("52:54:00:00:87:05", "10.87.0.5", 24, "guest5", "01:52:54:00:00:87:05", expiry),
                ("52:54:00:00:87:03", "10.87.0.6", 24, None, None, expiry)]
            assert [le.mac for le in await net.leases("52:54:00:00:87:03")] == [
                "52:54:00:00:87:03"]
            table = same("-c", uri, "net-dhcp-leases", NAME)[1]
            assert table.splitlines()[2].split()[2:] == [
                "52:54:00:00:87:03", "ipv4", "10.87.0.6/24", "-", "-"]
            same("-c", uri, "net-dhcp-leases", NAME, "--mac", "52:54:00:00:87:05")
        finally:
            await net.destroy()
            await net.undefine()


@pytest.mark.parametrize("driver", ["test", "network"])
def test_rpcnetd_answers_like_libvirtd(driver: str, rpcnetd_peer: RpcnetdPeer,
                                       libvirtd: LibvirtdPeer, files: dict[str, str],
                                       request: pytest.FixtureRequest) -> None:
    """The whole lifecycle script, rpcnetd against libvirtd (net-list left out:
    the servers start with different networks)."""
    script = "; ".join(c for c in lifecycle_script(files).split("; ")
                       if not c.startswith("net-list"))
    ours = run(RPCNET, "-c", rpcnetd_peer.uri(driver), script)
    theirs = run(RPCNET, "-c", libvirtd.uri(driver), script)
    assert ours == theirs
