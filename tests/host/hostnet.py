"""Namespaces for host-backend tests: a daemon namespace, guests, an uplink.

Everything is created inside named network namespaces this module makes
(`ip netns add`) and is removed by `cleanup()`, which tests call from
fixture teardown. Traffic goes only between these namespaces.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rpcnet.testing import stop_process, wait_until_serving
from tests.peers.netns import IP, NetNamespace, _in_netns

BUSYBOX = "/usr/bin/busybox"
DHCLIENT = "/usr/sbin/dhclient"
REPO = Path(__file__).resolve().parents[2]
_UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
bound|renew)
    /usr/sbin/ip addr flush dev "$interface"
    /usr/sbin/ip addr add "$ip/$subnet" dev "$interface"
    [ -n "$router" ] && /usr/sbin/ip route replace default via "${router%% *}" dev "$interface"
    ;;
esac
exit 0
"""


def ip(*args: str) -> str:
    res = subprocess.run([IP, *args], capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


class HostDaemon:
    """`rpcnetd --driver host` inside a network namespace of its own."""

    def __init__(self, *extra_args: str, dir_mode: int = 0o755) -> None:
        self.ns = NetNamespace("rpcnet-hd")
        self.dir = Path(tempfile.mkdtemp(prefix="rpcnet-hd-", dir="/tmp"))
        self.dir.chmod(dir_mode)
        self.state_dir = self.dir / "state"
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        self.ns.create()

    @property
    def socket(self) -> str:
        return str(self.dir / "rpcnet-sock")

    @property
    def uri(self) -> str:
        return f"network+unix:///system?socket={self.socket}"

    @property
    def log_path(self) -> Path:
        return self.dir / "rpcnetd.log"

    def start(self, timeout: float = 20.0, settle: bool = True) -> HostDaemon:
        """Start the daemon and wait until it answers; over an existing state
        (a restart) with ``settle``, also until it has re-asserted the
        networks that run, which it does in the background."""
        restarting = self.state_dir.exists()
        done = self.reasserted()
        args = [sys.executable, "-m", "rpcnet", "--driver", "host", "--socket-dir",
                str(self.dir), "--state-dir", str(self.state_dir), "-v", *self.extra_args]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.ns.exec_args(*args), stdout=log,
                                         stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        wait_until_serving(self.proc, self.socket, timeout, self.log_tail)
        if restarting and settle:
            self.wait_reasserted(done, timeout)
        return self

    def reasserted(self) -> int:
        """How often the daemon has logged re-asserting its networks."""
        try:
            return self.log_path.read_text(errors="replace").count("re-asserted ")
        except OSError:
            return 0

    def wait_reasserted(self, before: int, timeout: float = 20.0) -> None:
        """Wait until the daemon logs a re-assertion after the ``before``-th."""
        deadline = time.monotonic() + timeout
        while self.reasserted() <= before:
            if time.monotonic() > deadline:
                raise AssertionError(f"networks not re-asserted in {timeout} s:\n"
                                     f"{self.log_tail()}")
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the daemon only (what it started keeps running, as it should)."""
        proc, self.proc = self.proc, None
        stop_process(proc, sig)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cleanup(self) -> None:
        try:
            self.stop(signal.SIGKILL)
        finally:
            self.ns.delete()  # kills dnsmasq and everything else inside
            shutil.rmtree(self.dir, ignore_errors=True)

    def snapshot(self) -> dict[str, object]:
        """Links, addresses, the nft ruleset and processes of the namespace
        (the daemon's own process excluded)."""
        own = {self.proc.pid} if self.proc is not None else set()
        links = sorted(self.ns.run(IP, "-o", "link", "show").stdout.split("\n"))
        return {
            "links": [" ".join(line.split()[1:3]) for line in links if line],
            "addrs": self.ns.run(IP, "-o", "addr", "show").stdout,
            "nft": self.ns.run("nft", "list", "ruleset").stdout,
            "procs": sorted(cmd for pid, cmd in self.ns.commands().items() if pid not in own),
        }

    def pids_of(self, word: str) -> list[int]:
        return sorted(pid for pid, cmd in self.ns.commands().items() if word in cmd)


class Guest:
    """A namespace whose eth0 is a veth port of ``bridge`` in ``host``'s namespace."""

    def __init__(self, host: NetNamespace, bridge: str, mac: str, tag: str) -> None:
        self.ns = NetNamespace("rpcnet-g")
        self.ns.create()
        self.mac = mac
        self.port = f"vg{tag}"
        ip("link", "add", self.port, "netns", host.name, "type", "veth",
           "peer", "name", "eth0", "netns", self.ns.name)
        ip("-n", host.name, "link", "set", self.port, "master", bridge, "up")
        ip("-n", self.ns.name, "link", "set", "eth0", "address", mac, "up")

    def dhcp(self, tmp: Path, tries: int = 10) -> ipaddress.IPv4Interface:
        """Run busybox udhcpc once; returns the address it configured."""
        script = tmp / "udhcpc.sh"
        script.write_text(_UDHCPC_SCRIPT)
        script.chmod(0o755)
        res = self.ns.run(BUSYBOX, "udhcpc", "-i", "eth0", "-n", "-q", "-t", str(tries),
                          "-T", "1", "-A", "1", "-s", str(script), timeout=tries * 3)
        if res.returncode != 0:
            raise AssertionError(f"udhcpc failed: {res.stdout}{res.stderr}")
        return self.address()

    def dhcp6(self, tmp: Path, timeout: int = 15) -> ipaddress.IPv6Interface:
        """Run ISC dhclient -6 once; returns the address it leased."""
        self.wait_link_local()
        conf = tmp / "dhclient6.conf"
        conf.write_text(f"timeout {timeout};\n")
        lease_file = tmp / f"dhclient6-{self.port}.leases"
        res = self.ns.run(DHCLIENT, "-6", "-1", "-v", "-cf", str(conf), "-lf", str(lease_file),
                          "-pf", str(tmp / f"dhclient6-{self.port}.pid"), "-sf", "/bin/true",
                          "--no-pid", "eth0", timeout=timeout + 10)
        if res.returncode != 0:
            raise AssertionError(f"dhclient -6 failed: {res.stdout}{res.stderr}")
        found = re.findall(r"iaaddr ([0-9a-f:]+)", lease_file.read_text())
        if not found:
            raise AssertionError(f"dhclient -6 wrote no address: {lease_file.read_text()}")
        return ipaddress.IPv6Interface(f"{found[-1]}/128")

    def wait_link_local(self, timeout: float = 5.0) -> None:
        """Wait until eth0's link-local address passed duplicate address
        detection (DHCPv6 clients bind to it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = ip("-n", self.ns.name, "-6", "addr", "show", "dev", "eth0", "scope", "link")
            if "inet6" in out and "tentative" not in out:
                return
            time.sleep(0.05)
        raise AssertionError(f"eth0 of {self.ns.name} has no usable link-local address")

    def set_address(self, addr: str, gateway: str) -> None:
        ip("-n", self.ns.name, "addr", "add", addr, "dev", "eth0")
        ip("-n", self.ns.name, "route", "replace", "default", "via", gateway)

    def address(self) -> ipaddress.IPv4Interface:
        out = ip("-n", self.ns.name, "-4", "-o", "addr", "show", "dev", "eth0")
        return ipaddress.IPv4Interface(out.split()[3])

    def ping(self, target: str, count: int = 1, wait: float = 2) -> bool:
        res = self.ns.run(BUSYBOX, "ping", "-c", str(count), "-W", str(int(wait)), target,
                          timeout=count + wait + 5)
        return res.returncode == 0

    def cleanup(self) -> None:
        self.ns.delete()  # deleting the namespace deletes both veth ends


class Uplink:
    """An "outside" namespace reachable from ``host`` through veth ``up0``:
    host side 203.0.113.1/24, uplink 203.0.113.2/24 (TEST-NET-3)."""

    HOST_ADDR = "203.0.113.1"
    ADDR = "203.0.113.2"

    def __init__(self, host: NetNamespace, host_if: str = "up0") -> None:
        self.ns = NetNamespace("rpcnet-up")
        self.ns.create()
        ip("link", "add", host_if, "netns", host.name, "type", "veth",
           "peer", "name", "eth0", "netns", self.ns.name)
        ip("-n", host.name, "addr", "add", f"{self.HOST_ADDR}/24", "dev", host_if)
        ip("-n", host.name, "link", "set", host_if, "up")
        ip("-n", self.ns.name, "addr", "add", f"{self.ADDR}/24", "dev", "eth0")
        ip("-n", self.ns.name, "link", "set", "eth0", "up")

    def listen(self, port: int = 7777) -> socket.socket:
        """A TCP listener bound inside the uplink namespace."""
        return _in_netns(self.ns.path, lambda: socket.create_server((self.ADDR, port)))

    def cleanup(self) -> None:
        self.ns.delete()


def peer_seen_by(listener: socket.socket, guest: Guest, timeout: float = 3.0) -> str | None:
    """Connect from ``guest`` to ``listener``; the source address the listener
    saw, or None when the connection could not be made."""
    host, port = listener.getsockname()[:2]
    try:
        client = guest.ns.connect_tcp(host, port, timeout=timeout)
    except OSError:
        return None
    with client:
        listener.settimeout(timeout)
        conn, addr = listener.accept()
        conn.close()
    return str(addr[0])
