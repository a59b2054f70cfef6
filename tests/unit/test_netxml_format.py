"""rpcnet.netxml formatting: exact text and round-trip stability."""

from __future__ import annotations

import dataclasses
import ipaddress
import uuid
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rpcnet.netxml import (
    BridgeDef,
    DhcpHost,
    DhcpRange,
    DnsDef,
    DnsHost,
    DnsTxt,
    DomainDef,
    ForwardDef,
    IpDef,
    NetworkDef,
    format_network,
    parse_network,
)

DATA = Path(__file__).parents[1] / "data" / "netxml"


def test_default_network_is_printed_back_verbatim() -> None:
    text = (DATA / "define" / "default.xml").read_text()
    assert format_network(parse_network(text)) == text


def test_escaping_and_trailing_newline() -> None:
    net = NetworkDef(name="a<b>&'\"c", dns=DnsDef(txts=(DnsTxt(name="t", value="x'y"),)))
    text = format_network(net)
    assert "<name>a&lt;b&gt;&amp;&apos;&quot;c</name>" in text
    assert "value='x&apos;y'" in text
    assert text.endswith("</network>\n")
    assert parse_network(text).dns == net.dns


def test_bridge_mode_prints_only_bridge_name() -> None:
    net = NetworkDef(name="a", forward=ForwardDef(mode="bridge"), bridge=BridgeDef(name="br0"))
    assert "  <bridge name='br0'/>\n" in format_network(net)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12).filter(
    lambda s: s[0].isalpha()
)


@st.composite
def networks(draw: st.DrawFn) -> NetworkDef:
    third = draw(st.integers(0, 255))
    base = ipaddress.IPv4Address(f"10.{third}.0.0")
    start = draw(st.integers(2, 100))
    end = draw(st.integers(start, 200))
    hosts = tuple(
        DhcpHost(mac=f"52:54:00:00:00:{i:02x}", name=f"h{i}", ip=base + 220 + i)
        for i in range(draw(st.integers(0, 3)))
    )
    ip = IpDef(
        address=base + 1,
        prefix=24,
        dhcp_ranges=(DhcpRange(start=base + start, end=base + end),),
        dhcp_hosts=hosts,
    )
    mode = draw(st.sampled_from([None, "nat", "route", "open"]))
    dns = DnsDef(
        enable=draw(st.sampled_from([None, True])),
        hosts=tuple(
            DnsHost(ip=base + 5, hostnames=(n,)) for n in draw(st.lists(names, max_size=2))
        ),
    )
    return NetworkDef(
        name=draw(names),
        uuid=uuid.UUID(int=draw(st.integers(0, 2**128 - 1))),
        forward=None if mode is None else ForwardDef(mode=mode),
        bridge=BridgeDef(
            name=draw(names)[:15], stp=draw(st.booleans()), delay=draw(st.integers(0, 30))
        ),
        mtu=draw(st.one_of(st.none(), st.integers(68, 9000))),
        domain=draw(st.one_of(st.none(), st.builds(DomainDef, name=names))),
        dns=None if dns.is_empty else dns,
        ips=(ip,),
    )


@given(networks())
def test_round_trip(net: NetworkDef) -> None:
    text = format_network(net)
    parsed = parse_network(text)
    assert parsed == net
    assert format_network(parsed) == text


@given(networks())
def test_unknown_uuid_round_trips(net: NetworkDef) -> None:
    net = dataclasses.replace(net, uuid=None)
    assert parse_network(format_network(net)) == net
