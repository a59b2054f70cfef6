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
"$VIRSH" -c network:///system net-list --all --name; echo ==
"$VIRSH" -r -c network:///system net-uuid default; echo ==
"$VIRSH" -r -c network:///system net-destroy default >/dev/null || true
"$PYTHON" -m rpcnet.cli.console -c network:///system net-list --all --name; echo ==
"$PYTHON" -m rpcnet.cli.console -r -c network:///system net-uuid default
"""


def test_plain_network_system_uri_reaches_rpcnetd(virsh_bin: str) -> None:
    """virsh, and rpcnet's own console, find rpcnetd at virtnetworkd's socket."""
    need_root()
    need_executable("/usr/bin/unshare")
    res = subprocess.run(
        ["/usr/bin/unshare", "--mount", "--propagation", "private", "sh", "-c", SCRIPT],
        capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHON": sys.executable,
             "VIRSH": virsh_bin, "PYTHONPATH": str(REPO)},
    )
    assert res.returncode == 0, res.stderr
    virsh_list, virsh_uuid, console_list, console_uuid = res.stdout.split("==\n")
    assert virsh_list == console_list == "default\n\n"
    assert virsh_uuid == console_uuid and len(virsh_uuid.strip()) == 36
    assert "read only access prevents virNetworkDestroy" in res.stderr
