"""Fixtures of the ssh tests: root, sshd and the clients, and fleets of
remote hosts (tests/peers/sshhost.py) that are always removed."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.peers.netns import IP
from tests.peers.requirements import need, need_executable, need_root
from tests.peers.sshhost import NSENTER, SSH_KEYGEN, SSHD, ClientSide, SshFleet

SCRIPT = Path(__file__).with_name("client_script.py")


@pytest.fixture(scope="session")
def ssh_tools() -> None:
    """Root, sshd, ssh, ssh-keygen, nsenter, ip and virsh; asyncssh importable."""
    need_root()
    for tool in (SSHD, SSH_KEYGEN, "/usr/bin/ssh", NSENTER, IP, "/usr/bin/virsh",
                 "/usr/bin/virt-ssh-helper", "/usr/bin/nc.openbsd"):
        need_executable(tool)
    try:
        import asyncssh  # noqa: F401
    except ImportError:
        need(False, "needs asyncssh (pip install 'rpcnet[ssh]')")


@pytest.fixture(scope="module")
def fleet(ssh_tools: None) -> Iterator[SshFleet]:
    """Three hosts serving libvirt's socket names, as a modular libvirt host does."""
    with SshFleet(3) as made:
        yield made


def run_script(client: ClientSide, action: str, *args: str | int) -> dict[str, Any]:
    """tests/ssh/client_script.py ACTION ARGS on the client side; its JSON."""
    result = client.run(sys.executable, str(SCRIPT), action, *map(str, args), timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]
