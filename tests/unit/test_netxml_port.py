"""rpcnet.netxml network port XML against libvirtd 9.0's bridge driver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rpcnet.errors import ErrorCode, ErrorDomain, VirError
from rpcnet.netxml import format_port, parse_port
from rpcnet.netxml.schema import validate_schema
from rpcnet.netxml.xmlutil import parse_xml

DATA = Path(__file__).parents[1] / "data" / "netxml" / "port"
CASES: list[dict[str, Any]] = json.loads((DATA / "cases.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["xml"][-60:])
def test_port_matches_libvirt(case: dict[str, Any]) -> None:
    if "result" in case:
        assert format_port(parse_port(case["xml"])) == case["result"]
        return
    with pytest.raises(VirError) as info:
        parse_port(case["xml"])
    assert [info.value.code, info.value.domain, info.value.message] == case["error"]


def test_full_port_round_trips() -> None:
    text = (DATA / "full.xml").read_text()
    port = parse_port(text, validate=True)
    assert port.bandwidth is not None and port.bandwidth.inbound is not None
    assert port.bandwidth.inbound.floor == 200 and port.trust_guest_rx_filters is True
    assert (port.plug_type, port.plug_bridge, port.plug_mac_table_manager) == (
        "bridge",
        "virbr0",
        "libvirt",
    )
    assert format_port(port) == text


@pytest.mark.parametrize("system", [True, False])
def test_port_schema(system: bool) -> None:
    root = parse_xml("<networkport><bogus/></networkport>", "x")
    with pytest.raises(VirError) as info:
        validate_schema(root, schema="networkport", use_system_schema=system)
    assert (info.value.code, info.value.domain) == (ErrorCode.XML_INVALID_SCHEMA, ErrorDomain.XML)
    assert "networkport.rng" in info.value.message
