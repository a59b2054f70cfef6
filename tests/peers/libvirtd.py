"""A real, fully isolated `libvirtd` for interop tests.

Theory of operation: `start()` creates a named network namespace, then runs

    ip netns exec NS unshare --mount --propagation private \
        --pid --fork --kill-child --mount-proc sh -c ISOLATE

where ISOLATE mounts fresh tmpfs over every directory libvirtd keeps state in
(`/run`, `/etc/libvirt`, `/var/lib/libvirt`, `/var/cache/libvirt`,
`/var/log/libvirt`) and execs `libvirtd -f CONF`. So the daemon shares no
files, network devices, firewall tables or processes with the host or with
another peer; dnsmasq processes it spawns live in its PID namespace and die
with it. The sockets live in a host temp dir (not under a tmpfs), so the test
process reaches them from its own namespaces. `stop()` terminates libvirtd,
kills whatever is left in the network namespace, deletes it and the temp dir.
"""

from __future__ import annotations

import atexit
import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from rpcnet.testing import answers_rpc
from tests.peers import libvirtd_conf
from tests.peers.libvirtd_conf import ConfValue, TlsConfig
from tests.peers.netns import NetNamespace

LIBVIRTD = "/usr/sbin/libvirtd"
PRIVATE_DIRS = (
    "/run",
    "/etc/libvirt",
    "/var/lib/libvirt",
    "/var/cache/libvirt",
    "/var/log/libvirt",
)
_ISOLATE = """set -eu
conf=$1; pidfile=$2; daemon=$3; shift 3
for dir in "$@"; do
    mkdir -p "$dir"
    mount -t tmpfs -o mode=0755 rpcnet-lvd "$dir"
done
if [ -z "${LVD_RESTARTABLE:-}" ]; then
    exec "$daemon" -f "$conf" -p "$pidfile" ${LVD_LISTEN:-}
fi
# restartable: this shell stays PID 1 of the namespace (the networks'
# dnsmasq outlive libvirtd, as on a host) and starts libvirtd again when it
# exits, until the stop file exists
while :; do
    "$daemon" -f "$conf" -p "$pidfile" ${LVD_LISTEN:-} || :
    [ -e "$conf.stop" ] && exit 0
done
"""
_DEFAULT_PATHS = {"test": "/default", "network": "/system"}
_live: weakref.WeakSet[LibvirtdPeer] = weakref.WeakSet()


def ensure_system_accounts() -> None:
    """Create groups `kvm` and `libvirt-qemu` and user `libvirt-qemu` if
    missing (as Debian's libvirt-daemon-system would); libvirtd's QEMU driver
    refuses to start without them ("Failed to parse group 'libvirt-qemu'"),
    and with it the whole daemon."""
    for group in ("kvm", "libvirt-qemu"):
        try:
            grp.getgrnam(group)
        except KeyError:
            subprocess.run(["groupadd", "--system", group], check=True)
    try:
        pwd.getpwnam("libvirt-qemu")
    except KeyError:
        cmd = ["useradd", "--system", "--no-create-home", "--home-dir", "/var/lib/libvirt"]
        cmd += ["--shell", "/usr/sbin/nologin", "--gid", "kvm", "libvirt-qemu"]
        subprocess.run(cmd, check=True)


class LibvirtdError(RuntimeError):
    """libvirtd did not come up (the message ends with the tail of its log)."""


class _InDir(Protocol):
    @property
    def dir(self) -> Path: ...


class LibvirtSocketNames:
    """libvirtd's socket names in the daemon's ``dir``: ``libvirt-sock``,
    ``libvirt-sock-ro`` and ``libvirt-admin-sock``."""

    @property
    def socket(self: _InDir) -> str:
        return str(self.dir / "libvirt-sock")

    @property
    def socket_ro(self: _InDir) -> str:
        return str(self.dir / "libvirt-sock-ro")

    @property
    def socket_admin(self: _InDir) -> str:
        return str(self.dir / "libvirt-admin-sock")


