"""The ssh fan-out benchmark still runs (two hosts, one round). A smoke run:
it checks that every row was printed, never a figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.host
ROOT = Path(__file__).resolve().parents[2]


def test_ssh_fanout_bench_prints_every_row(ssh_tools: None) -> None:
    result = subprocess.run([sys.executable, "-m", "bench.ssh_fanout", "--hosts", "2",
                             "--runs", "1"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.rsplit(None, 4)[0] for line in result.stdout.splitlines()[2:]]
    assert rows == [
        "rpcnet +ssh, 1 host", "rpcnet +ssh, 2 hosts (--parallel 32)",
        "rpcnet +ssh, 2 hosts (--parallel 2)", "rpcnet +libssh, 1 host",
        "rpcnet +libssh, 2 hosts (--parallel 32)", "rpcnet +libssh, 2 hosts (--parallel 2)",
        "virsh +ssh, 1 host", "rpcnet +ssh, 1 host, curve25519-sha256",
        "rpcnet +ssh, 2 hosts (--parallel 32), curve25519-sha256",
        "virsh +ssh, 2 hosts one after the other", "virsh +ssh, 2 hosts all at once",
        *(f"rpcnet +{transport}, {hosts}, {setup}"
          for setup in ("rpcnet-ssh-helper", "nc to rpcnetd at libvirt-sock")
          for transport in ("ssh", "libssh")
          for hosts in ("1 host", "2 hosts (--parallel 32)"))]
