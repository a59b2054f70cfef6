"""rpcnet.netxml parsing: syntax errors, model attributes, rpcnet's refusals."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.netxml import parse_network
from rpcnet.netxml.schema import validate_schema
from rpcnet.netxml.xmlutil import parse_xml

DATA = Path(__file__).parents[1] / "data" / "netxml"


def error_of(xml: str, **kwargs: bool) -> VirError:
    with pytest.raises(VirError) as info:
        parse_network(xml, **kwargs)
    return info.value


def test_syntax_error_has_libvirt_shape() -> None:
    err = error_of("<network><name>broken")
    assert (err.code, err.domain) == (ErrorCode.XML_DETAIL, ErrorDomain.NETWORK)
    assert err.message == (
        "(network_definition):1: Premature end of data in tag name line 1\n"
        "<network><name>broken\n"
        "---------------------^"
    )


def test_default_network_model() -> None:
    net = parse_network((DATA / "define" / "default.xml").read_text())
    assert net.name == "default"
    assert net.forward is not None and net.forward.mode == "nat" and net.forward.dev is None
    assert net.bridge is not None and net.bridge.name == "virbr0"
    assert (net.bridge.stp, net.bridge.delay) == (True, 0)
    (ip,) = net.ips
    assert ip.family == "ipv4" and ip.prefix is None
    assert ip.network == ipaddress.ip_network("192.168.122.0/24")
    assert [(str(r.start), str(r.end)) for r in ip.dhcp_ranges] == [
        ("192.168.122.2", "192.168.122.254")
    ]


def test_rich_network_model() -> None:
    net = parse_network((DATA / "define" / "rich.xml").read_text())
    fwd = net.forward
    assert fwd is not None and fwd.dev == "eth0" and fwd.interfaces == ("eth0",)
    assert (fwd.nat_port_start, fwd.nat_port_end) == (2000, 3000)
    assert str(fwd.nat_address_start) == "10.0.0.1" and str(fwd.nat_address_end) == "10.0.0.10"
    assert net.mtu == 9000 and net.mac == "52:54:00:aa:bb:cc"
    assert net.domain is not None and net.domain.local_only is True
    assert net.dns is not None and net.dns.hosts[0].hostnames == ("myhost", "myhostalias")
    v6 = net.ips_of("ipv6")[0]
    assert v6.network == ipaddress.ip_network("2001:db8:ca2:2::/64")
    assert v6.dhcp_hosts[0].name == "vm6"


def test_classful_prefix_without_netmask() -> None:
    net = parse_network("<network><name>a</name><ip address='10.1.2.3'/></network>")
    assert net.ips[0].network == ipaddress.ip_network("10.0.0.0/8")


@pytest.mark.parametrize(
    ("xml", "needle"),
    [
        ("<network><name>a#b</name></network>", "'#'"),
        ("<network><name>a=b</name></network>", "'='"),
        ("<network><name>a</name><domain name='x,y'/></network>", "domain name"),
        (
            "<network><name>a</name><bridge name='br" + "\u00e9" * 7 + "'/></network>",
            "longer than 15 bytes",
        ),
        ("<network><name>a</name><dns><txt name='t' value='a#b'/></dns></network>", "TXT"),
        (
            "<network><name>a</name><dns><host ip='10.0.0.2'><hostname>a=b</hostname></host>"
            "</dns></network>",
            "DNS hostname",
        ),
        (
            "<network><name>a</name><forward mode='route' dev='eth 0'/>"
            "<ip address='10.0.0.1' prefix='24'/></network>",
            "forward interface",
        ),
        (
            "<network><name>a</name><ip address='10.0.0.1' prefix='24'><dhcp>"
            "<host mac='52:54:00:00:00:01' name='x' ip='10.0.0.5'/>"
            "<host mac='52:54:00:00:00:02' name='x' ip='10.0.0.6'/></dhcp></ip></network>",
            "duplicate dhcp host name 'x'",
        ),
        (
            "<network><name>a</name><ip address='10.0.0.1' prefix='24'><dhcp>"
            "<host mac='52:54:00:00:00:01' ip='10.0.0.5'/>"
            "<host mac='52:54:00:00:00:02' ip='10.0.0.5'/></dhcp></ip></network>",
            "duplicate dhcp host ip",
        ),
        (
            "<network><name>a</name><ip address='10.0.0.1' prefix='24'>"
            "<tftp root='/srv/a,b'/></ip></network>",
            "tftp root '/srv/a,b'",
        ),
        (
            "<network><name>a</name><ip address='10.0.0.1' prefix='24'><dhcp>"
            "<range start='10.0.0.2' end='10.0.0.9'/><bootp file='a&#10;b'/></dhcp></ip>"
            "</network>",
            "bootp file",
        ),
        (
            "<network><name>a</name><forward mode='bridge'/><bridge name='br0'/>"
            "<virtualport type='openvswitch'><parameters profileid=\"a'b\"/></virtualport>"
            "</network>",
            "virtualport profileid",
        ),
        (
            "<network><name>a</name><forward mode='passthrough'><pf dev='a,b'/></forward>"
            "</network>",
            "forward pf",
        ),
    ],
)
def test_refuses_unsafe_values(xml: str, needle: str) -> None:
    err = error_of(xml)
    assert (err.code, err.domain) == (ErrorCode.XML_ERROR, ErrorDomain.NETWORK)
    assert needle in err.message


def test_refuses_namespaced_elements() -> None:
    xml = (
        "<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>"
        "<name>a</name><dnsmasq:options><dnsmasq:option value='x'/></dnsmasq:options></network>"
    )
    assert error_of(xml).code == ErrorCode.CONFIG_UNSUPPORTED


def test_routes_nat_ipv6_and_network_ipv6() -> None:
    net = parse_network(
        "<network ipv6='yes'><name>a</name><forward mode='nat'><nat ipv6='yes'/></forward>"
        "<ip address='10.0.0.1' prefix='24'/><ip family='ipv6' address='fd00::1' prefix='64'/>"
        "<route address='192.168.222.0' netmask='255.255.255.0' gateway='10.0.0.2' metric='3'/>"
        "<route family='ipv6' address='::' gateway='fd00::2'/></network>"
    )
    assert net.ipv6 is True
    assert net.forward is not None and net.forward.nat_ipv6 is True
    first, default = net.routes
    assert first.network == ipaddress.ip_network("192.168.222.0/24")
    assert (first.family, first.prefix, first.metric) == (None, None, 3)
    assert first.gateway == ipaddress.ip_address("10.0.0.2")
    assert default.family == "ipv6" and default.network == ipaddress.ip_network("::/0")
    assert parse_network("<network><name>a</name></network>").routes == ()


def test_unknown_elements_are_dropped_unless_validating() -> None:
    xml = "<network><name>a</name><title>t</title><bogus/></network>"
    assert parse_network(xml).name == "a"
    err = error_of(xml, validate=True)
    assert (err.code, err.domain) == (ErrorCode.XML_INVALID_SCHEMA, ErrorDomain.XML)


@pytest.mark.parametrize(
    ("xml", "lines"),
    [
        ("<network><name>a</name><bogus/></network>", ["Element network has extra content: bogus"]),
        (
            "<network><name>a</name><bridge name='b' foo='x'/></network>",
            [
                "Invalid attribute foo for element bridge",
                "Extra element bridge in interleave",
                "Element network failed to validate content",
            ],
        ),
        (
            "<network></network>",
            [
                "Expecting an element name, got nothing",
                "Invalid sequence in interleave",
                "Element network failed to validate content",
            ],
        ),
    ],
)
def test_builtin_schema_fallback(xml: str, lines: list[str]) -> None:
    with pytest.raises(VirError) as info:
        validate_schema(parse_xml(xml, "x"), use_system_schema=False)
    assert info.value.message == (
        "XML document failed to validate against schema: Unable to validate doc against "
        "/usr/share/libvirt/schemas/network.rng\n" + "".join(f"{x}\n" for x in lines)
    )


def test_builtin_schema_accepts_rich_network() -> None:
    for path in (DATA / "update_base.xml", DATA / "define" / "default.xml"):
        validate_schema(parse_xml(path.read_text(), "x"), use_system_schema=False)
