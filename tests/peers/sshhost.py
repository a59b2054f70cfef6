"""Remote hosts reached over SSH, made of namespaces: sshd and rpcnetd at
libvirt's socket names on each, and a client side to reach them from.

Theory of operation. An :class:`SshFleet` makes one *client side* and N
*hosts*, each a :class:`Place`: a network namespace plus a private mount
namespace held open by a ``sleep`` (the *holder*); processes join both with
``nsenter -t HOLDER -m -n`` (no fork, so their pid is ours to signal). In
every place /root is an overlay of the machine's (writes land in the test's
directory; the shell's dot files are removed, so a session's shell reads
none), and test directories are bind-mounted where the programs look.

A host has a veth to the client's namespace (a /30 each, in 10.64.0.0/10;
nothing is routed in the machine's own namespace), a tmpfs on /run with the
host's directory on /run/libvirt, and runs

- ``rpcnetd --socket-dir /run/libvirt --socket-name virtnetworkd`` (or
  ``libvirt``), whose sockets the test also sees in the host's directory;
- ``sshd -D -e -f CONFIG`` on port 22: a host key of its own, the client's
  key authorized for root, ``UsePAM no``, and optionally a PATH of the
  test's choosing (``SetEnv``), so a host can lack ``virt-ssh-helper`` or
  ``nc`` the way a host with only rpcnet installed does.

On the client side the test's directories are root's ~/.ssh (key and
known_hosts: ssh finds them through the passwd entry, not $HOME) and
~/.config/libvirt, and its hosts file is /etc/hosts, so ``hostNN`` names
resolve. Nothing of the machine's own ~/.ssh is read or written. Deleting a
namespace kills what runs in it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Self

from rpcnet.testing import stop_process, wait_until_serving
from tests.peers.netns import IP, NetNamespace

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
NSENTER = "/usr/bin/nsenter"
#: What libvirt's remote command runs on the far side besides its helper.
SHELL_TOOLS = ("sh", "which", "grep")
#: The environment sshd starts with (a session's PATH is Debian's default).
HOST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
#: Sets up a place's mount namespace, then holds it open. $1: the test's
#: directory for this place; $2: "run" for a fresh tmpfs on /run; the rest:
#: ``mount --bind`` pairs (source, target).
_HOLDER = """set -e
dir=$1; run=$2; shift 2
upper=$dir/root-upper; work=$dir/root-work
mkdir -p "$upper" "$work"
mount -t overlay rpcnet-root -o "lowerdir=/root,upperdir=$upper,workdir=$work" /root
rm -f /root/.bashrc /root/.bash_profile /root/.profile
if [ "$run" = run ]; then
    mount -t tmpfs -o mode=0755 rpcnet-run /run
    mkdir -p /run/sshd /run/libvirt
