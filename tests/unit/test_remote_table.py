import inspect

from rpcnet.driver.base import NetworkDriver
from rpcnet.errors import VirError
from rpcnet.protocol import remote
from rpcnet.protocol.message import Framer, MessageType, Status
from rpcnet.protocol.program import DRIVER_STYLES, CallStyle
from tests.unit.vectors import frames

DENIED_ON_READ_ONLY = {39, 40, 41, 42, 48, 49, 291, 406, 408, 410, 432, 437}


def _decode(raw: bytes):
    framer = Framer()
    framer.feed(raw)
    message = framer.next_message()
    assert message is not None
    return message


def test_every_captured_remote_payload_decodes_and_reencodes():
    checked = 0
    for frame in frames():
        if len(frame.raw) < 28:
            continue
        m = _decode(frame.raw)
        h = m.header
        proc = remote.BY_NUMBER.get(h.proc)
        if h.prog != remote.PROGRAM or h.vers != 1 or proc is None:
            continue
        if h.type == MessageType.REPLY and frame.direction == "c2s":
            continue  # the bogus REPLY-typed frame of capture h
        if h.type == MessageType.REPLY and h.status == Status.ERROR:
            err = remote.decode_error(m.payload)
            assert err.message == frame.decoded["error"]["message"]
            assert remote.encode_error(err) == m.payload
        else:
            xdr_type = proc.ret if h.type == MessageType.REPLY else proc.args
            assert xdr_type.encode(xdr_type.decode(m.payload)) == m.payload, frame.summary
        checked += 1
    assert checked > 400


def test_decoded_values_match_the_capture():
    m = _decode(next(f.raw for f in frames("b_virsh_network_lifecycle")
                     if "NETWORK_DEFINE_XML(41) type=REPLY" in f.summary))
    (net,) = remote.BY_NAME["NETWORK_DEFINE_XML"].ret.decode(m.payload)
    assert net.name == "vecnet" or net.name


def test_read_only_column_matches_live_matrix():
    denied = {p.number for p in remote.PROCEDURES if not p.readonly}
    assert denied == DENIED_ON_READ_ONLY


def test_public_api_names():
    assert remote.BY_NUMBER[42].api == "virNetworkDestroy"
    assert remote.BY_NUMBER[432].api == "virNetworkDefineXMLFlags"
    assert remote.BY_NUMBER[341].api == "virNetworkGetDHCPLeases"
    assert remote.public_api_name("DOMAIN_LOOKUP_BY_NAME") == "virDomainLookupByName"
    assert remote.public_api_name(remote.ALL_NAMES[4]) == "virConnectGetVersion"


def test_every_network_procedure_of_libvirt_9_is_in_the_table():
    network_names = {n for n in remote.ALL_NAMES.values() if "NETWORK" in n and "NWFILTER" not in n}
    assert network_names <= set(remote.BY_NAME), network_names - set(remote.BY_NAME)


def test_error_roundtrip_keeps_every_field():
    err = VirError.invalid_flags(19, 0x100, "networkGetXMLDesc")
    back = remote.decode_error(remote.encode_error(err))
    assert (back.code, back.domain, back.message, back.str1, back.str2, back.int1, back.int2) == (
        8, 19, "unsupported flags (0x100) in function networkGetXMLDesc", "networkGetXMLDesc",
        "flags", 0, 0)


def test_procedure_docs_are_generated_from_the_table():
    from pathlib import Path

    from rpcnet.protocol.docs import render

    docs = Path(__file__).resolve().parents[2] / "docs" / "procedures.md"
    assert docs.read_text() == render(), "run: python -m rpcnet.protocol.docs > docs/procedures.md"


def test_unsupported_api_error_domains_follow_libvirts_source_files():
    assert remote.api_error_domain("CONNECT_LIST_ALL_STORAGE_POOLS") == 18
    assert remote.api_error_domain("CONNECT_LIST_ALL_NWFILTERS") == 33
    assert remote.api_error_domain("DOMAIN_SNAPSHOT_NUM") == 35
    assert remote.api_error_domain("DOMAIN_INTERFACE_STATS") == 20
    assert remote.api_error_domain("CONNECT_GET_CAPABILITIES") == 20
    assert remote.public_api_name("CONNECT_NUM_OF_NWFILTERS") == "virConnectNumOfNWFilters"


def _driver_arity(proc: remote.Procedure) -> int:
    """How many arguments the driver method gets, by the row's call style."""
    fields = len(proc.args.fields)
    if proc.style is CallStyle.LIST_ALL:
        return fields - 1  # need_results stays on the wire
    if proc.style is CallStyle.GET_PARAMETERS:
        return fields - 1  # nparams is client garbage
    return fields


def test_every_driver_row_names_a_network_driver_method_of_the_right_arity() -> None:
    driver_rows = [p for p in remote.PROCEDURES if p.style in DRIVER_STYLES]
    assert len(driver_rows) > 30
    for proc in driver_rows:
        assert proc.method is not None, proc.name
        method = getattr(NetworkDriver, proc.method, None)
        assert inspect.iscoroutinefunction(method), (proc.name, proc.method)
        params = list(inspect.signature(method).parameters.values())[1:]  # self
        assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params), proc.method
        assert len(params) == _driver_arity(proc), (proc.name, proc.method, params)
    others = [p for p in remote.PROCEDURES if p.style not in DRIVER_STYLES]
    assert all(p.method is None for p in others)

