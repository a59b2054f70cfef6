"""libvirt's ssh command for what the virsh comparison (run as root) cannot
show: a client that is not root, and libvirt's shell quoting."""

from __future__ import annotations

import pytest

from rpcnet.client import ssh_command
from rpcnet.client.ssh_command import Proxy, SshTarget, shell_quote
from rpcnet.client.uri import RemoteUri


def target(uri: str, *, readonly: bool = False) -> SshTarget:
    return SshTarget.from_uri(RemoteUri.parse(uri), readonly=readonly)


@pytest.fixture
def not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssh_command.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")


def test_session_uris_of_a_user_use_the_helper_only(not_root: None) -> None:
    for uri, name in (("qemu+ssh://h/session", "qemu:///session"),
                      ("test+ssh://h/default", "test:///default")):
        found = target(uri)
        assert found.proxy is Proxy.NATIVE
        assert found.socket == "/run/user/1000/libvirt/libvirt-sock"
        assert found.remote_command == f"sh -c 'virt-ssh-helper '{name}''"
    assert target("network+ssh://h/system").proxy is Proxy.AUTO


def test_system_uris_of_root_try_the_helper_then_netcat() -> None:
    assert target("test+ssh://h/default").proxy is Proxy.AUTO
    assert target("test+ssh://h/default", readonly=True).socket == \
        "/var/run/libvirt/libvirt-sock-ro"


def test_shell_quoting_is_libvirts() -> None:
    assert shell_quote("") == "''"
    assert shell_quote("/usr/bin/nc") == "/usr/bin/nc"
    assert shell_quote("my nc") == "'my nc'"
    assert shell_quote("it's") == "'it'\\''s'"
