"""Socket activation and readiness notices with real descriptors and
sockets: rpcnet.server.activation.claim and rpcnet.server.notify."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpcnet.server.activation import ActivationError, Role, claim
from rpcnet.server.notify import Notifier

FIRST = 300  # far above what the test process has open


def unix_listener(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen()
    return sock


def tcp_listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.fixture
def place() -> Iterator[list[int]]:
    """Puts descriptors at FIRST, FIRST+1, ... as systemd puts them at 3."""
    placed: list[int] = []
    yield placed
    for fd in placed:
        with contextlib.suppress(OSError):
            os.close(fd)


def put(placed: list[int], *objects: socket.socket | int) -> None:
    for obj in objects:
        fd = FIRST + len(placed)
        os.dup2(obj if isinstance(obj, int) else obj.fileno(), fd)
        placed.append(fd)
        if not isinstance(obj, int):
            obj.close()


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_claims_each_socket_by_its_name(tmp_path: Path, place: list[int]) -> None:
    put(place, unix_listener(tmp_path / "rw"), unix_listener(tmp_path / "ro"),
        unix_listener(tmp_path / "adm"), tcp_listener(), unix_listener(tmp_path / "rw2"))
    activation = claim(["virtnetworkd.socket", "virtnetworkd-ro.socket",
                        "virtnetworkd-admin.socket", "libvirtd-tls.socket", "rpcnetd.socket"],
                       first_fd=FIRST)
    try:
        assert {role: [s.fileno() for s in socks]
                for role, socks in activation.sockets.items()} == {
            Role.RW: [FIRST, FIRST + 4], Role.RO: [FIRST + 1], Role.ADMIN: [FIRST + 2],
            Role.TLS: [FIRST + 3]}
        assert activation.names[FIRST + 3] == "libvirtd-tls.socket"
        assert not any(os.get_inheritable(fd) for fd in place)
        assert activation.sockets[Role.RW][0].getsockname() == str(tmp_path / "rw")
    finally:
        activation.close()
    place.clear()


@pytest.mark.parametrize(("make", "name", "reason"), [
    (lambda d: unix_listener(d / "x"), "virtqemud.socket", "does not serve a socket named"),
    (lambda d: tcp_listener(), "rpcnetd.socket", "is not a listening UNIX stream socket"),
    (lambda d: unix_listener(d / "x"), "rpcnetd-tls.socket",
     "is not a listening TCP stream socket"),
    (lambda d: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), "rpcnetd.socket",
     "is not a listening UNIX stream socket"),
    (lambda d: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM), "rpcnetd-ro.socket",
     "is not a listening UNIX stream socket"),
    (lambda d: os.open(d / "file", os.O_CREAT | os.O_RDWR), "rpcnetd.socket", "is not a socket"),
])
def test_a_descriptor_it_cannot_place_is_an_error_and_all_are_closed(
        tmp_path: Path, place: list[int], make: object, name: str, reason: str) -> None:
    good = unix_listener(tmp_path / "good")
    assert callable(make)
    put(place, good, make(tmp_path))
    with pytest.raises(ActivationError, match=reason):
        claim(["rpcnetd.socket", name], first_fd=FIRST)
    assert not is_open(FIRST) and not is_open(FIRST + 1)


# -- readiness ------------------------------------------------------------------

@pytest.fixture
def listener(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(5)
    yield sock
    sock.close()


def test_notices_reach_a_path(listener: socket.socket, tmp_path: Path) -> None:
    environ = {"NOTIFY_SOCKET": str(tmp_path / "notify"), "OTHER": "x"}
    notifier = Notifier.from_environment(environ)
    assert environ == {"OTHER": "x"}
    assert notifier.ready() and notifier.reloading() and notifier.ready("serving")
    assert notifier.stopping()
    got = [listener.recv(4096).decode() for _ in range(4)]
    assert got[0] == "READY=1\n"
    assert got[1].startswith("RELOADING=1\nMONOTONIC_USEC=") and got[1].endswith("\n")
    assert got[2] == "READY=1\nSTATUS=serving\n"
    assert got[3] == "STOPPING=1\n"
    notifier.close()


def test_notices_reach_an_abstract_socket() -> None:
    name = f"rpcnet-test-{secrets.token_hex(6)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        notifier = Notifier(f"@{name}")
        assert notifier.ready()
        assert sock.recv(4096) == b"READY=1\n"
        notifier.close()


def test_without_a_listener_nothing_fails(tmp_path: Path) -> None:
    assert not Notifier(None).ready()
    assert not Notifier("relative/path").enabled
    gone = Notifier(str(tmp_path / "nobody-listens"))
    assert gone.enabled and not gone.ready()
