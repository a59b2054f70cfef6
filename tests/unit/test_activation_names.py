"""systemd socket activation's environment and names (no descriptors here;
tests/integration/test_activation.py claims real ones)."""

from __future__ import annotations

import pytest

from rpcnet.server.activation import ActivationError, Role, from_environment, passed_names, role_of

PID = 4242


@pytest.mark.parametrize(("name", "role"), [
    ("rpcnetd.socket", Role.RW), ("rpcnetd-ro.socket", Role.RO),
    ("rpcnetd-admin.socket", Role.ADMIN), ("rpcnetd-tls.socket", Role.TLS),
    ("virtnetworkd.socket", Role.RW), ("virtnetworkd-ro.socket", Role.RO),
    ("virtnetworkd-admin.socket", Role.ADMIN),
    ("libvirtd.socket", Role.RW), ("libvirtd-ro.socket", Role.RO),
    ("libvirtd-admin.socket", Role.ADMIN), ("libvirtd-tls.socket", Role.TLS),
])
def test_names_of_the_three_daemons(name: str, role: Role) -> None:
    assert role_of(name) is role


@pytest.mark.parametrize(("name", "reason"), [
    ("virtqemud.socket", "rpcnetd does not serve a socket named 'virtqemud.socket'"),
    ("virtnetworkd-tls.socket", "does not serve a socket named 'virtnetworkd-tls.socket'"),
    ("libvirtd-tcp.socket", "unencrypted TCP transport, which rpcnetd does not serve"),
    ("", "does not serve a socket named ''"),
    ("unknown", "(it serves libvirtd-admin.socket, libvirtd-ro.socket,"),
])
def test_unknown_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(ActivationError, match=reason.replace("(", r"\(")):
        role_of(name)


def env(pid: int | str = PID, fds: str = "2", names: str | None = "a:b") -> dict[str, str]:
    found = {"LISTEN_PID": str(pid), "LISTEN_FDS": fds}
    if names is not None:
        found["LISTEN_FDNAMES"] = names
    return found


def test_names_for_us() -> None:
    assert passed_names(env(), PID) == ["a", "b"]


@pytest.mark.parametrize("environ", [
    {}, env(pid=PID + 1), env(pid="x"), env(fds="x"), env(fds="0", names=""),
    {"LISTEN_FDS": "1", "LISTEN_FDNAMES": "a"},
])
def test_nothing_passed_to_us(environ: dict[str, str]) -> None:
    assert passed_names(environ, PID) is None


def test_unnamed_descriptors_are_an_error() -> None:
    with pytest.raises(ActivationError, match=r"^Missing LISTEN_FDNAMES env"):
        passed_names(env(names=None), PID)
    with pytest.raises(ActivationError, match=r"^Expecting 2 FD names but got 3$"):
        passed_names(env(names="a:b:c"), PID)


def test_the_variables_are_removed_even_on_error() -> None:
    environ = {**env(names=None), "OTHER": "x"}
    with pytest.raises(ActivationError):
        from_environment(environ, PID)
    assert environ == {"OTHER": "x"}
    environ = env(pid=PID + 1)
    assert from_environment(environ, PID) is None
    assert environ == {}
