"""Regenerate cases.json here from a real libvirtd's bridge driver.

Run as root with the system python (libvirt bindings) against an isolated
libvirtd, e.g. one started by tests.peers.libvirtd.LibvirtdPeer:
``/usr/bin/python3 tests/data/netxml/port/capture_libvirtd.py URI``.
Each case is created with VIR_NETWORK_PORT_CREATE_RECLAIM (its plug is kept
as written) on the network its "network" key names ("nat" by default), then
read back with XMLDesc and deleted.
"""

import json
import pathlib
import sys

import libvirt

HERE = pathlib.Path(__file__).parent
RECLAIM = 1
NETWORKS = {
    "nat": "<network><name>pcap-nat</name><forward mode='nat'/><bridge name='pcapbr0'/>"
    "<ip address='10.201.0.1' prefix='24'/></network>",
    "private": "<network><name>pcap-private</name><forward mode='private'>"
    "<interface dev='eth1'/><interface dev='eth2'/></forward></network>",
}


def error(exc):
    return [exc.get_error_code(), exc.get_error_domain(), exc.get_error_message()]


def main():
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn = libvirt.open(sys.argv[1])
    nets = {key: conn.networkCreateXML(xml) for key, xml in NETWORKS.items()}
    cases = json.loads((HERE / "cases.json").read_text())
    try:
        for case in cases:
            for key in ("result", "error"):
                case.pop(key, None)
            net = nets[case.get("network", "nat")]
            try:
                port = net.portCreateXML(case["xml"], RECLAIM)
            except libvirt.libvirtError as exc:
                case["error"] = error(exc)
                continue
            except SystemError as exc:  # libvirt reported an undecodable message
                raise SystemError(f"case {case['xml']!r}") from exc
            case["result"] = port.XMLDesc(0)
            port.delete()
    finally:
        for net in nets.values():
            net.destroy()
    (HERE / "cases.json").write_text(json.dumps(cases, indent=1) + "\n")


if __name__ == "__main__":
    main()