fi
while [ $# -gt 0 ]; do
    if [ -d "$1" ]; then mkdir -p "$2"; fi
    mount --bind "$1" "$2"; shift 2
done
echo ready
exec sleep infinity
"""


def keygen(path: Path, comment: str) -> str:
    """A new ed25519 key pair at ``path`` (and ``path``.pub); the public line."""
    path.unlink(missing_ok=True)
    Path(f"{path}.pub").unlink(missing_ok=True)
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True, timeout=30)
    return Path(f"{path}.pub").read_text().strip()


def _run(args: Sequence[str], timeout: float = 30) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True,
                          timeout=timeout).stdout


def tool_dir(path: Path, tools: Sequence[str], links: dict[str, str] | None = None) -> Path:
    """A directory of symlinks to ``tools`` (found on this PATH) plus ``links``
    (name -> target), to be a host's whole PATH."""
    path.mkdir(parents=True, exist_ok=True)
    for name in tools:
        found = shutil.which(name)
        if found is None:
            raise RuntimeError(f"{name} not found on PATH")
        (path / name).symlink_to(found)
    for name, target in (links or {}).items():
        (path / name).symlink_to(target)
    return path


def rpcnet_ssh_helper() -> str:
    """This checkout's ``rpcnet-ssh-helper``."""
    found = Path(sys.executable).with_name("rpcnet-ssh-helper")
    return str(found) if found.exists() else shutil.which("rpcnet-ssh-helper") or "missing"


def ssh_uri(host: SshHost | str, transport: str = "ssh", params: str = "") -> str:
    """``network+TRANSPORT://HOST/system``, with ``?PARAMS`` if given."""
    name = host if isinstance(host, str) else host.name
    return f"network+{transport}://{name}/system{'?' + params if params else ''}"


def descendants(pid: int) -> list[int]:
    """The pids of every descendant of ``pid`` (its children's, and so on)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        tasks = Path(f"/proc/{todo.pop()}/task")
        with contextlib.suppress(OSError):  # a process may end while we look
            for task in os.listdir(tasks):
                children = [int(c) for c in (tasks / task / "children").read_text().split()]
                found += children
                todo += children
    return found


class Place:
    """A network namespace plus a private mount namespace held open by a
    ``sleep``; commands join both with nsenter (no fork: their pid is theirs)."""

    def __init__(self, prefix: str, directory: Path) -> None:
        self.ns = NetNamespace(prefix)
        self.dir = directory
        self.holder: subprocess.Popen[str] | None = None

    def create(self, *, fresh_run: bool, binds: Sequence[tuple[Path, str]] = ()) -> None:
        self.ns.create()
        pairs = [str(item) for pair in binds for item in pair]
        self.holder = subprocess.Popen(
            self.ns.exec_args("unshare", "--mount", "--propagation", "private", "sh", "-c",
                              _HOLDER, "holder", str(self.dir), "run" if fresh_run else "-",
                              *pairs),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True)
        assert self.holder.stdout is not None
        if self.holder.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{self.dir.name}: {self.holder.communicate(timeout=5)[1]}")

    def delete(self) -> None:
        try:
            self.ns.delete()
        finally:
            holder, self.holder = self.holder, None
            if holder is not None:
                holder.kill()
                holder.communicate(timeout=10)

    def exec_args(self, *cmd: str) -> list[str]:
        assert self.holder is not None, "not created"
        # ip netns exec, unshare and sh all exec: the holder's pid is the sleep's
        return [NSENTER, "-t", str(self.holder.pid), "-m", "-n", "--", *cmd]


class ClientSide:
    """Where the ssh clients run: root's ~/.ssh, ~/.config/libvirt and
    /etc/hosts are the test's."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "client"
        self.place = Place("rpcnet-sshc", self.dir)
        self.ssh_dir = self.dir / "ssh"
        self.config_dir = self.dir / "libvirt-config"
        self.key = self.ssh_dir / "id_ed25519"
        self.known_hosts = self.ssh_dir / "known_hosts"
        self.etc_hosts = self.dir / "hosts"
        self.public_key = ""

    @property
    def ns(self) -> NetNamespace:
        return self.place.ns

    def create(self) -> None:
        self.ssh_dir.mkdir(parents=True, mode=0o700)
        self.config_dir.mkdir()
        self.public_key = keygen(self.key, "rpcnet-test-client")
        self.known_hosts.write_text("")
        self.etc_hosts.write_text("127.0.0.1 localhost\n")
        self.place.create(fresh_run=False, binds=[
            (self.ssh_dir, "/root/.ssh"), (self.config_dir, "/root/.config/libvirt"),
            (self.etc_hosts, "/etc/hosts")])

    def delete(self) -> None:
        self.place.delete()

    def args(self, *cmd: str) -> list[str]:
        """``cmd`` run on the client side."""
        return self.place.exec_args(*cmd)

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, "HOME": "/root", "LC_ALL": "C", "LANG": "C"}
        for name in ("SSH_AUTH_SOCK", "XDG_CONFIG_HOME", "LIBVIRT_DEFAULT_URI"):
            env.pop(name, None)
        return {**env, **extra}

    def run(self, *cmd: str, timeout: float = 60, input: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` on the client side; text output, never raises on exit code."""
        return subprocess.run(self.args(*cmd), capture_output=True, text=True, timeout=timeout,
                              input=input, env=env or self.env())

    def virsh(self, uri: str, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.run("/usr/bin/virsh", "-c", uri, *cmd, timeout=timeout)

    def rpcnet(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The ``rpcnet`` console of this checkout."""
        return self.run(sys.executable, "-m", "rpcnet.cli.console", *args, timeout=timeout)


class SshHost:
    """One remote host: its namespaces, its rpcnetd and its sshd."""

    def __init__(self, index: int, name: str, root: Path, client: ClientSide) -> None:
        self.index = index
        self.name = name
        self.client = client
        self.dir = root / name
        self.place = Place("rpcnet-sshh", self.dir)
        self.run_dir = self.dir / "run-libvirt"
        third, fourth = 64 + index // 64, (index % 64) * 4
        self.address = f"10.{third}.0.{fourth + 2}"
        self.client_address = f"10.{third}.0.{fourth + 1}"
        self.host_key = self.dir / "ssh_host_ed25519_key"
        self.host_public_key = ""
        self.path: str | None = None
        self.rpcnetd: subprocess.Popen[bytes] | None = None
        self.sshd: subprocess.Popen[bytes] | None = None

    @property
    def ns(self) -> NetNamespace:
        return self.place.ns

    # -- namespaces ------------------------------------------------------------
    def create(self) -> None:
        self.run_dir.mkdir(parents=True)
        self.host_public_key = keygen(self.host_key, self.name)
        self.authorize(self.client.public_key)
        self.place.create(fresh_run=True, binds=[(self.run_dir, "/run/libvirt")])
        link, client_ns = f"ssh{self.index}", self.client.ns.name
        _run([IP, "-n", client_ns, "link", "add", link, "type", "veth",
              "peer", "name", "eth0", "netns", self.ns.name])
        _run([IP, "-n", client_ns, "addr", "add", f"{self.client_address}/30", "dev", link])
        _run([IP, "-n", client_ns, "link", "set", link, "up"])
        _run([IP, "-n", self.ns.name, "addr", "add", f"{self.address}/30", "dev", "eth0"])
        _run([IP, "-n", self.ns.name, "link", "set", "eth0", "up"])

    def delete(self) -> None:
        try:
            self.stop_sshd()
            self.stop_rpcnetd()
        finally:
            self.place.delete()

    def exec_args(self, *cmd: str) -> list[str]:
        """``cmd`` inside the host's network and mount namespaces."""
        return self.place.exec_args(*cmd)

    def run(self, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.exec_args(*cmd), capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "LC_ALL": "C"})

    # -- rpcnetd ------------------------------------------------------------------
    @property
    def rpcnetd_log(self) -> Path:
        return self.dir / "rpcnetd.log"

    def start_rpcnetd(self, socket_name: str = "virtnetworkd", *,
                      socket_dir: str = "/run/libvirt") -> None:
        """rpcnetd on the host's SOCKET_DIR/NAME-sock(-ro); waits until it answers."""
        self.stop_rpcnetd()
        args = [sys.executable, "-m", "rpcnet", "--socket-dir", socket_dir,
                "--socket-name", socket_name]
        with self.rpcnetd_log.open("ab") as log:
            self.rpcnetd = subprocess.Popen(self.exec_args(*args), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT)
        assert self.place.holder is not None
        sock = f"/proc/{self.place.holder.pid}/root{socket_dir}/{socket_name}-sock"
        wait_until_serving(self.rpcnetd, sock, 60, self.rpcnetd_log.read_text,
                           what=f"rpcnetd of {self.name}")

    def stop_rpcnetd(self) -> None:
        proc, self.rpcnetd = self.rpcnetd, None
        stop_process(proc)

    # -- sshd -----------------------------------------------------------------------
    @property
    def sshd_log(self) -> Path:
        return self.dir / "sshd.log"

    def sshd_config(self) -> Path:
        lines = [
            "Port 22", f"ListenAddress {self.address}", f"HostKey {self.host_key}",
            "PidFile none", f"AuthorizedKeysFile {self.dir}/authorized_keys",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
            "UseDNS no", "PrintMotd no", "LogLevel VERBOSE", "MaxStartups 200",
        ]
        if self.path is not None:
            lines.append(f"SetEnv PATH={self.path}")
        config = self.dir / "sshd_config"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start_sshd(self) -> None:
        """sshd -D on the host's address, port 22; waits until it listens."""
        self.stop_sshd()
        config = self.sshd_config()
        self.sshd_log.write_bytes(b"")
        with self.sshd_log.open("ab") as log:
            self.sshd = subprocess.Popen(self.exec_args(SSHD, "-D", "-e", "-f", str(config)),
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=HOST_ENV)
        deadline = time.monotonic() + 60
        while b"Server listening on" not in self.sshd_log.read_bytes():
            if self.sshd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd of {self.name}: {self.sshd_log.read_text()}")
            time.sleep(0.02)

    def stop_sshd(self) -> None:
        proc, self.sshd = self.sshd, None
        stop_process(proc)

    def freeze(self, frozen: bool = True) -> None:
        """SIGSTOP (or SIGCONT) the listening sshd: connections then wait in the
        kernel's backlog, with no answer (a host that hangs)."""
        assert self.sshd is not None
        self.sshd.send_signal(signal.SIGSTOP if frozen else signal.SIGCONT)

    def use_tools(self, links: dict[str, str], *tools: str) -> None:
        """Give sessions a PATH of the shell's tools, ``tools`` and ``links``
        (name -> target) only, as on a host without libvirt; restarts sshd."""
        shutil.rmtree(self.dir / "bin", ignore_errors=True)
        self.path = str(tool_dir(self.dir / "bin", (*SHELL_TOOLS, *tools), links))
        self.start_sshd()

    def new_host_key(self) -> None:
        """Replace the host key (the client's known_hosts now holds a stale one)."""
        self.host_public_key = keygen(self.host_key, self.name)
        if self.sshd is not None:
            self.start_sshd()

    def authorize(self, *public_keys: str) -> None:
        """The keys allowed to log in as root (none: every key is refused)."""
        (self.dir / "authorized_keys").write_text("".join(f"{key}\n" for key in public_keys))

    def session_pids(self) -> list[int]:
        """Processes of the ssh sessions: every descendant of the listening sshd."""
        return descendants(self.sshd.pid) if self.sshd is not None else []

    def known_hosts_line(self) -> str:
        kind, key = self.host_public_key.split()[:2]
        return f"{self.name},{self.address} {kind} {key}"

    def processes(self) -> dict[int, str]:
        """Command lines of what runs in the host's network namespace."""
        return self.ns.commands()


class SshFleet:
    """A client side and ``count`` hosts named ``host01``...; a context manager.

    ``path``: when given, each sshd session's PATH (for hosts without
    libvirt's tools). ``rpcnetd``: the socket name rpcnetd serves, or None for
    no daemon."""

    def __init__(self, count: int, *, path: str | None = None,
                 socket_name: str | None = "virtnetworkd", workers: int = 8) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rpcnet-ssh-"))
        self.client = ClientSide(self.root)
        self.hosts = [SshHost(i, f"host{i + 1:02d}", self.root, self.client)
                      for i in range(count)]
        for host in self.hosts:
            host.path = path
        self.socket_name = socket_name
        self.workers = workers

    def start(self) -> Self:
        try:
            self.client.create()
            self.each(self._start_host)
            self.write_known_hosts()
            self.client.etc_hosts.write_text("127.0.0.1 localhost\n" + "".join(
                f"{h.address} {h.name}\n" for h in self.hosts))
        except BaseException:
            self.close()
            raise
        return self

    def _start_host(self, host: SshHost) -> None:
        host.create()
        if self.socket_name is not None:
            host.start_rpcnetd(self.socket_name)
        host.start_sshd()

    def each(self, fn: Callable[[SshHost], None]) -> None:
        """``fn`` on every host, ``workers`` at a time."""
        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(fn, self.hosts))

    def write_known_hosts(self) -> None:
        """Every host's key in ssh's known_hosts and in libvirt's (the libssh
        transports' default, ~/.config/libvirt/known_hosts)."""
        text = "".join(f"{h.known_hosts_line()}\n" for h in self.hosts)
        self.client.known_hosts.write_text(text)
        (self.client.config_dir / "known_hosts").write_text(text)

    def close(self) -> None:
        errors = []
        for host in self.hosts:
            try:
                host.delete()
            except Exception as exc:  # keep cleaning up the others
                errors.append(exc)
        with contextlib.suppress(Exception):
            self.client.delete()
        shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            raise errors[0]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
