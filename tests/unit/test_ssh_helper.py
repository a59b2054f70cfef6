"""rpcnet-ssh-helper's two command lines and the socket it picks."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpcnet.cli import ssh_helper
from rpcnet.cli.ssh_helper import HelperError, socket_for


@pytest.fixture
def run_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "rpcnet").mkdir()
    (tmp_path / "libvirt").mkdir()
    monkeypatch.setattr(ssh_helper, "RPCNET_SOCKET", str(tmp_path / "rpcnet/rpcnet-sock"))
    monkeypatch.setattr(ssh_helper, "LIBVIRT_DIR", str(tmp_path / "libvirt"))
    return tmp_path


def test_the_socket_for_a_uri(run_dirs: Path) -> None:
    libvirt = run_dirs / "libvirt"
    assert socket_for("network:///system", False) == f"{libvirt}/libvirt-sock"  # none there
    (libvirt / "libvirt-sock").touch()
    (libvirt / "virtnetworkd-sock-ro").touch()
    assert socket_for("network:///system", False) == f"{libvirt}/libvirt-sock"
    assert socket_for("network:///system", True) == f"{libvirt}/virtnetworkd-sock-ro"
    (run_dirs / "rpcnet/rpcnet-sock").touch()
    assert socket_for("network:///system", False) == f"{run_dirs}/rpcnet/rpcnet-sock"
    assert socket_for("test:///default", False) == f"{run_dirs}/rpcnet/rpcnet-sock"
    assert socket_for("qemu:///system", False) == f"{libvirt}/libvirt-sock"  # not rpcnet's


@pytest.mark.parametrize("uri", ["network+tls://host/system", "network://host/system",
                                 "qemu:///session", "nonsense"])
def test_uris_it_refuses(uri: str) -> None:
    with pytest.raises(HelperError):
        socket_for(uri, False)


def test_command_lines(run_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ssh_helper.main(["-q"]) == 1  # libvirt's probe for nc's -q looks for this
    assert "requires an argument" in capsys.readouterr().err
    assert ssh_helper.main(["-q0", "-U", f"{run_dirs}/none"]) == 1
    assert capsys.readouterr().err == \
        f"rpcnet-ssh-helper: cannot connect to '{run_dirs}/none': No such file or directory\n"
    assert ssh_helper.main(["-r", "network:///system"]) == 1
    assert f"'{run_dirs}/libvirt/libvirt-sock-ro'" in capsys.readouterr().err
    assert ssh_helper.main([]) == 1
    assert "usage:" in capsys.readouterr().err
