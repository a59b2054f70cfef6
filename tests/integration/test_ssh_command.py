"""The ssh command line rpcnet runs is the one virsh runs, byte for byte.

virsh's ``command=`` parameter names the program it runs in place of ssh,
with the same arguments; a script there records them. For each URI the
recorded argv must equal what rpcnet's ``+ssh`` transport runs, read-only
or not, and a URI virsh refuses must be refused with the same message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rpcnet.client.ssh_command import SshTarget
from rpcnet.client.uri import RemoteUri
from rpcnet.errors import VirError
from tests.peers.virsh import virsh

pytestmark = pytest.mark.interop

URIS = [
    "network+ssh://host1/system",
    "network+ssh://admin@host1:2222/system?keyfile=/keys/id&no_tty=1&no_verify=1",
    "network+ssh://host1/system?socket=/run/libvirt/virtnetworkd-sock",
    "network+ssh://host1/system?netcat=/opt/my%20nc",
    "network+ssh://host1/system?netcat=nc.openbsd&proxy=netcat",
    "network+ssh://host1/system?proxy=native",
    "network+ssh://host1/system?proxy=netcat&mode=legacy",
    "network+SSH://host1/system?NO_TTY=1",
    "qemu+ssh://host1/system",
    "test+ssh://host1/default",
    "network+ssh://host1/system?name=network:///system",
    "network+ssh://host1/system?extra=a%20b&other=it's",
    "remote+ssh://host1/",
    "network+ssh://[::1]/system",
    "network+ssh://host1/system?no_tty=0&no_verify=0",
]

REFUSED = [
    "network+ssh://host1/system?mode=direct",
    "network+ssh://host1/system?mode=fast",
    "network+ssh://host1/system?proxy=fast",
    "network+ssh://host1/system?proxy=native&netcat=nc",
    "network+ssh://host1/system?no_tty=yes",
]


@pytest.fixture
def recorder(tmp_path: Path) -> tuple[Path, Path]:
    """(a program that records its arguments, reads the first call and fails;
    the file it writes)."""
    out = tmp_path / "argv"
    script = tmp_path / "record"
    script.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" > {out}\nhead -c 28 >/dev/null\n"
                      "echo recorded >&2\nexit 1\n")
    script.chmod(0o755)
    return script, out


def _with_command(uri: str, command: Path) -> str:
    return f"{uri}{'&' if '?' in uri else '?'}command={command}"


@pytest.mark.parametrize("readonly", [False, True], ids=["rw", "ro"])
@pytest.mark.parametrize("uri", URIS)
def test_the_same_ssh_command_line_as_virsh(virsh_bin: str, recorder: tuple[Path, Path],
                                            uri: str, readonly: bool) -> None:
    command, out = recorder
    full = _with_command(uri, command)
    result = virsh(full, *(["-r"] if readonly else []), "uri")
    assert result.returncode == 1 and "recorded" in result.stderr, result.stderr
    recorded = out.read_bytes().split(b"\0")[:-1]
    ours = SshTarget.from_uri(RemoteUri.parse(full), readonly=readonly).ssh_argv()
    assert [arg.encode() for arg in ours[1:]] == recorded
    assert ours[0] == str(command)


@pytest.mark.parametrize("uri", REFUSED)
def test_the_same_refusals_as_virsh(virsh_bin: str, recorder: tuple[Path, Path],
                                    uri: str) -> None:
    command, out = recorder
    full = _with_command(uri, command)
    result = virsh(full, "uri")
    assert not out.exists()
    with pytest.raises(VirError) as refused:
        SshTarget.from_uri(RemoteUri.parse(full), readonly=False)
    assert result.stderr == ("error: failed to connect to the hypervisor\n"
                             f"error: {refused.value.message}\n")
