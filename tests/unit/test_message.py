import pytest
from hypothesis import given
from hypothesis import strategies as st

from rpcnet.protocol.message import (
    MAX_MESSAGE,
    FrameError,
    Framer,
    Header,
    MessageType,
    Status,
    encode_frame,
)
from tests.unit.vectors import frames

AUTH_LIST_CALL = bytes.fromhex("0000001c200080860000000100000042000000000000000000000000")


def test_decodes_captured_auth_list_call():
    framer = Framer()
    framer.feed(AUTH_LIST_CALL)
    message = framer.next_message()
    assert message is not None
    assert message.header == Header(0x20008086, 1, 66, MessageType.CALL, 0, Status.OK)
    assert message.payload == b""
    assert framer.next_message() is None


def test_every_captured_frame_reencodes_identically():
    for frame in frames():
        if len(frame.raw) < 28:
            continue
        framer = Framer()
        framer.feed(frame.raw)
        message = framer.next_message()
        assert message is not None, frame.summary
        assert encode_frame(message.header, message.payload) == frame.raw


@given(st.lists(st.integers(1, 60), min_size=1, max_size=30))
def test_any_chunking_yields_the_same_messages(cuts):
    stream = b"".join(f.raw for f in frames("b_virsh_network_lifecycle"))
    framer, got, pos = Framer(), [], 0
    for cut in cuts * (len(stream) // sum(cuts) + 1):
        framer.feed(stream[pos : pos + cut])
        pos += cut
        while (m := framer.next_message()) is not None:
            got.append(m)
        if pos >= len(stream):
            break
    assert [encode_frame(*m) for m in got] == [f.raw for f in frames("b_virsh_network_lifecycle")]


@pytest.mark.parametrize("length", [0, 3, 4, 27, MAX_MESSAGE + 5, 0xFFFFFFFF])
def test_length_word_out_of_range_is_rejected_at_once(length):
    framer = Framer()
    framer.feed(length.to_bytes(4, "big"))
    with pytest.raises(FrameError):
        framer.next_message()


def test_largest_allowed_length_waits_for_data():
    framer = Framer()
    framer.feed((MAX_MESSAGE + 4).to_bytes(4, "big") + b"\x00" * 100)
    assert framer.next_message() is None
    assert framer.pending_length() == MAX_MESSAGE + 4
