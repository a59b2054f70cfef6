"""Shared fixtures. Real-peer fixtures follow tests/peers/requirements.py:
under CI=true a missing peer or missing root fails; elsewhere it skips."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.peers.libvirtd import LIBVIRTD, LibvirtdPeer
from tests.peers.netns import IP
from tests.peers.requirements import need, need_executable, need_root
from tests.peers.rpcnetd import RpcnetdPeer
from tests.peers.virsh import SYSTEM_PYTHON, VIRSH, run_python

# Hypothesis fails an example that takes over 200 ms by default: a timing
# assertion in unit tests, which on a shared, loaded machine fails when the
# process is merely descheduled (seen: 1.5 s once, 0.5 ms on the rerun).
# Speed is measured by the benchmarks, not by tests.
settings.register_profile("rpcnet", deadline=None)
settings.load_profile("rpcnet")


@pytest.fixture(scope="session")
def libvirtd_available() -> None:
    """Root, /usr/sbin/libvirtd, ip and unshare: what a LibvirtdPeer needs."""
    need_root()
    for tool in (LIBVIRTD, IP, "unshare"):
        need_executable(tool)


@pytest.fixture(scope="session")
def libvirtd(libvirtd_available: None) -> Iterator[LibvirtdPeer]:
    """One isolated real libvirtd for the session (clean up what you define in it)."""
    with LibvirtdPeer() as peer:
        yield peer


@pytest.fixture(scope="session")
def virsh_bin() -> str:
    """Path of the real virsh."""
    return need_executable(VIRSH)


@pytest.fixture(scope="session")
def system_python() -> str:
    """Path of /usr/bin/python3, checked to `import libvirt`."""
    python = need_executable(SYSTEM_PYTHON)
    probe = run_python("import libvirt", check=False)
    need(probe.returncode == 0, f"{python} cannot import libvirt: {probe.stderr.strip()}")
    return python


@pytest.fixture
def rpcnetd() -> Iterator[RpcnetdPeer]:
    """A fresh `rpcnetd` (in-memory driver) on temporary sockets."""
    with RpcnetdPeer() as peer:
        yield peer
