"""rpcnet.netxml.assign_defaults: what libvirt's bridge driver fills in."""

from __future__ import annotations

import random
import re

from rpcnet.netxml import assign_defaults, format_network, parse_network


def test_fills_uuid_bridge_mac_like_libvirtd() -> None:
    net = parse_network("<network><name>min</name></network>")
    filled = assign_defaults(net, used_bridges={"virbr0"}, rng=random.Random(1))
    text = format_network(filled)
    # shape of libvirtd 9.0's dumpxml after net-define of the same input
    assert re.fullmatch(
        r"<network>\n  <name>min</name>\n  <uuid>[0-9a-f-]{36}</uuid>\n"
        r"  <bridge name='virbr1' stp='on' delay='0'/>\n"
        r"  <mac address='52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}'/>\n</network>\n",
        text,
    )
    assert filled.uuid is not None and filled.uuid.version == 4


def test_keeps_given_values_and_nat_ports_unset() -> None:
    net = parse_network(
        "<network><name>n</name><uuid>11111111-2222-3333-4444-555555555555</uuid>"
        "<forward mode='nat'/><bridge name='br5' stp='off'/><mac address='52:54:00:01:02:03'/>"
        "<ip address='10.0.0.1' prefix='24'/></network>"
    )
    filled = assign_defaults(net, used_bridges=())
    assert filled == net
    assert filled.forward is not None and filled.forward.nat_port_start is None


def test_bridge_template() -> None:
    net = parse_network("<network><name>t</name><bridge name='rpc%d'/></network>")
    filled = assign_defaults(net, used_bridges={"rpc0", "rpc1"})
    assert filled.bridge is not None and filled.bridge.name == "rpc2"
    filled = assign_defaults(
        parse_network("<network><name>t</name></network>"), used_bridges=(), bridge_template="nb%d"
    )
    assert filled.bridge is not None and filled.bridge.name == "nb0"


def test_bridge_mode_gets_no_bridge_or_mac() -> None:
    net = parse_network(
        "<network><name>b</name><forward mode='bridge'/><bridge name='br0'/></network>"
    )
    filled = assign_defaults(net, used_bridges=())
    assert filled.mac is None and filled.bridge == net.bridge and filled.uuid is not None
