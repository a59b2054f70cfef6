"""--driver host under socket activation: an idle exit leaves the running
networks running (bridge, addresses, dnsmasq), and the next activation
adopts them as they are: same bridge, same dnsmasq, same leases."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.activate import ActivatedDaemon
from tests.peers.netns import NetNamespace
from tests.peers.virsh import virsh

XML = """<network><name>idle</name><forward mode='nat'/><bridge name='rpcidle' stp='off'/>
<ip address='10.78.0.1' prefix='24'><dhcp><range start='10.78.0.2' end='10.78.0.9'/></dhcp>
</ip></network>"""
TRANSIENT = """<network><name>idle2</name><bridge name='rpcidle2' stp='off'/>
<ip address='10.79.0.1' prefix='24'/></network>"""


@pytest.fixture
def host(host_tools: None) -> Iterator[tuple[NetNamespace, Path]]:
    ns = NetNamespace("rpcnet-idle")
    ns.create()
    where = Path(tempfile.mkdtemp(prefix="rpcnet-idle-", dir="/tmp"))
    try:
        yield ns, where
    finally:
        ns.delete()  # kills dnsmasq and the daemon too
        shutil.rmtree(where, ignore_errors=True)


def activation(ns: NetNamespace, where: Path) -> ActivatedDaemon:
    daemon = ActivatedDaemon(
        {str(where / "rpcnet-sock"): "rpcnetd.socket",
         str(where / "rpcnet-sock-ro"): "rpcnetd-ro.socket"},
        "--driver", "host", "--state-dir", str(where / "state"), "--timeout", "1",
        log=where / "rpcnetd.log", prefix=tuple(ns.exec_args()))
    return daemon.start()


def kernel_state(ns: NetNamespace) -> dict[str, object]:
    return {
        "bridge": ns.run("cat", "/sys/class/net/rpcidle/ifindex").stdout,
        "bridge2": ns.run("cat", "/sys/class/net/rpcidle2/ifindex").stdout,
        "addrs": ns.run("ip", "-o", "addr", "show").stdout,
        "dnsmasq": sorted(pid for pid, cmd in ns.commands().items() if "dnsmasq" in cmd),
        "nft": ns.run("nft", "list", "ruleset").stdout,
    }


def test_idle_exit_keeps_networks_and_the_next_activation_adopts_them(
        host: tuple[NetNamespace, Path]) -> None:
    ns, where = host
    uri = f"network+unix:///system?socket={where / 'rpcnet-sock'}"
    (where / "idle.xml").write_text(XML)
    (where / "idle2.xml").write_text(TRANSIENT)
    first = activation(ns, where)
    for command in (("net-define", str(where / "idle.xml")), ("net-autostart", "idle"),
                    ("net-start", "idle"), ("net-create", str(where / "idle2.xml")),
                    ("net-destroy", "default"), ("net-autostart", "default", "--disable")):
        virsh(uri, *command, check=True)
    running = kernel_state(ns)
    assert running["dnsmasq"] and "10.78.0.1/24" in str(running["addrs"])
    assert first.wait(timeout=30) == 0  # idle, though networks run
    assert kernel_state(ns) == running  # nothing torn down

    second = activation(ns, where)
    listing = virsh(uri, "net-list", "--all", check=True).stdout
    rows = {line.split()[0]: line.split()[1:] for line in listing.splitlines()[2:] if line}
    assert rows == {"default": ["inactive", "no", "yes"], "idle": ["active", "yes", "yes"],
                    "idle2": ["active", "no", "no"]}
    assert kernel_state(ns) == running  # adopted as it was, dnsmasq not restarted
    assert second.wait(timeout=30) == 0
    assert "no client for 1 seconds, exiting" in second.text()
