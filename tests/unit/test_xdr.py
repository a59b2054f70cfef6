import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rpcnet.protocol import xdr
from rpcnet.protocol.remote import LEASE, NET, TYPED_PARAM
from rpcnet.protocol.values import DhcpLease, NetworkRef, ParamType, TypedParam


def test_string_wire_form_pads_to_four_bytes():
    assert xdr.string(10).encode("abcde") == b"\x00\x00\x00\x05abcde\x00\x00\x00"


def test_string_longer_than_maximum_is_refused_both_ways():
    t = xdr.string(3)
    with pytest.raises(xdr.XdrError):
        t.encode("abcd")
    with pytest.raises(xdr.XdrError, match="exceeds maximum"):
        t.decode(b"\x00\x00\x00\x04abcd")


def test_huge_or_negative_lengths_are_refused_before_allocation():
    with pytest.raises(xdr.XdrError, match="exceeds maximum"):
        xdr.string(4194304).decode(b"\xff\xff\xff\xff")
    with pytest.raises(xdr.XdrError, match="exceeds"):
        xdr.array(xdr.INT, 16384).decode(b"\x80\x00\x00\x00")
    # a count within the maximum but beyond the bytes left
    with pytest.raises(xdr.XdrError, match="data left"):
        xdr.array(xdr.INT, 16384).decode(b"\x00\x00\x10\x00" + b"\x00" * 8)


def test_optional_discriminant_is_a_libvirt_bool():
    t = xdr.optional(xdr.INT)
    assert t.decode(b"\x00\x00\x00\x00") is None
    assert t.decode(b"\x00\x00\x00\x01\x00\x00\x00\x07") == 7
    # go-libvirt opens connections with the discriminant bytes 01 00 00 00
    assert t.decode(b"\x01\x00\x00\x00\x00\x00\x00\x07") == 7


def test_integer_ranges_are_checked_on_encode():
    with pytest.raises(xdr.XdrError):
        xdr.INT.encode(2**31)
    with pytest.raises(xdr.XdrError):
        xdr.UINT.encode(-1)
    assert xdr.HYPER.decode(xdr.HYPER.encode(-5)) == -5
    assert xdr.UHYPER.decode(xdr.UHYPER.encode(2**64 - 1)) == 2**64 - 1


def test_bool_enum_union_and_fixed_opaque():
    assert xdr.BOOL.decode(b"\x00\x00\x00\x01") is True
    assert xdr.BOOL.decode(b"\x00\x00\x00\x02") is True  # non-zero, as xdr_bool
    assert xdr.BOOL.decode(b"\x00\x00\x00\x00") is False
    color = xdr.enum("color", [0, 1, 2])
    with pytest.raises(xdr.XdrError):
        color.decode(b"\x00\x00\x00\x03")
    u = xdr.union("u", xdr.INT, {1: xdr.INT, 2: xdr.string(8)})
    assert u.decode(u.encode((2, "hi"))) == (2, "hi")
    with pytest.raises(xdr.XdrError):
        u.decode(b"\x00\x00\x00\x09")
    assert xdr.fixed_opaque(3).encode(b"abc") == b"abc\x00"


def test_trailing_bytes_are_an_error_unless_asked_to_ignore_them():
    with pytest.raises(xdr.XdrError, match="trailing"):
        xdr.INT.decode(b"\x00" * 8)
    assert xdr.INT.decode(b"\x00\x00\x00\x05junk", exact=False) == 5


def test_typed_param_arms():
    for param in (TypedParam("inbound.average", ParamType.UINT, 1000),
                  TypedParam("x", ParamType.LLONG, -(2**40)),
                  TypedParam("x", ParamType.DOUBLE, 1.5),
                  TypedParam("x", ParamType.BOOLEAN, True),
                  TypedParam("x", ParamType.STRING, "s")):
        assert TYPED_PARAM.decode(TYPED_PARAM.encode(param)) == param


names = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
uuids = st.binary(min_size=16, max_size=16)
opt_names = st.none() | names


@given(names, uuids)
def test_network_ref_roundtrip(name, uuid):
    ref = NetworkRef(name, uuid)
    assert NET.decode(NET.encode(ref)) == ref


@given(st.builds(DhcpLease, names, st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, 1]),
                 opt_names, opt_names, names, st.integers(0, 128), opt_names, opt_names))
def test_lease_roundtrip(lease):
    assert LEASE.decode(LEASE.encode(lease)) == lease


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_xdr_error(data):
    for t in (NET, LEASE, TYPED_PARAM, xdr.array(NET, 10), xdr.optional(LEASE)):
        with contextlib.suppress(xdr.XdrError):
            t.decode(data)


@given(names, uuids, st.data())
def test_truncated_encodings_raise_xdr_error(name, uuid, data):
    encoded = NET.encode(NetworkRef(name, uuid))
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(xdr.XdrError):
        NET.decode(encoded[:cut])


def test_memoized_encodes_exactly_as_the_inner_type() -> None:
    array, string, struct_type = xdr.array, xdr.string, xdr.struct_type
    plain = struct_type("pair", [("name", string(64)), ("uuid", xdr.fixed_opaque(16))])
    cached = xdr.memoized(plain, capacity=2)
    values = [("a", b"\x01" * 16), ("bcde", b"\x02" * 16), ("a", b"\x01" * 16),
              ("xyz12", b"\x03" * 16)]
    for value in values:  # hits, misses and a cache that fills up and is dropped
        assert cached.encode(value) == plain.encode(value)
    assert array(cached, 10).encode(values) == array(plain, 10).encode(values)
    assert array(cached, 10).decode(array(plain, 10).encode(values)) == values
    with pytest.raises(xdr.XdrError):
        array(cached, 10).encode([("n" * 65, b"\x00" * 16)])
