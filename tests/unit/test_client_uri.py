"""How the client splits URIs and picks a socket, as libvirt's remote driver does."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpcnet.client import uri as uri_module
from rpcnet.client.uri import RemoteUri
from rpcnet.errors import ErrorCode, VirError


@pytest.fixture
def sockets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    names = ("rpcnet-sock", "virtnetworkd-sock", "libvirt-sock")
    monkeypatch.setattr(uri_module, "DEFAULT_SOCKETS", tuple(tmp_path / n for n in names))
    return tmp_path


def test_default_socket_order(sockets: Path) -> None:
    network, test = RemoteUri.parse("network:///system"), RemoteUri.parse("test:///default")
    assert network.socket_path() == str(sockets / "rpcnet-sock")  # none exists: the first
    (sockets / "libvirt-sock").touch()
    assert network.socket_path() == str(sockets / "libvirt-sock")
    (sockets / "virtnetworkd-sock").touch()
    (sockets / "virtnetworkd-sock-ro").touch()
    assert network.socket_path() == str(sockets / "virtnetworkd-sock")
    assert network.socket_path(readonly=True) == str(sockets / "virtnetworkd-sock-ro")
    assert test.socket_path() == str(sockets / "libvirt-sock")  # only network:// goes there
    (sockets / "rpcnet-sock").touch()
    assert network.socket_path() == str(sockets / "rpcnet-sock")


def test_explicit_socket_and_forwarded_parameters() -> None:
    parsed = RemoteUri.parse("network+unix:///system?socket=/x/s&extra=1")
    assert parsed.socket_path() == "/x/s" and parsed.transport == "unix"
    assert parsed.open_name == "network:///system?extra=1"


def test_malformed_uri_is_invalid_arg() -> None:
    with pytest.raises(VirError) as err:
        RemoteUri.parse("no-scheme")
    assert err.value.code == ErrorCode.INVALID_ARG
