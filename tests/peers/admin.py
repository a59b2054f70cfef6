"""Peers of the admin program's tests: the real ``virt-admin``, rpcnetd on
libvirtd's socket names, and real libvirt clients held connected."""

from __future__ import annotations

import json
import selectors
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from tests.peers.libvirtd import LibvirtSocketNames
from tests.peers.requirements import need_executable
from tests.peers.rpcnetd import RpcnetdPeer
from tests.peers.virsh import SYSTEM_PYTHON, run_client

VIRT_ADMIN = "/usr/bin/virt-admin"


class LibvirtNamedRpcnetd(LibvirtSocketNames, RpcnetdPeer):
    """rpcnetd on libvirtd's socket names (``--socket-name libvirt``): its
    sockets are ``libvirt-sock``, ``-sock-ro`` and ``libvirt-admin-sock`` and
    its daemon server is called ``libvirtd``, as libvirtd's."""

    def __init__(self, *extra_args: str) -> None:
        super().__init__(extra_args=("--socket-name", "libvirt", *extra_args))


def virt_admin(socket: str, *command: str) -> subprocess.CompletedProcess[str]:
    """``virt-admin -c libvirtd:///system?socket=SOCKET COMMAND...``."""
    binary = need_executable(VIRT_ADMIN)
    return run_client([binary, "-c", f"libvirtd:///system?socket={socket}", *command])


def virt_admin_rows(socket: str, *command: str) -> list[list[str]]:
    """The rows of a table virt-admin prints, split into words."""
    result = virt_admin(socket, *command)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return [line.split() for line in lines[2:]]  # after the heading and its rule


def virt_admin_fields(socket: str, *command: str) -> dict[str, str]:
    """The ``name : value`` lines virt-admin prints, as a dict."""
    result = virt_admin(socket, *command)
    assert result.returncode == 0, result.stderr
    fields = {}
    for line in result.stdout.splitlines():
        if ":" in line:
            name, value = line.split(":", 1)
            fields[name.strip()] = value.strip()
    return fields


_HOLD = r"""
import json, sys, threading, libvirt
libvirt.virEventRegisterDefaultImpl()
conn = libvirt.open(sys.argv[1])
if len(sys.argv) > 2:
    conn.setIdentity(json.loads(sys.argv[2]), 0)
conn.registerCloseCallback(lambda c, reason, opaque: print("closed", flush=True), None)
print("ready", flush=True)
def run():
    while True:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=run, daemon=True).start()
sys.stdin.read()
"""


class HeldClient:
    """A libvirt Python client that stays connected until told to go."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def wait_closed(self, timeout: float = 20.0) -> str:
        """Wait until the client saw its connection closed: returns "closed"
        (or what it printed instead, or "" if it exited)."""
        assert self.proc.stdout is not None
        return _readline(self.proc, timeout)


@contextmanager
def hold_client(uri: str, *, identity: Mapping[str, str | int] | None = None
                ) -> Iterator[HeldClient]:
    """Keep a Python-bindings client connected to ``uri`` (having set
    ``identity`` if given) for the ``with`` block."""
    args = [SYSTEM_PYTHON, "-c", _HOLD, uri]
    if identity is not None:
        args.append(json.dumps(dict(identity)))
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = _readline(proc, 30)
        if line != "ready":
            proc.kill()
            raise AssertionError(f"client did not connect: {line!r} {proc.communicate()[1]}")
        yield HeldClient(proc)
    finally:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    """One line of the client's output, waiting at most ``timeout`` seconds."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return "(nothing)"
    return proc.stdout.readline().strip()
