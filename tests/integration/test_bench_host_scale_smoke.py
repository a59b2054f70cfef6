"""The host-scale benchmark still runs: `python -m bench host-scale` with
two small counts against rpcnetd and libvirtd, each in its own namespace.

A smoke run only: it checks the tables, the targets section and the plot
were written, never a figure (benchmarks are not timed tests).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.peers.requirements import need_executable

pytestmark = pytest.mark.interop
ROOT = Path(__file__).resolve().parents[2]


def test_host_scale_bench_writes_tables_and_plot(libvirtd_available: None,
                                                 tmp_path: Path) -> None:
    for tool in ("/usr/sbin/dnsmasq", "/usr/sbin/nft", "iptables-save"):
        need_executable(tool)
    result = subprocess.run(
        [sys.executable, "-m", "bench", "host-scale", "--counts", "1,2", "--runs", "1",
         "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300,
        check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    table = (tmp_path / "host-scale.md").read_text()
    assert table.strip() == result.stdout.strip()
    header = next(line for line in table.splitlines() if line.startswith("| running networks"))
    for column in ("rpcnetd start", "libvirtd start", "rpcnetd destroy", "libvirtd update"):
        assert column in header
    assert "| 2 |" in table and "rpcnetd all re-asserted" in table
    assert "[met]" in table or "[NOT met]" in table
    svg = (tmp_path / "host-scale.svg").read_text()
    assert svg.startswith("<svg") and "rpcnetd net-start" in svg and "libvirtd net-start" in svg
    assert "fs.inotify.max_user_instances" in result.stderr
