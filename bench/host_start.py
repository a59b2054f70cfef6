"""net-start and net-destroy of a NAT+DHCP network: rpcnetd vs libvirtd.

Not a test. Each daemon runs in a network namespace of its own (rpcnetd with
``--driver host``, libvirtd isolated as in the interop tests); one client
connection per daemon (rpcnet's client, the same for both) times
``network_create_xml`` and ``network_destroy`` of the same XML. Prints the
median of ``--runs`` rounds and the ratios rpcnetd / libvirtd. Needs root.

    .venv/bin/python bench/host_start.py --runs 15
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rpcnet.client.blocking import connect
from tests.host.hostnet import HostDaemon
from tests.peers.libvirtd import LibvirtdPeer

XML = """<network>
  <name>bench</name>
  <forward mode='nat'/>
  <bridge name='rpcbench' stp='on' delay='0'/>
  <ip address='10.68.0.1' netmask='255.255.255.0'>
    <dhcp><range start='10.68.0.2' end='10.68.0.254'/></dhcp>
  </ip>
</network>
"""


def measure(uri: str, runs: int) -> tuple[list[float], list[float]]:
    starts, stops = [], []
    conn: Any
    with connect(uri) as conn:
        for _ in range(runs + 1):  # the first round warms caches and is dropped
            t0 = time.perf_counter()
            net = conn.network_create_xml(XML)
            t1 = time.perf_counter()
            conn.network_destroy(net)
            t2 = time.perf_counter()
            starts.append(t1 - t0)
            stops.append(t2 - t1)
    return starts[1:], stops[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    ours = HostDaemon()
    try:
        ours.start()
        our_start, our_stop = measure(ours.uri, args.runs)
    finally:
        ours.cleanup()
    with LibvirtdPeer() as peer:
        their_start, their_stop = measure(peer.uri("network"), args.runs)
    rows = [("net-start", our_start, their_start), ("net-destroy", our_stop, their_stop)]
    print(f"median of {args.runs} runs, NAT+DHCP network, ms")
    print(f"{'':12}{'rpcnetd':>10}{'libvirtd':>10}{'ratio':>8}")
    for what, mine, theirs in rows:
        a, b = statistics.median(mine) * 1e3, statistics.median(theirs) * 1e3
        print(f"{what:12}{a:10.1f}{b:10.1f}{a / b:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
