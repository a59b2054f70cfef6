"""rpcnetd started by systemd-socket-activate: the sockets passed in are
served under rpcnetd's, virtnetworkd's and libvirtd's names and no socket
file is made or removed; READY/RELOADING/STOPPING reach a NOTIFY_SOCKET
listener; --timeout exits when no client is left, and the next activation
finds everything as it was."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.activate import REPO, ActivatedDaemon, NotifyListener
from tests.peers.admin import virt_admin_rows
from tests.peers.pki import make_pki
from tests.peers.requirements import need_root
from tests.peers.virsh import virsh

pytestmark = pytest.mark.interop

READ_ONLY = "operation forbidden: read only access prevents virNetworkDefineXML"
NET = "<network><name>{name}</name><ip address='10.77.0.1' prefix='24'/></network>"


@pytest.fixture
def where() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="rpcnet-sa-"))  # short: socket paths <= 107 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def notify(where: Path) -> Iterator[NotifyListener]:
    listener = NotifyListener(where / "notify")
    yield listener
    listener.close()


@pytest.fixture
def daemons() -> Iterator[list[ActivatedDaemon]]:
    made: list[ActivatedDaemon] = []
    yield made
    for daemon in made:
        daemon.stop()


def activate(made: list[ActivatedDaemon], where: Path, names: dict[str, str | None],
             *args: str, notify: NotifyListener | None = None) -> ActivatedDaemon:
    daemon = ActivatedDaemon({str(where / path): name for path, name in names.items()}, *args,
                             log=where / "rpcnetd.log", notify=notify)
    made.append(daemon)
    return daemon.start()


def uri(where: Path, sock: str = "rpcnet-sock", driver: str = "network") -> str:
    path = "default" if driver == "test" else "system"
    return f"{driver}+unix:///{path}?socket={where / sock}"


OWN = {"rpcnet-sock": "rpcnetd.socket", "rpcnet-sock-ro": "rpcnetd-ro.socket"}


def test_own_names_readiness_reload_and_stop(virsh_bin: str, where: Path,
                                             notify: NotifyListener,
                                             daemons: list[ActivatedDaemon],
                                             tmp_path: Path) -> None:
    daemon = activate(daemons, where, OWN, "--socket-dir", str(where / "own"), notify=notify)
    names = virsh(uri(where), "net-list", "--all", "--name", check=True).stdout.split()
    assert names == ["default"]
    assert notify.next() == "READY=1\n"
    net = tmp_path / "n.xml"
    net.write_text(NET.format(name="ro-try"))
    refused = virsh(uri(where, "rpcnet-sock-ro"), "net-define", str(net))
    assert refused.returncode == 1 and READ_ONLY in refused.stderr
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    assert notify.next().startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert notify.next() == "READY=1\n"
    assert daemon.stop() == 0
    assert notify.next() == "STOPPING=1\n"
    # passed-in sockets are the service manager's: left in place; none of its own made
    assert (where / "rpcnet-sock").exists() and (where / "rpcnet-sock-ro").exists()
    assert not (where / "own").exists()
    log = daemon.text()
    assert "socket activation: rpcnetd.socket (fd 3), rpcnetd-ro.socket (fd 4)" in log
    assert f"listening on {where / 'rpcnet-sock-ro'} (read-only)" in log


@pytest.mark.parametrize("daemon_name", ["virtnetworkd", "libvirtd"])
def test_libvirts_names(virsh_bin: str, where: Path, daemons: list[ActivatedDaemon],
                        tmp_path: Path, daemon_name: str) -> None:
    names = {f"{daemon_name}-sock": f"{daemon_name}.socket",
             f"{daemon_name}-sock-ro": f"{daemon_name}-ro.socket",
             f"{daemon_name}-admin-sock": f"{daemon_name}-admin.socket"}
    daemon = activate(daemons, where, names)
    listing = virsh(uri(where, f"{daemon_name}-sock"), "net-list", "--all", "--name", check=True)
    assert listing.stdout.split() == ["default"]
    test_uri = uri(where, f"{daemon_name}-sock-ro", driver="test")
    assert virsh(test_uri, "net-list", "--name", check=True).stdout.split() == ["default"]
    net = tmp_path / "n.xml"
    net.write_text(NET.format(name="ro-try"))
    assert READ_ONLY in virsh(test_uri, "net-define", str(net)).stderr
    # the admin socket is served too, and the daemon's server is named as theirs
    servers = virt_admin_rows(str(where / f"{daemon_name}-admin-sock"), "server-list")
    assert sorted(row[1] for row in servers) == sorted(["admin", daemon_name])
    assert "admin client connected" in daemon.text()


def test_a_tls_socket_passed_in(where: Path, daemons: list[ActivatedDaemon],
                                virsh_bin: str) -> None:
    pki = make_pki(where / "pki")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = ActivatedDaemon({str(where / "rpcnet-sock"): "rpcnetd.socket",
                              f"127.0.0.1:{port}": "libvirtd-tls.socket"},
                             "--pki", str(pki.dir), log=where / "rpcnetd.log")
    daemons.append(daemon.start())
    tls_uri = f"network+tls://127.0.0.1:{port}/system?pkipath={pki.dir}"
    assert virsh(tls_uri, "net-list", "--name", check=True).stdout.split() == ["default"]
    assert "accepted: C=XX,O=LvTest,CN=client1" in daemon.text()


@pytest.mark.parametrize(("names", "reason"), [
    ({"rpcnet-sock": "rpcnetd.socket", "qemu-sock": "virtqemud.socket"},
     "socket activation: rpcnetd does not serve a socket named 'virtqemud.socket'"),
    ({"rpcnet-sock": "rpcnetd.socket", "tcp-sock": "libvirtd-tcp.socket"},
     "socket activation: 'libvirtd-tcp.socket' is libvirt's unencrypted TCP transport"),
    ({"rpcnet-sock": None, "rpcnet-sock-ro": None},
     "Missing LISTEN_FDNAMES env from systemd socket activation"),
])
def test_descriptors_it_cannot_place_stop_it(where: Path, daemons: list[ActivatedDaemon],
                                             names: dict[str, str | None],
                                             reason: str) -> None:
    daemon = activate(daemons, where, names)
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(where / "rpcnet-sock"))  # what makes it start
        assert daemon.wait(timeout=30) == 1
    assert f"cannot start: {reason}" in daemon.text()
    assert "listening on" not in daemon.text()


def test_tls_option_is_not_for_activation(where: Path, daemons: list[ActivatedDaemon]) -> None:
    daemon = activate(daemons, where, OWN, "--tls", "127.0.0.1:1")
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(where / "rpcnet-sock"))
        assert daemon.wait(timeout=30) == 1
    assert "--tls is not permitted with systemd activation sockets" in daemon.text()


def hold_connection(path: Path) -> socket.socket:
    """A connected client that said nothing yet but AUTH_LIST (and got its answer)."""
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(path))
    header = bytes.fromhex("20008086 00000001 00000042 00000000 00000000 00000000")
    client.sendall((4 + len(header)).to_bytes(4, "big") + header)
    client.settimeout(20)
    assert len(client.recv(4096)) >= 28
    return client


def test_idle_exit_and_the_next_activation_finds_everything(
        virsh_bin: str, where: Path, notify: NotifyListener, daemons: list[ActivatedDaemon],
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ("--timeout", "1", "--state-dir", str(state))
    first = activate(daemons, where, OWN, *args, notify=notify)
    net = tmp_path / "n.xml"
    net.write_text(NET.format(name="kept"))
    for command in (("net-define", str(net)), ("net-autostart", "kept"), ("net-start", "kept"),
                    ("net-autostart", "default", "--disable")):
        virsh(uri(where), *command, check=True)
    # no client left: it exits though networks run
    assert first.wait(timeout=30) == 0
    assert "no client for 1 seconds, exiting" in first.text()
    assert [notify.next(), notify.next()] == ["READY=1\n", "STOPPING=1\n"]
    assert (where / "rpcnet-sock").exists()

    second = activate(daemons, where, OWN, *args)
    client = hold_connection(where / "rpcnet-sock")
    try:
        time.sleep(3)  # three timeouts long: the open connection holds it off
        assert second.proc is not None and second.proc.poll() is None
        listing = virsh(uri(where), "net-list", "--all", check=True).stdout
        rows = {line.split()[0]: line.split()[1:] for line in listing.splitlines()[2:] if line}
        assert rows == {"default": ["active", "no", "yes"], "kept": ["active", "yes", "yes"]}
    finally:
        client.close()
    assert second.wait(timeout=30) == 0


def test_the_timeout_is_off_by_default(where: Path, daemons: list[ActivatedDaemon]) -> None:
    daemon = activate(daemons, where, OWN)
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(where / "rpcnet-sock"))
    with pytest.raises(subprocess.TimeoutExpired):
        daemon.wait(timeout=3)


# In a private mount namespace over a fresh /run, as the virtnetworkd-names
# drop-ins set it up: systemd's sockets at virtnetworkd's paths and names.
TAKEOVER = """
set -e
mount -t tmpfs rpcnet-test /run
mkdir /run/libvirt
systemd-socket-activate -l /run/libvirt/virtnetworkd-sock -l /run/libvirt/virtnetworkd-sock-ro \
    --fdname=rpcnetd.socket:rpcnetd-ro.socket -E PYTHONPATH="$PYTHONPATH" \
    "$PYTHON" -m rpcnet --timeout 5 2>/run/activate.log &