class LibvirtdPeer(LibvirtSocketNames):
    """One isolated libvirtd; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        tls: TlsConfig | None = None,
        extra_conf: Mapping[str, ConfValue] | None = None,
        log_level: int = 3,
        ready_timeout: float = 20.0,
        keep_dir: bool | None = None,
        binary: str = LIBVIRTD,
        prepare_namespace: Callable[[NetNamespace], None] | None = None,
        restartable: bool = False,
    ) -> None:
        """``prepare_namespace`` runs in the new network namespace before
        libvirtd starts there (e.g. to set up another program's firewall).
        ``restartable``: libvirtd can be stopped and started again
        (:meth:`restart`) with the state and processes of its namespaces
        kept, as a host keeps them across a daemon restart."""
        self._prepare = prepare_namespace
        self._restartable = restartable
        self._tls = tls
        self._extra = dict(extra_conf or {})
        self._log_level = log_level
        self._ready_timeout = ready_timeout
        if keep_dir is None:
            keep_dir = bool(os.environ.get("RPCNET_KEEP_LIBVIRTD"))
        self._keep_dir = keep_dir
        self._binary = binary
        self._ns = NetNamespace("rpcnet-lvd")
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- paths and URIs ---------------------------------------------------
    @property
    def netns(self) -> str:
        return self._ns.name

    @property
    def namespace(self) -> NetNamespace:
        return self._ns

    @property
    def dir(self) -> Path:
        if self._dir is None:
            raise LibvirtdError("peer not started")
        return self._dir

    @property
    def log_path(self) -> Path:
        return self.dir / "libvirtd.log"

    @property
    def stderr_path(self) -> Path:
        return self.dir / "libvirtd.stderr"

    @property
    def pid(self) -> int | None:
        """Host PID of libvirtd itself (the child of `unshare`, or of the
        restarting shell), if running."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        children = _children(self._proc.pid)
        if self._restartable and children:
            # the daemon among the restarting shell's children (the dnsmasq
            # of an earlier libvirtd are its children too)
            children = [pid for pid in _children(children[0])
                        if _comm(pid) == Path(self._binary).name[:15]]
        return children[0] if children else None

    def uri(self, driver: str = "test", *, path: str | None = None, readonly: bool = False) -> str:
        """`test+unix:///default?socket=...`, `network+unix:///system?socket=...`, ..."""
        path = path if path is not None else _DEFAULT_PATHS.get(driver, "/system")
        sock = self.socket_ro if readonly else self.socket
        return f"{driver}+unix://{path}?socket={sock}"

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> Self:
        """Start libvirtd and wait until it answers RPC; raises LibvirtdError."""
        if self._proc is not None:
            raise LibvirtdError("peer already started")
        _live.add(self)
        try:
            ensure_system_accounts()
            self._dir = Path(tempfile.mkdtemp(prefix="rpcnet-lvd-", dir="/tmp"))
            conf = self._write_conf()
            self._ns.create()
            if self._prepare is not None:
                self._prepare(self._ns)
            self._proc = self._spawn(conf)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Kill libvirtd and everything in its namespaces; remove them. Idempotent."""
        try:
            self._terminate()
            self._ns.delete()
        finally:
            if self._dir is not None and not self._keep_dir:
                shutil.rmtree(self._dir, ignore_errors=True)
            _live.discard(self)

    def restart(self, sig: int = signal.SIGTERM) -> float:
        """Stop libvirtd with ``sig`` and wait until it has exited (a
        restartable peer starts it again at once); returns the
        time.monotonic() of that moment. Its networks keep running."""
        if not self._restartable:
            raise LibvirtdError("peer not started restartable")
        pid = self.pid
        if pid is None:
            raise LibvirtdError("libvirtd is not running")
        os.kill(pid, sig)
        while Path(f"/proc/{pid}").exists() and self.pid == pid:
            time.sleep(0.002)
        return time.monotonic()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        """Last lines of libvirtd's log file and of its stderr."""
        parts = []
        for path in (self.log_path, self.stderr_path):
            try:
                text = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    # -- internals -------------------------------------------------------------
    def _write_conf(self) -> Path:
        text = libvirtd_conf.render(
            sock_dir=self.dir,
            log_path=self.log_path,
            log_level=self._log_level,
            tls=self._tls,
            extra=self._extra,
        )
        conf = self.dir / "libvirtd.conf"
        conf.write_text(text)
        return conf

    def _spawn(self, conf: Path) -> subprocess.Popen[bytes]:
        isolate = ["unshare", "--mount", "--propagation", "private"]
        isolate += ["--pid", "--fork", "--kill-child", "--mount-proc"]
        script = ["sh", "-c", _ISOLATE, "lvd-isolate", str(conf)]
        script += [str(self.dir / "libvirtd.pid"), self._binary, *PRIVATE_DIRS]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
        if self._tls is not None:
            env["LVD_LISTEN"] = "--listen"
        if self._restartable:
            env["LVD_RESTARTABLE"] = "1"
        with self.stderr_path.open("wb") as err:
            return subprocess.Popen(
                self._ns.exec_args(*isolate, *script),
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise LibvirtdError(
                    f"libvirtd exited with {self._proc.returncode}\n{self.log_tail()}"
                )
            if answers_rpc(self.socket):
                return
            time.sleep(0.05)
        raise LibvirtdError(f"libvirtd not ready after {self._ready_timeout}s\n{self.log_tail()}")

    def _terminate(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            daemon = self.pid
            if self._restartable and self._dir is not None:
                (self.dir / "libvirtd.conf.stop").touch()
            if daemon is not None:
                os.kill(daemon, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()  # unshare --kill-child passes SIGKILL on to libvirtd
                proc.wait(timeout=10)
        self._proc = None


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@atexit.register
def _stop_leftovers() -> None:
    for peer in list(_live):
        try:
            peer.stop()
        except Exception as exc:  # cleanup at exit must not stop the others
            print(f"rpcnet: stopping libvirtd peer {peer.netns} failed: {exc}")
