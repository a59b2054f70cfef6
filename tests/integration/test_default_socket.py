"""rpcnetd at libvirt's own socket path: unmodified clients find it with a
plain ``network:///system`` URI, no ``socket=`` parameter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.peers.requirements import need_executable, need_root

REPO = Path(__file__).resolve().parents[2]

# In a private mount namespace, over a fresh /run: the machine's /run and any
# libvirt daemon running on it are never touched.
SCRIPT = """
set -e
mount -t tmpfs rpcnet-test /run
mkdir /run/libvirt
"$PYTHON" -m rpcnet --socket-dir /run/libvirt --socket-name virtnetworkd 2>/dev/null &
daemon=$!
trap 'kill $daemon' EXIT
i=0
until [ -S /run/libvirt/virtnetworkd-sock-ro ]; do
    i=$((i + 1)); [ $i -lt 200 ] || exit 3; sleep 0.05
done
"$VIRSH" -c network:///system net-list --all --name
"$VIRSH" -r -c network:///system net-info default
"$VIRSH" -r -c network:///system net-destroy default || true
"""


def test_plain_network_system_uri_reaches_rpcnetd(virsh_bin: str) -> None:
    need_root()
    need_executable("/usr/bin/unshare")
    res = subprocess.run(
        ["/usr/bin/unshare", "--mount", "--propagation", "private", "sh", "-c", SCRIPT],
        capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHON": sys.executable,
             "VIRSH": virsh_bin, "PYTHONPATH": str(REPO)},
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "default"
    assert "Active:         yes" in res.stdout
    assert "read only access prevents virNetworkDestroy" in res.stderr
