"""The benchmark harness still runs: `python -m bench --quick --metrics` against rpcnetd
(also with --metrics, scraped),
a real libvirtd and the ceiling server, with both load generators.

A smoke run only: it checks that every table was printed, never a figure
(benchmarks are not timed tests).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop
ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_prints_every_table(libvirtd_available: None, system_python: str) -> None:
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--metrics"], cwd=ROOT,
                            capture_output=True, text=True, timeout=110, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for heading in ("## Throughput (calls/s)", "## Latency per call",
                    "## rpcnet client vs Python bindings (same server)", "## Scale",
                    "## Scrapes of rpcnetd+metrics", "## Targets"):
        assert heading in out, out
    header = next(line for line in out.splitlines() if line.startswith("| workload"))
    for column in ("rpcnetd calls/s", "rpcnetd+metrics calls/s", "libvirtd calls/s",
                   "ceiling calls/s", "metrics on/off", "rpcnetd/libvirtd", "rpcnetd/ceiling"):
        assert column in header
    rows = [line for line in out.splitlines() if line.startswith("| lookup+is-active")]
    assert any(re.search(r"\|\s*bindings\s*\|", row) for row in rows)
    assert any(re.search(r"\|\s*rpcnet\s*\|", row) for row in rows)
    assert "ceiling: no answer" not in result.stderr


def test_percall_harness_answers_every_call() -> None:
    """``python -m bench.percall`` asserts itself that every call got its reply."""
    result = subprocess.run([sys.executable, "-m", "bench.percall", "--rounds", "1",
                             "--calls", "200"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    names = [line.split("  ")[0] for line in result.stdout.splitlines()]
    daemon = [f"daemon: {name}{metrics}" for name in ("lookup-by-name", "is-active",
                                                       "get-xml-desc", "list-all (1 net)")
              for metrics in ("", " +metrics")]
    assert names == [*daemon, "metrics: one call observed", "metrics: one error observed",
                     "client: lookup-by-name"], result.stdout


def test_ready_bench_times_both_kinds_of_daemon() -> None:
    """``python -m bench.ready`` starts, checks and closes both kinds of daemon."""
    result = subprocess.run([sys.executable, "-m", "bench.ready", "--runs", "3",
                             "--process-runs", "1"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    names = [line[:28].strip() for line in result.stdout.splitlines()]
    assert names == ["in-process ready", "in-process close", "process ready", "process close",
                     "first in a fresh process"], result.stdout
