"""rpcnet.netxml.update_network beyond the libvirt replay: immutability,
ordering, and the re-check of the edited definition."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpcnet.errors import ErrorCode, VirError
from rpcnet.netxml import format_network, parse_network, update_network

DATA = Path(__file__).parents[1] / "data" / "netxml"
MODIFY, DELETE, ADD_LAST, ADD_FIRST = 1, 2, 3, 4
DHCP_HOST, DHCP_RANGE, DNS_HOST, DNS_TXT = 4, 5, 10, 11


@pytest.fixture
def base():  # type: ignore[no-untyped-def]
    return parse_network((DATA / "update_base.xml").read_text())


def test_input_is_not_changed(base) -> None:  # type: ignore[no-untyped-def]
    before = format_network(base)
    new = update_network(base, ADD_FIRST, DNS_TXT, -1, "<txt name='n' value='v'/>")
    assert format_network(base) == before
    assert new.dns is not None and [t.name for t in new.dns.txts] == ["n", "example"]


def test_dns_section_created_when_absent() -> None:
    net = parse_network("<network><name>a</name></network>")
    new = update_network(
        net, ADD_LAST, DNS_HOST, -1, "<host ip='10.0.0.5'><hostname>h</hostname></host>"
    )
    assert new.dns is not None and new.dns.hosts[0].hostnames == ("h",)


def test_dhcp_edit_without_ip_element() -> None:
    net = parse_network("<network><name>a</name></network>")
    with pytest.raises(VirError) as info:
        update_network(net, ADD_LAST, DHCP_HOST, -1, "<host mac='52:54:00:00:00:01' ip='1.2.3.4'/>")
    assert info.value.code == ErrorCode.OPERATION_INVALID
    assert "no <ip> element found in network 'a'" in info.value.message


def test_parent_index_minus_one_picks_ip_with_dhcp() -> None:
    net = parse_network(
        "<network><name>a</name><ip address='10.0.0.1' prefix='24'/>"
        "<ip address='10.0.1.1' prefix='24'><dhcp><range start='10.0.1.2' end='10.0.1.9'/>"
        "</dhcp></ip></network>"
    )
    new = update_network(
        net, ADD_LAST, DHCP_RANGE, -1, "<range start='10.0.1.20' end='10.0.1.29'/>"
    )
    assert len(new.ips[1].dhcp_ranges) == 2 and not new.ips[0].dhcp_ranges


@pytest.mark.parametrize(
    ("section", "xml"),
    [
        (DNS_TXT, "<txt name='n' value='a,b'/>"),
        (DNS_HOST, "<host ip='10.0.0.9'><hostname>bad#name</hostname></host>"),
        (DHCP_HOST, "<host mac='52:54:00:00:00:99' name='x=y' ip='192.168.150.99'/>"),
    ],
)
def test_edits_are_rechecked(base, section: int, xml: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(VirError) as info:
        update_network(base, ADD_LAST, section, -1, xml)
    assert info.value.code == ErrorCode.XML_ERROR


def test_modify_dhcp_host_keeps_position(base) -> None:  # type: ignore[no-untyped-def]
    new = update_network(
        base,
        MODIFY,
        DHCP_HOST,
        0,
        "<host mac='52:54:00:11:22:33' name='renamed' ip='192.168.150.10'/>",
    )
    assert [h.name for h in new.ips[0].dhcp_hosts] == ["renamed", None]