i=0  # it says so once both listen
until grep -q "Listening on /run/libvirt/virtnetworkd-sock-ro as" /run/activate.log; do
    i=$((i + 1)); [ $i -lt 400 ] || exit 3; sleep 0.05
done
"$VIRSH" -c network:///system net-list --all --name; echo ==
"$VIRSH" -r -c network:///system net-destroy default || true
wait
"""


def test_virtnetworkds_paths_reach_the_activated_daemon(virsh_bin: str) -> None:
    """An unmodified `network:///system` client finds rpcnetd where systemd
    listens for virtnetworkd, and the daemon leaves after its timeout."""
    need_root()
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", TAKEOVER],
        capture_output=True, text=True, timeout=90,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHON": sys.executable,
             "VIRSH": virsh_bin, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("==\n")[0] == "default\n\n"
    assert "read only access prevents virNetworkDestroy" in result.stderr


def test_a_client_during_the_idle_exit_waits_for_the_next_activation(
        virsh_bin: str, where: Path, daemons: list[ActivatedDaemon]) -> None:
    """The test holds the listening socket across both runs, as a socket
    unit does: a client that connects while no rpcnetd runs waits in its
    backlog and is answered by the next one."""
    held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    held.bind(str(where / "rpcnet-sock"))
    held.listen(16)
    try:
        def run() -> ActivatedDaemon:
            daemon = ActivatedDaemon({}, "--timeout", "1", log=where / "rpcnetd.log",
                                     held={held: "rpcnetd.socket"})
            daemons.append(daemon)
            return daemon.start()

        first = run()
        assert virsh(uri(where), "net-list", "--name", check=True).stdout.split() == ["default"]
        assert first.wait(timeout=30) == 0
        waiting = hold_connection_later(where / "rpcnet-sock")  # nobody serves it now
        try:
            run()
            waiting.settimeout(20)
            assert len(waiting.recv(4096)) >= 28  # the AUTH_LIST reply, from the next run
        finally:
            waiting.close()
        assert (where / "rpcnet-sock").exists()
    finally:
        held.close()


def hold_connection_later(path: Path) -> socket.socket:
    """A client that connects and sends AUTH_LIST, without waiting for the answer."""
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(path))
    header = bytes.fromhex("20008086 00000001 00000042 00000000 00000000 00000000")
    client.sendall((4 + len(header)).to_bytes(4, "big") + header)
    return client
