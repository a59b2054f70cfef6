"""rpcnet.netxml against outputs captured from libvirt 9.0's own parser and
formatter (tests/data/netxml/capture_libvirt.py regenerates them)."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from rpcnet.errors import ErrorCode, VirError
from rpcnet.netxml import format_network, parse_network, update_network

DATA = Path(__file__).parents[1] / "data" / "netxml"
DEFINE: dict[str, dict[str, Any]] = json.loads((DATA / "define.json").read_text())
UPDATE: list[dict[str, Any]] = json.loads((DATA / "update.json").read_text())

# Where rpcnet deliberately refuses what libvirt accepts: values that would
# reach dnsmasq/nft unescaped, ambiguous DHCP data, a non-contiguous netmask,
# and markup libvirt would print unescaped (breaking its own XML).
REFUSED = {
    "ctrlname.xml": ErrorCode.XML_ERROR,
    "namecomma.xml": ErrorCode.XML_ERROR,
    "domainbad.xml": ErrorCode.XML_ERROR,
    "hostnamebad.xml": ErrorCode.XML_ERROR,
    "txtnl.xml": ErrorCode.XML_ERROR,
    "longbr.xml": ErrorCode.XML_ERROR,
    "hostdup.xml": ErrorCode.XML_ERROR,
    "rangeovl.xml": ErrorCode.XML_ERROR,
    "g14.xml": ErrorCode.XML_ERROR,
    "tftp_comma.xml": ErrorCode.XML_ERROR,
    "tftp_nl.xml": ErrorCode.XML_ERROR,
    "bootp_comma.xml": ErrorCode.XML_ERROR,
    "bootp_ctrl.xml": ErrorCode.XML_ERROR,
    "vp_profquote.xml": ErrorCode.XML_ERROR,
}
UPDATE_REFUSED = {
    "192.168.150.40": ErrorCode.XML_ERROR,  # overlapping range
    "0:4:7e:7d:f0": ErrorCode.OPERATION_INVALID,  # second host with the same DUID
    "a,b": ErrorCode.XML_ERROR,
    "a&#10;b": ErrorCode.XML_ERROR,
}


def outcome(call: Any) -> dict[str, Any]:
    try:
        return {"xml": call()}
    except VirError as exc:
        return {"error": [exc.code, exc.domain, exc.message]}


def define_cases() -> list[Any]:
    return [
        pytest.param(name, mode, id=f"{name}-{mode}")
        for name in sorted(DEFINE)
        for mode in ("plain", "validate")
    ]


@pytest.mark.parametrize(("name", "mode"), define_cases())
def test_define_matches_libvirt(name: str, mode: str) -> None:
    text = (DATA / "define" / name).read_text()
    expected = DEFINE[name][mode]

    def run() -> str:
        net = parse_network(text, validate=mode == "validate")
        found = re.search(r"<uuid>(.*)</uuid>", expected.get("xml", ""))
        if net.uuid is None and found:  # libvirt made one up
            net = dataclasses.replace(net, uuid=uuid.UUID(found[1]))
        return format_network(net)

    got = outcome(run)
    if name in REFUSED and (mode == "plain" or "xml" in expected):
        assert got["error"][0] == REFUSED[name]
        return
    if name in ("domainbad.xml", "hostnamebad.xml") and mode == "validate":
        assert got["error"][0] == ErrorCode.XML_INVALID_SCHEMA
        return
    assert got == expected


def update_id(case: dict[str, Any]) -> str:
    base = case.get("base", "update_base.xml").removesuffix(".xml")
    return f"{base}-{case['command']}-{case['section']}-{case['xml']}"


@pytest.mark.parametrize("case", UPDATE, ids=update_id)
def test_update_matches_libvirt(case: dict[str, Any]) -> None:
    base = parse_network((DATA / case.get("base", "update_base.xml")).read_text())
    got = outcome(
        lambda: format_network(
            update_network(base, case["command"], case["section"], case["index"], case["xml"])
        )
    )
    for marker, code in UPDATE_REFUSED.items():
        if marker in case["xml"]:
            assert got["error"][0] == code
            return
    expected = {"xml": case["result"]} if "result" in case else {"error": case["error"]}
    assert got == expected
